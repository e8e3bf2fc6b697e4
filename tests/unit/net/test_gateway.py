"""The gateway relays a worker's sends and receives through its party's link, and only for its own workers."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator

import pytest

from accord.errors import PeerTimeout, TransportError
from accord.net import codec
from accord.net.gateway import Gateway, GatewayLink, WorkCancelled
from accord.net.memory import MemoryHub, MemoryLink

TOKEN = bytes(range(32))


@contextlib.contextmanager
def bank_gateway() -> Iterator[tuple[MemoryLink, Gateway]]:
    """The partner's link and the bank's gateway over the bank's link (workers join with ``TOKEN``)."""
    hub = MemoryHub(["bank", "partner"])
    with Gateway(MemoryLink(hub, "bank"), TOKEN) as gateway:
        yield MemoryLink(hub, "partner"), gateway


def test_a_worker_talks_to_the_peer_through_its_partys_gateway():
    # Prepare
    with bank_gateway() as (partner, gateway):
        worker = GatewayLink("bank", ["partner"], gateway.address, TOKEN)
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
    with bank_gateway() as (_partner, gateway):
        stranger = GatewayLink("bank", ["partner"], gateway.address, b"\x01" * 32)
        with pytest.raises(TransportError, match="lost its party's gateway"):
            stranger.recv("partner", "job#1", "b0/x", 1.0)
        stranger.close()


def test_cancelling_a_path_fails_its_pending_receive_at_once_and_drops_its_sends():
    # Prepare: a worker waits (30 s timeout) on a bucket the party abandons.
    with bank_gateway() as (partner, gateway):
        worker = GatewayLink("bank", ["partner"], gateway.address, TOKEN)
        errors: list[BaseException] = []

        def wait() -> None:
            try:
                worker.recv("partner", "job#1", "psi/bucket3/try0/x", 30.0)
            except BaseException as exc:
                errors.append(exc)

        waiting = threading.Thread(target=wait)
        waiting.start()
        time.sleep(0.3)
        start = time.monotonic()
        # Execute
        gateway.cancel("psi/bucket3/try0")
        waiting.join(10)
        stopped = time.monotonic() - start
        late = GatewayLink("bank", ["partner"], gateway.address, TOKEN)
        late.send("partner", "job#1", "psi/bucket3/try0/y", codec.encode_parts(1))
        late.send("partner", "job#1", "psi/bucket3/try1/y", codec.encode_parts(2))
        fresh = codec.decode(bytes(partner.recv("bank", "job#1", "psi/bucket3/try1/y", 5.0)))
        with pytest.raises(PeerTimeout):
            partner.recv("bank", "job#1", "psi/bucket3/try0/y", 0.3)
        worker.close()
        late.close()
    # Assert: the wait ended within a poll or two, as WorkCancelled; the fresh attempt's path is untouched.
    assert len(errors) == 1 and isinstance(errors[0], WorkCancelled) and stopped < 5
    assert fresh == 2
