"""Signed approvals: bound to one job file, job, cluster, command and party; checked against certificates."""

from __future__ import annotations

import time

import pytest

from accord.errors import NotApproved
from accord.governance.approval import Approval, check_approval, parse_approval
from accord.governance.signing import Signer, Verifier
from accord.net.tls import create_party_certificate

DIGEST, OTHER = "a" * 64, "b" * 64


@pytest.fixture(scope="module")
def keys():
    return {p: create_party_certificate(p) for p in ("bank", "partner")}


def _approval(keys, party="partner", **changes):
    fields = dict(party=party, job="credit-risk", digest=DIGEST, cluster="c" * 16, commands=("run",),
                  approver="bob", approved_at=time.time(), audit_head=(3, "d" * 64))
    return Approval(**{**fields, **changes}).signed(Signer(party, keys[party][0]))


def _check(keys, approval, party="partner", **expected):
    want = dict(job="credit-risk", digest=DIGEST, cluster="c" * 16, command="run") | expected
    return check_approval(approval, Verifier.from_certificate(party, keys[party][1]), **want)


def test_a_valid_approval_survives_the_wire(keys):
    approval = _approval(keys)
    assert _check(keys, parse_approval(approval.to_wire(), "partner")) == approval


@pytest.mark.parametrize(("changes", "expected", "message"), [
    ({}, {"digest": OTHER}, "another version of the job"),          # replayed for a changed job file
    ({}, {"job": "marketing"}, "not 'marketing'"),
    ({}, {"cluster": "e" * 16}, "not for this cluster"),
    ({}, {"command": "score"}, "not 'score'"),
    ({"expires_at": 1.0}, {}, "expired"),
])
def test_an_approval_for_something_else_is_refused(keys, changes, expected, message):
    with pytest.raises(NotApproved, match=message):
        _check(keys, _approval(keys, **changes), **expected)


def test_forged_or_foreign_signatures_are_refused(keys):
    forged = parse_approval(_approval(keys).to_wire().replace(b'"bob"', b'"eve"'), "partner")
    with pytest.raises(NotApproved, match="does not verify"):
        _check(keys, forged)
    by_bank = _approval(keys, party="bank")
    with pytest.raises(NotApproved, match="made by 'bank'"):
        _check(keys, by_bank)
    with pytest.raises(NotApproved, match="has no approval"):
        _check(keys, None)
    with pytest.raises(NotApproved, match="malformed"):
        parse_approval(b'{"format": "accord-approval-1", "party": 3}', "partner")
