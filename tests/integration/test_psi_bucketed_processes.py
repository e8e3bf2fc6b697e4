"""Bucketed PSI between two processes: a run killed mid-way and started again completes the same join."""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
import pytest

from tests.procs import run_parties, start_parties, write_cluster

pytestmark = pytest.mark.slow
PARTIES = ["bank", "partner"]


def _args(tmp_path: Path) -> dict:
    bank = pd.DataFrame({"id": [f"k{i}" for i in range(12_000)], "x": range(12_000)})
    partner = pd.DataFrame({"id": [f"k{i}" for i in range(6_000, 18_000)] + ["k7"], "y": range(12_001)})
    inputs = {"bank": tmp_path / "bank.parquet", "partner": tmp_path / "partner.csv"}
    bank.to_parquet(inputs["bank"])
    partner.to_csv(inputs["partner"], index=False)
    return {"inputs": {p: str(v) for p, v in inputs.items()}, "on": "id", "run": "kill", "buckets": 24,
            "outputs": {"bank": str(tmp_path / "bank-out.parquet"), "partner": str(tmp_path / "partner-out.csv")},
            "state_dirs": {p: str(tmp_path / f"state-{p}") for p in PARTIES}}


def test_a_killed_run_restarts_from_its_completed_buckets(tmp_path):
    # Prepare
    args = _args(tmp_path)
    done = tmp_path / "state-bank" / "psi" / "kill" / "bank" / "out"
    cluster = write_cluster(tmp_path / "first", PARTIES, timeout=20, connect_timeout=3)
    # Execute: kill both parties once the bank has completed a few buckets, then run the same call again.
    with start_parties(cluster, "tests.integration.drivers:bucketed_driver", PARTIES, args) as procs:
        procs.wait_for_output("bank", "BUCKETS-START", timeout=120)
        deadline = time.monotonic() + 120
        while len(list(done.glob("*.arrow"))) < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        procs.kill("bank")
        procs.kill("partner")
        procs.wait(timeout=30)
    completed = len(list(done.glob("*.arrow")))
    assert 3 <= completed < 24
    assert not any(Path(o).exists() for o in args["outputs"].values())  # no partial output
    runs = run_parties(tmp_path / "second", "tests.integration.drivers:bucketed_driver", PARTIES, args)
    # Assert: the restart ran only what was left, and both outputs hold the inner join, row by row.
    for party, run in runs.items():
        assert run.returncode == 0, run.stderr[-3000:]
        assert completed - 1 <= run.result["resumed"] <= completed, run.result
        assert run.result["ran"] == 24 - run.result["resumed"]
    bank, partner = pd.read_parquet(args["outputs"]["bank"]), pd.read_csv(args["outputs"]["partner"])
    expected = pd.read_parquet(args["inputs"]["bank"]).merge(pd.read_csv(args["inputs"]["partner"]), on="id")
    assert list(bank["id"]) == list(partner["id"])
    got = pd.concat([bank, partner[["y"]]], axis=1).sort_values(["id", "y"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(got, expected.sort_values(["id", "y"]).reset_index(drop=True), check_dtype=False)
    assert not (tmp_path / "state-bank" / "psi" / "kill").exists()


def test_buckets_on_worker_pools_at_both_parties(tmp_path):
    # Prepare: each party runs 2 buckets at a time in worker processes behind its gateway.
    args = {**_args(tmp_path), "run": "pool", "buckets": 6, "workers": 2}
    # Execute
    runs = run_parties(tmp_path / "cluster", "tests.integration.drivers:bucketed_driver", PARTIES, args)
    # Assert
    for run in runs.values():
        assert run.returncode == 0, run.stderr[-3000:]
        assert run.result["workers"] == 2 and run.result["ran"] == 6
    bank, partner = pd.read_parquet(args["outputs"]["bank"]), pd.read_csv(args["outputs"]["partner"])
    expected = pd.read_parquet(args["inputs"]["bank"]).merge(pd.read_csv(args["inputs"]["partner"]), on="id")
    assert list(bank["id"]) == list(partner["id"]) and len(bank) == len(expected)
    assert set(zip(bank["x"], partner["y"])) == set(zip(expected["x"], expected["y"]))
