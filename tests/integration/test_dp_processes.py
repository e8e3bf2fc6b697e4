"""Joint DP releases between two OS processes over loopback mTLS: each party's ledger, noisy results only."""

from __future__ import annotations

import numpy as np
import pytest

from tests.procs import run_parties

pytestmark = pytest.mark.slow


def test_dp_count_over_mtls_charges_each_owner(tmp_path):
    keys = {"bank": list(range(0, 300)), "partner": list(range(200, 400))}
    target = "tests.integration.dp_drivers:dp_count_driver"
    exact = {"keys": keys, "ledgers": {p: str(tmp_path / f"exact-{p}.sqlite") for p in keys}, "cap": 1e10,
             "epsilon": 1e9, "to": "partner"}  # a huge ε makes the noise zero: checks the value itself
    runs = run_parties(tmp_path / "exact", target, ["bank", "partner"], exact)
    for run in runs.values():
        assert run.returncode == 0, run.stderr
    assert runs["partner"].result["count"] == 100 and runs["bank"].result["count"] is None
    real = {**exact, "ledgers": {p: str(tmp_path / f"{p}.sqlite") for p in keys}, "cap": 2.0, "epsilon": 1.5}
    first = run_parties(tmp_path / "first", target, ["bank", "partner"], real)
    assert [r.returncode for r in first.values()] == [0, 0]
    assert [r.result["spent"] for r in first.values()] == [pytest.approx(1.5)] * 2
    assert first["bank"].result["privacy"][0]["epsilon_remaining"] == pytest.approx(0.5)
    second = run_parties(tmp_path / "second", target, ["bank", "partner"], real)  # 1.5 more would pass the cap
    assert {r.returncode for r in second.values()} == {8}
    assert all(r.result["error"] == "PrivacyBudgetExceeded" for r in second.values())


def test_joint_histogram_over_mtls_is_noised_under_the_shares(tmp_path):
    rng = np.random.default_rng(3)  # not-secret: test data
    bands = rng.integers(0, 4, 400).tolist()
    late = rng.integers(0, 7, 400).tolist()
    exact = np.bincount(bands, weights=late, minlength=4)
    args = {"bands": bands, "late": late, "epsilon": 1.0, "sensitivity": 6}
    runs = run_parties(tmp_path, "tests.integration.dp_drivers:dp_histogram_driver", ["bank", "partner"], args)
    for run in runs.values():
        assert run.returncode == 0, run.stderr
    hist = np.array(runs["bank"].result["hist"])
    assert runs["partner"].result["hist"] is None
    assert np.abs(hist - exact).max() < 60  # two discrete Laplace draws of scale 6 per band
