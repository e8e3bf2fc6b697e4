"""Node decisions: policy checks before approval, concurrent operators, peer messages, damaged databases."""

from __future__ import annotations

import json
import os
import threading
import time

import pytest
from sqlalchemy import update

from accord.errors import ConfigurationError, MalformedMessage, NotApproved
from accord.governance.approval import parse_approval
from accord.governance.chain import TamperedLog
from accord.node import peers, schema
from accord.node.service import DecisionConflict
from accord.node.store import Store
from tests.node_setup import job_text
from tests.postgres import postgres_url
from tests.unit.node.conftest import make_node


def test_a_job_breaking_the_policy_shows_column_rule_and_step_and_cannot_be_approved(nodes):
    partner = nodes["partner"]
    job = partner.propose(job_text(features=False), "bank-op", proposer="bank")
    assert {(v["column"], v["step"]) for v in job.violations} == {("SEX", "models.secureboost"),
                                                                   ("SEX", "models.logistic_regression")}
    assert all("never used" in v["rule"] for v in job.violations)
    with pytest.raises(ConfigurationError, match="breaks this party's column policies"):
        partner.decide(job.digest, "partner-op", approve=True)
    partner.decide(job.digest, "partner-op", approve=False, reason="no SEX")
    fixed = partner.propose(job_text(features=True), "bank-op", proposer="bank")
    assert fixed.violations == [] and fixed.digest != job.digest
    decision = partner.decide(fixed.digest, "partner-op", approve=True)
    approval = parse_approval(decision["approval"], "partner")
    assert approval.digest == fixed.digest and approval.commands == ("run",)
    events = [e["event"] for e in partner.store.verify_audit()]
    assert events == ["proposal", "rejection", "proposal", "approval"]


