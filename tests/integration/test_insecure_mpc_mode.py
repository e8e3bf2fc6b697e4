"""The test-only self-dealer MPC mode (one party holds both PRG keys) is refused outside opted-in simulation."""

from __future__ import annotations

import numpy as np
import pytest

import accord
from accord.errors import ConfigurationError
from accord.pipeline import load_job
from tests.procs import run_parties


def test_production_refuses_it_even_with_the_opt_in(tmp_path):
    runs = run_parties(tmp_path, "tests.integration.insecure_drivers:self_dealer_driver", ["bank", "partner"],
                       timeout=60.0)
    for party, run in runs.items():
        assert run.returncode == ConfigurationError.exit_code, f"{party}: {run.stderr}"
        assert run.result["error"] == "ConfigurationError"
        assert "refused outside Cluster.simulate" in run.result["message"]


def test_simulation_refuses_it_without_the_opt_in():
    with accord.Cluster.simulate(["bank", "partner"]) as cluster:
        with pytest.raises(ConfigurationError, match="allow_insecure_test_mode=True"):
            cluster.mpc(["bank", "partner"], mode="insecure-self-dealer")
        assert not cluster.report().runs  # refused before any key was dealt


def test_simulation_with_the_opt_in_says_insecure_in_the_report():
    with accord.Cluster.simulate(["bank", "partner"]) as cluster:
        spu = cluster.mpc(["bank", "partner"], mode="insecure-self-dealer", allow_insecure_test_mode=True)
        x = spu.share(cluster.party("bank").put(np.array([1.5])))
        assert spu.reveal(x + x, to="bank").get().tolist() == [3.0]
        report = str(cluster.report())
    assert "NOTE: MPC mode 'insecure-self-dealer' is INSECURE" in report
    assert "2pc-INSECURE-self-dealer" in report


def test_a_job_file_refuses_it(tmp_path):
    from tests.e2e.test_pipeline import write_job

    job = write_job(tmp_path, models=[{"logistic_regression": {"epochs": 1, "mpc": {"mode": "insecure-self-dealer"}}}])
    with pytest.raises(ConfigurationError, match=r"job file .*'insecure-self-dealer' is INSECURE"):
        load_job(job)  # refused when the file is read, before any party connects or reads data
    assert not (tmp_path / "out").exists()
