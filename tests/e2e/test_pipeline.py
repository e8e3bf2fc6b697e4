"""Job files end to end: `accord run` / `accord score` in simulation and as two operator processes."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from accord.errors import ConfigurationError
from accord.pipeline import load_job
from accord.pipeline.job import LocalSettings
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
    files = [p for p in (tmp_path / "out").rglob("*") if p.is_file()]
    assert {oct(p.stat().st_mode & 0o777) for p in files} == {"0o600"}  # plots too: outputs are owner-only
    out, err = accord("score", job, cwd=tmp_path).communicate(timeout=300)
    shared = set(pd.read_csv(tmp_path / "bank_new.csv")["id"]) & set(pd.read_csv(tmp_path / "partner.csv")["id"])
    assert f"bank: scored {len(shared)} rows" in out, err
    scores = pd.read_csv(tmp_path / "out/bank/scores.csv")
    assert list(scores.columns) == ["id", "score_secureboost", "score_logistic_regression"]
    assert set(scores["id"]) == shared
    assert scores[["score_secureboost", "score_logistic_regression"]].stack().between(0, 1).all()
    assert scores["id"].tolist() == sorted(scores["id"])  # the canonical order of the joined keys
    _out, err = accord("score", job, "--model", "secureboost", cwd=tmp_path).communicate(timeout=300)
    only = pd.read_csv(tmp_path / "out/bank/scores.csv")
    assert list(only.columns) == ["id", "score_secureboost"], err
    np.testing.assert_allclose(only["score_secureboost"], scores["score_secureboost"])
    _out, err = accord("score", job, "--model", "random_forest", cwd=tmp_path).communicate(timeout=300)
    assert "no model 'random_forest'" in err


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
    # Scoring as two processes; a wrong model name at one party stops both in the start-up check.
    results = run_parties(tmp_path, job, "score", extra={"bank": ("--model", "random_forest")})
    assert results["bank"][2] == 2 and "no model 'random_forest'" in results["bank"][1]
    assert results["partner"][2] == 5 and "party 'bank' cannot start" in results["partner"][1]
    results = run_parties(tmp_path, job, "score", extra={"bank": ("--scores", tmp_path / "mine.csv")})
    assert results["bank"][2] == results["partner"][2] == 0, results["bank"][1]
    scores = pd.read_csv(tmp_path / "mine.csv")
    assert list(scores.columns) == ["id", "score_secureboost", "score_logistic_regression"]


def test_job_file_errors_name_the_field(tmp_path):
    with pytest.raises(ConfigurationError, match="exactly one party must name a 'label'"):
        load_job(write_job(tmp_path, parties={"bank": {"input": "b.csv", "key": "id"},
                                              "partner": {"input": "p.csv", "key": "id"}}))
    with pytest.raises(ConfigurationError, match="'models'"):
        load_job(write_job(tmp_path, models=[{"random_forest": {}}]))
    with pytest.raises(ConfigurationError, match="lists secureboost twice"):
        load_job(write_job(tmp_path, models=[{"secureboost": {}}, {"secureboost": {"n_trees": 3}}]))
    with pytest.raises(ConfigurationError, match="exactly two"):
        load_job(write_job(tmp_path, parties={**JOB["parties"], "third": {"input": "t.csv", "key": "id"}}))
    with pytest.raises(ConfigurationError, match="'psi' takes only protocol: auto, rr22, kkrt or ecdh"):
        load_job(write_job(tmp_path, psi={"protocol": "fastest"}))


def test_job_files_choose_the_psi_protocol(tmp_path):
    assert load_job(write_job(tmp_path)).psi_protocol == "auto"
    assert load_job(write_job(tmp_path, psi={"protocol": "rr22"})).psi_protocol == "rr22"
    assert load_job(write_job(tmp_path, psi={"protocol": "ecdh"})).psi_protocol == "ecdh"


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


def test_text_categoricals_missing_values_and_a_text_label(tmp_path):
    parties = {"bank": {**JOB["parties"]["bank"], "positive": "bad"},
               "partner": {**JOB["parties"]["partner"], "categorical": ["EDUCATION"]}}
    job = write_job(tmp_path, parties=parties, models=JOB["models"][:1])
    bank, partner = pd.read_csv(tmp_path / "bank.csv"), pd.read_csv(tmp_path / "partner.csv")
    gen = np.random.default_rng(3)
    bank["default"] = np.where(bank["default"] == 1, "bad", "good")
    bank.loc[gen.random(len(bank)) < 0.2, "BILL_AMT1"] = np.nan  # empty cells at both parties
    partner.loc[gen.random(len(partner)) < 0.2, "AGE"] = np.nan
    partner["SEX"] = np.where(partner["SEX"] == 1, "m", "f")
    shared = partner["id"].isin(bank["id"])
    partner["REGION"] = np.where(shared, "north", "south")  # "north" in every joined row: dropped with a notice
    bank.to_csv(tmp_path / "bank.csv", index=False)
    partner.to_csv(tmp_path / "partner.csv", index=False)
    out, err = accord("run", job, cwd=tmp_path).communicate(timeout=300)
    assert "secureboost: test AUC" in out, err
    assert "NOTE: SecureBoost: partner dropped columns with a single value in the training rows: REGION" in out
    assert json.loads((tmp_path / "out/bank/metrics.json").read_text())["secureboost"]["auc"] > 0.7
    bins = pd.read_csv(tmp_path / "out/partner/models/secureboost/bins.csv")
    assert set(bins.loc[bins["column"] == "SEX", "values"]) == {"f", "m"}
    assert "missing" in set(bins.loc[bins["column"] == "AGE", "values"])
    assert set(bins["column"]) == {"LIMIT_BAL", "SEX", "EDUCATION", "MARRIAGE", "AGE", *[f"PAY_AMT{i}" for i in
                                                                                       range(1, 7)]}


def run_parties(tmp_path: Path, job: Path, *args, extra: dict | None = None) -> dict[str, tuple[str, str, int, float]]:
    """``accord <args> --cluster ... --me <party>`` at both parties: (stdout, stderr, exit code, seconds) each."""
    cluster = tmp_path / "cluster.yaml"
    if not cluster.exists():
        write_cluster(tmp_path, ["bank", "partner"], timeout=60, connect_timeout=5)
    start = time.monotonic()
    procs = {p: accord(*args, job, "--cluster", cluster, "--me", p, *(extra or {}).get(p, ()), cwd=tmp_path)
             for p in ("bank", "partner")}
    results = {}
    for p, proc in procs.items():
        out, err = proc.communicate(timeout=300)
        results[p] = (out, err, proc.returncode, time.monotonic() - start)
    return results


def test_every_input_problem_is_found_before_psi_and_stops_both_parties(tmp_path):
    job = write_job(tmp_path, parties={**JOB["parties"], "bank": {**JOB["parties"]["bank"], "label": "defualt"}})
    bank = pd.read_csv(tmp_path / "bank.csv")
    bank["PAY_0"] = bank["PAY_0"].astype(float)
    bank.loc[3, "PAY_0"] = np.inf
    bank["BILL_AMT1"] = 7.0
    bank.to_csv(tmp_path / "bank.csv", index=False)
    results = run_parties(tmp_path, job, "run")
    _, bank_err, bank_code, bank_seconds = results["bank"]
    _, partner_err, partner_code, partner_seconds = results["partner"]
    # The bank's own message lists every problem of its input, naming the party and each column.
    assert bank_code == 3, bank_err
    assert "party 'bank'" in bank_err and "3 problems" in bank_err
    for column in ("'defualt'", "'PAY_0' has 1 infinite value", "'BILL_AMT1' is constant"):
        assert column in bank_err
    # The partner stops too, told only what the job file already names (not the bank's other columns).
    assert partner_code == 5 and "party 'bank' cannot start the job" in partner_err, partner_err
    assert "'defualt'" in partner_err and "2 more" in partner_err and "PAY_0" not in partner_err
    assert "Traceback" not in bank_err + partner_err
    assert max(bank_seconds, partner_seconds) < 30  # start-up only: no PSI, no training
    assert "psi" not in results["bank"][0] + results["partner"][0]
    assert not [p for p in (tmp_path / "out").rglob("*") if p.is_file() or p.name.startswith(".")]


def test_an_unusable_output_location_stops_both_parties_before_psi(tmp_path):
    job = write_job(tmp_path, parties={**JOB["parties"], "partner": {**JOB["parties"]["partner"],
                                                                     "output": "blocked/partner"}})
    (tmp_path / "blocked").write_text("a file where the partner's output directory should go")
    results = run_parties(tmp_path, job, "run")
    assert results["partner"][2] == 2 and "cannot create output directory" in results["partner"][1]
    assert results["bank"][2] == 5 and "party 'partner' cannot start the job" in results["bank"][1]
    assert not (tmp_path / "out").exists() or not [p for p in (tmp_path / "out").rglob("*") if p.is_file()]


def test_job_file_outputs_stay_inside_the_party_output_directory(tmp_path, tmp_path_factory):
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    for output in (str(elsewhere), f"../{elsewhere.name}/bank"):
        with pytest.raises(ConfigurationError, match=r"parties\.bank\.output .* must be relative"):
            load_job(write_job(tmp_path, parties={**JOB["parties"], "bank": {**JOB["parties"]["bank"],
                                                                             "output": output}}))
    with pytest.raises(ConfigurationError, match=r"score\.bank\.output"):
        load_job(write_job(tmp_path, score={**JOB["score"], "bank": {"input": "bank_new.csv",
                                                                      "output": str(elsewhere / "s.csv")}}))
    (tmp_path / "out").symlink_to(elsewhere)  # a link inside the directory that leads out of it
    with pytest.raises(ConfigurationError, match=r"parties\.bank\.output resolves to .* not inside"):
        load_job(write_job(tmp_path))
    (tmp_path / "out").unlink()
    assert load_job(write_job(tmp_path), me="bank", local=LocalSettings(output=tmp_path / "mine")).parties[
        "bank"].output == tmp_path / "mine"  # the party's own choice is not confined
    # Production: a job file naming an outside path stops both parties at once, before they connect.
    job = write_job(tmp_path, parties={**JOB["parties"], "partner": {**JOB["parties"]["partner"],
                                                                     "output": str(elsewhere)}})
    results = run_parties(tmp_path, job, "run")
    for party, (_, err, code, seconds) in results.items():
        assert code == 2 and "parties.partner.output" in err and seconds < 15, (party, err)
    assert not list(elsewhere.iterdir())


def test_local_paths_replace_the_job_files_without_changing_its_digest(tmp_path):
    job = write_job(tmp_path)
    base = load_job(job)
    local = load_job(job, me="bank", local=LocalSettings(out_dir=tmp_path / "base", input=tmp_path / "b2.csv"))
    assert local.digest == base.digest
    assert local.parties["bank"].output == tmp_path / "base" / "out" / "bank"
    assert local.parties["bank"].input == tmp_path / "b2.csv"
    assert local.score["bank"].output == tmp_path / "base" / "out" / "bank" / "scores.csv"
    with pytest.raises(ConfigurationError, match="--me"):
        load_job(job, local=LocalSettings(input=tmp_path / "b2.csv"))
    (tmp_path / "bank.csv").rename(tmp_path / "b2.csv")
    _out, err = accord("run", job, "--out-dir", tmp_path / "base", cwd=tmp_path).communicate(timeout=300)
    assert "cannot read" in err or "does not exist" in err  # simulation reads the job file's input
    results = run_parties(tmp_path, job, "run", "--out-dir", tmp_path / "base",
                          extra={"bank": ("--input", tmp_path / "b2.csv")})
    assert results["bank"][2] == 0 and results["partner"][2] == 0, results["bank"][1]
    assert (tmp_path / "base/out/bank/metrics.json").exists() and not (tmp_path / "out").exists()


def test_secure_lr_gives_the_same_model_on_every_run(tmp_path):
    job = write_job(tmp_path, models=[{"logistic_regression": {"epochs": 2, "batch_size": 64, "mpc": {"mode": "ot"}}}])
    aucs = []
    for _ in range(2):
        _out, err = accord("run", job, cwd=tmp_path).communicate(timeout=300)
        aucs.append(json.loads((tmp_path / "out/bank/metrics.json").read_text())["logistic_regression"]["auc"])
    # PSI returns the join in a random order; the pipeline sorts it by key, so mini-batches are the same.
    # What remains is secure truncation's random rounding (about 1e-5 on a score; docs/ml.md).
    assert aucs[0] == pytest.approx(aucs[1], abs=1e-3), err
