"""The job file's `dp:` section: each party's DP summaries, paid from its own ledger, checked before PSI."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from accord.dp import Ledger
from tests.e2e.test_pipeline import JOB, accord, write_job

DP = {"ledger": {"epsilon": 3.0}, "summaries": {"epsilon": 2.0, "bank": {"PAY_0": [-2, 8]},
                                                 "partner": {"AGE": [18, 80], "LIMIT_BAL": [0, 1_000_000]}}}
MODELS = [{"secureboost": {"n_trees": 1, "max_depth": 2, "allow_insecure_key_size": True, "workers": 1}}]


def test_job_publishes_dp_summaries_and_charges_each_ledger(tmp_path):
    job = write_job(tmp_path, dp=DP, models=MODELS, security={"key_bits": 1024})
    state = tmp_path / "state"
    proc = accord("run", job, "--state-dir", state, cwd=tmp_path)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    partner = json.loads((tmp_path / "out/partner/dp_summary.json").read_text())
    truth = pd.read_csv(tmp_path / "partner.csv")
    assert partner["dataset"] == "partner" and set(partner["columns"]) == {"AGE", "LIMIT_BAL"}
    assert abs(partner["rows"] - len(truth)) < 40           # 5 releases share ε = 2: count noise scale 2.5
    assert abs(partner["columns"]["AGE"]["mean"] - truth["AGE"].mean()) < 5
    assert abs(partner["columns"]["AGE"]["median"] - truth["AGE"].median()) < 5
    assert "privacy budgets" in out and "dataset 'bank'" in out
    ledger = Ledger(state / "dp" / "partner.sqlite", "partner")
    assert ledger.spent() == pytest.approx(2.0, rel=1e-6) and ledger.cap.epsilon == 3.0
    # A second run would pass the cap: both parties stop before PSI, exit 8, nothing more is charged.
    again = accord("run", job, "--state-dir", state, cwd=tmp_path)
    out, err = again.communicate(timeout=300)
    assert again.returncode == 8 and "over the cap" in err, err
    assert "psi." not in out
    assert Ledger(state / "dp" / "partner.sqlite", "partner").spent() == pytest.approx(2.0, rel=1e-6)


def test_bad_dp_sections_are_refused_naming_the_field(tmp_path):
    for bad, message in [({"summaries": {"epsilon": 1.0, "bank": {"PAY_0": [8, -2]}}}, "dp.summaries.bank.PAY_0"),
                         ({"summaries": {"epsilon": 0}}, "epsilon"),
                         ({"summaries": {"epsilon": 1.0, "carol": {}}}, "dp.summaries.carol")]:
        job = write_job(tmp_path, dp=bad, models=JOB["models"][:1])
        proc = accord("run", job, "--state-dir", tmp_path / "state", cwd=tmp_path)
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 2 and message in err, err
