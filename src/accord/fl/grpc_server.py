"""The aggregator's end of the production transport: clients dial out to it over gRPC with mutual TLS.

Clients need no listening port (a client behind a firewall works): each opens one long-lived
bidirectional stream ``/accord.fl.v1.Aggregator/Connect`` and the aggregator sends instructions down
it and reads replies from it. The aggregator accepts exactly the client certificates it was given
(pinned individually, as in :mod:`accord.net.tls`); a client is known by its certificate's party
name, and a second connection under a name already connected is refused.

Hardening: each client has a bounded outbox and a single reply slot (an unexpected or duplicate
reply is counted and dropped, never buffered), every wait has a deadline, a message over
``max_message_bytes`` closes that client's stream, and ``SO_REUSEPORT`` is off so two aggregators
cannot silently share a port.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Iterator, Mapping
from concurrent import futures
from typing import Any, cast

import grpc

from accord.errors import AccordError, ConfigurationError
from accord.fl._frames import GRPC_OPTIONS, SERVICE, Reassembler, frames
from accord.fl.messages import Instruction, Reply, Stage
from accord.fl.pool import Exchange, Traffic
from accord.net.tls import certificate_party, fingerprint

log = logging.getLogger(__name__)
_OUTBOX = 8


class _Session:
    """One connected client: its outbox, the instruction it owes an answer to, and that answer."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.outbox: queue.Queue[bytes | None] = queue.Queue(maxsize=_OUTBOX)
        self.pending: int | None = None
        self.reply: Reply | None = None
        self.closed = False
        self.rejected = 0


