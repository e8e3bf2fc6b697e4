"""Party certificates for mutual TLS: creation, loading and fingerprints.

Each party owns an ECDSA P-256 key and a self-signed certificate whose subject and DNS name are the
party's name. Organisations exchange certificates (public) out of band and list them in the cluster
file; a party trusts exactly the certificates listed there, so no shared certificate authority is
needed and a peer presenting any other certificate fails the TLS handshake. The SHA-256 fingerprint
of a certificate is what operators compare over the phone.
"""

from __future__ import annotations

import datetime
import hashlib
import os
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from accord.errors import ConfigurationError


def create_party_certificate(party: str, days: int = 365) -> tuple[bytes, bytes]:
    """Create a key and self-signed certificate for ``party``; returns ``(key_pem, cert_pem)``."""
    if not party or any(c in party for c in "/\\ \t\n"):
        raise ValueError(f"party name {party!r} must be non-empty and contain no spaces or slashes")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, party),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "accord party")])
    now = datetime.datetime.now(datetime.timezone.utc)
    usage = x509.KeyUsage(
        digital_signature=True, key_cert_sign=True, content_commitment=False, key_encipherment=False,
        data_encipherment=False, key_agreement=False, crl_sign=False, encipher_only=False,
        decipher_only=False,
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(party)]), critical=False)
        # Self-signed and trusted directly by peers, so it is its own (path-length 0) anchor.
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(usage, critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return key_pem, cert.public_bytes(serialization.Encoding.PEM)


def write_party_certificate(party: str, directory: str | os.PathLike[str]) -> tuple[Path, Path]:
    """Write ``<party>.key`` (mode 0600) and ``<party>.crt`` into ``directory``; refuse to overwrite."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    key_path, cert_path = out / f"{party}.key", out / f"{party}.crt"
    for path in (key_path, cert_path):
        if path.exists():
            raise ConfigurationError(f"{path} already exists; remove it first to create a new identity")
    key_pem, cert_pem = create_party_certificate(party)
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key_pem)
    cert_path.write_bytes(cert_pem)
    return key_path, cert_path


def fingerprint(cert_pem: bytes) -> str:
    """SHA-256 fingerprint of a PEM certificate's DER form, as ``sha256:<hex>``."""
    cert = load_certificate(cert_pem, "certificate")
    return "sha256:" + hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def load_certificate(cert_pem: bytes, where: str) -> x509.Certificate:
    """Parse one PEM certificate or raise a :class:`ConfigurationError` naming ``where``."""
    try:
        return x509.load_pem_x509_certificate(cert_pem)
    except ValueError as exc:
        raise ConfigurationError(f"{where} is not a PEM certificate: {exc}") from None


def certificate_party(cert_pem: bytes, where: str) -> str:
    """The party name (common name) a certificate was issued to."""
    cert = load_certificate(cert_pem, where)
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if not names:
        raise ConfigurationError(f"{where} has no common name; create it with `accord certs`")
    return str(names[0].value)


def check_key_matches(key_pem: bytes, cert_pem: bytes, where: str) -> None:
    """Raise if the private key does not belong to the certificate."""
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError) as exc:
        raise ConfigurationError(f"{where}: private key cannot be loaded: {exc}") from None
    cert = load_certificate(cert_pem, where)
    raw = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    if key.public_key().public_bytes(*raw) != cert.public_key().public_bytes(*raw):
        raise ConfigurationError(f"{where}: the private key does not match the certificate")
