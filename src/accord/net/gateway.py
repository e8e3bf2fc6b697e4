"""A party's link shared with its own worker processes: one gateway, many pieces of work.

Parties meet only through their own mTLS identity on one port (:class:`~accord.net.grpc_link.GRPCLink`).
When a party spreads work over worker processes (a local pool now; the nodes of its Ray cluster would
use the same hook), the workers get neither the party's private key nor ports of their own: the party's
main process runs a :class:`Gateway` that relays each worker's sends and receives through the party's
link, and a worker talks to it through a :class:`GatewayLink`, which is a :class:`~accord.net.base.Link`
like any other. Pieces of work run under distinct message paths of the job's session (a bucket's
sub-protocol path), so the one link multiplexes them. When a piece of work is abandoned (its worker
died here or at the peer), :meth:`Gateway.cancel` fails the receives under its path at once, so the
worker waiting on it stops and the work can run again under a fresh path. See docs/operations.md for
why a gateway rather than per-worker endpoints.

Wire format between a worker and the gateway (TCP, inside the party; loopback by default): each
frame is an 8-byte length and a codec-encoded header map, followed by ``size`` raw payload bytes when
the header says so. The first frame carries a random token only the party's own processes know, so
another local user cannot borrow the party's identity. Nothing is unpickled.
"""

from __future__ import annotations

import hmac
import socket
import struct
import threading
import time
from collections.abc import Sequence
from typing import Any

from accord.errors import (
    AccordError,
    MalformedMessage,
    MessageRefused,
    PeerAborted,
    PeerTimeout,
    PeerUnavailable,
    ProtocolAbort,
    TransportError,
)
from accord.net import codec
from accord.net.base import Link

_LEN = struct.Struct("<Q")
_HEADER_LIMITS = codec.Limits(max_bytes=1 << 16, max_items=64)
TOKEN_BYTES = 32
POLL_SECONDS = 0.2  # how often a relayed receive looks whether its path was cancelled


class WorkCancelled(TransportError):
    """A relayed receive of work that its party abandoned (the work runs again under a fresh path)."""


# Errors a relayed receive may raise, re-raised by class in the worker (anything else: TransportError).
_ERRORS: dict[str, type[ProtocolAbort] | type[TransportError]] = {cls.__name__: cls for cls in (
    PeerAborted, PeerTimeout, PeerUnavailable, TransportError, MalformedMessage, MessageRefused, WorkCancelled)}


def _read_exact(sock: socket.socket, n: int) -> bytearray:
    buf = bytearray(n)
    view = memoryview(buf)
    got = 0
    while got < n:
        chunk = sock.recv_into(view[got:], n - got)
        if not chunk:
            raise ConnectionError("connection closed")
        got += chunk
    return buf


def _write_header(sock: socket.socket, header: dict[str, Any]) -> None:
    body = codec.encode(header)
    sock.sendall(_LEN.pack(len(body)) + body)


def _read_header(sock: socket.socket) -> dict[str, Any]:
    (size,) = _LEN.unpack(_read_exact(sock, _LEN.size))
    if size > _HEADER_LIMITS.max_bytes:
        raise ConnectionError(f"gateway header of {size} bytes is too long")
    header = codec.decode(_read_exact(sock, size), _HEADER_LIMITS)
    if not isinstance(header, dict):
        raise ConnectionError("malformed gateway header")
    return header


