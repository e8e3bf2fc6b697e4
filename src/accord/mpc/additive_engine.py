"""Two-party additive sharing over Z_2^64 with correlated randomness from a provider.

The engine a party holds in a two-party session: its role, its provider (trusted dealer, OT, or the
insecure self-dealer) and the primitive operations the :class:`~accord.mpc.tensor.Shared` arrays call.
Shares are ``uint64`` arrays; the dealer holds ``None`` and follows the same sequence of operations
so that it can deal the correlations each one needs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from accord.math.ring import DTYPE
from accord.mpc.engine import OwnedProduct
from accord.mpc.preprocessing.base import (
    BitProducts,
    CorrelationProvider,
    FanTriples,
    OwnedProducts,
    Shape,
    expect_array,
)
from accord.mpc.protocols import arithmetic, binary
from accord.runtime.context import Context

Raw = np.ndarray | None


class AdditiveEngine:
    """Primitive operations on two-party additive shares (one instance per party and session)."""

    def __init__(self, provider: CorrelationProvider, *, threat_model: str) -> None:
        self.provider = provider
        self.roles = provider.roles
        self.name = provider.name
        self.threat_model = threat_model
        self.computing = self.roles.computing
        self.participants = self.computing + ((self.roles.dealer,) if self.roles.dealer else ())

    @property
    def holds_shares(self) -> bool:
        """Whether this party holds shares (the dealer does not)."""
        return self.roles.index is not None

    # ------------------------------------------------------------------------------ local
    def local(self, fn: Callable[..., np.ndarray], *raws: Raw) -> Raw:
        """Apply a linear or structural map to each operand's share."""
        if not self.holds_shares:
            return None
        return fn(*raws)

    def add_public(self, raw: Raw, value: np.ndarray) -> Raw:
        """Add a public ring value (the first party adds it)."""
        if raw is None:
            return None
        if self.roles.index == 0:
            return raw + value
        shape = np.broadcast_shapes(np.shape(raw), np.shape(value))
        return raw if shape == np.shape(raw) else np.broadcast_to(raw, shape).copy()

    def public(self, value: np.ndarray) -> Raw:
        """A sharing of a public ring value."""
        if not self.holds_shares:
            return None
        value = np.asarray(value, dtype=DTYPE)
        return value.copy() if self.roles.index == 0 else np.zeros_like(value)

    # ---------------------------------------------------------------------------- input/output
    def share(self, ctx: Context, owner: str, value: np.ndarray | None, shape: Shape) -> Raw:
        """Shares of ``value`` (a ring array at ``owner``); the owner sends one random share."""
        roles = self.roles
        if ctx.me == owner:
            mask = ctx.rng.uint64(shape)
            others = [p for p in self.computing if p != owner]
            if owner in self.computing:
                ctx.send(others[0], mask, "share")
                return value - mask
            ctx.send(self.computing[0], np.asarray(value - mask), "share")
            ctx.send(self.computing[1], mask, "share")
            return None
        if roles.index is None:
            return None
        got = ctx.recv(owner, "share")
        return expect_array(got, peer=owner, step=f"{ctx.path}/share", shape=shape, dtype=DTYPE)

    def reveal(self, ctx: Context, raw: Raw, shape: Shape, to: Sequence[str]) -> np.ndarray | None:
        """The ring value, at each party in ``to`` (others get ``None``); one message per share."""
        for target in to:
            if raw is not None and target != ctx.me:
                ctx.send(target, np.asarray(raw), "reveal")
        if ctx.me not in to:
            return None
        total = np.zeros(shape, dtype=DTYPE) if raw is None else np.array(raw, dtype=DTYPE)
        for p in self.computing:
            if p != ctx.me:
                got = ctx.recv(p, "reveal")
                total += expect_array(got, peer=p, step=f"{ctx.path}/reveal", shape=tuple(shape), dtype=DTYPE)
        return total

    # ----------------------------------------------------------------------------- protocols
    def mul(self, ctx: Context, a: Raw, b: Raw, shape: Shape) -> Raw:
        """Elementwise product (1 round)."""
        return arithmetic.mul(ctx, self.provider, shape, a, b)

    def mul_bit(self, ctx: Context, bit: Raw, a: Raw, shape: Shape) -> Raw:
        """``bit * a`` for a 0/1 ``bit``: with the OT provider a multiplexer of 2 OTs per element (1 round).

        Additive shares of a 0/1 value have low bits that are XOR shares of it, so no conversion is
        needed. Other providers use a Beaver triple.
        """
        if isinstance(self.provider, BitProducts) and bit is not None and a is not None:
            return self.provider.bit_products(ctx, (bit & np.uint64(1)).astype(np.uint8), a)
        return self.mul(ctx, bit, a, shape)

    def mul_fan(self, ctx: Context, a: Raw, b: Raw, n: int, width: int) -> Raw:
        """``a`` times each of ``width`` blocks of ``b``: with the OT provider one fan-out triple (:func:`arithmetic.
        mul_fan`, half the OTs of separate products for two blocks, a third for three); otherwise repeat ``a``."""
        if isinstance(self.provider, FanTriples):
            return arithmetic.mul_fan(ctx, self.provider, n, width, a, b)
        return self.mul(ctx, self.local(lambda r: np.tile(r, width), a), b, (width * n,))

    def square(self, ctx: Context, a: Raw, shape: Shape) -> Raw:
        """Elementwise square (1 round, one opening)."""
        return arithmetic.square(ctx, self.provider, shape, a)

    def matmul(self, ctx: Context, a: Raw, b: Raw, m: int, k: int, n: int) -> Raw:
        """Matrix product (1 round)."""
        return arithmetic.matmul(ctx, self.provider, m, k, n, a, b)

    def own(self, ctx: Context, owner: str, value: np.ndarray | None, shape: Shape, magnitude: int) -> Any:
        """Prepare a plaintext matrix for :meth:`owned_matmul` (``|value| < 2^magnitude``, two's complement).

        With the OT provider: OTs on every bit of the matrix, made once (:mod:`~accord.mpc.preprocessing.
        owned_ole`), at both parties. Otherwise the matrix itself, at its owner only.
        """
        if isinstance(self.provider, OwnedProducts):
            return self.provider.own(ctx, owner, value, (int(shape[0]), int(shape[1])), magnitude + 1)
        return value if ctx.me == owner else None

    def owned_matmul(self, ctx: Context, products: Sequence[OwnedProduct]) -> list[Raw]:
        """``matrix @ shared`` for matrices their owners hold in the clear (states from :meth:`own`).

        With the OT provider each product is half a round trip (the other party sends corrections for
        the owner's bits) and all products share it. Otherwise the matrix is taken as shared
        ``(matrix, 0)``, a valid additive sharing that tells the other party nothing, and multiplied
        with a matrix triple.
        """
        if not isinstance(self.provider, OwnedProducts):
            return [self.matmul(ctx.sub(f"owned{i}"), p.matrix if ctx.me == p.owner else
                                None if p.shared is None else np.zeros((p.m, p.k), dtype=DTYPE), p.shared, p.m, p.k,
                                p.n) for i, p in enumerate(products)]
        out: list[Raw] = [None] * len(products)
        # Corrections first (for the other party's matrices), then this party's own products: no waiting.
        order = sorted(range(len(products)), key=lambda i: products[i].owner == ctx.me)
        first = np.cumsum([0] + [p.n for p in products]).tolist()
        for i in order:
            p = products[i]
            columns = [self.provider.owned_product(ctx.sub(f"owned{i}-{j}"), p.matrix, p.owner,
                                                   np.ascontiguousarray(p.shared.reshape(p.k, p.n)[:, j]),
                                                   first[i] + j) for j in range(p.n)]
            out[i] = np.stack(columns, axis=1)
        self.provider.next_products(first[-1])
        return out

    def trunc(self, ctx: Context, a: Raw, shape: Shape, bits: int) -> Raw:
        """Divide by 2^bits, error at most one unit (1 round)."""
        return arithmetic.trunc(ctx, self.provider, shape, a, bits)

    def mul_trunc(self, ctx: Context, a: Raw, b: Raw, shape: Shape, bits: int) -> Raw:
        """Fixed-point product: multiply, then truncate by ``bits`` (2 rounds)."""
        return self.trunc(ctx.sub("trunc"), self.mul(ctx.sub("mul"), a, b, shape), shape, bits)

    def matmul_trunc(self, ctx: Context, a: Raw, b: Raw, m: int, k: int, n: int, bits: int) -> Raw:
        """Fixed-point matrix product: multiply, then truncate (2 rounds)."""
        return self.trunc(ctx.sub("trunc"), self.matmul(ctx.sub("matmul"), a, b, m, k, n), (m, n), bits)

    def mul_split(self, ctx: Context, a: Raw, b: Raw, size: int, fixed: int, bits: int) -> Raw:
        """Products of flat arrays where the first ``fixed`` are truncated by ``bits`` (2 rounds)."""
        z = self.mul(ctx.sub("mul"), a, b, (size,))
        if fixed == 0:
            return z
        head = self.trunc(ctx.sub("trunc"), None if z is None else z[:fixed], (fixed,), bits)
        return None if z is None else np.concatenate([head, z[fixed:]])

    def bits(self, ctx: Context, a: Raw, shape: Shape, positions: Sequence[int]) -> Raw:
        """Additive 0/1 shares of the bits of ``a`` at ``positions``, shape ``(len(positions),) + shape``."""
        shape = tuple(shape)
        full = (len(positions), *shape)
        if tuple(positions) == (63,):
            xor = binary.msb(ctx.sub("msb"), self.provider, shape, a)
            xor = None if xor is None else xor[None]
        else:
            xor = binary.bits(ctx.sub("bits"), self.provider, shape, a, positions)
        return binary.b2a(ctx.sub("b2a"), self.provider, full, xor)

