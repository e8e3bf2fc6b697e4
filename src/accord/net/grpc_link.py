"""The production link: gRPC over mutual TLS, one port per party, raw-bytes framing.

Each party runs one gRPC server and dials each peer's server as a client; both directions
authenticate with the party certificates named in the cluster file (see :mod:`accord.net.tls`).
The server additionally checks that the certificate presented on the connection belongs to the party
the message claims to come from.

Framing: each sender keeps one bidirectional stream ``/accord.v1.Link/Stream`` open to each peer
(see :mod:`accord.net._outbox`). A message is a codec-encoded header frame (sender, receiver, link
incarnation, sequence number, session, key, size) followed by data frames of at most ``chunk_bytes``,
so a message of any size streams through gRPC's per-frame limit; the receiver answers each complete
message with its sequence number. No protobuf code is generated: frames are opaque bytes and the
header uses the typed codec.

Delivery: unacknowledged messages are resent on a new stream after a disconnect, until the peer has
been unreachable for ``connect_timeout`` seconds. The receiver keeps, per (sender, incarnation), the
next expected sequence number and acknowledges but drops a duplicate, so a message whose
acknowledgement was lost is delivered exactly once. While a receive waits, the link pings the silent
peer; a peer that stays unreachable for ``connect_timeout`` fails the receive with
:class:`~accord.errors.PeerUnavailable`.

Limits: an authenticated peer is still not trusted with this party's memory. Before a message's bytes
are accepted, its header must name the handshake's session or, after :meth:`GRPCLink.admit`, the
current job's; its size must be within ``limits.max_bytes``; and the peer's bytes buffered here must
stay within ``max_buffered``. A message that fails a check is refused before anything is allocated:
the peer's stream ends with an error status (so the peer learns why), and this party's receives from
that peer fail with :class:`~accord.errors.MessageRefused`, which aborts the job.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent import futures
from dataclasses import dataclass
from typing import Any, NoReturn, cast

import grpc
import numpy as np

from accord.errors import (
    AuthenticationError,
    CodecError,
    ConfigurationError,
    MessageRefused,
    PeerUnavailable,
    TransportError,
)
from accord.net import codec
from accord.net._outbox import ACK, Outbox, Outgoing, chunks
from accord.net._startup import TLSProbe, bind_problem, wait_for_peers
from accord.net.base import Link
from accord.net.inbox import DEFAULT_MAX_BUFFERED, Inbox
from accord.net.tls import fingerprint

log = logging.getLogger(__name__)

_SERVICE = "accord.v1.Link"
_STREAM = f"/{_SERVICE}/Stream"
_PING = f"/{_SERVICE}/Ping"
_HEADER_LIMITS = codec.Limits(max_bytes=1 << 16, max_depth=2, max_items=64, max_int_bytes=16)
_KEEPALIVE = [("grpc.keepalive_time_ms", 10_000), ("grpc.keepalive_timeout_ms", 5_000),
              ("grpc.keepalive_permit_without_calls", 1), ("grpc.http2.max_pings_without_data", 0)]


@dataclass(frozen=True)
class Peer:
    """How to reach and recognise one peer: its name, ``host:port`` and PEM certificate."""

    name: str
    address: str
    cert_pem: bytes


class GRPCLink(Link):
    """A party's link over gRPC with mutual TLS.

    Parameters
    ----------
    me:
        This party's name (must match the common name of ``cert_pem``).
    peers:
        The other parties.
    key_pem, cert_pem:
        This party's private key and certificate.
    listen:
        ``host:port`` this party's server binds (port 0 picks a free one; see :attr:`port`).
    connect_timeout:
        Seconds a peer may stay unreachable before sends and receives involving it fail (default 10).
    chunk_bytes:
        Largest gRPC frame (default 4 MiB).
    limits:
        Bounds on incoming messages (see :class:`accord.net.codec.Limits`); ``limits.max_bytes`` is the
        largest message accepted (default 2 GiB).
    max_buffered:
        Most bytes one peer may have buffered here, received but not yet consumed (default 4 GiB).
    """

    def __init__(
        self,
        me: str,
        peers: Sequence[Peer],
        *,
        key_pem: bytes,
        cert_pem: bytes,
        listen: str,
        connect_timeout: float = 10.0,
        chunk_bytes: int = 4 << 20,
        limits: codec.Limits = codec.DEFAULT_LIMITS,
        max_buffered: int = DEFAULT_MAX_BUFFERED,
    ) -> None:
        self.me = me
        self.peers = tuple(p.name for p in peers)
        self._peer = {p.name: p for p in peers}
        if me in self._peer:
            raise ConfigurationError(f"party {me!r} lists itself as a peer")
        self.connect_timeout = connect_timeout
        self._chunk = chunk_bytes
        self.limits = limits
        self.inbox = Inbox(me, max_buffered=max_buffered)
        self._tls_probe = TLSProbe(me, key_pem, cert_pem, {p.name: p.cert_pem for p in peers})
        self._incarnation = os.urandom(16)
        self._by_fingerprint = {fingerprint(p.cert_pem): p.name for p in peers}
        self._fingerprint_cache: dict[bytes, str | None] = {}
        self._next_seq: dict[tuple[str, bytes], int] = {}
        self._seq_lock = threading.Lock()
        self._heard: dict[str, float] = {}
        self._probe_at: dict[str, float] = {}
        self._unreachable_since: dict[str, float] = {}
        self._broken: dict[str, TransportError] = {}
        self.duplicates_dropped = 0
        self._closed = False

        self._server = self._start_server(key_pem, cert_pem, listen)
        self._channels: dict[str, grpc.Channel] = {}
        self._stream: dict[str, Any] = {}
        self._ping: dict[str, Any] = {}
        for peer in peers:
            creds = grpc.ssl_channel_credentials(
                root_certificates=peer.cert_pem, private_key=key_pem, certificate_chain=cert_pem
            )
            channel = grpc.secure_channel(peer.address, creds, options=[
                ("grpc.ssl_target_name_override", peer.name),
                ("grpc.max_send_message_length", chunk_bytes + (1 << 16)),
                ("grpc.max_receive_message_length", 1 << 20),
                ("grpc.initial_reconnect_backoff_ms", 100),
                ("grpc.min_reconnect_backoff_ms", 100),
                ("grpc.max_reconnect_backoff_ms", 1000),
                ("grpc.enable_retries", 0),
                *_KEEPALIVE,
            ])
            self._channels[peer.name] = channel
            self._stream[peer.name] = channel.stream_stream(_STREAM)
            self._ping[peer.name] = channel.unary_unary(_PING)
        self._seq = dict.fromkeys(self.peers, 0)
        self._send_lock = threading.Lock()
        self._outboxes = {
            p: Outbox(p, self._stream[p], connect_timeout, functools.partial(self._describe, p, step="send"),
                      functools.partial(self._fail, p))
            for p in self.peers
        }

    # ----------------------------------------------------------------------------------- server
    def _start_server(self, key_pem: bytes, cert_pem: bytes, listen: str) -> grpc.Server:
        handler = grpc.method_handlers_generic_handler(_SERVICE, {
            "Stream": grpc.stream_stream_rpc_method_handler(self._serve_stream),
            "Ping": grpc.unary_unary_rpc_method_handler(self._serve_ping),
        })
        server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=4 + 3 * len(self._peer), thread_name_prefix=f"accord-{self.me}"),
            options=[("grpc.max_receive_message_length", self._chunk + (1 << 16)),
                     ("grpc.max_send_message_length", 1 << 20),
                     ("grpc.http2.min_recv_ping_interval_without_data_ms", 5_000),
                     ("grpc.http2.max_ping_strikes", 0),
                     ("grpc.keepalive_permit_without_calls", 1),
                     # gRPC lets a second server share a bound port (SO_REUSEPORT) and splits connections
                     # between the two: a party must own its port, so a taken port fails here.
                     ("grpc.so_reuseport", 0)],
        )
        server.add_generic_rpc_handlers((handler,))
        roots = b"".join(p.cert_pem for p in self._peer.values())
        creds = grpc.ssl_server_credentials([(key_pem, cert_pem)], root_certificates=roots,
                                            require_client_auth=True)
        try:
            self.port = server.add_secure_port(listen, creds)
        except RuntimeError:
            self.port = 0
        if self.port == 0:
            raise ConfigurationError(f"party {self.me!r} cannot listen on {listen}: {bind_problem(listen)}")
        server.start()
        return server

    def _authenticate(self, context: grpc.ServicerContext) -> str:
        # gRPC maps each key to a list of values; types-grpcio declares a single bytes value.
        certs = cast("list[bytes] | None", context.auth_context().get("x509_pem_cert"))
        if not certs:
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "no client certificate")
        pem = certs[0]
        name = self._fingerprint_cache.get(pem)
        if name is None:
            name = self._by_fingerprint.get(fingerprint(pem))
            self._fingerprint_cache[pem] = name
        if name is None:
            context.abort(grpc.StatusCode.PERMISSION_DENIED, "certificate not in this cluster")
        self._heard[name] = time.monotonic()
        return name

    def _serve_ping(self, request: bytes, context: grpc.ServicerContext) -> bytes:
        self._authenticate(context)
        return self.me.encode()

    def _serve_stream(self, frames: Iterator[bytes], context: grpc.ServicerContext) -> Iterator[bytes]:
        """Receive messages on one peer's stream; answer each complete one with its sequence number."""
        sender = self._authenticate(context)
        for first in frames:
            try:
                header = _parse_header(first)
            except CodecError as exc:
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"bad header: {exc}")
            if header["from"] != sender or header["to"] != self.me:
                context.abort(grpc.StatusCode.PERMISSION_DENIED,
                              f"certificate of {sender!r} cannot send as {header['from']!r} to {header['to']!r}")
            size = self._reserve(sender, header, context)
            try:
                payload = self._receive_payload(frames, size, context)
                if payload is None:
                    return  # the stream ended mid-message; the sender resends it on a new stream
                if not self.deliver(sender, header, payload):
                    context.abort(grpc.StatusCode.FAILED_PRECONDITION, "sequence gap: message out of order")
            finally:
                self.inbox.release(sender, size)
            self._heard[sender] = time.monotonic()
            yield ACK.pack(header["seq"])

    def _reserve(self, sender: str, header: dict[str, Any], context: grpc.ServicerContext) -> int:
        """Admit a message by its header (session, size, the sender's buffered bytes) or refuse it."""
        size = header["size"]
        if not self.inbox.admits(header["session"]):
            self._refuse(sender, header, context, grpc.StatusCode.FAILED_PRECONDITION,
                         f"session {header['session']!r} is not one of the job {self.me!r} runs")
        if size > self.limits.max_bytes:
            self._refuse(sender, header, context, grpc.StatusCode.RESOURCE_EXHAUSTED,
                         f"a message of {size} bytes exceeds the limit of {self.limits.max_bytes} "
                         "(max_message in the cluster file)")
        problem = self.inbox.reserve(sender, size)
        if problem is not None:
            self._refuse(sender, header, context, grpc.StatusCode.RESOURCE_EXHAUSTED, problem)
        return size

    def _refuse(self, sender: str, header: dict[str, Any], context: grpc.ServicerContext,
                code: grpc.StatusCode, reason: str) -> NoReturn:
        """Fail this party's receives from ``sender`` and end its stream with ``reason``."""
        log.warning("%s refuses a message from %s: %s", self.me, sender, reason)
        self.inbox.fail_peer(sender, MessageRefused(
            f"party {self.me!r} refused a message from party {sender!r} for step {header['key']!r}: {reason}",
            party=sender, step=header["key"]))
        context.abort(code, f"party {self.me!r} refused the message: {reason}")  # raises

    def _receive_payload(self, frames: Iterator[bytes], size: int,
                         context: grpc.ServicerContext) -> memoryview | None:
        """The ``size`` bytes of one message from the data frames, or ``None`` if the stream ends first."""
        # np.empty reserves address space only: pages are committed as frames are copied in, so a header
        # claiming a large size costs nothing until the data arrives (and each byte is copied once).
        try:
            payload = np.empty(size, dtype=np.uint8).data
        except MemoryError:
            context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, f"cannot hold a message of {size} bytes")
        pos = 0
        while pos < size:
            frame = next(frames, None)
            if frame is None:
                return None
            end = pos + len(frame)
            if end > size:
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, "message longer than its header says")
            payload[pos:end] = frame
            pos = end
        return payload

    def deliver(self, sender: str, header: dict[str, Any], payload: memoryview | bytearray) -> bool:
        """Hand a complete message to the inbox exactly once; ``False`` if it skips a sequence number.

        A message whose number was already delivered (a resend after a lost acknowledgement) is
        counted in :attr:`duplicates_dropped` and otherwise ignored.
        """
        slot = (sender, header["inc"])
        with self._seq_lock:
            expected = self._next_seq.get(slot, 0)
            seq = header["seq"]
            if seq > expected:
                return False
            if seq < expected:
                self.duplicates_dropped += 1
                return True
            self._next_seq[slot] = seq + 1
            if header["kind"] == "abort":
                self.inbox.put_abort(sender, header["session"], bytes(payload).decode("utf-8", "replace"))
            else:
                self.inbox.put(sender, header["session"], header["key"], payload)
            return True

    # ----------------------------------------------------------------------------------- client
    def send(self, to: str, session: str, key: str, parts: Sequence[bytes | memoryview]) -> None:
        self._enqueue(to, "msg", session, key, chunks(parts, self._chunk))

    def _enqueue(self, to: str, kind: str, session: str, key: str, frames: list[bytes]) -> None:
        if to not in self._outboxes:
            raise ValueError(f"{to!r} is not a peer of {self.me!r}; peers are {list(self.peers)}")
        if to in self._broken:
            error = self._broken[to]
            raise type(error)(str(error), party=to, step=key)
        if self._closed:
            raise TransportError(f"link of {self.me!r} is closed", party=to, step=key)
        with self._send_lock:
            seq = self._seq[to]
            self._seq[to] = seq + 1
            header = codec.encode({
                "from": self.me, "to": to, "inc": self._incarnation, "seq": seq, "kind": kind,
                "session": session, "key": key, "size": sum(len(f) for f in frames),
            })
            self._outboxes[to].put(Outgoing(seq, header, frames))

    def _fail(self, peer: str, error: TransportError) -> None:
        self._broken.setdefault(peer, error)
        self.inbox.fail_peer(peer, error)

    def _describe(self, peer: str, exc: grpc.RpcError, step: str) -> TransportError:
        address = self._peer[peer].address
        details = exc.details() or ""
        code = exc.code()
        if code in (grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.UNAUTHENTICATED):
            return AuthenticationError(f"party {peer!r} at {address} refused {self.me!r}: {details}",
                                       party=peer, step=step)
        if code in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.FAILED_PRECONDITION,
                    grpc.StatusCode.RESOURCE_EXHAUSTED):
            return TransportError(f"party {peer!r} at {address} refused a message from {self.me!r}: {code.name}: "
                                  f"{details}", party=peer, step=step)
        lowered = details.lower()
        if "handshake" in lowered or "certificate" in lowered or "ssl" in lowered or "socket closed" in lowered:
            return AuthenticationError(
                f"mutual TLS between {self.me!r} and party {peer!r} at {address} failed: the certificate "
                f"it presents is not the one the cluster file names for {peer!r}, or it does not accept "
                f"{self.me!r}'s certificate ({details})", party=peer, step=step,
            )
        return PeerUnavailable(f"party {peer!r} at {address} unreachable for {self.connect_timeout:g} s ({details})",
                               party=peer, step=step)

    # ---------------------------------------------------------------------------------- receive
    def recv(self, frm: str, session: str, key: str, timeout: float) -> memoryview | bytearray:
        if frm not in self._peer:
            raise ValueError(f"{frm!r} is not a peer of {self.me!r}; peers are {list(self.peers)}")
        return self.inbox.get(frm, session, key, timeout, check=lambda: self.probe(frm))

    def probe(self, peer: str, interval: float = 1.0) -> None:
        """Ping ``peer`` if it has been silent; raise once it has been unreachable too long."""
        now = time.monotonic()
        if now - self._heard.get(peer, 0.0) < interval or now - self._probe_at.get(peer, 0.0) < interval:
            return
        self._probe_at[peer] = now
        try:
            self._ping[peer](b"", timeout=max(1.0, min(5.0, self.connect_timeout / 2)))
        except grpc.RpcError as exc:
            since = self._unreachable_since.setdefault(peer, now)
            if now - since > self.connect_timeout:
                self._fail(peer, self._describe(peer, exc, "ping"))
            return
        self._heard[peer] = time.monotonic()
        self._unreachable_since.pop(peer, None)

    def wait_for_peers(self, timeout: float) -> None:
        """Block until every peer answers a ping, or raise naming the first that cannot be reached.

        A peer whose address refuses connections is not up yet and is waited for, up to ``timeout``;
        one whose TLS handshake fails is reported within seconds (see :mod:`accord.net._startup`).
        """
        wait_for_peers(self.me, {p: self._peer[p].address for p in self.peers}, self._ping_once, self._tls_probe,
                       timeout)

    def _ping_once(self, peer: str, timeout: float) -> str | None:
        """``None`` if ``peer`` answers a ping within ``timeout``, else gRPC's account of the failure."""
        try:
            self._ping[peer](b"", timeout=timeout)
        except grpc.RpcError as exc:
            return exc.details() or exc.code().name
        return None

    # ---------------------------------------------------------------------------------- control
    def abort(self, session: str, reason: str) -> None:
        for peer in self.peers:
            try:
                self._enqueue(peer, "abort", session, "abort", [reason.encode("utf-8")])
            except TransportError:
                continue

    def admit(self, job: str) -> None:
        self.inbox.admit(job)

    def forget(self, session: str) -> None:
        self.inbox.drop_session(session)

    def flush(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        waiting = [p for p, box in self._outboxes.items() if not box.wait_idle(deadline)]
        if waiting:
            raise PeerUnavailable(f"messages to {waiting} still undelivered after {timeout:g} s", party=waiting[0])

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for box in self._outboxes.values():
            box.close()
        self._server.stop(grace=1.0).wait(5)
        for channel in self._channels.values():
            channel.close()
        self.inbox.close()


def _parse_header(frame: bytes) -> dict[str, Any]:
    header = codec.decode(frame, _HEADER_LIMITS)
    expected = {"from": str, "to": str, "inc": bytes, "seq": int, "kind": str, "session": str, "key": str,
                "size": int}
    if not isinstance(header, dict) or set(header) != set(expected):
        raise CodecError(f"header must be a map with fields {sorted(expected)}")
    for field, kind in expected.items():
        if not isinstance(header[field], kind) or isinstance(header[field], bool):
            raise CodecError(f"header field {field!r} must be {kind.__name__}")
    if header["kind"] not in ("msg", "abort") or header["seq"] < 0 or header["size"] < 0:
        raise CodecError("header has a bad kind, sequence number or size")
    return header
