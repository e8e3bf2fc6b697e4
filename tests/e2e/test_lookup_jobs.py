"""Lookup job files end to end: the examples' fraud-list PIR, PSI-sum and joint debt as operator processes
over mTLS, checked against plaintext joins of the same synthetic data."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.procs import ROOT, write_cluster

EXAMPLES = ROOT / "examples" / "pir"


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    """The examples' synthetic data at a test's scale, and the telecom's PIR table built from it."""
    from examples.make_pir_data import generate

    import accord

    root = tmp_path_factory.mktemp("pir-data")
    generate(root / "data", 3000, 200)
    with accord.Cluster.simulate(["telecom", "nobody"]) as cluster:
        flagged = pd.read_csv(root / "data" / "flagged.csv", dtype=str)
        accord.pir.build(cluster.party("telecom").put(flagged), on="phone", labels=["risk", "since"],
                         state=root / "state" / "telecom")
    return root


def setup(tmp_path: Path, data: Path, job: str, names: list[str], **changes) -> Path:
    """A copy of an example job file (with ``changes``) beside the data, and a loopback cluster file."""
    shutil.copytree(data / "data", tmp_path / "data")
    if (data / "state").exists():
        shutil.copytree(data / "state", tmp_path / "state")
    spec = yaml.safe_load((EXAMPLES / job).read_text())
    spec.update(changes)
    spec = {k: v for k, v in spec.items() if v is not None}
    (tmp_path / job).write_text(yaml.safe_dump(spec))
    write_cluster(tmp_path, names, timeout=60, connect_timeout=5)
    return tmp_path / job


def run(tmp_path: Path, job: Path, parties: list[str], env: dict[str, str] | None = None
        ) -> dict[str, tuple[str, str, int]]:
    """``accord run <job> --cluster ... --me <party>`` at every party: (stdout, stderr, exit code) each."""
    procs = {p: subprocess.Popen([sys.executable, "-m", "accord", "run", str(job), "--cluster",
                                  str(tmp_path / "cluster.yaml"), "--me", p, "--report", str(tmp_path / f"{p}.json")],
                                 cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                 env={"PYTHONPATH": str(ROOT), "PATH": "", **(env or {})})
             for p in parties}
    return {p: (*proc.communicate(timeout=300), proc.returncode) for p, proc in procs.items()}


def learned(tmp_path: Path, party: str) -> dict[str, str]:
    """What the job report says each party learned, by party."""
    report = json.loads((tmp_path / f"{party}.json").read_text())
    return {entry["party"]: entry["learned"] for entry in report["learned"]}


def test_fraud_list_lookup_between_two_processes_matches_a_plaintext_join(tmp_path, data):
    job = setup(tmp_path, data, "fraud_check.yaml", ["telecom", "bank"])
    results = run(tmp_path, job, ["telecom", "bank"])
    assert all(code == 0 for _, _, code in results.values()), results
    answers = pd.read_csv(tmp_path / "out" / "bank" / "answers.csv", dtype=str, keep_default_na=False)
    flagged = pd.read_csv(tmp_path / "data" / "flagged.csv", dtype=str).set_index("phone")
    asked = pd.read_csv(tmp_path / "data" / "applicants.csv", dtype=str)["phone"].drop_duplicates()
    assert sorted(answers["phone"]) == sorted(asked)
    expected = answers["phone"].map(lambda p: p in flagged.index)
    assert (answers["matched"] == expected.map(str)).all() and expected.sum() > 0
    hits = answers[expected]
    assert (hits["risk"] == flagged.loc[hits["phone"], "risk"].to_numpy()).all()
    assert (hits["since"] == flagged.loc[hits["phone"], "since"].to_numpy()).all()
    assert (answers.loc[~expected, "risk"] == "").all()
    seen = learned(tmp_path, "telecom")
    assert "number of keys asked" in seen["telecom"] and "label" in seen["bank"]
    assert not (tmp_path / "out" / "telecom").exists()  # the server receives nothing


