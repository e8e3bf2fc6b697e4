"""Chunked AES-256-GCM sealing: round trips, and every kind of tampering is refused."""

from __future__ import annotations

import io
import struct

import pytest

from accord.crypto.random import Rng
from accord.errors import CryptoError
from accord.tee.sealing import MAGIC, new_data_key, open_bytes, read_header, seal_bytes

KEY = bytes(range(32))


def _chunks(sealed: bytes) -> tuple[bytes, list[bytes]]:
    """Split a sealed blob into its header part and its length-prefixed chunks (written from the layout)."""
    length = struct.unpack(">I", sealed[16:20])[0]
    head, rest = sealed[: 20 + length], sealed[20 + length:]
    chunks = []
    while rest:
        n = struct.unpack(">I", rest[:4])[0]
        chunks.append(rest[: 4 + n])
        rest = rest[4 + n:]
    return head, chunks


@pytest.mark.parametrize("size", [0, 1, 99, 100, 101, 1000])
def test_round_trip_at_chunk_boundaries(size):
    data = Rng(b"seed").bytes(size)
    sealed = seal_bytes(data, KEY, {"dataset": "bank"}, chunk_size=100)
    assert open_bytes(sealed, KEY) == ({"dataset": "bank"}, data)
    assert len(_chunks(sealed)[1]) == max(1, -(-size // 100))


def test_each_chunk_carries_a_16_byte_tag():
    sealed = seal_bytes(b"x" * 250, KEY, {}, chunk_size=100)
    assert sealed.startswith(MAGIC)
    assert [len(c) - 4 for c in _chunks(sealed)[1]] == [116, 116, 66]


def test_truncation_reordering_and_edits_are_detected():
    sealed = seal_bytes(bytes(300), KEY, {"owner": "bank"}, chunk_size=100)
    head, chunks = _chunks(sealed)
    with pytest.raises(CryptoError, match="not marked final"):
        open_bytes(head + b"".join(chunks[:2]), KEY)
    with pytest.raises(CryptoError, match="fails authentication"):
        open_bytes(head + chunks[1] + chunks[0] + chunks[2], KEY)
    with pytest.raises(CryptoError, match="no chunk"):
        open_bytes(head, KEY)
    flipped = bytearray(sealed)
    flipped[-1] ^= 1
    with pytest.raises(CryptoError):
        open_bytes(bytes(flipped), KEY)
    edited = sealed.replace(b'"owner": "bank"', b'"owner": "bonk"')
    with pytest.raises(CryptoError):
        open_bytes(edited, KEY)
    with pytest.raises(CryptoError):
        open_bytes(sealed, bytes(32))


def test_fresh_salt_per_file_and_fresh_keys():
    assert seal_bytes(b"same", KEY, {}) != seal_bytes(b"same", KEY, {})
    assert new_data_key() != new_data_key() and len(new_data_key()) == 32
    assert read_header(io.BytesIO(seal_bytes(b"", KEY, {"a": "b"})))[0] == {"a": "b"}


def test_not_a_sealed_file():
    with pytest.raises(CryptoError, match="magic"):
        open_bytes(b"plain text", KEY)
