"""`accord score --memory`: batched scoring gives the scores of unbatched scoring, and no partial file."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import accord
from accord.errors import ConfigurationError
from accord.pipeline import load_job, score_job, train_job
from accord.pipeline.job import LocalSettings
from accord.pipeline.streaming import score_streamed
from tests.e2e.test_pipeline import write_job

MODELS = ("secureboost", "logistic_regression")


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, pd.DataFrame]:
    """A job trained once, and its unbatched scores (the reference), sorted by key."""
    tmp = tmp_path_factory.mktemp("job")
    job = write_job(tmp)
    spec = load_job(job, local=LocalSettings(state_dir=tmp / "state"))
    with accord.Cluster.simulate(spec.participants, job=spec.name) as cluster:
        train_job(cluster, spec)
    with accord.Cluster.simulate(spec.participants, job=spec.name) as cluster:
        assert score_job(cluster, spec) == 89  # 89 of the 100 new rows are the partner's
    reference = pd.read_csv(tmp / "out/bank/scores.csv", dtype={"id": str})
    return job, reference.sort_values("id", ignore_index=True)


def _batched(job: Path, scores: Path, batch: int, buckets: int | None = None) -> int | None:
    spec = load_job(job, local=LocalSettings(state_dir=job.parent / "state"))
    spec.score["bank"] = type(spec.score["bank"])(spec.score["bank"].input, scores)
    with accord.Cluster.simulate(spec.participants, job=spec.name) as cluster:
        return score_streamed(cluster, spec, None, 1 << 30, batch=batch, buckets=buckets)


def _same_scores(got: pd.DataFrame, reference: pd.DataFrame) -> None:
    """SecureBoost's scores are equal; secure LR's differ only by its fixed-point truncation (randomised
    per run: two unbatched runs differ as much), here within 2^-16 (a few units of the 18-bit fixed-point scale)."""
    assert got["id"].tolist() == reference["id"].tolist()
    assert np.allclose(got["score_secureboost"], reference["score_secureboost"], rtol=0, atol=1e-12)
    assert np.allclose(got["score_logistic_regression"], reference["score_logistic_regression"], rtol=0, atol=2**-16)


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batch=st.integers(1, 120), buckets=st.sampled_from([None, 3]))
def test_batched_scores_equal_unbatched(trained, batch, buckets):
    job, reference = trained
    target = job.parent / f"batched-{batch}-{buckets}.csv"
    assert _batched(job, target, batch, buckets) == 89
    got = pd.read_csv(target, dtype={"id": str}).sort_values("id", ignore_index=True)
    assert list(got.columns) == ["id", *(f"score_{m}" for m in MODELS)]
    _same_scores(got, reference)
    assert not list((job.parent / "state" / "score").glob("*/*"))  # the staged and aligned files are gone


def test_a_failed_batch_leaves_no_scores_file(trained, monkeypatch):
    job, _ = trained
    target = job.parent / "failed.csv"
    calls = []

    def failing(self, features):
        calls.append(1)
        if len(calls) == 3:  # two batches are scored: a kill now must leave no scores file
            assert not target.exists() and [p for p in job.parent.iterdir() if p.name.startswith(".failed.csv.")]
            raise RuntimeError("killed in the third batch")
        return original(self, features)

    original = accord.ml.SecureBoost.predict
    monkeypatch.setattr(accord.ml.SecureBoost, "predict", failing)
    with pytest.raises(RuntimeError, match="third batch"):
        _batched(job, target, 30)
    assert not target.exists()
    assert not [p for p in job.parent.iterdir() if ".partial" in p.name]


def test_the_memory_bound_is_checked(trained):
    job, _ = trained
    spec = load_job(job)
    with accord.Cluster.simulate(spec.participants, job=spec.name) as cluster, \
            pytest.raises(ConfigurationError, match="at least 640 MiB"):
        score_job(cluster, spec, memory=1 << 20)


def test_cli_batched_score(trained, tmp_path):
    job, reference = trained
    copy = tmp_path / "job"
    shutil.copytree(job.parent, copy)
    from tests.e2e.test_pipeline import accord as run_accord

    out, err = run_accord("score", copy / "job.yaml", "--memory", "1G", "--batch-rows", "7", "--state-dir",
                          tmp_path / "state", cwd=copy).communicate(timeout=300)
    assert "scored 89 rows" in out, err
    got = pd.read_csv(copy / "out/bank/scores.csv", dtype={"id": str}).sort_values("id", ignore_index=True)
    _same_scores(got, reference)


def test_a_killed_runs_staging_files_are_removed_by_the_next_run(trained):
    job, _ = trained
    stale = job.parent / "state" / "score" / "credit-test" / "bank" / "input.parquet"
    stale.parent.mkdir(parents=True, exist_ok=True)
    stale.write_bytes(b"left by a killed run")
    assert _batched(job, job.parent / "after-kill.csv", 50) == 89
    assert not stale.exists()


def test_cli_batched_score_on_each_partys_ray_instance(trained, tmp_path):
    # Two processes, each aligning on a Ray instance of its own with 2 workers (the buckets run as Ray tasks).
    from tests.e2e.test_pipeline import run_parties
    from tests.integration.test_psi_bucketed_retry import _ray_or_skip

    _ray_or_skip()
    job, reference = trained
    copy = tmp_path / "job"
    shutil.copytree(job.parent, copy)
    options = ("--memory", "1G", "--batch-rows", "40", "--workers", "2", "--ray-address", "local",
               "--state-dir", tmp_path / "state")
    results = run_parties(copy, copy / "job.yaml", "score", extra={"bank": options, "partner": options})
    assert [r[2] for r in results.values()] == [0, 0], "\n".join(f"{p}: {r[1][-3000:]}" for p, r in results.items())
    assert "scored 89 rows" in results["bank"][0]
    got = pd.read_csv(copy / "out/bank/scores.csv", dtype={"id": str}).sort_values("id", ignore_index=True)
    _same_scores(got, reference)


def test_cli_pool_and_ray_options_need_batched_scoring(trained, tmp_path):
    from tests.e2e.test_pipeline import accord as run_accord

    job, _ = trained
    for option in (("--workers", "2"), ("--ray-address", "local")):
        _out, err = run_accord("score", job, *option, cwd=tmp_path).communicate(timeout=120)
        assert f"{option[0]} needs --memory" in err, err
