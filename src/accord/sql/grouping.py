"""Group reductions on secret arrays: over a partition the computing parties know, or one only its owner knows.

A *public* partition (group ids every computing party holds) reduces locally: sums are segment sums of
each party's shares, minima and maxima a tournament inside each segment (one batched comparison per
level, ``ceil(log2(largest group))`` levels). An *owner's* partition arrives as a secret one-hot matrix
``M`` (rows by groups; with keys of several owners, the row-wise product of their one-hots over every
combination of their groups): sums are ``M.T @ X``, minima and maxima a tournament over ``M``-masked columns.
Runs inside :meth:`accord.mpc.MPC.run`, on :class:`~accord.mpc.tensor.Shared` arrays.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from accord.mpc.functions import amax, amin, where
from accord.mpc.tensor import Shared, concatenate

BIG_INT = 2 ** 62 - 1        # above every value a minimum may see (|values| < 2^61)
BIG_FIXED = float(2 ** 42)   # the same for fixed point (values below 2^40)


def local(x: Shared, fn: Callable[[np.ndarray], np.ndarray], shape: tuple[int, ...], kind: str | None = None) -> Shared:
    """A public linear map applied to every party's share (no messages)."""
    return Shared(x.m, x.m.engine.local(fn, x.raw), shape, kind or x.kind)


@dataclass(frozen=True)
class Segments:
    """A public partition of ``n`` rows into ``count`` groups, ids ``0..count-1`` (each group non-empty)."""

    ids: np.ndarray
    count: int

    @classmethod
    def of(cls, ids: np.ndarray) -> Segments:
        """Dense ids in order of first appearance."""
        _, dense = np.unique(ids, return_inverse=True)
        return cls(dense.astype(np.int64), int(dense.max()) + 1 if len(dense) else 0)

    @property
    def order(self) -> np.ndarray:
        """Row order that makes each group contiguous."""
        return np.argsort(self.ids, kind="stable")

    @property
    def starts(self) -> np.ndarray:
        """First position of each group in :attr:`order`."""
        counts = np.bincount(self.ids, minlength=self.count)
        return np.concatenate(([0], np.cumsum(counts)[:-1])).astype(np.int64)

    def sum(self, x: Shared) -> Shared:
        """Per-group sums along axis 0 (any trailing shape)."""
        order, starts = self.order, self.starts
        shape = (self.count, *x.shape[1:])
        kind = "int" if x.kind == "bool" else x.kind   # a sum of bits counts them
        return local(x, lambda r: np.add.reduceat(r[order], starts, axis=0) if len(order) else r[:0], shape, kind)

    def extreme(self, x: Shared, largest: bool) -> Shared:
        """Per-group maximum (``largest``) or minimum of a 1-D array, by a tournament inside each group."""
        order = self.order
        cur = x[order]
        seg = self.ids[order]
        while len(seg) > self.count:
            n = len(seg)
            starts = np.concatenate(([0], np.flatnonzero(seg[1:] != seg[:-1]) + 1))
            rank = np.arange(n) - np.repeat(starts, np.diff(np.append(starts, n)))
            heads = np.flatnonzero(rank % 2 == 0)
            following = np.minimum(heads + 1, n - 1)
            paired = (heads + 1 < n) & (seg[following] == seg[heads])
            pairs, singles = heads[paired], heads[~paired]
            a, b = cur[pairs], cur[pairs + 1]
            best = where(a < b, b, a) if largest else where(a < b, a, b)
            merged = concatenate([best, cur[singles]]) if len(singles) else best
            position = np.concatenate([np.flatnonzero(paired), np.flatnonzero(~paired)])
            cur = merged[np.argsort(position, kind="stable")]
            seg = seg[heads]
        return cur


def combined_index(sizes: list[int], k: int) -> np.ndarray:
    """Owner ``k``'s group of each combined group, when groups are the owners' combinations in row-major order."""
    return np.indices(sizes).reshape(len(sizes), -1)[k] if sizes else np.zeros(1, dtype=np.int64)


def onehot_product(ms: list[Shared]) -> Shared:
    """The one-hot of the owners' key combinations: a row's 1 sits at the combination of its owners' groups.

    Column ``g`` is the product of each owner's column ``combined_index(sizes, k)[g]``: one secret product
    per row and combination (``rows * prod(sizes)``), so no party learns any owner's partition.
    """
    sizes = [m.shape[1] for m in ms]
    out = ms[0][:, combined_index(sizes, 0)]
    for k, m in enumerate(ms[1:], start=1):
        out = out * m[:, combined_index(sizes, k)]
    return out


def onehot_sum(m: Shared, x: Shared) -> Shared:
    """``M.T @ X``: per-group sums of the rows of ``x`` (N or N x c) under the owner's secret one-hot ``m``."""
    flat = x.reshape((x.shape[0], 1)) if x.ndim == 1 else x
    out = m.T @ flat
    return out.reshape((m.shape[1],)) if x.ndim == 1 else out


def onehot_extreme(m: Shared, x: Shared, present: Shared, largest: bool) -> Shared:
    """Per-group maximum or minimum of present rows of ``x`` (1-D) under the one-hot ``m``."""
    big = BIG_FIXED if x.kind == "fixed" else BIG_INT
    column = x.reshape((x.shape[0], 1))
    chosen = m * present.reshape((present.shape[0], 1))
    masked = where(chosen, column, -big if largest else big)
    return amax(masked, axis=0) if largest else amin(masked, axis=0)


def masked(x: Shared, present: Shared, largest: bool) -> Shared:
    """``x`` where ``present``, else a sentinel that never wins the tournament."""
    big = BIG_FIXED if x.kind == "fixed" else BIG_INT
    return where(present, x, -big if largest else big)
