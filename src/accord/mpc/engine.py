"""The interface every secret-sharing engine implements: the primitives :class:`~accord.mpc.tensor.Shared` calls.

An engine is one party's half (or third) of a session: it holds no values itself, only the keys or
correlation provider it needs, and turns ring-level operations on *raw* shares into protocol runs.
What a raw share is belongs to the engine (``uint64`` arrays for two-party additive sharing, pairs
of them for three-party replicated sharing, ``None`` at a party without a share, e.g. a dealer);
callers pass them through untouched. Every method is SPMD: each participant calls it with the same
public arguments, in the same order.

Two engines implement it: :class:`~accord.mpc.additive_engine.AdditiveEngine` (two parties, with a
dealer, OT, or the insecure self-dealer as provider) and
:class:`~accord.mpc.replicated_engine.ReplicatedEngine` (three parties, honest majority).
``tests/protocol/test_engine_conformance.py`` runs one suite over both.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple, Protocol, TypeVar, runtime_checkable

import numpy as np

from accord.mpc.preprocessing.base import Shape
from accord.runtime.context import Context

R = TypeVar("R")


class OwnedProduct(NamedTuple):
    """One product ``matrix @ shared`` for :meth:`Engine.owned_matmul`.

    ``matrix`` is this party's state from :meth:`Engine.own` for an ``(m, k)`` ring array that computing
    party ``owner`` holds in the clear (row-sliced or transposed as needed) and ``shared`` the raw
    share of a ``(k, n)`` secret array.
    """

    owner: str
    matrix: Any
    shared: Any
    m: int
    k: int
    n: int


@runtime_checkable
class Engine(Protocol[R]):
    """Ring primitives on raw shares of type ``R`` over Z_2^64 (wrapping ``uint64`` arithmetic)."""

    @property
    def name(self) -> str:
        """The engine's name in job reports."""

    @property
    def threat_model(self) -> str:
        """Who must be trusted, and for what."""

    @property
    def computing(self) -> tuple[str, ...]:
        """The parties that hold shares."""

    @property
    def participants(self) -> tuple[str, ...]:
        """Everyone who takes part in its protocols (the computing parties and a dealer, if any)."""

    def local(self, fn: Callable[..., np.ndarray], *raws: R) -> R:
        """Apply a linear or structural map (add, negate, reshape, slice, ...) to each share, no messages."""

    def add_public(self, raw: R, value: np.ndarray) -> R:
        """Add a public ring value."""

    def public(self, value: np.ndarray) -> R:
        """A sharing of a public ring value."""

    def share(self, ctx: Context, owner: str, value: np.ndarray | None, shape: Shape) -> R:
        """Shares of ``value``, a ring array known at ``owner`` only."""

    def reveal(self, ctx: Context, raw: R, shape: Shape, to: Sequence[str]) -> np.ndarray | None:
        """The ring value at each party in ``to``; ``None`` elsewhere."""

    def mul(self, ctx: Context, a: R, b: R, shape: Shape) -> R:
        """Elementwise ring product."""

    def mul_bit(self, ctx: Context, bit: R, a: R, shape: Shape) -> R:
        """Elementwise product of a secret 0/1 value (e.g. a comparison's result) and any secret value."""

    def mul_fan(self, ctx: Context, a: R, b: R, n: int, width: int) -> R:
        """``a`` (flat, ``n``) times each of the ``width`` consecutive blocks of ``b`` (flat, ``width * n``)."""

    def square(self, ctx: Context, a: R, shape: Shape) -> R:
        """Elementwise ring square."""

    def matmul(self, ctx: Context, a: R, b: R, m: int, k: int, n: int) -> R:
        """Ring matrix product of an ``(m, k)`` and a ``(k, n)`` array."""

    def own(self, ctx: Context, owner: str, value: np.ndarray | None, shape: Shape, magnitude: int) -> Any:
        """Prepare an ``(m, k)`` ring matrix known to ``owner`` (``None`` elsewhere), ``|value| < 2^magnitude``.

        Returns this party's state for :meth:`owned_matmul` (it supports row slices and ``.T``).
        """

    def owned_matmul(self, ctx: Context, products: Sequence[OwnedProduct]) -> list[R]:
        """Ring products of matrices each known to one computing party and shared arrays, computed together.

        The shapes and owners are public; no party learns another's matrix (vertical learning: a
        party's feature block times the shared weights).
        """

    def trunc(self, ctx: Context, a: R, shape: Shape, bits: int) -> R:
        """``floor(a / 2^bits)`` or one more, for ``|a| < 2^62`` and ``1 <= bits <= 31``."""

    def mul_trunc(self, ctx: Context, a: R, b: R, shape: Shape, bits: int) -> R:
        """Elementwise product, truncated by ``bits`` (a fixed-point product)."""

    def matmul_trunc(self, ctx: Context, a: R, b: R, m: int, k: int, n: int, bits: int) -> R:
        """Matrix product, truncated by ``bits``."""

    def mul_split(self, ctx: Context, a: R, b: R, size: int, fixed: int, bits: int) -> R:
        """Products of flat arrays of ``size``; the first ``fixed`` are truncated by ``bits``."""

    def bits(self, ctx: Context, a: R, shape: Shape, positions: Sequence[int]) -> R:
        """0/1 shares of the bits of ``a``'s encoding at ``positions``: shape ``(len(positions),) + shape``."""
