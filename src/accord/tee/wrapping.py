"""Key wrapping with HPKE (RFC 9180): data keys to an enclave's ephemeral key, result keys to recipients.

Suite: DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-256-GCM, base mode, through ``pyhpke`` (maintained,
built on ``cryptography``, implements every RFC 9180 mode and suite; ``pip install accord[tee]``).
The ``info`` string names what the key is for (owner, dataset, job), so a wrapped key cannot be
replayed into another context: unwrapping under a different ``info`` fails.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from accord.errors import CryptoError, UnsupportedError

_INFO_DOMAIN = b"accord.tee.v1/wrap\0"


def _suite() -> Any:
    try:
        from pyhpke import AEADId, CipherSuite, KDFId, KEMId
    except ImportError:
        raise UnsupportedError("HPKE key wrapping needs pyhpke: pip install 'accord[tee]'") from None
    return CipherSuite.new(KEMId.DHKEM_X25519_HKDF_SHA256, KDFId.HKDF_SHA256, AEADId.AES256_GCM)


@dataclass(frozen=True)
class KeyPair:
    """An X25519 HPKE key pair (raw 32-byte encodings)."""

    private: bytes
    public: bytes

    @classmethod
    def generate(cls) -> KeyPair:
        """A fresh key pair from the OS CSPRNG (through ``cryptography``)."""
        from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
        from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

        key = X25519PrivateKey.generate()
        return cls(key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption()),
                   key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))


def wrap_key(key: bytes, recipient_public: bytes, context: str) -> bytes:
    """Encrypt ``key`` to ``recipient_public``; returns ``enc || ciphertext`` (32 + len(key) + 16 bytes)."""
    suite = _suite()
    if len(recipient_public) != 32:
        raise CryptoError("an X25519 public key is 32 bytes")
    try:
        public = suite.kem.deserialize_public_key(recipient_public)
    except Exception as exc:
        raise CryptoError(f"recipient public key is not a valid X25519 key: {exc}") from None
    enc, sender = suite.create_sender_context(public, info=_INFO_DOMAIN + context.encode())
    return enc + sender.seal(key)


def unwrap_key(wrapped: bytes, private: bytes, context: str) -> bytes:
    """Decrypt a wrapped key with the recipient's private key; raise if it was wrapped for anything else."""
    suite = _suite()
    from pyhpke import OpenError

    if len(wrapped) < 32 + 16 or len(private) != 32:
        raise CryptoError("wrapped key or private key has the wrong length")
    try:
        recipient = suite.create_recipient_context(wrapped[:32], suite.kem.deserialize_private_key(private),
                                                   info=_INFO_DOMAIN + context.encode())
        return bytes(recipient.open(wrapped[32:]))
    except OpenError:
        raise CryptoError("wrapped key does not open: wrong private key, context or tampered bytes") from None
