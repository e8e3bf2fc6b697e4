"""What an authenticated peer cannot make a party hold: foreign sessions, oversized messages, unread backlogs.

Each test drives a real gRPC/mTLS link pair on loopback; the "misbehaving" peer is an ordinary
:class:`GRPCLink` whose owner sends what an honest party never would.
"""

from __future__ import annotations

import socket
import time

import numpy as np
import pytest

from accord.errors import ConfigurationError, MessageRefused, TransportError
from accord.net import codec
from accord.net.grpc_link import GRPCLink
from tests.integration.links import make_identities, make_pair, recv, send
from tests.procs import free_ports

KIB = 1 << 10


@pytest.fixture(scope="module")
def identities():
    return make_identities()


def _wait_refused(link, frm, match, session="s"):
    """The refusal a party's receives from ``frm`` raise, within a few seconds."""
    with pytest.raises(MessageRefused, match=match) as err:
        link.recv(frm, session, "anything", 10)
    assert err.value.party == frm
    return err.value


def test_messages_to_invented_sessions_are_refused_and_nothing_is_buffered(identities):
    bank, partner, _ = make_pair(identities)
    try:
        payload = np.zeros(256 * KIB, dtype=np.uint8)
        for i in range(40):
            send(bank, "partner", payload, session=f"made-up-{i}#1")
        _wait_refused(partner, "bank", r"refused a message from party 'bank'.*session 'made-up-0#1' is not one of")
        assert partner.inbox.buffered("bank") == 0
        bank.flush(timeout=10)
        with pytest.raises(TransportError, match=r"party 'partner'.*refused a message from 'bank'.*made-up-0#1"):
            recv(bank, "partner", timeout=5)  # the sender was told why, on its stream
    finally:
        bank.close()
        partner.close()


def test_before_the_handshake_only_the_handshake_session_is_accepted(identities):
    bank, partner, _ = make_pair(identities, admit=None)
    try:
        send(bank, "partner", "hi", session="hello")
        assert recv(partner, "bank", session="hello") == "hi"
        send(bank, "partner", "early", session="s#1")
        _wait_refused(partner, "bank", r"session 's#1' is not one of", session="s#1")
        assert partner.inbox.buffered("bank") == 0
    finally:
        bank.close()
        partner.close()


def test_a_peer_exceeding_its_buffer_cap_aborts_the_job_naming_it(identities):
    bank, partner, _ = make_pair(identities, max_buffered=1024 * KIB)
    try:
        block = np.zeros(300 * KIB, dtype=np.uint8)
        for _ in range(3):  # 900 KiB waiting: within the cap, and consuming makes room again
            send(bank, "partner", block)
        for _ in range(3):
            recv(partner, "bank")
        for _ in range(3):
            send(bank, "partner", block)
        send(bank, "partner", block, key="never-read")  # a fourth unread block passes 1 MiB
        error = _wait_refused(partner, "bank", r"'bank' would have \d+ bytes buffered at 'partner', more than the "
                                               r"limit of 1048576 \(max_buffered")
        assert "never-read" in str(error)
        assert partner.inbox.buffered("bank") <= 1024 * KIB
        bank.flush(timeout=10)
        with pytest.raises(TransportError, match=r"RESOURCE_EXHAUSTED.*max_buffered"):
            recv(bank, "partner", timeout=5)
    finally:
        bank.close()
        partner.close()


def test_a_message_above_the_size_limit_is_refused_before_it_is_held(identities):
    bank, partner, _ = make_pair(identities, limits=codec.Limits(max_bytes=512 * KIB))
    try:
        send(bank, "partner", np.zeros(400 * KIB, dtype=np.uint8))
        assert len(recv(partner, "bank")) == 400 * KIB
        send(bank, "partner", np.zeros(600 * KIB, dtype=np.uint8))
        _wait_refused(partner, "bank", r"a message of \d+ bytes exceeds the limit of 524288 \(max_message")
        assert partner.inbox.buffered("bank") == 0
    finally:
        bank.close()
        partner.close()


def test_a_second_party_cannot_listen_on_a_taken_port(identities):
    bank, partner, ports = make_pair(identities)
    try:
        start = time.monotonic()
        with pytest.raises(ConfigurationError, match=rf"cannot listen on 127.0.0.1:{ports['bank']}: address "
                                                     "already in use"):
            GRPCLink("bank", [], key_pem=identities["bank"][0], cert_pem=identities["bank"][1],
                     listen=f"127.0.0.1:{ports['bank']}")
        assert time.monotonic() - start < 5
        send(partner, "bank", "still mine")  # the first owner keeps its port and its messages
        assert recv(bank, "partner") == "still mine"
    finally:
        bank.close()
        partner.close()


def test_a_port_held_by_another_program_is_refused():
    port = free_ports(1)[0]
    key, cert = make_identities()["bank"]
    with socket.create_server(("127.0.0.1", port)):
        with pytest.raises(ConfigurationError, match="address already in use"):
            GRPCLink("bank", [], key_pem=key, cert_pem=cert, listen=f"127.0.0.1:{port}")