def test_psi_sum_between_two_processes_matches_a_plaintext_sum(tmp_path, data):
    job = setup(tmp_path, data, "conversions.yaml", ["platform", "advertiser"], dp=None,
                to=["platform", "advertiser"], parties={
                    "platform": {"input": "data/viewers.csv", "key": "id", "output": "out/platform"},
                    "advertiser": {"input": "data/purchases.csv", "key": "id", "value": "cents",
                                   "output": "out/advertiser"}})
    results = run(tmp_path, job, ["platform", "advertiser"])
    assert all(code == 0 for _, _, code in results.values()), results
    viewers = set(pd.read_csv(tmp_path / "data" / "viewers.csv", dtype=str)["id"])
    purchases = pd.read_csv(tmp_path / "data" / "purchases.csv", dtype={"id": str})
    bought = purchases[purchases["id"].isin(viewers)]
    for party in ("platform", "advertiser"):
        result = json.loads((tmp_path / "out" / party / "result.json").read_text())
        assert (result["count"], result["sum"]) == (bought["id"].nunique(), int(bought["cents"].sum()))
    assert "sum" in learned(tmp_path, "platform")["advertiser"]


def test_psi_sum_with_dp_charges_both_ledgers_before_it_releases(tmp_path, data):
    job = setup(tmp_path, data, "conversions.yaml", ["platform", "advertiser"])
    results = run(tmp_path, job, ["platform", "advertiser"], env={"ACCORD_STATE_DIR": str(tmp_path / "state-dir")})
    assert all(code == 0 for _, _, code in results.values()), results
    from accord.dp.ledger import Ledger

    for dataset in ("viewers", "purchases"):
        assert Ledger(tmp_path / "state-dir" / "dp" / f"{dataset}.sqlite", dataset).spent() == pytest.approx(1.0)
    viewers = set(pd.read_csv(tmp_path / "data" / "viewers.csv", dtype=str)["id"])
    purchases = pd.read_csv(tmp_path / "data" / "purchases.csv", dtype={"id": str})
    result = json.loads((tmp_path / "out" / "platform" / "result.json").read_text())
    # Two discrete Laplace draws of scale 2 (ε/2 = 0.5 for a count): beyond 60 has probability below 1e-6.
    assert abs(result["count"] - purchases[purchases["id"].isin(viewers)]["id"].nunique()) <= 60
    assert "discrete Laplace" in result["noise"]


def test_joint_debt_across_four_processes_matches_plaintext_totals(tmp_path, data):
    parties = ["bank", "lender1", "lender2", "lender3"]
    job = setup(tmp_path, data, "joint_debt.yaml", parties)
    results = run(tmp_path, job, parties)
    assert all(code == 0 for _, _, code in results.values()), results
    totals = pd.read_csv(tmp_path / "out" / "bank" / "totals.csv", dtype={"id": str}).set_index("id")["total_debt"]
    owed = pd.concat([pd.read_csv(tmp_path / "data" / f"lender{k}.csv", dtype={"id": str}) for k in (1, 2, 3)])
    borrowers = pd.read_csv(tmp_path / "data" / "borrowers.csv", dtype=str)["id"].drop_duplicates()
    expected = owed.groupby("id")["owed"].sum().reindex(borrowers, fill_value=0)
    assert totals.sort_index().to_dict() == expected.sort_index().to_dict()
    assert (expected > 0).sum() > 0
    seen = learned(tmp_path, "bank")
    assert "total debt" in seen["bank"] and seen["lender2"] == "the number of applicants asked"
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["bank"]


def test_every_problem_of_the_job_file_is_listed_before_anything_connects(tmp_path, data):
    job = setup(tmp_path, data, "joint_debt.yaml", ["bank", "lender1", "lender2"], colour="blue", parties={
        "bank": {"input": "data/borrowers.csv", "key": "id", "output": "/etc/out"},
        "lender1": {"input": "data/lender1.csv", "key": "id", "amount": "owed", "rate": 3},
        "lender2": {"input": "data/lender2.csv", "key": "id"},
        "lender9": {"input": "data/lender3.csv", "key": "id", "amount": "owed"}})
    _out, err, code = run(tmp_path, job, ["bank"])["bank"]
    assert code == 2, err
    assert "5 problems" in err
    for text in ("colour: unknown field", "parties.lender1.rate: unknown field", "parties.lender2.amount: missing",
                 "parties.lender9: not in the cluster file", "parties.bank.output: output paths must be relative"):
        assert text in err
    assert "Traceback" not in err


