"""Start-up of the gRPC link: fail at once on what waiting cannot fix, and say what it is.

gRPC reports every failed connection as ``UNAVAILABLE``, whether nothing listens yet (worth waiting
for), the peer presents another certificate, the peer refuses ours, or a program that is not an accord
party holds the port (none of which waiting will fix), and it says nothing useful when a party's own
port is taken. :class:`TLSProbe` tells the peer's cases apart with one TCP connection and a TLS
handshake under this party's own certificate, trusting exactly the peer's listed certificate, followed
by the HTTP/2 preface an accord (gRPC) server answers with its settings; :func:`wait_for_peers` uses
it; :func:`bind_problem` asks the operating system why a port cannot be bound.
"""

from __future__ import annotations

import enum
import errno
import os
import socket
import ssl
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from accord.errors import AuthenticationError, ConfigurationError, PeerUnavailable, TransportError
from accord.net.tls import certificate_party, fingerprint

# The HTTP/2 client preface and an empty SETTINGS frame (RFC 9113, section 3.4).
_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes((0, 0, 0, 4, 0, 0, 0, 0, 0))
_SETTINGS = 4


class Verdict(enum.Enum):
    """What stands between this party and a peer."""

    DOWN = "nothing answers at the address (yet)"
    FINE = "the peer's TLS and HTTP/2 work: the failure was passing"
    WRONG_CERTIFICATE = "the peer presents another certificate"
    REFUSES_US = "the peer refuses this party's certificate"
    NOT_ACCORD = "what listens at the address is not an accord party"


@dataclass(frozen=True)
class Diagnosis:
    """A :class:`Verdict` and its detail for the operator."""

    verdict: Verdict
    detail: str


class TLSProbe:
    """Diagnoses connections from party ``me`` (its key and certificate) to its peers.

    Python's ``ssl`` loads keys only from files, so the key is written once, on first use, into a
    private temporary directory (mode 0700) and removed as soon as the contexts have loaded it.
    """

    def __init__(self, me: str, key_pem: bytes, cert_pem: bytes, peers: dict[str, bytes]) -> None:
        self.me = me
        self._key_pem = key_pem
        self._cert_pem = cert_pem
        self._peers = peers
        self._contexts: dict[str, ssl.SSLContext] = {}

    def _context(self, peer: str) -> ssl.SSLContext:
        """The client context for ``peer``: this party's certificate, trusting only the peer's."""
        if not self._contexts:
            with tempfile.TemporaryDirectory(prefix="accord-probe-") as tmp:
                key, cert = Path(tmp) / "key.pem", Path(tmp) / "cert.pem"
                with os.fdopen(os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as fh:
                    fh.write(self._key_pem)
                cert.write_bytes(self._cert_pem)
                for name, peer_cert in self._peers.items():
                    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                    context.load_cert_chain(cert, key)
                    context.load_verify_locations(cadata=peer_cert.decode("ascii"))
                    context.set_alpn_protocols(["h2"])
                    self._contexts[name] = context
        return self._contexts[peer]

    def diagnose(self, peer: str, address: str, timeout: float = 2.0) -> Diagnosis:
        """Connect to ``peer`` at ``address`` as gRPC would and say what, if anything, goes wrong."""
        context = self._context(peer)
        host, _, port = address.rpartition(":")
        try:
            raw = socket.create_connection((host.strip("[]"), int(port)), timeout=timeout)
        except (OSError, ValueError) as exc:
            return Diagnosis(Verdict.DOWN, _reason(exc))
        try:
            with context.wrap_socket(raw, server_hostname=peer) as tls:
                if tls.selected_alpn_protocol() != "h2":
                    return Diagnosis(Verdict.NOT_ACCORD, "it speaks TLS but not HTTP/2 (no gRPC server)")
                return _after_handshake(tls, self.me)
        except ssl.SSLCertVerificationError:
            return Diagnosis(Verdict.WRONG_CERTIFICATE, self._presented(peer, host, int(port), timeout))
        except TimeoutError:
            return Diagnosis(Verdict.NOT_ACCORD, f"it accepts connections but does not answer a TLS handshake "
                                                f"within {timeout:g} s")
        except (ssl.SSLError, OSError) as exc:
            return Diagnosis(Verdict.NOT_ACCORD, f"it does not speak TLS ({_reason(exc)})")
        finally:
            raw.close()

    def _presented(self, peer: str, host: str, port: int, timeout: float) -> str:
        """Describe the certificate the server presents, fetched without verifying it."""
        expected = fingerprint(self._peers[peer])
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        try:
            with socket.create_connection((host.strip("[]"), port), timeout=timeout) as raw, \
                    context.wrap_socket(raw, server_hostname=peer) as tls:
                der = tls.getpeercert(binary_form=True)
        except (OSError, ssl.SSLError) as exc:
            return f"its certificate could not be read ({_reason(exc)}); the cluster file names {expected}"
        if not der:
            return f"it presents no certificate; the cluster file names {expected}"
        pem = ssl.DER_cert_to_PEM_cert(der).encode("ascii")
        try:
            holder = repr(certificate_party(pem, "the presented certificate"))
        except ConfigurationError:
            holder = "an unnamed holder"
        return (f"it presents a certificate issued to {holder} with fingerprint {fingerprint(pem)}, but the "
                f"cluster file names {expected} for {peer!r}")


def _after_handshake(tls: ssl.SSLSocket, me: str) -> Diagnosis:
    """After a verified handshake, a gRPC server answers the HTTP/2 preface; one refusing us hangs up."""
    refused = (f"it closed the connection after the TLS handshake: it does not accept {me!r}'s certificate "
               f"(its cluster file names another certificate for {me!r})")
    try:
        tls.sendall(_PREFACE)
        head = tls.recv(9)
    except TimeoutError:
        return Diagnosis(Verdict.FINE, "it completed the TLS handshake but sent nothing yet")
    except (ssl.SSLError, OSError) as exc:
        return Diagnosis(Verdict.REFUSES_US, f"{refused}: {_reason(exc)}")
    if not head:
        return Diagnosis(Verdict.REFUSES_US, refused)
    if len(head) >= 4 and head[3] == _SETTINGS:
        return Diagnosis(Verdict.FINE, "it answers as an HTTP/2 server")
    return Diagnosis(Verdict.NOT_ACCORD, "it completed the TLS handshake but does not answer as an HTTP/2 server")


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLError) and exc.reason:
        return exc.reason.replace("_", " ").lower()
    if isinstance(exc, socket.gaierror):
        return f"the name does not resolve: {exc.strerror}"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return str(exc) or type(exc).__name__


