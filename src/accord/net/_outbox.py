"""The sending half of the gRPC link: one long-lived stream per peer, resent until acknowledged.

Each :class:`Outbox` owns a thread that opens a bidirectional stream to its peer only when it has
something to send, writes queued messages (a header frame, then data frames) and keeps each one until
the peer acknowledges its sequence number. When the stream breaks, the outbox opens a new one and
resends every unacknowledged message in order; the receiver drops sequence numbers it has already
delivered, so each message arrives exactly once. If messages stay undeliverable for
``connect_timeout`` seconds the outbox gives up and reports the peer as failed.
"""

from __future__ import annotations

import queue
import struct
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import grpc

from accord.errors import TransportError

ACK = struct.Struct("<Q")
_RETRYABLE = {
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.UNKNOWN,
    grpc.StatusCode.INTERNAL,
    grpc.StatusCode.CANCELLED,
    grpc.StatusCode.ABORTED,
}


@dataclass
class Outgoing:
    """One message: its header frame (codec-encoded) and data frames."""

    seq: int
    header: bytes
    frames: list[bytes]


def chunks(parts: Sequence[bytes | memoryview], size: int) -> list[bytes]:
    """Copy a message's parts into gRPC frames of at most ``size`` bytes (each byte copied once)."""
    frames: list[bytes] = []
    pending: list[bytes | memoryview] = []
    filled = 0
    for part in parts:
        view = memoryview(part).cast("B")
        offset = 0
        while offset < view.nbytes:
            take = min(size - filled, view.nbytes - offset)
            pending.append(view[offset : offset + take])
            filled += take
            offset += take
            if filled == size:
                frames.append(b"".join(pending))
                pending, filled = [], 0
    if pending:
        frames.append(b"".join(pending))
    return frames


class _Stream:
    """The request side of one stream: frames go in through a queue the gRPC call drains."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self.dead = False
        self.error: grpc.RpcError | None = None

    def requests(self) -> Iterator[bytes]:
        while (frame := self._queue.get()) is not None:
            yield frame

    def write(self, item: Outgoing) -> None:
        self._queue.put(item.header)
        for frame in item.frames:
            self._queue.put(frame)

    def close(self) -> None:
        self._queue.put(None)


class Outbox:
    """Ordered, acknowledged delivery of messages to one peer.

    Parameters
    ----------
    peer:
        The peer's name (for errors).
    open_stream:
        Starts the gRPC stream: takes a request iterator, returns the response iterator of acks.
    connect_timeout:
        Seconds messages may stay undeliverable before :attr:`failure` is set.
    describe:
        Turns a gRPC error into the :class:`~accord.errors.TransportError` to report.
    on_failure:
        Called once with that error when the outbox gives up.
    """

    def __init__(self, peer: str, open_stream: Callable[[Iterator[bytes]], Any], connect_timeout: float,
                 describe: Callable[[grpc.RpcError], TransportError],
                 on_failure: Callable[[TransportError], None]) -> None:
        self.peer = peer
        self._open = open_stream
        self._timeout = connect_timeout
        self._describe = describe
        self._on_failure = on_failure
        self._cond = threading.Condition()
        self._waiting: deque[Outgoing] = deque()
        self._unacked: deque[Outgoing] = deque()
        self._stalled_since: float | None = None
        self._closed = False
        self.failure: TransportError | None = None
        self._thread = threading.Thread(target=self._run, name=f"accord-outbox-{peer}", daemon=True)
        self._thread.start()

    @property
    def pending(self) -> int:
        """Messages queued or sent but not yet acknowledged."""
        with self._cond:
            return len(self._waiting) + len(self._unacked)

    def put(self, item: Outgoing) -> None:
        """Queue a message (in sequence order)."""
        with self._cond:
            if self._stalled_since is None and not (self._waiting or self._unacked):
                self._stalled_since = time.monotonic()
            self._waiting.append(item)
            self._cond.notify_all()

    def wait_idle(self, deadline: float) -> bool:
        """Wait until every message is acknowledged (or the outbox failed); ``False`` on timeout."""
        with self._cond:
            while (self._waiting or self._unacked) and self.failure is None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
            return True

    def close(self) -> None:
        """Stop sending (pending messages are dropped) and end the stream."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._thread.join(timeout=5)

    # ------------------------------------------------------------------------------------------
    def _run(self) -> None:
        backoff = 0.05
        while True:
            with self._cond:
                while not (self._waiting or self._unacked) and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
            stream = _Stream()
            responses = self._open(stream.requests())
            threading.Thread(target=self._read_acks, args=(responses, stream), daemon=True).start()
            with self._cond:
                resend = list(self._unacked)
            for item in resend:
                stream.write(item)
            self._pump(stream)
            stream.close()
            if self._closed:
                return
            error = stream.error
            if error is not None and (error.code() not in _RETRYABLE):
                self._give_up(self._describe(error))
                return
            with self._cond:
                stalled = self._stalled_since
            if stalled is not None and time.monotonic() - stalled > self._timeout:
                self._give_up(self._describe(error) if error is not None else TransportError(
                    f"party {self.peer!r} stopped acknowledging messages", party=self.peer))
                return
            time.sleep(backoff)
            backoff = min(backoff * 2, 1.0)

    def _pump(self, stream: _Stream) -> None:
        """Write queued messages to ``stream`` until it dies or the outbox closes."""
        while True:
            with self._cond:
                while not self._waiting and not self._closed and not stream.dead:
                    self._cond.wait()
                if self._closed or stream.dead:
                    return
                item = self._waiting.popleft()
                self._unacked.append(item)
            stream.write(item)

    def _read_acks(self, responses: Any, stream: _Stream) -> None:
        try:
            for ack in responses:
                (seq,) = ACK.unpack(ack)
                with self._cond:
                    while self._unacked and self._unacked[0].seq <= seq:
                        self._unacked.popleft()
                    self._stalled_since = time.monotonic() if (self._waiting or self._unacked) else None
                    self._cond.notify_all()
        except grpc.RpcError as exc:
            stream.error = exc
        finally:
            with self._cond:
                stream.dead = True
                self._cond.notify_all()
            stream.close()

    def _give_up(self, error: TransportError) -> None:
        with self._cond:
            self.failure = error
            self._waiting.clear()
            self._unacked.clear()
            self._cond.notify_all()
        self._on_failure(error)
