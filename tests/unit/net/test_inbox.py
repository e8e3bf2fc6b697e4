"""The inbox's admission and per-peer byte accounting, without a network."""

from __future__ import annotations

import pytest

from accord.errors import PeerAborted, PeerTimeout
from accord.net.inbox import Inbox


def test_only_the_handshake_is_admitted_until_a_job_session_is_named():
    inbox = Inbox("bank")
    assert inbox.admits("hello") and not inbox.admits("job") and not inbox.admits("job#1")
    inbox.admit("job")
    assert inbox.admits("hello") and inbox.admits("job") and inbox.admits("job#17")
    assert not any(inbox.admits(s) for s in ("job2", "job2#1", "jo#1", "other#1", "#1", ""))


def test_reservations_and_buffered_messages_count_against_the_cap_until_consumed():
    inbox = Inbox("bank", max_buffered=1000)
    assert inbox.reserve("partner", 600) is None
    refusal = inbox.reserve("partner", 500)
    assert "'partner' would have 1100 bytes buffered at 'bank', more than the limit of 1000" in refusal
    assert inbox.reserve("carol", 900) is None  # the cap is per peer
    inbox.put("partner", "s#1", "k", bytearray(600))
    inbox.release("partner", 600)
    assert inbox.buffered("partner") == 600
    assert inbox.reserve("partner", 500) is not None
    assert len(inbox.get("partner", "s#1", "k", timeout=1)) == 600
    assert inbox.buffered("partner") == 0 and inbox.reserve("partner", 1000) is None
    inbox.release("partner", 1000)


def test_dropping_a_session_frees_its_bytes_and_discards_its_stragglers():
    inbox = Inbox("bank", max_buffered=1000)
    inbox.put("partner", "s#1", "a", bytearray(300))
    inbox.put("partner", "s#1", "b", bytearray(300))
    inbox.put("partner", "s#2", "a", bytearray(100))
    inbox.drop_session("s#1")
    assert inbox.buffered("partner") == 100
    inbox.put("partner", "s#1", "a", bytearray(300))  # a straggler of the finished run
    assert inbox.buffered("partner") == 100
    with pytest.raises(PeerTimeout):
        inbox.get("partner", "s#1", "a", timeout=0.1)


def test_an_abort_from_any_party_ends_every_wait_of_the_run():
    """In a run of three parties, a wait on the asker ends when a third party aborts (the asker, failed in turn,
    does not echo the abort); other runs are not affected."""
    inbox = Inbox("lender1")
    inbox.put_abort("lender2", "job#4", "InputError: bad amounts")
    with pytest.raises(PeerAborted, match="'lender2' aborted while 'lender1' waited for step 'k' from 'bank'") as info:
        inbox.get("bank", "job#4", "k", timeout=5)
    assert info.value.party == "lender2"
    with pytest.raises(PeerTimeout):
        inbox.get("bank", "job#5", "k", timeout=0.05)
