"""Helpers for the ring Z_2^64 held in numpy ``uint64`` arrays (arithmetic wraps modulo 2^64).

numpy's unsigned integer arithmetic already wraps, so ring addition and multiplication are the plain
operators; this module adds the conversions and bit manipulations the protocols need, with the array
shape and dtype checks kept in one place.
"""

from __future__ import annotations

import numpy as np

BITS = 64
DTYPE = np.dtype(np.uint64)
MASK = (1 << BITS) - 1

_REV8 = np.array([int(f"{i:08b}"[::-1], 2) for i in range(256)], dtype=np.uint8)


def to_ring(values: np.ndarray | int) -> np.ndarray:
    """Integers (signed or not, any width up to 64 bits) as ring elements, two's complement."""
    arr = np.asarray(values)
    if arr.dtype == DTYPE:
        return arr
    if arr.dtype.kind not in "iub":
        raise TypeError(f"expected an integer array, got dtype {arr.dtype}")
    return arr.astype(np.int64).view(DTYPE) if arr.dtype.kind == "i" else arr.astype(DTYPE)


def to_signed(values: np.ndarray) -> np.ndarray:
    """Ring elements read as signed 64-bit integers (the representative in [-2^63, 2^63))."""
    return np.asarray(values, dtype=DTYPE).view(np.int64)


def msb(values: np.ndarray) -> np.ndarray:
    """The top bit of each element, as ``uint8`` 0/1."""
    return (np.asarray(values, dtype=DTYPE) >> np.uint64(BITS - 1)).astype(np.uint8)


def reverse_bits(values: np.ndarray) -> np.ndarray:
    """Reverse the 64 bits of every element (bit i moves to bit 63 - i).

    Bit permutations commute with XOR and AND, so parties can apply this to their own boolean
    shares locally; the comparison circuit uses it to lay a carry tree out in contiguous halves.
    """
    arr = np.ascontiguousarray(values, dtype=DTYPE)
    flipped = _REV8[arr.view(np.uint8)].view(DTYPE)
    return flipped.byteswap()


def low_mask(bits: int) -> np.uint64:
    """The ring element with the lowest ``bits`` bits set."""
    if not 0 <= bits <= BITS:
        raise ValueError(f"bits must be in [0, {BITS}], got {bits}")
    return np.uint64((1 << bits) - 1)
