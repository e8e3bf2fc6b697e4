"""The ristretto255 group (RFC 9496) through libsodium, and RFC 9380's hash onto it, batched over threads.

Why ristretto255 beside :mod:`accord.crypto.curve25519`: RFC 9497's OPRF, whose published vectors
keyword PIR must pass, is defined over it, and it is a prime-order group with canonical encodings, so
a peer's element either decodes to a group element or is rejected (no cofactor to clear, no twist).

libsodium implements the group; PyNaCl does not expose it, so it comes from ``rbcl`` (the optional
``pir`` extra), which bundles libsodium 1.0.18 and calls it through ctypes, releasing the GIL: batches
are split over threads. ``rbcl`` is loaded on first use, not at import: loading it writes its bundled
library to a temporary file, which :func:`_sodium` removes again once the library is mapped (rbcl itself
never does, leaving 2.7 MB in the temporary directory per process).
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from types import ModuleType

import numpy as np

from accord.crypto.curve25519 import expand_message_xmd
from accord.errors import CryptoError, UnsupportedError

ELEMENT_BYTES = 32
SCALAR_BYTES = 32
# The group order l = 2^252 + 27742317777372353535851937790883648493 (RFC 9496 section 4.1).
ORDER = (1 << 252) + 27742317777372353535851937790883648493
_CHUNK = 2048
_IDENTITY = bytes(ELEMENT_BYTES)
_lib: ModuleType | None = None


def _sodium() -> ModuleType:
    """The ``rbcl`` module, loaded once; :class:`UnsupportedError` if the ``pir`` extra is missing."""
    global _lib
    if _lib is None:
        try:
            import rbcl
        except ImportError:
            raise UnsupportedError("ristretto255 needs the 'rbcl' package: pip install 'accord[pir]'") from None
        loader = sys.modules.get("rbcl._sodium")
        path = getattr(loader, "lib_path", None)
        if isinstance(path, str) and os.path.dirname(path) == tempfile.gettempdir():
            try:  # the library stays mapped after the file is gone
                os.unlink(path)
            except OSError:
                pass
        _lib = rbcl
    return _lib


def hash_to_group(msg: bytes, dst: bytes) -> bytes:
    """RFC 9380's ``hash_to_ristretto255`` (expand_message_xmd with SHA-512, then the one-way map)."""
    return bytes(_sodium().crypto_core_ristretto255_from_hash(expand_message_xmd(msg, dst, 64)))


def hash_to_scalar(msg: bytes, dst: bytes) -> bytes:
    """RFC 9497's ``HashToScalar`` for ristretto255: 64 expanded bytes reduced modulo the group order."""
    return scalar_from_int(int.from_bytes(expand_message_xmd(msg, dst, 64), "little"))


def scalar_from_int(value: int) -> bytes:
    """The canonical 32-byte little-endian encoding of ``value mod l``."""
    return (value % ORDER).to_bytes(SCALAR_BYTES, "little")


def scalar_to_int(scalar: bytes) -> int:
    """The integer of a scalar encoding; :class:`CryptoError` unless it is canonical (below l)."""
    value = int.from_bytes(scalar, "little")
    if len(scalar) != SCALAR_BYTES or value >= ORDER:
        raise CryptoError("a ristretto255 scalar must be 32 little-endian bytes below the group order")
    return value


def random_scalar(draw: Callable[[int], bytes]) -> bytes:
    """A uniform non-zero scalar from 64 bytes of ``draw`` (e.g. ``Rng.bytes``), reduced modulo l.

    The bias of reducing 512 bits modulo a 253-bit order is below 2^-259.
    """
    while True:
        value = int.from_bytes(draw(64), "little") % ORDER
        if value:
            return scalar_from_int(value)


def invert(scalar: bytes) -> bytes:
    """The inverse of a non-zero scalar modulo l."""
    value = scalar_to_int(scalar)
    if not value:
        raise CryptoError("the zero scalar has no inverse")
    return scalar_from_int(pow(value, -1, ORDER))


def is_valid(element: bytes) -> bool:
    """Whether ``element`` is the canonical encoding of a non-identity group element."""
    return (len(element) == ELEMENT_BYTES and element != _IDENTITY  # libsodium accepts the identity's encoding
            and bool(_sodium().crypto_core_ristretto255_is_valid_point(element)))


def base_mult(scalar: bytes) -> bytes:
    """``scalar * G`` for the generator G."""
    try:
        return bytes(_sodium().crypto_scalarmult_ristretto255_base(scalar))
    except RuntimeError:
        raise CryptoError("scalar multiple of the generator is the identity") from None


def mult(scalar: bytes, element: bytes) -> bytes:
    """``scalar * element``; :class:`CryptoError` for an invalid element or an identity result."""
    try:
        return bytes(_sodium().crypto_scalarmult_ristretto255(scalar, element))
    except (RuntimeError, ValueError, TypeError):
        raise CryptoError("not a valid ristretto255 element, or the product is the identity") from None


def add(a: bytes, b: bytes) -> bytes:
    """``a + b`` for two valid elements (libsodium does not report invalid inputs of addition: check first)."""
    if not (is_valid(a) and is_valid(b)):
        raise CryptoError("not a valid ristretto255 element")
    return bytes(_sodium().crypto_core_ristretto255_add(a, b))


def mult_batch(scalar: bytes, elements: np.ndarray, *, threads: int = 1) -> np.ndarray:
    """``scalar * e`` for each row of an ``(n, 32)`` uint8 array, over ``threads`` threads."""
    return _batch(lambda row: mult(scalar, row), elements, threads)


def hash_batch(msgs: Sequence[bytes], dst: bytes, *, threads: int = 1) -> np.ndarray:
    """:func:`hash_to_group` of each message as an ``(n, 32)`` uint8 array."""
    out = np.empty((len(msgs), ELEMENT_BYTES), dtype=np.uint8)

    def work(start: int, stop: int) -> None:
        out[start:stop] = np.frombuffer(b"".join(hash_to_group(m, dst) for m in msgs[start:stop]),
                                        dtype=np.uint8).reshape(-1, ELEMENT_BYTES)

    _split(len(msgs), work, threads)
    return out


def _batch(fn: Callable[[bytes], bytes], elements: np.ndarray, threads: int) -> np.ndarray:
    rows = np.ascontiguousarray(elements, dtype=np.uint8)
    if rows.ndim != 2 or rows.shape[1] != ELEMENT_BYTES:
        raise ValueError(f"elements must have shape (n, {ELEMENT_BYTES}), got {rows.shape}")
    raw = rows.tobytes()
    out = np.empty_like(rows)

    def work(start: int, stop: int) -> None:
        step = ELEMENT_BYTES
        done = b"".join(fn(raw[i * step:(i + 1) * step]) for i in range(start, stop))
        out[start:stop] = np.frombuffer(done, dtype=np.uint8).reshape(-1, ELEMENT_BYTES)

    _split(len(rows), work, threads)
    return out


def _split(n: int, work: Callable[[int, int], None], threads: int) -> None:
    if threads <= 1 or n < 2 * _CHUNK:
        work(0, n)
        return
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(lambda s: work(s, min(s + _CHUNK, n)), range(0, n, _CHUNK)))