def test_a_missing_column_at_one_lender_stops_every_party_before_any_protocol(tmp_path, data):
    parties = ["bank", "lender1", "lender2", "lender3"]
    job = setup(tmp_path, data, "joint_debt.yaml", parties)
    lender = pd.read_csv(tmp_path / "data" / "lender2.csv", dtype=str)
    lender.rename(columns={"owed": "balance", "id": "account"}).to_csv(tmp_path / "data" / "lender2.csv", index=False)
    results = run(tmp_path, job, parties)
    _out, err, code = results["lender2"]
    assert code == 3 and "party 'lender2'" in err and "2 problems" in err, err
    assert "key column 'id' not found" in err and "amount column 'owed' not found" in err
    for party in ("bank", "lender1", "lender3"):
        code, err = results[party][2], results[party][1]
        assert code == 5 and "party 'lender2'" in err and "key column 'id' not found" in err, err
        assert "balance" not in err  # the lender's other column names stay with it
        assert "pir.joint-debt" not in results[party][0]
    assert not (tmp_path / "out").exists() or not [p for p in (tmp_path / "out").rglob("*") if p.is_file()]


def test_a_table_built_with_other_labels_than_the_job_declares_is_refused(tmp_path, data):
    job = setup(tmp_path, data, "fraud_check.yaml", ["telecom", "bank"], parties={
        "telecom": {"state": "state/telecom", "key": "phone", "labels": ["risk"]},
        "bank": {"input": "data/applicants.csv", "key": "phone", "state": "state/bank", "output": "out/bank"}})
    results = run(tmp_path, job, ["telecom", "bank"])
    assert results["telecom"][2] == 3 and "returns the labels ['risk', 'since']" in results["telecom"][1]
    assert results["bank"][2] == 5 and "other labels than the job declares" in results["bank"][1]
    assert not (tmp_path / "out").exists() or not [p for p in (tmp_path / "out").rglob("*") if p.is_file()]


def test_sigterm_mid_psi_sum_stops_both_parties_and_leaves_no_output(tmp_path):
    from examples.make_pir_data import generate

    from tests.e2e.test_signals import live_group, wait_until

    generate(tmp_path / "data", 400_000, 100)  # 200,000 viewers x 100,000 purchases: seconds even on an idle machine
    spec = {**yaml.safe_load((EXAMPLES / "conversions.yaml").read_text()), "dp": None}
    (tmp_path / "job.yaml").write_text(yaml.safe_dump({k: v for k, v in spec.items() if v is not None}))
    cluster = write_cluster(tmp_path, ["platform", "advertiser"], timeout=60, connect_timeout=5)
    procs = {p: subprocess.Popen([sys.executable, "-m", "accord", "run", "job.yaml", "--cluster", str(cluster),
                                  "--me", p], cwd=tmp_path, stdout=(tmp_path / f"{p}.out").open("w"),
                                 stderr=(tmp_path / f"{p}.err").open("w"), env={"PYTHONPATH": str(ROOT), "PATH": ""},
                                 start_new_session=True)
             for p in ("platform", "advertiser")}
    victim, peer = procs["platform"], procs["advertiser"]
    try:
        staged = wait_until(lambda: victim.poll() is not None or bool(list((tmp_path / "out").glob(".platform.*"))),
                            timeout=120)
        assert staged and victim.poll() is None, (tmp_path / "platform.err").read_text()
        time.sleep(1.0)  # past the start-up agreement, into the protocol
        victim.send_signal(signal.SIGTERM)
        victim.wait(timeout=20)
        peer.wait(timeout=30)
        leftovers = {p: wait_until(lambda pid=proc.pid: not live_group(pid), timeout=5) for p, proc in procs.items()}
    finally:
        for proc in procs.values():
            for pid, _ in live_group(proc.pid):
                os.kill(pid, signal.SIGKILL)
    victim_err, peer_err = ((tmp_path / f"{p}.err").read_text() for p in ("platform", "advertiser"))
    assert victim.returncode == 128 + signal.SIGTERM, victim_err
    assert peer.returncode == 5 and "'platform'" in peer_err, peer_err
    assert leftovers == {"platform": True, "advertiser": True}
    assert not [p for p in (tmp_path / "out").rglob("*") if p.is_file() or p.name.startswith(".")]
