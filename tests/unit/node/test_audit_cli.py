"""`accord audit verify` on a node's database and on JSON Lines logs; TEE key releases reach the node's log."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import delete, update

from accord.cli.main import main
from accord.governance.chain import AuditLog, TamperedLog
from accord.node import schema
from accord.node.events import import_events
from tests.node_setup import job_text


def _verify(*args):
    return main(["audit", "verify", *map(str, args)])


def test_verify_a_node_database_and_catch_edits_reorders_and_deletions(nodes, capsys):
    bank = nodes["bank"]
    for trees in (2, 3, 4):
        bank.propose(job_text(features=True, trees=trees), "bank-op")
    config = bank.config.source
    assert _verify("--node", config) == 0
    assert "3 entries, hash chain intact, every entry signed by 'bank'" in capsys.readouterr().out
    head = bank.store.audit_entries()[-1]
    with bank.store.write() as conn:  # the last entry removed: only an anchor shows it
        conn.execute(delete(schema.audit).where(schema.audit.c.seq == 2))
    assert _verify("--node", config) == 0
    assert _verify("--node", config, "--anchor", f"2:{head['hash']}") == 11
    assert "removed from the end" in capsys.readouterr().err
    with bank.store.write() as conn:  # two entries swapped
        rows = {r["seq"]: r["entry"] for r in conn.execute(schema.audit.select()).mappings()}
        conn.execute(update(schema.audit).where(schema.audit.c.seq == 0).values(entry=rows[1]))
        conn.execute(update(schema.audit).where(schema.audit.c.seq == 1).values(entry=rows[0]))
    assert _verify("--node", config) == 11
    assert "breaks at entry 0" in capsys.readouterr().err


def test_verify_a_jsonl_log_with_the_signers_certificate(tmp_path, nodes, cluster, capsys):
    bank = nodes["bank"]
    log = AuditLog(tmp_path / "audit.jsonl", bank.signer)
    log.append("release", dataset="loans")
    cert = bank.config.cluster.parties["bank"].cert_path
    partner_cert = bank.config.cluster.parties["partner"].cert_path
    assert _verify(tmp_path / "audit.jsonl", "--cert", cert) == 0
    assert _verify(tmp_path / "audit.jsonl", "--cert", partner_cert) == 11  # not signed by partner
    assert "not signed by 'partner'" in capsys.readouterr().err


def test_tee_key_releases_are_copied_once_into_the_node_log(tmp_path, nodes):
    bank = nodes["bank"]
    broker = AuditLog(tmp_path / "broker.jsonl")
    broker.append("release", dataset="loans", job="j" * 64, evidence_kind="simulated", recipients=["bank"])
    broker.append("refusal", dataset="loans", job="k" * 64, check="measurement", reason="unknown enclave")
    object.__setattr__(bank.config, "tee_audit", (tmp_path / "broker.jsonl",))
    assert import_events(bank) == 2
    assert import_events(bank) == 0  # each release once
    events = [(e["event"], e.get("dataset")) for e in bank.store.verify_audit()]
    assert events == [("tee key release", "loans"), ("tee key refusal", "loans")]
    lines = (tmp_path / "broker.jsonl").read_text().splitlines()
    edited = json.loads(lines[0]) | {"dataset": "other"}
    (tmp_path / "broker.jsonl").write_text(json.dumps(edited) + "\n" + lines[1] + "\n")
    assert import_events(bank) == 1  # a tampered broker log is itself recorded
    assert bank.store.audit_entries()[-1]["event"] == "tee log broken"


@pytest.mark.parametrize("anchor", ["x:y", "1:abc"])
def test_bad_anchors_are_refused(nodes, anchor):
    assert _verify("--node", nodes["bank"].config.source, "--anchor", anchor) == 2


def test_the_console_check_covers_new_entries_and_a_changed_last_entry(nodes):
    bank = nodes["bank"]
    bank.propose(job_text(features=True), "bank-op")
    assert bank.store.verify_new_audit() == 1
    for trees in (3, 4):
        bank.propose(job_text(features=True, trees=trees), "bank-op")
    assert bank.store.verify_new_audit() == 3
    with bank.store.write() as conn:
        row = conn.execute(schema.audit.select().where(schema.audit.c.seq == 2)).mappings().first()
        conn.execute(update(schema.audit).where(schema.audit.c.seq == 2)
                     .values(entry=row["entry"].replace('"actor": "bank-op"', '"actor": "eve"')))
    with pytest.raises(TamperedLog, match="breaks at entry 2"):
        bank.store.verify_new_audit()
