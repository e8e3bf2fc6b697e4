"""Two gRPC/mTLS links in one process, for the transport tests: bank and partner on loopback."""

from __future__ import annotations

from typing import Any

from accord.net import codec
from accord.net.grpc_link import GRPCLink, Peer
from accord.net.tls import create_party_certificate
from tests.procs import free_ports

SESSION = "s"  # the job session the tests admit (a real job agrees one in Cluster.connect's handshake)


def make_identities() -> dict[str, tuple[bytes, bytes]]:
    """A fresh ``(key_pem, cert_pem)`` for bank and partner."""
    return {p: create_party_certificate(p) for p in ("bank", "partner")}


def make_pair(identities, *, ports=None, bank_sees_partner_at=None, connect_timeout=5.0, partner_trusts=None,
              admit=SESSION, **options: Any) -> tuple[GRPCLink, GRPCLink, dict[str, int]]:
    """Bank's and partner's links (``options`` go to both), with ``admit`` admitted unless it is ``None``."""
    ports = ports or dict(zip(("bank", "partner"), free_ports(2)))
    cert = {p: identities[p][1] for p in identities}
    partner_addr = f"127.0.0.1:{bank_sees_partner_at or ports['partner']}"
    bank = GRPCLink("bank", [Peer("partner", partner_addr, cert["partner"])], key_pem=identities["bank"][0],
                    cert_pem=cert["bank"], listen=f"127.0.0.1:{ports['bank']}", connect_timeout=connect_timeout,
                    **options)
    partner = GRPCLink("partner", [Peer("bank", f"127.0.0.1:{ports['bank']}", partner_trusts or cert["bank"])],
                       key_pem=identities["partner"][0], cert_pem=cert["partner"],
                       listen=f"127.0.0.1:{ports['partner']}", connect_timeout=connect_timeout, **options)
    if admit is not None:
        bank.admit(admit)
        partner.admit(admit)
    return bank, partner, ports


def send(link, to, value, key="k", session=SESSION):
    link.send(to, session, key, codec.encode_parts(value))


def recv(link, frm, key="k", session=SESSION, timeout=20.0):
    return codec.decode(link.recv(frm, session, key, timeout))
