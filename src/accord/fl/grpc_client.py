"""A client process's end of the production transport: dial out to the aggregator and answer its instructions.

The client opens one mutual-TLS gRPC stream to the aggregator (it needs no listening port), answers
each instruction with its :class:`~accord.fl.client.ClientApp`, and returns when the aggregator says
the job is over. If the stream breaks (an aggregator restart between rounds), it reconnects with
backoff for up to ``connect_timeout`` seconds; its SecAgg keys live in memory, so a round in flight at
the restart is simply lost for this client, as a dropout. Every wait is bounded: an aggregator that
stays connected but silent for ``idle_timeout`` seconds ends the client with
:class:`~accord.errors.PeerTimeout`.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Iterator
from typing import Any

import grpc

from accord.crypto.random import Rng
from accord.errors import AuthenticationError, PeerTimeout, PeerUnavailable
from accord.fl._frames import CONNECT, GRPC_OPTIONS, Reassembler, frames
from accord.fl.client import AGGREGATOR, ClientApp, NodeState
from accord.fl.messages import Instruction, Stage
from accord.net.tls import certificate_party

log = logging.getLogger(__name__)
_END = object()


def _outgoing(box: queue.Queue[bytes | None]) -> Iterator[bytes]:
    while True:
        frame = box.get()
        if frame is None:
            return
        yield frame


def _pump(stream: Iterator[bytes], inbox: queue.Queue[object], patience: float) -> None:
    """Move frames from the gRPC response stream into a bounded queue (a thread, so reads can time out).

    Gives up (and lets the thread end) when nobody takes a frame for ``patience`` seconds.
    """
    try:
        for frame in stream:
            inbox.put(frame, timeout=patience)
        inbox.put(_END, timeout=patience)
    except grpc.RpcError as exc:
        try:
            inbox.put(exc, timeout=patience)
        except queue.Full:
            return
    except queue.Full:
        stream.cancel()  # type: ignore[attr-defined]


def connect(address: str, app: ClientApp, *, me: str, key_pem: bytes, cert_pem: bytes, aggregator_cert_pem: bytes,
            connect_timeout: float = 30.0, idle_timeout: float = 600.0, max_message_bytes: int = 1 << 30,
            rng: Rng | None = None) -> int:
    """Serve the aggregator at ``address`` until it ends the job; returns the number of instructions answered."""
    creds = grpc.ssl_channel_credentials(root_certificates=aggregator_cert_pem, private_key=key_pem,
                                         certificate_chain=cert_pem)
    target = certificate_party(aggregator_cert_pem, "aggregator certificate")
    node = NodeState(rng or Rng())
    answered, last_contact, backoff = 0, time.monotonic(), 0.2
    while True:
        options = [*GRPC_OPTIONS, ("grpc.ssl_target_name_override", target)]
        channel = grpc.secure_channel(address, creds, options=options)
        outbox: queue.Queue[bytes | None] = queue.Queue(maxsize=8)
        inbox: queue.Queue[object] = queue.Queue(maxsize=8)
        call: Any = channel.stream_stream(CONNECT)
        stream = call(_outgoing(outbox))
        threading.Thread(target=_pump, args=(stream, inbox, idle_timeout), daemon=True,
                         name=f"accord-fl-{me}").start()
        try:
            done, count = _serve(app, me, node, inbox, outbox, idle_timeout, max_message_bytes)
            answered += count
            if count:
                last_contact, backoff = time.monotonic(), 0.2
            if done:
                return answered
            error: Exception | None = None
        except grpc.RpcError as exc:
            error = exc
        finally:
            try:
                outbox.put_nowait(None)
            except queue.Full:
                pass  # cancelling the call below ends the request iterator's consumer anyway
            stream.cancel()
            channel.close()
        _raise_if_refused(error, me, address, ever_connected=answered > 0)
        if time.monotonic() - last_contact > connect_timeout:
            raise PeerUnavailable(f"client {me!r} could not reach the aggregator at {address} for "
                                  f"{connect_timeout:g} s ({_details(error)})", party=AGGREGATOR, step="connect")
        time.sleep(backoff)
        backoff = min(2.0, backoff * 2)


def _serve(app: ClientApp, me: str, node: NodeState, inbox: queue.Queue[object],
           outbox: queue.Queue[bytes | None], idle_timeout: float, limit: int) -> tuple[bool, int]:
    """Answer instructions on one connection; ``(job over, instructions answered)``."""
    reassembler, count = Reassembler(limit), 0
    while True:
        try:
            item = inbox.get(timeout=idle_timeout)
        except queue.Empty:
            raise PeerTimeout(f"the aggregator sent nothing to client {me!r} for {idle_timeout:g} s",
                              party=AGGREGATOR, step="wait") from None
        if item is _END:
            return False, count
        if isinstance(item, grpc.RpcError):
            raise item
        value = reassembler.add(item)  # type: ignore[arg-type]
        if value is None:
            continue
        ins = Instruction.from_wire(value, AGGREGATOR)
        reply = app.handle(me, ins, node)
        for frame in frames(reply.to_wire()):
            outbox.put(frame, timeout=idle_timeout)
        count += 1
        if ins.stage == Stage.SHUTDOWN.value:
            return True, count


def _details(error: Exception | None) -> str:
    if isinstance(error, grpc.RpcError):
        return f"{error.code().name}: {error.details()}"
    return "stream closed"


def _raise_if_refused(error: Exception | None, me: str, address: str, ever_connected: bool) -> None:
    """Raise :class:`AuthenticationError` when the failure is the aggregator refusing this client.

    gRPC reports a rejected client certificate as the socket closing during the handshake; before the
    first successful exchange that means refusal, later it usually means an aggregator restart.
    """
    if not isinstance(error, grpc.RpcError):
        return
    code, details = error.code(), (error.details() or "")
    if code in (grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.ALREADY_EXISTS):
        raise AuthenticationError(f"the aggregator at {address} refused client {me!r}: {details}",
                                  party=AGGREGATOR, step="connect")
    lowered = details.lower()
    if "handshake" in lowered or "certificate" in lowered or "ssl" in lowered or (
            "socket closed" in lowered and not ever_connected):
        raise AuthenticationError(f"mutual TLS between client {me!r} and the aggregator at {address} failed: the "
                                  "aggregator does not accept this client's certificate, or presents another "
                                  f"certificate than the one configured ({details})", party=AGGREGATOR,
                                  step="connect")


