"""Exact matrix products over Z_2^64 through float64 BLAS.

numpy multiplies integer matrices without BLAS (1.3-1.7 s for 1000x1000 uint64 here, against 33-54 ms
for float64). We split each 64-bit entry into three signed digits of 21, 22 and 21 bits,

    a = a0 + a1 * 2^21 + a2 * 2^43  (mod 2^64),  a0, a2 in [-2^20, 2^20), a1 in [-2^21, 2^21).

Digit products whose shift reaches 2^64 (a1 b2 at 2^64 and above) vanish modulo 2^64, leaving
a0 b0, a0 b1 + a1 b0, a1 b1 and a0 b2 + a2 b0. Karatsuba's identity
``a0 b1 + a1 b0 = (a0 + a1)(b0 + b1) - a0 b0 - a1 b1`` makes that five float64 products of the
original size. Every partial sum must stay below 2^53, where float64 is exact: the largest digit
product, ``(a0 + a1)(b0 + b1)``, is below 2.25 * 2^42, so the inner dimension is processed in chunks
of at most 512 and the chunk results are added in the ring (chunking adds no multiplications).

Products with few output rows or columns (matrix-vector products, as in logistic regression) are
memory-bound rather than compute-bound: there we multiply elementwise in ``uint64`` (exact modulo
2^64) and sum along the inner dimension, one output column or row at a time, which is faster than
splitting into digits.
"""

from __future__ import annotations

import numpy as np

from accord.math.ring import DTYPE

_CHUNK = 512
_NARROW = 4


def _signed_digit(s: np.ndarray, bits: int) -> np.ndarray:
    """The signed low ``bits``-bit digit of int64 values (in [-2^(bits-1), 2^(bits-1)))."""
    half = np.int64(1 << (bits - 1))
    return ((s + half) & np.int64((1 << bits) - 1)) - half


def _digits(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Signed 21/22/21-bit digits of ring elements, as float64 arrays (wrapping int64 arithmetic)."""
    s = x.view(np.int64)
    d0 = _signed_digit(s, 21)
    rest = (s - d0) >> np.int64(21)
    d1 = _signed_digit(rest, 22)
    d2 = _signed_digit((rest - d1) >> np.int64(22), 21)
    return d0.astype(np.float64), d1.astype(np.float64), d2.astype(np.float64)


def _exact(p: np.ndarray) -> np.ndarray:
    """An exactly integral float64 array (|p| < 2^63) as ring elements."""
    return p.astype(np.int64).view(DTYPE)


def _matmul_chunk(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a0, a1, a2 = _digits(a)
    b0, b1, b2 = _digits(b)
    p00 = a0 @ b0
    p11 = a1 @ b1
    # Karatsuba: (a0 + a1)(b0 + b1) - a0 b0 - a1 b1 = a0 b1 + a1 b0 (see the module docstring for bounds).
    mid = (a0 + a1) @ (b0 + b1) - p00 - p11
    # a0 b2 + a2 b0 (shift 43) is one product of stacked digits.
    top = np.concatenate([a0, a2], axis=1) @ np.concatenate([b2, b0], axis=0)
    out = _exact(p00)
    out += _exact(mid) << np.uint64(21)
    out += _exact(p11) << np.uint64(42)
    out += _exact(top) << np.uint64(43)
    return out


def ring_matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a @ b`` modulo 2^64 for 2-D ``uint64`` arrays, exactly, using float64 matrix products.

    Examples
    --------
    >>> a = np.array([[2**63 + 5, 7]], dtype=np.uint64)
    >>> b = np.array([[3], [2**60]], dtype=np.uint64)
    >>> int(ring_matmul(a, b)[0, 0]) == (int(a[0, 0]) * 3 + 7 * 2**60) % 2**64
    True
    """
    a = np.asarray(a, dtype=DTYPE)
    b = np.asarray(b, dtype=DTYPE)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[0]:
        raise ValueError(f"ring_matmul needs 2-D arrays with matching inner dimension, got {a.shape} and {b.shape}")
    k = a.shape[1]
    if b.shape[1] <= _NARROW:
        return np.stack([(a * b[:, j]).sum(axis=1, dtype=DTYPE) for j in range(b.shape[1])], axis=1)
    if a.shape[0] <= _NARROW:
        return np.stack([(a[i][:, None] * b).sum(axis=0, dtype=DTYPE) for i in range(a.shape[0])])
    if k <= _CHUNK:
        return _matmul_chunk(a, b)
    out = np.zeros((a.shape[0], b.shape[1]), dtype=DTYPE)
    for start in range(0, k, _CHUNK):
        out += _matmul_chunk(a[:, start:start + _CHUNK], b[start:start + _CHUNK])
    return out
