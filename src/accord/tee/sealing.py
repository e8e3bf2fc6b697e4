"""Sealed datasets: AES-256-GCM in authenticated chunks, metadata bound as associated data.

A data owner seals a file once under a fresh 32-byte data key; the key never leaves the owner's key
broker except wrapped (HPKE) to an attested enclave. Layout::

    MAGIC (16 B) | u32 header length | header (JSON: metadata, chunk size, salt) | chunks...
    chunk i = u32 length | AES-256-GCM(k, nonce_i, plaintext_i, aad = SHA-256(header))

``k = HKDF-SHA256(data key, salt, "accord.tee.v1/seal")`` with a random 32-byte salt per file, so two
files sealed under one data key never share a nonce. The 12-byte nonce is the chunk index (11 bytes,
big-endian) followed by a final-chunk flag, as in the STREAM construction (Hoang, Reyhanitabar,
Rogaway and Vizár, "Online Authenticated-Encryption and its Nonce-Reuse Misuse-Resistance", CRYPTO
2015): reordering chunks fails their tags, and dropping the tail fails because the last remaining
chunk was sealed as non-final. Editing the metadata fails every chunk because it is in the AAD.
"""

from __future__ import annotations

import hashlib
import io
import json
import struct
from collections.abc import Iterator, Mapping
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from accord.crypto.random import Rng
from accord.errors import CryptoError

MAGIC = b"ACCORD-SEALED/v1"
DEFAULT_CHUNK = 1 << 20
_MAX_HEADER = 1 << 16
_U32 = struct.Struct(">I")
_TAG = 16


def new_data_key(rng: Rng | None = None) -> bytes:
    """A fresh 256-bit data key from the CSPRNG."""
    return (rng or Rng()).bytes(32)


def _file_key(data_key: bytes, salt: bytes) -> AESGCM:
    if len(data_key) != 32:
        raise ValueError("data keys are 32 bytes (AES-256)")
    key = HKDF(hashes.SHA256(), 32, salt, b"accord.tee.v1/seal").derive(data_key)
    return AESGCM(key)


def _nonce(index: int, final: bool) -> bytes:
    if index >= 1 << 88:
        raise CryptoError("too many chunks for one sealed file")
    return index.to_bytes(11, "big") + bytes((int(final),))


def seal_stream(src: BinaryIO, dst: BinaryIO, data_key: bytes, metadata: Mapping[str, str], *,
                chunk_size: int = DEFAULT_CHUNK, rng: Rng | None = None) -> int:
    """Seal everything ``src`` yields into ``dst``; returns the number of plaintext bytes sealed."""
    if not 1 <= chunk_size <= 1 << 30:
        raise ValueError("chunk_size must be between 1 byte and 1 GiB")
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
        raise ValueError("metadata maps strings to strings")
    salt = (rng or Rng()).bytes(32)
    header = json.dumps({"metadata": dict(metadata), "chunk_size": chunk_size, "salt": salt.hex(),
                         "cipher": "AES-256-GCM/STREAM"}, sort_keys=True).encode()
    aad = hashlib.sha256(header).digest()
    aead = _file_key(data_key, salt)
    dst.write(MAGIC + _U32.pack(len(header)) + header)
    total, index = 0, 0
    current = src.read(chunk_size)
    while True:
        following = src.read(chunk_size)
        final = not following
        sealed = aead.encrypt(_nonce(index, final), current, aad)
        dst.write(_U32.pack(len(sealed)) + sealed)
        total += len(current)
        if final:
            return total
        current, index = following, index + 1


def read_header(src: BinaryIO) -> tuple[dict[str, str], int, bytes, bytes]:
    """The sealed file's metadata, chunk size, salt and AAD (not yet authenticated: chunks bind them)."""
    if src.read(len(MAGIC)) != MAGIC:
        raise CryptoError("not an accord sealed file (bad magic)")
    length = _U32.unpack(_exact(src, 4, "header length"))[0]
    if length > _MAX_HEADER:
        raise CryptoError(f"sealed header of {length} bytes exceeds {_MAX_HEADER}")
    header = _exact(src, length, "header")
    try:
        raw = json.loads(header)
        metadata, chunk_size, salt = dict(raw["metadata"]), int(raw["chunk_size"]), bytes.fromhex(raw["salt"])
    except (ValueError, KeyError, TypeError):
        raise CryptoError("sealed header is not valid") from None
    return metadata, chunk_size, salt, hashlib.sha256(header).digest()


def _exact(src: BinaryIO, n: int, what: str) -> bytes:
    data = src.read(n)
    if len(data) != n:
        raise CryptoError(f"sealed file truncated in its {what}")
    return data


def open_chunks(src: BinaryIO, data_key: bytes) -> Iterator[bytes]:
    """Yield the authenticated plaintext chunks of a sealed stream; raise on any tampering or truncation."""
    _, chunk_size, salt, aad = read_header(src)
    aead = _file_key(data_key, salt)
    index = 0
    pending = _next_chunk(src, chunk_size)
    if pending is None:
        raise CryptoError("sealed file holds no chunk (truncated)")
    while pending is not None:
        following = _next_chunk(src, chunk_size)
        final = following is None
        try:
            yield aead.decrypt(_nonce(index, final), pending, aad)
        except InvalidTag:
            where = "its last chunk is not marked final (truncated)" if final else "a chunk fails authentication"
            raise CryptoError(f"sealed file chunk {index}: {where}, or the key or metadata is wrong") from None
        pending, index = following, index + 1


def _next_chunk(src: BinaryIO, chunk_size: int) -> bytes | None:
    prefix = src.read(4)
    if not prefix:
        return None
    if len(prefix) != 4:
        raise CryptoError("sealed file truncated inside a chunk length")
    length = _U32.unpack(prefix)[0]
    if length > chunk_size + _TAG:
        raise CryptoError(f"sealed chunk of {length} bytes exceeds the declared chunk size")
    return _exact(src, length, "chunk")


def seal_bytes(plaintext: bytes, data_key: bytes, metadata: Mapping[str, str], *, chunk_size: int = DEFAULT_CHUNK,
               rng: Rng | None = None) -> bytes:
    """Seal an in-memory byte string (see :func:`seal_stream`)."""
    out = io.BytesIO()
    seal_stream(io.BytesIO(plaintext), out, data_key, metadata, chunk_size=chunk_size, rng=rng)
    return out.getvalue()


def open_bytes(sealed: bytes, data_key: bytes) -> tuple[dict[str, str], bytes]:
    """Authenticate and decrypt a sealed byte string; returns ``(metadata, plaintext)``."""
    metadata = read_header(io.BytesIO(sealed))[0]
    return metadata, b"".join(open_chunks(io.BytesIO(sealed), data_key))
