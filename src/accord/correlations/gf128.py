"""GF(2^128) arithmetic on numpy arrays, for VOLE correlations: addition, times X, times a fixed element.

An element is 128 bits ``b_0 .. b_127`` standing for ``sum b_i X^i`` modulo
``X^128 + X^7 + X^2 + X + 1`` (the GCM polynomial, in plain rather than GCM's reflected bit order).
Arrays of elements have shape ``(n, 2)`` and dtype ``uint64``: word 0 holds ``b_0 .. b_63``, word 1
``b_64 .. b_127``; as 16 little-endian bytes per element this is exactly the byte layout of an OT row
(:func:`from_rows`). Addition is XOR. The protocols here only ever multiply by one secret element at
a time (the VOLE sender's ``Delta``), which is GF(2)-linear in the other factor, so
:class:`Multiplier` tabulates it once (16 tables of 256 entries, 64 KiB) and multiplies a whole array
with 16 table look-ups per element instead of 128 shift-and-add steps.
"""

from __future__ import annotations

import numpy as np

_REDUCE = np.uint64(0x87)  # X^128 = X^7 + X^2 + X + 1
_ONE = np.uint64(1)
_63 = np.uint64(63)
MASK128 = (1 << 128) - 1


def from_rows(rows: np.ndarray) -> np.ndarray:
    """``(n, 16)`` uint8 rows (little-endian bytes) as an ``(n, 2)`` uint64 element array (a copy)."""
    out = np.ascontiguousarray(rows, dtype=np.uint8).view("<u8").reshape(-1, 2)
    return out.astype(np.uint64)


def to_rows(elements: np.ndarray) -> np.ndarray:
    """``(n, 2)`` uint64 elements as ``(n, 16)`` uint8 little-endian rows (a copy)."""
    return np.ascontiguousarray(elements, dtype="<u8").view(np.uint8).reshape(-1, 16).copy()


def from_int(value: int) -> np.ndarray:
    """One element from a Python int in ``[0, 2^128)``: shape ``(2,)``."""
    return np.array([value & ((1 << 64) - 1), value >> 64], dtype=np.uint64)


def to_int(element: np.ndarray) -> int:
    """One ``(2,)`` element as a Python int."""
    return int(element[0]) | (int(element[1]) << 64)


def mul_x(elements: np.ndarray) -> np.ndarray:
    """Each element times ``X`` (a new array)."""
    lo, hi = elements[..., 0], elements[..., 1]
    out = np.empty_like(elements)
    out[..., 1] = (hi << _ONE) | (lo >> _63)
    out[..., 0] = (lo << _ONE) ^ ((hi >> _63) * _REDUCE)
    return out


def combine_powers(rows: np.ndarray) -> np.ndarray:
    """``sum_i rows[..., i, :] X^i`` over the second-to-last axis (Horner's rule): ``(..., k, 2) -> (..., 2)``.

    This turns ``k`` correlated OTs with correlation ``Delta`` into one VOLE correlation: if
    ``q_i = t_i + c_i Delta`` then ``sum q_i X^i = sum t_i X^i + (sum c_i X^i) Delta``.
    """
    acc = np.zeros((*rows.shape[:-2], 2), dtype=np.uint64)
    for i in range(rows.shape[-2] - 1, -1, -1):
        acc = mul_x(acc)
        acc ^= rows[..., i, :]
    return acc


def int_mul(a: int, b: int) -> int:
    """The product of two elements given as Python ints (shift-and-add; for setup, not for arrays)."""
    out = 0
    for i in range(128):
        if (b >> i) & 1:
            out ^= a
        a <<= 1
        if a >> 128:
            a = (a & MASK128) ^ 0x87
    return out


class Multiplier:
    """Multiplication by one fixed element ``delta``, tabulated: ``mul(x) = delta * x`` for arrays ``x``.

    Table ``j`` maps a byte ``b`` to ``delta * b X^(8 j)``, so ``delta * x`` is the XOR of 16 look-ups,
    one per byte of ``x``.
    """

    def __init__(self, delta: int) -> None:
        powers = np.empty((128, 2), dtype=np.uint64)
        value = delta
        for i in range(128):
            powers[i] = from_int(value)
            value <<= 1
            if value >> 128:
                value = (value & MASK128) ^ 0x87
        tables = np.zeros((16, 256, 2), dtype=np.uint64)
        for bit in range(8):
            size = 1 << bit
            tables[:, size : 2 * size] = tables[:, :size] ^ powers[bit::8][:, None, :]
        self._tables = tables
        self.delta = delta

    def mul(self, elements: np.ndarray) -> np.ndarray:
        """``delta * x`` for an ``(n, 2)`` uint64 array ``x``."""
        data = np.ascontiguousarray(elements, dtype="<u8").view(np.uint8).reshape(-1, 16)
        # Look-ups move whole 16-byte records: numpy gathers those far faster than rows of a 2-d array.
        records = self._tables.view("V16").reshape(16, 256)
        out = records[0][data[:, 0]].view(np.uint64).reshape(-1, 2)
        for j in range(1, 16):
            out ^= records[j][data[:, j]].view(np.uint64).reshape(-1, 2)
        return out
