"""The cryptographic steps of SecAgg+: X25519 key agreement, HKDF, AEAD for shares, AES-CTR masks.

Every client holds two X25519 key pairs per round: ``c`` encrypts the Shamir shares it sends to a
neighbour through the aggregator (ChaCha20-Poly1305 under a key derived from the pair's shared
secret), ``s`` agrees the seed of each pairwise mask. Masks are expanded from 32-byte seeds with
:class:`accord.crypto.random.Rng` (AES-128-CTR), so a 100,000-value mask costs well under a
millisecond. All functions are pure given their inputs; keys come from the caller's CSPRNG.
"""

from __future__ import annotations

import numpy as np
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from accord.crypto.random import Rng
from accord.errors import CryptoError

KEY_BYTES = 32
SEED_BYTES = 32
_NONCE = bytes(12)  # every AEAD key encrypts exactly one message (fresh keys per round and direction)


def keypair(rng: Rng) -> tuple[X25519PrivateKey, bytes]:
    """A fresh X25519 private key (from the CSPRNG) and its 32-byte public key."""
    private = X25519PrivateKey.from_private_bytes(rng.bytes(KEY_BYTES))
    return private, private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def public_key(private: bytes) -> bytes:
    """The public key of a 32-byte X25519 private key."""
    return X25519PrivateKey.from_private_bytes(private).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def agree(private: X25519PrivateKey | bytes, peer_public: bytes, info: bytes) -> bytes:
    """A 32-byte key derived (HKDF-SHA256, RFC 5869) from the X25519 secret of ``private`` and ``peer_public``.

    ``info`` binds the key to its use, round and parties. Raises :class:`CryptoError` for a public key
    of small order (the shared secret would be all zeros).
    """
    if isinstance(private, bytes):
        private = X25519PrivateKey.from_private_bytes(private)
    try:
        secret = private.exchange(X25519PublicKey.from_public_bytes(peer_public))
    except ValueError as exc:
        raise CryptoError(f"X25519 key agreement failed: {exc}") from None
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"accord-secagg|" + info).derive(secret)


def label(*fields: bytes | str) -> bytes:
    """An unambiguous byte string of several fields (each prefixed with its length), for HKDF info and AEAD data."""
    out = bytearray()
    for item in fields:
        raw = item.encode() if isinstance(item, str) else item
        out += len(raw).to_bytes(4, "little") + raw
    return bytes(out)


def seal(key: bytes, plaintext: bytes, associated: bytes) -> bytes:
    """Encrypt and authenticate one message under a single-use key."""
    return ChaCha20Poly1305(key).encrypt(_NONCE, plaintext, associated)


def open_sealed(key: bytes, ciphertext: bytes, associated: bytes) -> bytes:
    """Decrypt :func:`seal`'s output; raises :class:`CryptoError` if it was altered or misrouted."""
    try:
        return ChaCha20Poly1305(key).decrypt(_NONCE, ciphertext, associated)
    except InvalidTag:
        raise CryptoError("a share ciphertext failed authentication (altered, or sent to the wrong client)") from None


def expand_mask(seed: bytes, size: int, dtype: np.dtype) -> np.ndarray:
    """``size`` uniform ring elements of ``dtype`` expanded from ``seed`` with AES-128-CTR."""
    itemsize = np.dtype(dtype).itemsize
    return Rng(seed=b"mask|" + seed).uint8(size * itemsize).view(dtype)
