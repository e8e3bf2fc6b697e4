"""Job files and their runner: what ``accord run`` and ``accord score`` execute at every party."""

from typing import TYPE_CHECKING

from accord._lazy import exports

if TYPE_CHECKING:
    from accord.pipeline.job import JobSpec, load_job
    from accord.pipeline.lookups import run_workload
    from accord.pipeline.runner import score_job, train_job

__all__ = ["JobSpec", "load_job", "run_workload", "score_job", "train_job"]
__getattr__, __dir__ = exports(__name__, {
    "accord.pipeline.job": ["JobSpec", "load_job"],
    "accord.pipeline.lookups": ["run_workload"],
    "accord.pipeline.runner": ["score_job", "train_job"],
})
