"""Statements signed with a party's key: ECDSA P-256 with SHA-256, verified against the party's certificate.

Every signature is over a domain-separated message (``purpose`` + a newline + the data), so a signature
made for an audit entry can never be presented as an approval, or the other way round.
"""

from __future__ import annotations

import base64
import binascii
import os
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from accord.errors import ConfigurationError, CryptoError

_ALGORITHM = ec.ECDSA(hashes.SHA256())


def _message(purpose: str, data: bytes) -> bytes:
    return b"accord/" + purpose.encode() + b"\n" + data


class Signer:
    """Signs with a party's private key (PEM, as ``accord certs`` writes it)."""

    def __init__(self, party: str, key_pem: bytes) -> None:
        try:
            key = serialization.load_pem_private_key(key_pem, password=None)
        except (ValueError, TypeError) as exc:
            raise ConfigurationError(f"party {party!r}: private key cannot be loaded: {exc}") from None
        if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
            raise ConfigurationError(f"party {party!r}: signing needs an ECDSA P-256 key (from `accord certs`)")
        self.party = party
        self._key = key

    @classmethod
    def from_file(cls, party: str, path: str | os.PathLike[str]) -> Signer:
        """The signer of ``party`` from its key file."""
        try:
            return cls(party, Path(path).read_bytes())
        except OSError as exc:
            raise ConfigurationError(f"party {party!r}: cannot read private key {path}: {exc.strerror}") from None

    def sign(self, purpose: str, data: bytes) -> str:
        """A base64 signature of ``data`` for ``purpose``."""
        return base64.b64encode(self._key.sign(_message(purpose, data), _ALGORITHM)).decode()

    def verifier(self) -> Verifier:
        """The matching verifier (for checking one's own records)."""
        return Verifier(self.party, self._key.public_key())


class Verifier:
    """Checks a party's signatures with the public key of its certificate."""

    def __init__(self, party: str, public_key: ec.EllipticCurvePublicKey) -> None:
        self.party = party
        self._key = public_key

    @classmethod
    def from_certificate(cls, party: str, cert_pem: bytes) -> Verifier:
        """The verifier of ``party``; its certificate must have been issued to ``party``."""
        try:
            cert = x509.load_pem_x509_certificate(cert_pem)
        except ValueError as exc:
            raise ConfigurationError(f"party {party!r}: certificate is not PEM: {exc}") from None
        names = [str(a.value) for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
        if names != [party]:
            raise ConfigurationError(f"certificate was issued to {names}, not to party {party!r}")
        key = cert.public_key()
        if not isinstance(key, ec.EllipticCurvePublicKey):
            raise ConfigurationError(f"party {party!r}: certificate key is not ECDSA")
        return cls(party, key)

    def verify(self, purpose: str, data: bytes, signature: str) -> None:
        """Return if ``signature`` is the party's over ``data`` for ``purpose``; else raise :class:`CryptoError`."""
        try:
            raw = base64.b64decode(signature.encode(), validate=True)
            self._key.verify(raw, _message(purpose, data), _ALGORITHM)
        except (InvalidSignature, binascii.Error, ValueError, AttributeError):
            raise CryptoError(f"signature of party {self.party!r} ({purpose}) does not verify") from None
