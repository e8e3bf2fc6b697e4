"""Start-up over gRPC/mTLS: wait for peers that are not up yet, fail at once on what waiting cannot fix.

A peer's address that refuses connections is waited for; one that accepts them but fails the TLS
handshake (another certificate, ours refused, or something other than an accord party listening) is
reported within seconds, naming the party and the cause.
"""

from __future__ import annotations

import socket
import threading
import time

import pytest

from accord.errors import AuthenticationError, PeerUnavailable
from accord.net.grpc_link import GRPCLink, Peer
from accord.net.tls import create_party_certificate, fingerprint
from tests.integration.links import make_identities, make_pair
from tests.procs import free_ports

# Far longer than any of these failures may take: the old behaviour waited this long, then blamed the peer.
STARTUP = 60.0


@pytest.fixture(scope="module")
def identities():
    return make_identities()


def _timed_failure(link, error, match):
    start = time.monotonic()
    with pytest.raises(error, match=match) as err:
        link.wait_for_peers(STARTUP)
    return err.value, time.monotonic() - start


def test_a_certificate_other_than_the_listed_one_fails_both_parties_within_seconds(identities):
    _key, impostor = create_party_certificate("partner")  # what bank's cluster file wrongly lists for partner
    ports = dict(zip(("bank", "partner"), free_ports(2)))
    cert = {p: identities[p][1] for p in identities}
    bank = GRPCLink("bank", [Peer("partner", f"127.0.0.1:{ports['partner']}", impostor)],
                    key_pem=identities["bank"][0], cert_pem=cert["bank"], listen=f"127.0.0.1:{ports['bank']}")
    partner = GRPCLink("partner", [Peer("bank", f"127.0.0.1:{ports['bank']}", cert["bank"])],
                       key_pem=identities["partner"][0], cert_pem=cert["partner"],
                       listen=f"127.0.0.1:{ports['partner']}")
    try:
        error, seconds = _timed_failure(bank, AuthenticationError, "mutual TLS between 'bank' and party 'partner'")
        presented = fingerprint(cert["partner"])
        assert f"presents a certificate issued to 'partner' with fingerprint {presented}" in str(error)
        assert f"the cluster file names {fingerprint(impostor)} for 'partner'" in str(error)
        assert seconds < 10
        error, seconds = _timed_failure(partner, AuthenticationError, "mutual TLS between 'partner' and party 'bank'")
        assert "does not accept 'partner''s certificate" in str(error)
        assert seconds < 10
    finally:
        bank.close()
        partner.close()


def _serve(behaviour: str, sock: socket.socket) -> None:
    """Answer each connection as a program other than an accord party would."""
    held = []
    while True:
        try:
            conn, _ = sock.accept()
        except OSError:
            return
        if behaviour == "closes":
            conn.close()
        elif behaviour == "http":
            conn.recv(4096)
            conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            conn.close()
        else:  # silent: accept and say nothing
            held.append(conn)


@pytest.mark.parametrize("behaviour", ["closes", "http", "silent"])
def test_a_port_held_by_a_program_that_is_not_accord_is_named(identities, behaviour):
    ports = dict(zip(("bank", "partner"), free_ports(2)))
    with socket.create_server(("127.0.0.1", ports["partner"])) as squatter:
        threading.Thread(target=_serve, args=(behaviour, squatter), daemon=True).start()
        key, cert = identities["bank"]
        bank = GRPCLink("bank", [Peer("partner", f"127.0.0.1:{ports['partner']}", identities["partner"][1])],
                        key_pem=key, cert_pem=cert, listen=f"127.0.0.1:{ports['bank']}")
        try:
            error, seconds = _timed_failure(bank, PeerUnavailable, rf"127.0.0.1:{ports['partner']}, where the "
                                            r"cluster file says party 'partner' listens, is held by something that "
                                            r"is not an accord party")
            assert seconds < 10, error
        finally:
            bank.close()


def test_a_peer_that_is_not_up_yet_is_waited_for(identities):
    ports = dict(zip(("bank", "partner"), free_ports(2)))
    cert = {p: identities[p][1] for p in identities}
    bank = GRPCLink("bank", [Peer("partner", f"127.0.0.1:{ports['partner']}", cert["partner"])],
                    key_pem=identities["bank"][0], cert_pem=cert["bank"], listen=f"127.0.0.1:{ports['bank']}")
    late: list[GRPCLink] = []

    def start_partner():
        time.sleep(1.5)
        late.append(GRPCLink("partner", [Peer("bank", f"127.0.0.1:{ports['bank']}", cert["bank"])],
                             key_pem=identities["partner"][0], cert_pem=cert["partner"],
                             listen=f"127.0.0.1:{ports['partner']}"))

    starter = threading.Thread(target=start_partner)
    starter.start()
    try:
        bank.wait_for_peers(STARTUP)
    finally:
        starter.join()
        bank.close()
        for link in late:
            link.close()


def test_a_peer_that_never_comes_up_is_reported_after_the_startup_timeout(identities):
    bank, partner, ports = make_pair(identities)
    partner.close()
    try:
        with pytest.raises(PeerUnavailable, match=rf"party 'partner' did not come online at "
                                                  rf"127.0.0.1:{ports['partner']} within 1.5 s \(connection refused"):
            bank.wait_for_peers(1.5)
    finally:
        bank.close()
