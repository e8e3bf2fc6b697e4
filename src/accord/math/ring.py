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
