"""The shared audit chain: every edit, reorder, deletion, forged signature or cut-off tail is caught."""

from __future__ import annotations

import hashlib
import json

import pytest

from accord.governance.chain import GENESIS, AuditLog, TamperedLog, verify_log
from accord.governance.signing import Signer, Verifier
from accord.net.tls import create_party_certificate


@pytest.fixture(scope="module")
def keys():
    return {p: create_party_certificate(p) for p in ("bank", "partner")}


@pytest.fixture
def log(tmp_path, keys):
    path = tmp_path / "audit.jsonl"
    audit = AuditLog(path, Signer("bank", keys["bank"][0]))
    for i in range(5):
        audit.append("approval", job=f"j{i}", approver="alice")
    return path


def _lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def _write(path, entries):
    path.write_text("".join(json.dumps(e) + "\n" for e in entries))


def test_hash_is_sha256_over_previous_hash_and_canonical_json(log, keys):
    """The chain rule, recomputed here from its definition (not with the module's own helper)."""
    entries = _lines(log)
    previous = GENESIS
    for entry in entries:
        body = {k: v for k, v in entry.items() if k not in ("hash", "sig")}
        data = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
        assert entry["hash"] == hashlib.sha256(previous.encode() + b"\n" + data).hexdigest()
        previous = entry["hash"]
    verifier = Verifier.from_certificate("bank", keys["bank"][1])
    assert [e["job"] for e in verify_log(log, verifier)] == [f"j{i}" for i in range(5)]


@pytest.mark.parametrize("tamper", ["edit", "reorder", "delete", "insert", "resign-other", "drop-signature"])
def test_any_tampering_is_detected(log, keys, tamper):
    entries = _lines(log)
    if tamper == "edit":
        entries[2]["approver"] = "mallory"
    elif tamper == "reorder":
        entries[1], entries[2] = entries[2], entries[1]
    elif tamper == "delete":
        del entries[3]
    elif tamper == "insert":
        entries.insert(1, dict(entries[1]))
    elif tamper == "resign-other":  # a peer rewrites the log under its own key, chain and all
        other = tmp = log.with_name("other.jsonl")
        forged = AuditLog(tmp, Signer("partner", keys["partner"][0]))
        for e in entries:
            forged.append(e["event"], job=e["job"], approver=e["approver"])
        entries = _lines(other)
    else:
        del entries[4]["sig"]
    _write(log, entries)
    with pytest.raises(TamperedLog):
        verify_log(log, Verifier.from_certificate("bank", keys["bank"][1]))


def test_cutting_the_tail_is_caught_only_against_an_anchor(log, keys):
    entries = _lines(log)
    anchor = (4, entries[4]["hash"])
    _write(log, entries[:3])
    verifier = Verifier.from_certificate("bank", keys["bank"][1])
    assert len(verify_log(log, verifier)) == 3  # a shorter log is a valid chain on its own
    with pytest.raises(TamperedLog, match="removed from the end"):
        verify_log(log, verifier, anchors=[anchor])


def test_reopening_verifies_and_continues_the_chain(log, keys):
    audit = AuditLog(log, Signer("bank", keys["bank"][0]))
    entry = audit.append("rejection", job="j5")
    assert entry["seq"] == 5 and entry["prev"] == _lines(log)[4]["hash"]
    entries = _lines(log)
    entries[0]["job"] = "edited"
    _write(log, entries)
    with pytest.raises(TamperedLog, match="line 1"):
        AuditLog(log)
