"""Selection and reductions on secret arrays: where, maximum / minimum, amax / amin, argmax / argmin.

They are built on the comparisons of :mod:`accord.mpc.tensor`: ``a < b`` is the sign bit of
``a - b`` (:func:`~accord.mpc.tensor.sign_bits`), 7 rounds of the carry tree plus one to convert the
bit to an additive share (the 3-party engine adds one round to re-share), about 46 bytes per element
from each computing party.
"""

from __future__ import annotations

import numpy as np

from accord.math.ring import to_ring
from accord.mpc.tensor import Shared, concatenate


def where(cond: Shared, a: object, b: object) -> Shared:
    """``a`` where ``cond`` else ``b``: ``b + cond * (a - b)`` (one multiplication, no truncation)."""
    if isinstance(a, Shared) or isinstance(b, Shared):
        diff = a - b if isinstance(a, Shared) else -(b - a)  # type: ignore[operator]
        return cond * diff + b if isinstance(b, Shared) else cond * diff + np.asarray(b)
    return cond * (np.asarray(a) - np.asarray(b)) + np.asarray(b)


def maximum(a: Shared, b: Shared) -> Shared:
    """Elementwise maximum."""
    return where(a < b, b, a)


def minimum(a: Shared, b: Shared) -> Shared:
    """Elementwise minimum."""
    return where(a < b, a, b)


def _reduce(x: Shared, axis: int, largest: bool, with_index: bool) -> tuple[Shared, Shared | None]:
    """Tournament reduction along ``axis``: ceil(log2 n) comparison rounds, n - 1 comparisons."""
    axis = axis % x.ndim
    order = [d for d in range(x.ndim) if d != axis] + [axis]
    cur = x.transpose(*order) if axis != x.ndim - 1 else x
    idx: Shared | np.ndarray | None = None
    if with_index:
        idx = np.broadcast_to(np.arange(cur.shape[-1]), cur.shape).astype(np.int64)
    while cur.shape[-1] > 1:
        n = cur.shape[-1]
        half = n // 2
        a, b = cur[..., :half], cur[..., half:2 * half]
        pick_b = (a < b) if largest else (b < a)
        best = where(pick_b, b, a)
        if idx is not None:
            ia, ib = idx[..., :half], idx[..., half:2 * half]
            best_i = where(pick_b, ib, ia)
        if n % 2:
            best = concatenate([best, cur[..., n - 1:]], axis=-1)
            if idx is not None:
                rest = idx[..., n - 1:]
                best_i = concatenate([best_i, rest if isinstance(rest, Shared) else _const(x, rest)], axis=-1)
        cur = best
        if idx is not None:
            idx = best_i
    value = cur.reshape(cur.shape[:-1])
    index = None if idx is None else (idx if isinstance(idx, Shared) else _const(x, idx)).reshape(cur.shape[:-1])
    return value, index


def _const(like: Shared, value: np.ndarray) -> Shared:
    raw = like.m.engine.public(to_ring(np.asarray(value, dtype=np.int64)))
    return Shared(like.m, raw, np.shape(value), "int")


def amax(x: Shared, axis: int = -1) -> Shared:
    """Maximum along ``axis``."""
    return _reduce(x, axis, True, False)[0]


def amin(x: Shared, axis: int = -1) -> Shared:
    """Minimum along ``axis``."""
    return _reduce(x, axis, False, False)[0]


def argmax(x: Shared, axis: int = -1) -> Shared:
    """Index of a maximum along ``axis`` (ties broken by the tournament order), as a secret integer."""
    return _reduce(x, axis, True, True)[1]  # type: ignore[return-value]


def argmin(x: Shared, axis: int = -1) -> Shared:
    """Index of a minimum along ``axis`` (ties broken by the tournament order), as a secret integer."""
    return _reduce(x, axis, False, True)[1]  # type: ignore[return-value]
