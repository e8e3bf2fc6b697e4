"""A job's plan names the protocols the runner will run, with their own declarations."""

from __future__ import annotations

import pytest
import yaml

from accord.pipeline.job import load_job
from accord.pipeline.plan import dp_epsilon, plan_job
from accord.psi.rr22.protocol import LEAKAGE as RR22_LEAKAGE


@pytest.mark.parametrize(("psi", "expected"), [(None, "psi.rr22"), ("auto", "psi.rr22"), ("kkrt", "psi.kkrt"),
                                               ("ecdh", "psi.ecdh")])
def test_plan_names_the_psi_protocol_the_runner_runs(tmp_path, psi, expected):
    job = {"job": "j", "parties": {"bank": {"input": "b.csv", "key": "id", "label": "y"},
                                   "partner": {"input": "p.csv", "key": "id", "features": ["a", "b"]}},
           "models": [{"logistic_regression": {"mpc": {"dealer": "carol"}}}],
           "dp": {"summaries": {"epsilon": 0.6, "partner": {"a": [0, 1]}}}}
    if psi:
        job["psi"] = {"protocol": psi}
    (tmp_path / "job.yaml").write_text(yaml.safe_dump(job))
    spec = load_job(tmp_path / "job.yaml")
    plan = plan_job(spec, {"bank": ["id", "y", "x1"]})
    steps = {s.name: s for s in plan.steps}
    assert [p.name for p in steps["psi"].protocols] == [expected]
    if expected == "psi.rr22":
        assert steps["psi"].protocols[0].leakage == RR22_LEAKAGE
    lr = steps["models.logistic_regression"]
    assert lr.protocols[0].name == "mpc.2pc-dealer" and lr.protocols[0].dealers == ("carol",)
    assert {(u.party, u.column, u.use) for u in lr.uses} == {("bank", "y", "label"), ("bank", "x1", "train"),
                                                             ("partner", "a", "train"), ("partner", "b", "train")}
    assert {(u.party, u.column, u.use) for u in steps["dp.summaries"].uses} == {("partner", "a", "dp")}
    assert dp_epsilon(spec, "partner") == pytest.approx({"a": 0.4})  # a mean and a median of 0.6 / 3 each