class GRPCPool:
    """A :class:`~accord.fl.pool.ClientPool` of clients connected over gRPC with mutual TLS.

    Parameters
    ----------
    listen:
        ``host:port`` to bind (port 0 picks a free one; see :attr:`port`).
    key_pem, cert_pem:
        The aggregator's private key and certificate.
    clients:
        The client certificates (PEM) this aggregator accepts; each client's id is its certificate's name.
    max_message_bytes:
        Largest reply accepted from a client (default 1 GiB).
    """

    def __init__(self, listen: str, *, key_pem: bytes, cert_pem: bytes, clients: list[bytes],
                 max_message_bytes: int = 1 << 30, run: str = "fl") -> None:
        if not clients:
            raise ConfigurationError("the aggregator needs at least one client certificate to accept")
        self._names = {fingerprint(c): certificate_party(c, "client certificate") for c in clients}
        if len(set(self._names.values())) != len(clients):
            raise ConfigurationError("two client certificates carry the same name")
        self.run, self.limit, self.traffic = run, max_message_bytes, Traffic()
        self._sessions: dict[str, _Session] = {}
        self._cond = threading.Condition()
        self._next_id = 0
        handler = grpc.method_handlers_generic_handler(SERVICE, {
            "Connect": grpc.stream_stream_rpc_method_handler(self._serve)})
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=len(clients) + 8,
                                                              thread_name_prefix="accord-fl-aggregator"),
                                   options=[*GRPC_OPTIONS, ("grpc.so_reuseport", 0),
                                            ("grpc.http2.min_recv_ping_interval_without_data_ms", 5_000),
                                            ("grpc.http2.max_ping_strikes", 0)])
        self._server.add_generic_rpc_handlers((handler,))
        creds = grpc.ssl_server_credentials([(key_pem, cert_pem)], root_certificates=b"".join(clients),
                                            require_client_auth=True)
        try:
            self.port = self._server.add_secure_port(listen, creds)
        except RuntimeError as exc:
            raise ConfigurationError(f"the aggregator cannot listen on {listen}: {exc}") from None
        if self.port == 0:
            raise ConfigurationError(f"the aggregator cannot listen on {listen} (address in use?)")
        self._server.start()

    # --------------------------------------------------------------------------------- serving
    def _serve(self, incoming: Iterator[bytes], context: grpc.ServicerContext) -> Iterator[bytes]:
        certs = cast("list[bytes] | None", context.auth_context().get("x509_pem_cert"))
        name = self._names.get(fingerprint(certs[0])) if certs else None
        if name is None:
            context.abort(grpc.StatusCode.PERMISSION_DENIED, "certificate not on the aggregator's client list")
        session = _Session(name)
        with self._cond:
            old = self._sessions.get(name)
            if old is not None and not old.closed:
                context.abort(grpc.StatusCode.ALREADY_EXISTS, f"client {name!r} is already connected")
            self._sessions[name] = session
            self._cond.notify_all()
        threading.Thread(target=self._read, args=(session, incoming), daemon=True,
                         name=f"accord-fl-read-{name}").start()
        log.info("client %s connected", name)
        while context.is_active() and not session.closed:
            try:
                frame = session.outbox.get(timeout=1.0)
            except queue.Empty:
                continue
            if frame is None:
                break
            yield frame
        self._close(session)

    def _read(self, session: _Session, incoming: Iterator[bytes]) -> None:
        reassembler = Reassembler(self.limit)
        try:
            for frame in incoming:
                value = reassembler.add(frame)
                self.traffic.add(session.name, 0, len(frame))
                if value is not None:
                    self._deliver(session, Reply.from_wire(value, session.name))
        except grpc.RpcError:
            log.info("client %s disconnected", session.name)
        except (AccordError, ValueError) as exc:
            log.warning("client %s: %s; closing its connection", session.name, exc)
        self._close(session)

    def _deliver(self, session: _Session, reply: Reply) -> None:
        with self._cond:
            if session.pending != reply.id or session.reply is not None:
                session.rejected += 1
                log.warning("client %s sent an unexpected or repeated reply to instruction %d; ignored",
                            session.name, reply.id)
                return
            session.reply = reply
            self._cond.notify_all()

    def _close(self, session: _Session) -> None:
        with self._cond:
            session.closed = True
            self._cond.notify_all()
        try:
            session.outbox.put_nowait(None)
        except queue.Full:
            pass

    # ---------------------------------------------------------------------------------- pool API
    def available(self) -> list[str]:
        with self._cond:
            return sorted(n for n, s in self._sessions.items() if not s.closed)

    def wait_for_clients(self, count: int, timeout: float) -> list[str]:
        """Block until ``count`` clients are connected; raise naming the missing ones after ``timeout``."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.available()) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    missing = sorted(set(self._names.values()) - set(self.available()))
                    raise ConfigurationError(f"only {len(self.available())} of {count} clients connected within "
                                             f"{timeout:g} s; not connected: {missing}")
                self._cond.wait(min(remaining, 0.5))
        return self.available()

    def request(self, round_number: int, stage: str, bodies: Mapping[str, dict[str, Any]],
                timeout: float) -> Exchange:
        out = Exchange()
        waiting: dict[str, _Session] = {}
        for client, body in bodies.items():
            with self._cond:
                session = self._sessions.get(client)
                if session is None or session.closed:
                    out.failures[client] = "not connected"
                    continue
                self._next_id += 1
                session.pending, session.reply = self._next_id, None
            ins = Instruction(self.run, round_number, stage, session.pending, body)
            try:
                for frame in frames(ins.to_wire()):
                    session.outbox.put(frame, timeout=timeout)
                    self.traffic.add(client, len(frame), 0)
            except queue.Full:
                out.failures[client] = "its connection is not draining"
                continue
            waiting[client] = session
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                open_ = [s for s in waiting.values() if s.reply is None and not s.closed]
                remaining = deadline - time.monotonic()
                if not open_ or remaining <= 0:
                    break
                self._cond.wait(min(remaining, 0.5))
            for client, session in waiting.items():
                reply, session.pending = session.reply, None
                if reply is None:
                    out.failures[client] = "disconnected" if session.closed else f"no reply within {timeout:g} s"
                elif reply.error:
                    out.failures[client] = reply.error
                else:
                    out.replies[client] = reply.body
        return out

    def rejected(self, client: str) -> int:
        """How many unexpected or repeated replies ``client`` sent on its current connection."""
        with self._cond:
            session = self._sessions.get(client)
            return 0 if session is None else session.rejected

    def close(self, grace: float = 5.0) -> None:
        """Tell connected clients the job is over, then stop the server."""
        clients = self.available()
        if clients:
            self.request(0, Stage.SHUTDOWN.value, {c: {} for c in clients}, grace)
        for session in list(self._sessions.values()):
            self._close(session)
        self._server.stop(grace=1.0).wait(5)
