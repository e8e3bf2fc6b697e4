"""A bucket whose worker is killed mid-run is run again, at both parties, on a process pool and on Ray."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from tests.procs import start_parties, write_cluster

pytestmark = pytest.mark.slow
PARTIES = ["bank", "partner"]
RAY_PYTHONS = ((3, 10), (3, 11), (3, 12), (3, 13), (3, 14))  # ray 2.60 publishes wheels for these


def _ray_or_skip() -> None:
    """Skip only where Ray has no wheel for this Python; under CI=1 a missing ray fails."""
    if sys.version_info[:2] not in RAY_PYTHONS:
        pytest.skip(f"ray publishes no wheel for Python {sys.version_info[0]}.{sys.version_info[1]}")
    try:
        import ray  # noqa: F401
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("ray is missing in CI: the test extra installs it (pip install -e '.[test]')")
        pytest.skip("ray is not installed (pip install -e '.[ray]')")


def _descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (from /proc/<pid>/task/<tid>/children)."""
    found, todo = [], [pid]
    while todo:
        for children in Path(f"/proc/{todo.pop()}/task").glob("*/children"):
            try:
                pids = [int(c) for c in children.read_text().split()]
            except OSError:  # the process or thread just ended
                continue
            found += pids
            todo += pids
    return found


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _busy_worker(party_pid: int, backend: str) -> int | None:
    """A worker of the party running a bucket: a spawned pool process, or a Ray worker in ``run_job``."""
    mark = "ray::run_job" if backend == "ray" else "multiprocessing.spawn"
    return next((p for p in _descendants(party_pid) if mark in _cmdline(p)), None)


def _explain(runs: dict) -> str:
    """Every party's result and the end of its log, for a failed assertion."""
    return "\n".join(f"--- {p}: exit {r.returncode}, {r.result}\n{r.stderr[-4000:]}" for p, r in runs.items())


def _tables(n: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Duplicate keys on both sides."""
    bank = pd.DataFrame({"id": [f"k{i}" for i in range(n)] + ["k5", "k5"], "x": range(n + 2)})
    partner = pd.DataFrame({"id": [f"k{i}" for i in range(n // 2, n + n // 2)] + ["k90000"], "y": range(n + 1)})
    return bank, partner


def _check_join(outputs: dict[str, Path], bank: pd.DataFrame, partner: pd.DataFrame) -> None:
    got_bank, got_partner = pd.read_parquet(outputs["bank"]), pd.read_parquet(outputs["partner"])
    expected = bank.merge(partner, on="id")
    assert list(got_bank["id"]) == list(got_partner["id"])
    got = pd.concat([got_bank, got_partner[["y"]]], axis=1).sort_values(["id", "x", "y"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(got, expected.sort_values(["id", "x", "y"]).reset_index(drop=True),
                                  check_dtype=False)


def test_buckets_run_on_a_local_ray_instance_per_party(tmp_path):
    # The one-machine Ray run: each party starts its own Ray instance of 2 workers.
    _ray_or_skip()
    bank, partner = _tables(60_000)
    inputs = {"bank": tmp_path / "bank.parquet", "partner": tmp_path / "partner.parquet"}
    bank.to_parquet(inputs["bank"])
    partner.to_parquet(inputs["partner"])
    outputs = {p: tmp_path / f"{p}-out.parquet" for p in PARTIES}
    args = {"inputs": {p: str(v) for p, v in inputs.items()}, "outputs": {p: str(v) for p, v in outputs.items()},
            "on": "id", "run": "on-ray", "buckets": 4, "workers": 2, "ray_address": "local",
            "state_dirs": {p: str(tmp_path / f"state-{p}") for p in PARTIES}}
    cluster = write_cluster(tmp_path / "cluster", PARTIES, timeout=60, connect_timeout=30)
    with start_parties(cluster, "tests.integration.drivers:bucketed_driver", PARTIES, args) as procs:
        runs = procs.wait(timeout=240)
    for run in runs.values():
        assert run.returncode == 0, _explain(runs)
        assert run.result["ran"] == 4, _explain(runs)
    _check_join(outputs, bank, partner)


@pytest.mark.parametrize("backend", ["pool", "ray"])
def test_a_worker_killed_mid_bucket_is_retried_and_nothing_is_lost_or_duplicated(tmp_path, backend):
    # Prepare: 6 buckets of about 25,000 keys each, 2 workers per party; duplicate keys on both sides.
    if backend == "ray":
        _ray_or_skip()
    n = 150_000
    bank, partner = _tables(n)
    inputs = {"bank": tmp_path / "bank.parquet", "partner": tmp_path / "partner.parquet"}
    bank.to_parquet(inputs["bank"])
    partner.to_parquet(inputs["partner"])
    outputs = {p: tmp_path / f"{p}-out.parquet" for p in PARTIES}
    args = {"inputs": {p: str(v) for p, v in inputs.items()}, "outputs": {p: str(v) for p, v in outputs.items()},
            "on": "id", "run": f"retry-{backend}", "buckets": 6, "workers": 2,
            "ray_address": "local" if backend == "ray" else None,
            "state_dirs": {p: str(tmp_path / f"state-{p}") for p in PARTIES}}
    done = tmp_path / "state-bank" / "psi" / args["run"] / "bank" / "out"
    # connect_timeout 30: a party busy starting Ray on a loaded machine may answer pings late
    cluster = write_cluster(tmp_path / "cluster", PARTIES, timeout=60, connect_timeout=30)
    # Execute: kill a worker of the bank while it runs a bucket: a Ray worker titled ray::run_job, or a pool
    # worker once the first bucket is done (the workers are then on the next ones).
    with start_parties(cluster, "tests.integration.drivers:bucketed_driver", PARTIES, args) as procs:
        procs.wait_for_output("bank", "BUCKETS-START", timeout=120)
        deadline, victim = time.monotonic() + 120, None
        while victim is None and time.monotonic() < deadline:
            if backend == "ray" or (done.is_dir() and any(done.glob("*.arrow"))):
                victim = _busy_worker(procs.procs["bank"].pid, backend)
            time.sleep(0.02)
        assert victim is not None, procs.output("bank") + "\nprocesses: " + "; ".join(
            f"{p} {_cmdline(p)[:80]}" for p in _descendants(procs.procs["bank"].pid))
        os.kill(victim, signal.SIGKILL)
        runs = procs.wait(timeout=240)
    # Assert: both completed with a retry, and the outputs are exactly pandas' inner join, row for row.
    for run in runs.values():
        assert run.returncode == 0, _explain(runs)
        assert run.result["retried"] >= 1 and run.result["ran"] == 6, _explain(runs)
    _check_join(outputs, bank, partner)
    assert not (tmp_path / "state-bank" / "psi" / args["run"]).exists()


def test_ray_is_imported_only_by_a_job_that_runs_on_it():
    code = ("import sys, accord.psi, accord.psi.bucket.pool, accord.psi.bucket.protocol; "
            "sys.exit('ray' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
