"""Job files end to end: `accord run` / `accord score` in simulation and as two operator processes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from accord.errors import ConfigurationError
from accord.pipeline import load_job
from tests.procs import ROOT, write_cluster

JOB = {
    "job": "credit-test",
    "parties": {"bank": {"input": "bank.csv", "key": "id", "label": "default", "output": "out/bank"},
                "partner": {"input": "partner.csv", "key": "id", "output": "out/partner"}},
    "split": {"test_fraction": 0.3, "seed": 1},
    "models": [{"secureboost": {"n_trees": 2, "max_depth": 3, "allow_insecure_key_size": True, "workers": 1}},
               {"logistic_regression": {"epochs": 2, "batch_size": 128, "mpc": {"mode": "ot"}}}],
    "evaluate": {"plots": True},
    "score": {"bank": {"input": "bank_new.csv", "output": "out/bank/scores.csv"}, "partner": {"input": "partner.csv"}},
    "security": {"key_bits": 1024},
}


def write_job(tmp_path: Path, **changes) -> Path:
    from examples.make_credit_data import generate

    bank, partner = generate(n_shared=400, n_extra=40, seed=5)
    bank.to_csv(tmp_path / "bank.csv", index=False)
    partner.to_csv(tmp_path / "partner.csv", index=False)
    bank.drop(columns="default").iloc[:100].to_csv(tmp_path / "bank_new.csv", index=False)
    path = tmp_path / "job.yaml"
    path.write_text(yaml.safe_dump({**JOB, **changes}))
    return path


def accord(*args, cwd):
    return subprocess.Popen([sys.executable, "-m", "accord", *map(str, args)], cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={"PYTHONPATH": str(ROOT), "PATH": ""})


def test_run_and_score_in_simulation(tmp_path):
    job = write_job(tmp_path)
    out, err = accord("run", job, cwd=tmp_path).communicate(timeout=300)
    assert "secureboost: test AUC" in out, err
    metrics = json.loads((tmp_path / "out/bank/metrics.json").read_text())
    assert metrics["secureboost"]["auc"] > 0.7 and metrics["logistic_regression"]["auc"] > 0.7
    assert (tmp_path / "out/partner/models/logistic_regression/partner.lr.json").exists()
    assert (tmp_path / "out/bank/secureboost_roc_ks.png").exists()
    assert (tmp_path / "out/partner/models/secureboost/partner.secureboost.json").exists()
    assert not (tmp_path / "out/partner/models/secureboost/bank.secureboost.json").exists()
    out, err = accord("score", job, cwd=tmp_path).communicate(timeout=300)
    shared = set(pd.read_csv(tmp_path / "bank_new.csv")["id"]) & set(pd.read_csv(tmp_path / "partner.csv")["id"])
    assert f"bank: scored {len(shared)} rows" in out, err
    scores = pd.read_csv(tmp_path / "out/bank/scores.csv")
    assert set(scores["id"]) == shared and scores["score"].between(0, 1).all()


def test_run_as_two_processes_matches_simulation(tmp_path):
    job = write_job(tmp_path)
    cluster = write_cluster(tmp_path, ["bank", "partner"], timeout=120, connect_timeout=5)
    procs = {p: accord("run", job, "--cluster", cluster, "--me", p, cwd=tmp_path) for p in ("bank", "partner")}
    results = {p: (*proc.communicate(timeout=300), proc.returncode) for p, proc in procs.items()}
    for p, (out, err, code) in results.items():
        assert code == 0, f"{p}: {err}"
    assert "secureboost: test AUC" in results["bank"][0] and "AUC" not in results["partner"][0]
    assert not (tmp_path / "out/partner/metrics.json").exists()
    distributed = json.loads((tmp_path / "out/bank/metrics.json").read_text())["secureboost"]["auc"]
    _out, _ = accord("run", job, cwd=tmp_path).communicate(timeout=300)
    simulated = json.loads((tmp_path / "out/bank/metrics.json").read_text())["secureboost"]["auc"]
    assert distributed == pytest.approx(simulated, abs=1e-9)


def test_job_file_errors_name_the_field(tmp_path):
    with pytest.raises(ConfigurationError, match="exactly one party must name a 'label'"):
        load_job(write_job(tmp_path, parties={"bank": {"input": "b.csv", "key": "id"},
                                              "partner": {"input": "p.csv", "key": "id"}}))
    with pytest.raises(ConfigurationError, match="'models'"):
        load_job(write_job(tmp_path, models=[{"random_forest": {}}]))
    with pytest.raises(ConfigurationError, match="exactly two"):
        load_job(write_job(tmp_path, parties={**JOB["parties"], "third": {"input": "t.csv", "key": "id"}}))


def test_a_dealer_named_in_the_job_takes_part_and_a_failure_leaves_nothing(tmp_path):
    job = write_job(tmp_path, models=[{"logistic_regression": {"epochs": 1, "batch_size": 128,
                                                               "mpc": {"dealer": "carol"}}}])
    out, err = accord("run", job, cwd=tmp_path).communicate(timeout=300)
    assert "logistic_regression: test AUC" in out, err
    assert (tmp_path / "out/bank/models/logistic_regression/bank.lr.json").exists()
    assert not list(tmp_path.glob("out/.*partial*")) and not list(tmp_path.glob("out/*/.*"))


def test_a_job_failing_after_its_first_model_writes_nothing(tmp_path):
    job = write_job(tmp_path, models=[{"secureboost": {"n_trees": 1, "allow_insecure_key_size": True, "workers": 1}},
                                      {"logistic_regression": {"epochs": 1, "learning_rate": -1.0}}])
    _, err = accord("run", job, cwd=tmp_path).communicate(timeout=300)
    assert "learning_rate" in err
    assert not [p for p in (tmp_path / "out").rglob("*") if p.is_file()]


def test_a_non_numeric_feature_is_named(tmp_path):
    job = write_job(tmp_path)
    partner = pd.read_csv(tmp_path / "partner.csv")
    partner["SEX"] = np.where(partner["SEX"] == 1, "m", "f")
    partner.to_csv(tmp_path / "partner.csv", index=False)
    _out, err = accord("run", job, cwd=tmp_path).communicate(timeout=300)
    assert "party 'partner': column 'SEX' is not numeric" in err
    assert not (tmp_path / "out/bank/metrics.json").exists()
