"""MPC engines as separate OS processes over loopback gRPC with mutual TLS (a 3-process cluster)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.integration.mpc_drivers import inputs
from tests.procs import run_parties

pytestmark = pytest.mark.slow
ENGINES = ["dealer", "replicated", "ot"]


def _parties(engine):
    return ["bank", "partner"] if engine == "ot" else ["bank", "partner", "carol"]


@pytest.mark.parametrize("engine", ENGINES)
def test_mul_matmul_and_comparison(tmp_path, engine):
    runs = run_parties(tmp_path, "tests.integration.mpc_drivers:ops_driver", _parties(engine),
                       {"engine": engine, "seed": 5})
    for run in runs.values():
        assert run.returncode == 0, run.stderr
    got = runs["bank"].result
    data = inputs(5)
    assert np.max(np.abs(np.array(got["mul"]) - data["x"] * data["z"])) <= 1e-3
    assert np.max(np.abs(np.array(got["matmul"]) - data["x"] @ data["y"])) <= 1e-3
    assert np.array_equal(np.array(got["lt"]), data["x"] < data["z"])
    if engine == "dealer":
        dealer = sum(runs["carol"].result["sent"].values())
        computing = sum(sum(runs[p].result["sent"].values()) for p in ("bank", "partner"))
        assert 0 < dealer < computing


@pytest.mark.parametrize("engine", ENGINES)
def test_logistic_regression(tmp_path, engine):
    small = engine == "ot"
    args = {"engine": engine, "n": 600 if small else 2000, "d": 8 if small else 10, "epochs": 2 if small else 3,
            "batch": 200 if small else 500, "seed": 2}
    runs = run_parties(tmp_path, "tests.integration.mpc_drivers:lr_driver", _parties(engine), args)
    for run in runs.values():
        assert run.returncode == 0, run.stderr
    result = runs["bank"].result
    assert abs(result["acc"] - result["plain"]) <= 0.005
