"""Job files and their runner: what ``accord run`` and ``accord score`` execute at every party."""

from accord.pipeline.job import JobSpec, load_job
from accord.pipeline.runner import score_job, train_job

__all__ = ["JobSpec", "load_job", "score_job", "train_job"]
