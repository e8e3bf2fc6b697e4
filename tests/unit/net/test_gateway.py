"""The gateway relays a worker's sends and receives through its party's link, and only for its own workers."""

from __future__ import annotations

import pytest

from accord.errors import PeerTimeout, TransportError
from accord.net import codec
from accord.net.gateway import Gateway, GatewayLink
from accord.net.memory import MemoryHub, MemoryLink


def test_a_worker_talks_to_the_peer_through_its_partys_gateway():
    # Prepare
    hub = MemoryHub(["bank", "partner"])
    bank, partner = MemoryLink(hub, "bank"), MemoryLink(hub, "partner")
    token = bytes(range(32))
    with Gateway(bank, token) as gateway:
        worker = GatewayLink("bank", ["partner"], gateway.address, token)
        # Execute: the worker sends, the peer answers, the worker receives.
        worker.send("partner", "job#1", "b3/x", codec.encode_parts({"v": b"hello"}))
        got = codec.decode(bytes(partner.recv("bank", "job#1", "b3/x", 5.0)))
        partner.send("bank", "job#1", "b3/y", codec.encode_parts([1, 2, 3]))
        reply = codec.decode(bytes(worker.recv("partner", "job#1", "b3/y", 5.0)))
        # Assert: a silent peer's timeout reaches the worker as the same error class.
        with pytest.raises(PeerTimeout):
            worker.recv("partner", "job#1", "b3/z", 0.2)
        worker.close()
    assert got == {"v": b"hello"} and reply == [1, 2, 3]


def test_a_process_without_the_token_is_refused():
    hub = MemoryHub(["bank", "partner"])
    with Gateway(MemoryLink(hub, "bank"), bytes(32)) as gateway:
        stranger = GatewayLink("bank", ["partner"], gateway.address, b"\x01" * 32)
        with pytest.raises(TransportError, match="lost its party's gateway"):
            stranger.recv("partner", "job#1", "b0/x", 1.0)
        stranger.close()