class Gateway:
    """Relays worker processes' messages through ``link`` (runs in the party's main process).

    Parameters
    ----------
    link:
        The party's own link to its peers.
    token:
        Secret the workers present (random bytes from the party's CSPRNG).
    host:
        Address to listen on: loopback (default) when the workers run on this machine; the party's
        internal address when they run on other nodes of its cluster.
    """

    def __init__(self, link: Link, token: bytes, host: str = "127.0.0.1") -> None:
        if len(token) != TOKEN_BYTES:
            raise ValueError(f"the gateway token must be {TOKEN_BYTES} bytes")
        self._link = link
        self._token = bytes(token)
        self._server = socket.create_server((host, 0))
        self.address = (host, self._server.getsockname()[1])
        self._closed = False
        self._connections: list[socket.socket] = []
        self._cancelled: set[str] = set()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._accept, name="accord-gateway", daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._server.accept()
            except OSError:
                return  # closed
            with self._lock:
                if self._closed:
                    conn.close()
                    return
                self._connections.append(conn)
            threading.Thread(target=self._serve, args=(conn,), name="accord-gateway-conn", daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            hello = _read_header(conn)
            token = hello.get("token")
            if (hello.get("op") != "hello" or not isinstance(token, bytes)
                    or not hmac.compare_digest(token, self._token)):
                return
            while True:
                self._handle(conn, _read_header(conn))
        except (ConnectionError, OSError, AccordError):
            return  # the worker went away (or misbehaved): its work item fails at the party and is retried
        finally:
            conn.close()

    def _handle(self, conn: socket.socket, header: dict[str, Any]) -> None:
        op = header.get("op")
        peer, session, key = header.get("peer"), header.get("session"), header.get("key")
        if not (isinstance(peer, str) and isinstance(session, str) and isinstance(key, str)):
            raise ConnectionError("malformed gateway request")
        if op == "send":
            size = header.get("size")
            if not isinstance(size, int) or not 0 <= size <= self._link.limits.max_bytes:
                raise ConnectionError("bad message size")
            body = memoryview(_read_exact(conn, size))
            if not self._is_cancelled(key):
                self._link.send(peer, session, key, [body])
        elif op == "recv":
            timeout = header.get("timeout")
            if not isinstance(timeout, float):
                raise ConnectionError("bad timeout")
            try:
                payload = self._recv(peer, session, key, timeout)
            except AccordError as exc:
                _write_header(conn, {"ok": False, "error": type(exc).__name__, "message": str(exc)})
                return
            _write_header(conn, {"ok": True, "size": memoryview(payload).nbytes})
            conn.sendall(payload)
        elif op == "abort":
            self._link.abort(session, key)
        else:
            raise ConnectionError(f"unknown gateway operation {op!r}")

    def _recv(self, peer: str, session: str, key: str, timeout: float) -> memoryview | bytearray:
        """The link's receive, in slices, failing with :class:`WorkCancelled` once ``key``'s path is cancelled."""
        deadline = time.monotonic() + timeout
        while True:
            if self._is_cancelled(key):
                raise WorkCancelled(f"the work at {key!r} was cancelled (to be run again)", party=peer, step=key)
            remaining = deadline - time.monotonic()
            try:
                return self._link.recv(peer, session, key, max(0.0, min(POLL_SECONDS, remaining)))
            except PeerTimeout:
                if remaining <= POLL_SECONDS:
                    raise

    def _is_cancelled(self, key: str) -> bool:
        with self._lock:
            return any(key.startswith(prefix) for prefix in self._cancelled)

    def cancel(self, path: str) -> None:
        """Fail every relayed receive under message path ``path`` (now and later), and drop its sends."""
        with self._lock:
            self._cancelled.add(path.rstrip("/") + "/")

    def close(self) -> None:
        """Stop accepting and drop every worker connection (their pending receives fail)."""
        with self._lock:
            self._closed = True
            connections, self._connections = self._connections, []
        self._server.close()
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            conn.close()

    def __enter__(self) -> Gateway:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class GatewayLink(Link):
    """A worker's link: every send and receive goes through its party's :class:`Gateway`.

    One worker thread uses it at a time (a worker runs one piece of work), so requests and replies
    follow each other on one connection.
    """

    def __init__(self, me: str, peers: Sequence[str], address: tuple[str, int], token: bytes,
                 limits: codec.Limits = codec.DEFAULT_LIMITS) -> None:
        self.me = me
        self.peers = tuple(peers)
        self.limits = limits
        try:
            self._sock = socket.create_connection(address, timeout=30.0)
        except OSError as exc:
            raise TransportError(f"worker of {me!r} cannot reach its party's gateway at {address}: {exc}",
                                 party=me) from None
        self._sock.settimeout(None)
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        _write_header(self._sock, {"op": "hello", "token": bytes(token)})

    def _request(self, header: dict[str, Any], step: str) -> None:
        try:
            _write_header(self._sock, header)
        except OSError as exc:
            raise TransportError(f"worker of {self.me!r} lost its party's gateway: {exc}", party=self.me,
                                 step=step) from None

    def send(self, to: str, session: str, key: str, parts: Sequence[bytes | memoryview]) -> None:
        size = codec.encoded_size(parts)
        self._request({"op": "send", "peer": to, "session": session, "key": key, "size": size}, key)
        try:
            for part in parts:
                self._sock.sendall(part)
        except OSError as exc:
            raise TransportError(f"worker of {self.me!r} lost its party's gateway: {exc}", party=to,
                                 step=key) from None

    def recv(self, frm: str, session: str, key: str, timeout: float) -> memoryview | bytearray:
        self._request({"op": "recv", "peer": frm, "session": session, "key": key, "timeout": float(timeout)}, key)
        try:
            reply = _read_header(self._sock)
            if reply.get("ok") is True:
                size = reply.get("size")
                if not isinstance(size, int) or not 0 <= size <= self.limits.max_bytes:
                    raise ConnectionError("bad reply size")
                return _read_exact(self._sock, size)
        except (OSError, ConnectionError, AccordError) as exc:
            raise TransportError(f"worker of {self.me!r} lost its party's gateway: {exc}", party=frm,
                                 step=key) from None
        error = _ERRORS.get(str(reply.get("error")), TransportError)
        raise error(str(reply.get("message")), party=frm, step=key)

    def abort(self, session: str, reason: str) -> None:
        try:
            self._request({"op": "abort", "peer": "", "session": session, "key": reason}, "abort")
        except TransportError:
            pass

    def close(self) -> None:
        try:
            self._sock.close()
        except OSError:
            pass