def test_two_operators_approving_at_once_give_one_approval(nodes):
    bank = nodes["bank"]
    job = bank.propose(job_text(features=True), "bank-op")
    outcomes = []
    barrier = threading.Barrier(4)

    def approve(who):
        barrier.wait()
        try:
            bank.decide(job.digest, who, approve=True)
            outcomes.append("approved")
        except DecisionConflict as exc:
            outcomes.append(str(exc))

    threads = [threading.Thread(target=approve, args=(f"op{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("approved") == 1 and sum("already approved by op" in o for o in outcomes) == 3
    entries = bank.store.verify_audit()
    assert [e["event"] for e in entries].count("approval") == 1


def test_a_peer_replaying_an_old_approval_for_a_changed_job_file_is_refused(nodes):
    bank, partner = nodes["bank"], nodes["partner"]
    old = bank.propose(job_text(features=True, trees=2), "bank-op")
    partner.propose(job_text(features=True, trees=2), "bank-op", proposer="bank")
    old_decision = partner.decide(old.digest, "partner-op", approve=True)
    bank.record_peer_decision("partner", old_decision)
    changed = bank.propose(job_text(features=True, trees=3), "bank-op")  # the job file changed
    with pytest.raises(NotApproved, match="another version of the job"):
        bank.record_peer_decision("partner", {**old_decision, "digest": changed.digest})
    assert "partner" not in bank.decisions(changed.digest)
    with pytest.raises(NotApproved, match="lacks a valid approval from bank, partner"):
        bank.approvals(changed.digest)


def test_peer_messages_must_be_signed_fresh_and_new(nodes):
    bank, partner = nodes["bank"], nodes["partner"]
    message = peers.seal_message(bank.signer, "proposal", {"text": "x"})
    assert partner.accept_message(json.loads(json.dumps(message)), "proposal") == ("bank", {"text": "x"})
    with pytest.raises(MalformedMessage, match="replayed"):
        partner.accept_message(message, "proposal")
    forged = {**peers.seal_message(bank.signer, "proposal", {"text": "x"}), "from": "partner"}
    with pytest.raises(MalformedMessage, match="cannot be a proposal"):  # a node does not take its own party's
        partner.accept_message(forged, "proposal")
    edited = {**peers.seal_message(bank.signer, "proposal", {"text": "x"}), "body": {"text": "y"}}
    with pytest.raises(MalformedMessage, match="not signed by its key"):
        partner.accept_message(edited, "proposal")
    stale = peers.seal_message(bank.signer, "proposal", {"text": "x"})
    with pytest.raises(MalformedMessage, match="older than"):
        peers.open_message(stale, "proposal", partner.verifiers, now=time.time() + 3600)


def test_auto_approval_of_the_same_job_file_within_the_window(tmp_path, cluster, frames):
    bank = make_node(tmp_path, cluster, "bank", frames[0], auto_approve=[{"same_digest_within_days": 31}],
                     approval_days=1)
    job = bank.propose(job_text(features=True), "bank-op")
    assert "bank" not in bank.decisions(job.digest)  # never approved before: an operator decides
    bank.decide(job.digest, "bank-op", approve=True)
    with bank.store.write() as conn:  # the approval expired (as last month's would have)
        conn.execute(update(schema.decisions).values(approval=conn.execute(
            schema.decisions.select()).mappings().first()["approval"].replace('"expires_at": ', '"expires_at": 1')))
    bank.propose(job_text(features=True), "bank-op")  # proposed again: the same digest
    decision = bank.decisions(job.digest)["bank"]
    assert decision["valid"] and decision["actor"].startswith("auto: same job file approved by bank-op")
    bank.store.close()


def test_damaged_databases_stop_the_node_with_a_clear_error(tmp_path, nodes):
    partner = nodes["partner"]
    partner.propose(job_text(features=True), "op", proposer="bank")
    with partner.store.write() as conn:  # an edited audit entry
        row = conn.execute(schema.audit.select().where(schema.audit.c.seq == 0)).mappings().first()
        conn.execute(update(schema.audit).where(schema.audit.c.seq == 0)
                     .values(entry=row["entry"].replace('"proposer": "bank"', '"proposer": "eve"')))
    with pytest.raises(TamperedLog, match="breaks at entry 0"):
        partner.store.verify_audit()
    corrupt = tmp_path / "corrupt.sqlite"
    corrupt.write_bytes(os.urandom(8192))
    with pytest.raises(ConfigurationError, match="corrupt or not a node database"):
        Store(f"sqlite:///{corrupt}", partner.signer)
    newer = tmp_path / "newer.sqlite"
    store = Store(f"sqlite:///{newer}", partner.signer)
    with store.write() as conn:
        conn.execute(schema.migrations_table.insert().values(version=99, name="future", applied_at=0))
    store.close()
    with pytest.raises(ConfigurationError, match="newer than this accord knows"):
        Store(f"sqlite:///{newer}", partner.signer)


def test_postgresql_node_migrates_decides_and_keeps_the_chain_linear_under_concurrent_writes(tmp_path, cluster,
                                                                                            frames):
    from sqlalchemy import create_engine

    url = postgres_url()
    engine = create_engine(url)
    with engine.begin() as conn:  # a fresh database for this test
        schema.metadata.drop_all(conn)
    engine.dispose()
    bank = make_node(tmp_path, cluster, "bank", frames[0], database=url)
    job = bank.propose(job_text(features=True), "bank-op")
    bank.decide(job.digest, "bank-op", approve=True)
    assert bank.decisions(job.digest)["bank"]["valid"]
    bank.store.close()
    store = Store(url, bank.signer)
    assert store.version() == max(v for v, _, _ in schema.MIGRATIONS)

    def append(i):
        for j in range(10):
            with store.write() as conn:
                store.audit(conn, "test", writer=i, n=j)

    threads = [threading.Thread(target=append, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [e["event"] for e in store.verify_audit()][:2] == ["proposal", "approval"]
    assert len(store.verify_audit()) == 42
    store.close()


def test_approval_checks_the_policy_in_force_when_the_operator_decides(nodes):
    from accord.node import datasets as ds
    from accord.node.policy import parse_policy

    partner = nodes["partner"]
    job = partner.propose(job_text(features=True), "bank-op", proposer="bank")
    assert job.violations == []
    with partner.store.write() as conn:  # the owner forbids AGE after the proposal arrived
        ds.set_policy(conn, "partner", parse_policy({"default": "train", "columns": {
            "id": "key", "SEX": "never", "AGE": "never"}}, "test"))
    with pytest.raises(ConfigurationError, match="column 'AGE' of dataset 'partner': rule 'never'"):
        partner.decide(job.digest, "partner-op", approve=True)
    assert [v["column"] for v in partner.job(job.digest).violations] == ["AGE", "AGE"]


def test_a_policy_tightened_after_approval_stops_the_run_before_anything_starts(nodes):
    from accord.node import datasets as ds
    from accord.node.policy import parse_policy
    from accord.node.runs import Runner

    bank, partner = nodes["bank"], nodes["partner"]
    job = bank.propose(job_text(features=True), "bank-op")
    partner.propose(job_text(features=True), "bank-op", proposer="bank")
    partner.record_peer_decision("bank", bank.decide(job.digest, "bank-op", approve=True))
    partner.decide(job.digest, "partner-op", approve=True)
    assert set(partner.approvals(job.digest)) == {"bank", "partner"}
    with partner.store.write() as conn:  # the owner forbids AGE after both approved
        ds.set_policy(conn, "partner", parse_policy({"default": "train", "columns": {
            "id": "key", "SEX": "never", "AGE": "never"}}, "test"))
    runner = Runner(partner)
    try:
        with pytest.raises(NotApproved, match="column 'AGE' of dataset 'partner': rule 'never'"):
            runner.start(job.digest, "partner-op")
    finally:
        runner.stop(timeout=5)
    assert runner.runs() == [] and not (partner.config.state / "runs").exists()
    assert partner.store.verify_audit()[-1]["event"] == "job start refused"