def wait_for_peers(me: str, addresses: Mapping[str, str], ping: Callable[[str, float], str | None],
                   probe: TLSProbe, timeout: float) -> None:
    """Ping every peer until all answer; diagnose each failed ping with ``probe``.

    ``ping(peer, seconds)`` returns ``None`` when the peer answers, else why not. A peer that is down
    is waited for until ``timeout``; one whose handshake fails raises as soon as two diagnoses agree it
    is not passing, or it goes away after one (it probably gave up on us for the same reason).
    """
    deadline = time.monotonic() + timeout
    missing = set(addresses)
    last: dict[str, tuple[str, Diagnosis]] = {}
    problem: dict[str, Diagnosis] = {}
    while missing:
        for peer in sorted(missing):
            failure = ping(peer, max(0.5, min(2.0, deadline - time.monotonic())))
            if failure is None:
                missing.discard(peer)
                continue
            found = probe.diagnose(peer, addresses[peer])
            last[peer] = (failure, found)
            if found.verdict is Verdict.FINE:
                problem.pop(peer, None)
            elif found.verdict is Verdict.DOWN and peer in problem:
                raise _unusable(me, peer, addresses[peer], problem[peer])
            elif found.verdict is not Verdict.DOWN:
                if peer in problem:
                    raise _unusable(me, peer, addresses[peer], found)
                problem[peer] = found
        if missing and time.monotonic() >= deadline:
            peer = sorted(missing)[0]
            failure, found = last[peer]
            raise PeerUnavailable(f"party {peer!r} did not come online at {addresses[peer]} within {timeout:g} s "
                                  f"({found.detail}; gRPC: {failure})", party=peer, step="connect")
        if missing:
            time.sleep(0.2)


def _unusable(me: str, peer: str, address: str, found: Diagnosis) -> TransportError:
    if found.verdict is Verdict.NOT_ACCORD:
        return PeerUnavailable(f"{address}, where the cluster file says party {peer!r} listens, is held by "
                               f"something that is not an accord party: {found.detail}", party=peer, step="connect")
    return AuthenticationError(f"mutual TLS between {me!r} and party {peer!r} at {address} failed: {found.detail}",
                               party=peer, step="connect")


def bind_problem(listen: str) -> str:
    """Why ``listen`` cannot be bound, asked of the operating system (gRPC does not say)."""
    host, _, port = listen.rpartition(":")
    try:
        family, kind, _, _, address = socket.getaddrinfo(host.strip("[]") or None, int(port), type=socket.SOCK_STREAM,
                                                         flags=socket.AI_PASSIVE)[0]
        with socket.socket(family, kind) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gRPC does: TIME_WAIT is no conflict
            probe.bind(address)
    except (OSError, ValueError) as exc:
        if isinstance(exc, OSError) and exc.errno == errno.EADDRINUSE:
            return f"address already in use (another accord party or program listens on port {port})"
        return str(exc.strerror if isinstance(exc, OSError) and exc.strerror else exc).lower()
    return "gRPC could not bind it"
