"""The gRPC/mTLS link between two parties in one process: order, size, reconnects, identity, failure."""

from __future__ import annotations

import threading
import time

import grpc
import numpy as np
import pytest

from accord.errors import PeerAborted, PeerTimeout, PeerUnavailable
from accord.net import codec
from tests.integration.links import make_identities, make_pair, recv, send
from tests.procs import free_ports
from tests.tcp_proxy import CuttableProxy


@pytest.fixture(scope="module")
def identities():
    return make_identities()


def test_messages_arrive_in_order_per_key_and_large_ones_stream(identities):
    bank, partner, _ = make_pair(identities)
    try:
        for i in range(100):
            send(bank, "partner", i, key="a")
            send(bank, "partner", -i, key="b")
        big = np.arange(3 << 20, dtype=np.uint64)  # 24 MiB, six gRPC frames
        send(bank, "partner", big, key="big")
        assert [recv(partner, "bank", key="b") for _ in range(100)] == [-i for i in range(100)]
        assert [recv(partner, "bank", key="a") for _ in range(100)] == list(range(100))
        np.testing.assert_array_equal(recv(partner, "bank", key="big"), big)
        send(partner, "bank", "back")
        assert recv(bank, "partner") == "back"
    finally:
        bank.close()
        partner.close()


def test_forced_reconnects_lose_and_duplicate_nothing(identities):
    ports = dict(zip(("bank", "partner"), free_ports(2)))
    proxy = CuttableProxy(ports["partner"])
    bank, partner, _ = make_pair(identities, ports=ports, bank_sees_partner_at=proxy.port, connect_timeout=20.0)
    try:
        payload = np.arange(40_000, dtype=np.uint64)  # 320 KB each
        n = 60

        def sender():
            for i in range(n):
                send(bank, "partner", [i, payload])

        threading.Thread(target=sender, daemon=True).start()
        received = []
        while len(received) < n:
            if len(received) % 7 == 3:
                proxy.cut()
            i, arr = recv(partner, "bank", timeout=60)
            np.testing.assert_array_equal(arr, payload)
            received.append(i)
        assert received == list(range(n))
        bank.flush(timeout=30)
        with pytest.raises(PeerTimeout):
            recv(partner, "bank", timeout=0.5)
        assert proxy.cuts > 5
    finally:
        proxy.close()
        bank.close()
        partner.close()


def test_a_resent_message_is_delivered_once(identities):
    bank, partner, _ = make_pair(identities)
    try:
        header = {"from": "bank", "to": "partner", "inc": b"x" * 16, "seq": 0, "kind": "msg", "session": "s",
                  "key": "k", "size": 3}
        payload = bytearray(codec.encode(7))[:3]
        assert partner.deliver("bank", header, payload)
        assert partner.deliver("bank", header, payload)  # the resend after a lost acknowledgement
        assert partner.duplicates_dropped == 1
        assert not partner.deliver("bank", dict(header, seq=5), payload)  # a gap is refused
        assert bytes(partner.recv("bank", "s", "k", 1)) == bytes(payload)
        with pytest.raises(PeerTimeout):
            partner.recv("bank", "s", "k", 0.3)
    finally:
        bank.close()
        partner.close()


def test_a_message_claiming_another_sender_is_refused(identities):
    bank, partner, _ = make_pair(identities)
    try:
        forged = codec.encode({"from": "carol", "to": "partner", "inc": b"x" * 16, "seq": 0, "kind": "msg",
                               "session": "s", "key": "k", "size": 0})
        with pytest.raises(grpc.RpcError) as err:
            list(bank._stream["partner"](iter([forged]), timeout=5))
        assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    finally:
        bank.close()
        partner.close()


def test_silence_times_out_naming_peer_and_step(identities):
    bank, partner, _ = make_pair(identities)
    try:
        start = time.monotonic()
        with pytest.raises(PeerTimeout, match=r"'partner'.*'psi/step'"):
            bank.recv("partner", "s", "psi/step", 1.0)
        assert time.monotonic() - start < 10
    finally:
        bank.close()
        partner.close()


def test_a_vanished_peer_fails_the_wait(identities):
    bank, partner, _ = make_pair(identities, connect_timeout=1.0)
    try:
        bank.wait_for_peers(5)
        partner.close()
        with pytest.raises(PeerUnavailable, match="partner"):
            bank.recv("partner", "s", "k", 60)
    finally:
        bank.close()


def test_an_abort_reaches_the_waiting_peer(identities):
    bank, partner, _ = make_pair(identities)
    try:
        partner.abort("s", "InputError: bad column")
        with pytest.raises(PeerAborted, match="bad column"):
            bank.recv("partner", "s#3", "k", 20)
    finally:
        bank.close()
        partner.close()
