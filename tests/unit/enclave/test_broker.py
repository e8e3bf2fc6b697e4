"""Broker decisions without a network: nonces, report-data binding, policy checks on real claims, audit chain."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from accord.enclave.broker import KeyBroker, key_context
from accord.enclave.messages import ChallengeRequest, ReleaseRequest
from accord.enclave.owner import seal_dataset
from accord.errors import ConfigurationError, EvidenceRejected, PolicyRefused
from accord.tee import Evidence, EvidenceKind, binding, verify_evidence
from accord.tee.audit import verify_log
from accord.tee.intel import collateral_from_json
from accord.tee.policy import parse_policy
from accord.tee.simulated import SimulatedEnclave
from accord.tee.wrapping import KeyPair, unwrap_key
from tests.tee_setup import DATA, write_policy

pytest.importorskip("pyhpke")
JOB = "ab" * 32
VECTORS = Path(__file__).resolve().parents[2] / "vectors" / "tee"
ENCLAVE = SimulatedEnclave(bytes(range(48)))


@pytest.fixture
def broker(tmp_path):
    seal_dataset(tmp_path, "bank", "loans", DATA / "bank.csv", tmp_path / "bank.sealed")
    write_policy(tmp_path, "bank", "loans", JOB, {}, measurement=bytes(range(48)).hex())
    return KeyBroker(tmp_path, clock=lambda: 1_800_000_000)


def _request(broker, pair, nonce, report_data=None, job=JOB):
    nonces = {"bank": nonce}
    evidence = ENCLAVE.evidence(report_data or binding(pair.public, nonces, job))
    return ReleaseRequest(job, "loans", pair.public, nonces, {}, evidence)


def test_release_wraps_the_data_key_to_the_bound_public_key_and_is_audited(broker, tmp_path):
    pair = KeyPair.generate()
    nonce = broker.challenge(ChallengeRequest(JOB, "loans"))
    wrapped = broker.release(_request(broker, pair, nonce))
    data_key = (tmp_path / "keys" / "loans.key").read_bytes()
    assert unwrap_key(wrapped, pair.private, key_context("bank", "loans", JOB)) == data_key
    entry = verify_log(tmp_path / "audit.jsonl")[-1]
    assert entry["event"] == "release" and entry["warning"] == "INSECURE SIMULATION"
    assert entry["evidence"].startswith("sha256:")
    with pytest.raises(EvidenceRejected) as info:  # the nonce is single use
        broker.release(_request(broker, pair, nonce))
    assert info.value.check == "nonce"


def test_report_data_must_bind_the_presented_key(broker):
    pair = KeyPair.generate()
    nonce = broker.challenge(ChallengeRequest(JOB, "loans"))
    with pytest.raises(EvidenceRejected) as info:
        broker.release(_request(broker, pair, nonce, report_data=bytes(64)))
    assert info.value.check == "report-data"


def test_expired_policy_and_unknown_job_are_refused(broker, tmp_path):
    pair = KeyPair.generate()
    with pytest.raises(PolicyRefused) as info:
        broker.release(_request(broker, pair, broker.challenge(ChallengeRequest("cd" * 32, "loans")), job="cd" * 32))
    assert info.value.check == "job"
    write_policy(tmp_path, "bank", "loans", JOB, {}, measurement=bytes(range(48)).hex(), expires="2020-01-01T00:00:00Z")
    with pytest.raises(PolicyRefused) as info:
        broker.release(_request(broker, pair, broker.challenge(ChallengeRequest(JOB, "loans"))))
    assert info.value.check == "expiry"
    assert [e["event"] for e in verify_log(tmp_path / "audit.jsonl")] == ["refusal", "refusal"]


def test_edited_audit_log_breaks_the_chain(broker, tmp_path):
    pair = KeyPair.generate()
    broker.release(_request(broker, pair, broker.challenge(ChallengeRequest(JOB, "loans"))))
    with pytest.raises(PolicyRefused):
        broker.release(_request(broker, pair, broker.challenge(ChallengeRequest("cd" * 32, "loans")), job="cd" * 32))
    lines = (tmp_path / "audit.jsonl").read_text().splitlines()
    edited = json.loads(lines[1])
    edited["event"] = "release"
    (tmp_path / "audit.jsonl").write_text(lines[0] + "\n" + json.dumps(edited) + "\n")
    with pytest.raises(ConfigurationError, match="line 2"):
        verify_log(tmp_path / "audit.jsonl")
    (tmp_path / "audit.jsonl").write_text(lines[1] + "\n")
    with pytest.raises(ConfigurationError, match="line 1"):
        verify_log(tmp_path / "audit.jsonl")


def _sgx_claims():
    evidence = Evidence(EvidenceKind.SGX, (VECTORS / "dcapqvl_sgx_quote").read_bytes(),
                        collateral_from_json((VECTORS / "dcapqvl_sgx_quote_collateral.json").read_bytes()))
    return verify_evidence(evidence, at=1750334171)


def _policy(**identity):
    entry = {"kind": "sgx", "measurement": "33d8736db756ed4997e04ba358d27833188f1932ff7b1d156904d3f560452fbb",
             **identity}
    return parse_policy({"owner": "bank", "datasets": ["loans"], "expires": "2099-01-01T00:00:00Z",
                         "enclaves": [entry], "jobs": [JOB]}, "test policy")


def test_policy_on_real_sgx_claims_names_each_failed_requirement():
    pytest.importorskip("dcap_qvl")
    claims = _sgx_claims()
    ok = _policy(accepted_tcb=["ConfigurationAndSWHardeningNeeded"],
                 signer="815f42f11cf64430c30bab7816ba596a1da0130c3b028b673133a66cf9a3e0e6", min_svn=0)
    ok.check(claims, dataset="loans", job_digest=JOB, recipients={}, at=1750334171)
    cases = {"tcb-status": _policy(), "svn": _policy(accepted_tcb=["ConfigurationAndSWHardeningNeeded"], min_svn=1),
             "signer": _policy(signer="00" * 32), "measurement": _policy(measurement="00" * 32),
             "kind": parse_policy({"owner": "bank", "datasets": ["loans"], "expires": "2099-01-01", "jobs": [JOB],
                                   "enclaves": [{"kind": "tdx", "measurement": "00" * 48}]}, "tdx policy")}
    for check, policy in cases.items():
        with pytest.raises(PolicyRefused) as info:
            policy.check(claims, dataset="loans", job_digest=JOB, recipients={}, at=1750334171)
        assert info.value.check == check, str(info.value)
    with pytest.raises(PolicyRefused) as info:
        ok.check(claims, dataset="loans", job_digest=JOB, recipients={"eve": bytes(32)}, at=1750334171)
    assert info.value.check == "recipients"
