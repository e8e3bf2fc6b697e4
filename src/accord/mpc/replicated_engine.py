"""Three-party replicated sharing over Z_2^64 (honest majority, semi-honest), no dealer.

Party ``i`` of ``(P0, P1, P2)`` holds the pair ``(x_i, x_{i+1})`` (a tuple of two arrays) of
``x = x0 + x1 + x2`` (Araki, Furukawa, Lindell, Nof and Ohara, CCS 2016; ABY3, Mohassel and Rindal,
CCS 2018). At setup party ``i`` draws a PRF key ``k_i`` and sends it to party ``i - 1``, so party
``i`` holds ``k_i`` and ``k_{i+1}`` and each pair of parties shares one key. From these keys every
party derives, without communication, zero
shares ``alpha_i = F(k_i) - F(k_{i+1})`` (which sum to 0) and randomness shared by a pair.

* Multiplication and matrix multiplication: each party computes its 3-of-3 additive share
  ``z_i = x_i y_i + x_i y_{i+1} + x_{i+1} y_i + alpha_i`` locally (matrix products split the terms
  unevenly so that five ring matrix products suffice instead of six) and sends it to party ``i - 1``
  (1 round, one ring element per output element per party).
* Truncation, comparison and bit extraction use party P2 as a *helper* for P0 and P1: the value is
  rewritten as a two-party additive sharing (``x0 + x1`` at P0, ``x2`` at P1), the two-party protocol
  runs with P2 dealing its correlations from the keys it shares with each of them (it sends P1
  corrections only and receives nothing from the protocol), and the result is re-shared to three
  parties masked with randomness P2 does not know. A single corrupted party sees only uniformly
  masked values, which is the honest-majority, semi-honest guarantee of ABY3. A fixed-point product
  truncates the 3-of-3 sum directly (P2 sends ``z2`` to P1), so multiplication with truncation costs
  3 message latencies and 40 bytes per element in total among the three parties, plus 12 from P2.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from accord.crypto.random import Rng
from accord.errors import MalformedMessage
from accord.math.matmul import ring_matmul
from accord.math.ring import DTYPE
from accord.mpc.engine import OwnedProduct
from accord.mpc.preprocessing.base import Roles, Shape, expect_array
from accord.mpc.preprocessing.dealer_provider import SeededProvider
from accord.mpc.protocols import arithmetic, binary
from accord.runtime.context import Context

THREAT_MODEL = (
    "semi-honest, honest majority: 3 computing parties, at most one corrupted; no trusted dealer (P2 helps P0 "
    "and P1 with truncation and comparisons using randomness it shares with each)"
)
HELPER_MODEL = "P2 deals to P0 and P1 from shared PRF keys (part of the 3-party honest-majority model)"
_KEY = 16

Raw = tuple[np.ndarray, np.ndarray]   # every party of a replicated session holds a pair (no dealer)


class ReplicatedEngine:
    """Primitive operations on three-party replicated shares (one instance per party and session)."""

    name = "3pc-replicated"
    threat_model = THREAT_MODEL

    def __init__(self, parties: Sequence[str], me: str, own_key: bytes, next_key: bytes) -> None:
        self.computing = tuple(parties)
        self.participants = self.computing
        self.me = me
        self.index = self.computing.index(me)
        # PRF streams from k_i (shared with party i - 1) and k_{i+1} (shared with party i + 1). Both
        # holders of a key draw the same words from it in every operation, so the streams stay in step
        # without per-call re-keying (see _streams).
        self._own = Rng(seed=b"accord-3pc|" + own_key)
        self._next = Rng(seed=b"accord-3pc|" + next_key)
        roles = Roles(self.computing[0], self.computing[1], me, self.computing[2])
        keys = {0: own_key} if self.index == 0 else {1: next_key} if self.index == 1 else {0: next_key, 1: own_key}
        self.provider = SeededProvider(roles, _helper_keys(keys), self.computing[2], "3pc-helper", HELPER_MODEL)
        self.roles = roles

    @classmethod
    def setup(cls, ctx: Context, parties: Sequence[str]) -> ReplicatedEngine:
        """Agree the PRF keys: party ``i`` sends a fresh ``k_i`` to party ``i - 1``."""
        index = list(parties).index(ctx.me)
        own = ctx.rng.bytes(_KEY)
        ctx.send(parties[(index - 1) % 3], own, "prf")
        frm = parties[(index + 1) % 3]
        got = ctx.recv(frm, "prf")
        if not isinstance(got, bytes) or len(got) != _KEY:
            raise MalformedMessage(f"party {frm!r} sent a malformed PRF key", party=frm, step=f"{ctx.path}/prf")
        return cls(parties, ctx.me, own, got)

    holds_shares = True

    # ------------------------------------------------------------------------------ randomness
    def _streams(self) -> tuple[Rng, Rng]:
        """The streams of k_i and k_{i+1}.

        Invariant every caller keeps: in each operation, the two holders of a key draw the same
        number of words from it in the same order (a party may skip a key only if its co-holder
        skips it too); otherwise pairwise randomness, and with it the results, would be wrong.
        """
        return self._own, self._next

    def zero_shares(self, shape: Shape) -> np.ndarray:
        """``alpha_i`` with ``alpha_0 + alpha_1 + alpha_2 = 0``."""
        own, nxt = self._streams()
        return own.uint64(shape) - nxt.uint64(shape)

    # ------------------------------------------------------------------------------ local
    def local(self, fn: Callable[..., np.ndarray], *raws: Raw) -> Raw:
        """Apply a linear or structural map to each of the two components."""
        return fn(*(r[0] for r in raws)), fn(*(r[1] for r in raws))

    def add_public(self, raw: Raw, value: np.ndarray) -> Raw:
        """Add a public value to component 0 (held by P0 in slot 0 and by P2 in slot 1)."""
        shape = np.broadcast_shapes(np.shape(raw[0]), np.shape(value))
        comps = [r if np.shape(r) == shape else np.broadcast_to(r, shape).copy() for r in raw]
        slot = {0: 0, 2: 1}.get(self.index)
        if slot is not None:
            comps[slot] = comps[slot] + value
        return (comps[0], comps[1])

    def public(self, value: np.ndarray) -> Raw:
        """A sharing of a public ring value."""
        value = np.asarray(value, dtype=DTYPE)
        return self.add_public((np.zeros(value.shape, dtype=DTYPE), np.zeros(value.shape, dtype=DTYPE)), value)

    # ---------------------------------------------------------------------------- input/output
    def share(self, ctx: Context, owner: str, value: np.ndarray | None, shape: Shape) -> Raw:
        """Replicated shares of ``value``; the owner sends the one component its peers lack (8 bytes each)."""
        if owner in self.computing:
            o = self.computing.index(owner)
            own, nxt = self._streams()
            # The owner's components x_o = F(k_o) and x_{o+1} = F(k_{o+1}) are known to o-1 and o+1.
            rel = (self.index - o) % 3
            if rel == 0:
                c0, c1 = own.uint64(shape), nxt.uint64(shape)
                rest = np.asarray(value - c0 - c1)
                for p in (1, 2):
                    ctx.send(self.computing[(o + p) % 3], rest, "share")
                return (c0, c1)
            got = expect_array(ctx.recv(owner, "share"), peer=owner, step=f"{ctx.path}/share", shape=tuple(shape),
                               dtype=DTYPE)
            # Party o+1 holds (x_{o+1}, x_{o+2}) and its own key is k_{o+1}; party o+2 holds (x_{o+2}, x_o)
            # and its next key is k_o.
            return (own.uint64(shape), got) if rel == 1 else (got, nxt.uint64(shape))
        # An owner outside the session holds no engine: it splits and sends (accord.mpc.session._share_body).
        pair = expect_array(ctx.recv(owner, "share"), peer=owner, step=f"{ctx.path}/share", shape=(2, *shape),
                            dtype=DTYPE)
        return (pair[0], pair[1])

    def reveal(self, ctx: Context, raw: Raw, shape: Shape, to: Sequence[str]) -> np.ndarray | None:
        """The ring value at each computing party in ``to``: party ``t + 1`` sends it the component it lacks."""
        for target in to:
            if target != ctx.me and self.index == (self.computing.index(target) + 1) % 3:
                ctx.send(target, np.array(raw[1]), "reveal")   # holds x_{t+1}, x_{t+2}: send x_{t+2}
        if ctx.me not in to:
            return None
        frm = self.computing[(self.index + 1) % 3]
        got = expect_array(ctx.recv(frm, "reveal"), peer=frm, step=f"{ctx.path}/reveal", shape=tuple(shape),
                           dtype=DTYPE)
        return raw[0] + raw[1] + got

    # ----------------------------------------------------------------------------- protocols
    def _reshare(self, ctx: Context, z: np.ndarray) -> Raw:
        """3-of-3 additive to replicated: party i sends z_i to party i - 1 (1 round)."""
        z = np.asarray(z)
        ctx.send(self.computing[(self.index - 1) % 3], z, "z")
        frm = self.computing[(self.index + 1) % 3]
        got = expect_array(ctx.recv(frm, "z"), peer=frm, step=f"{ctx.path}/z", shape=z.shape, dtype=DTYPE)
        return (z, got)

    def _product(self, a: Raw, b: Raw) -> np.ndarray:
        z = a[0] * (b[0] + b[1])
        z += a[1] * b[0]
        z += self.zero_shares(np.shape(z))
        return z

    def _matproduct(self, a: Raw, b: Raw) -> np.ndarray:
        """This party's 3-of-3 share of ``x @ y``: five ring products in total instead of ABY3's six.

        The nine cross terms ``x_i y_j`` are split as P0: ``(x0 + x1)(y0 + y1)``; P1:
        ``x2 (y1 + y2) + x1 y2``; P2: ``x2 y0 + x0 y2``. (Each party's terms must come from its own two
        components; over Z_2^64 two parties' blocks cannot both be rank one, so five is the minimum.)
        """
        if self.index == 0:
            z = ring_matmul(a[0] + a[1], b[0] + b[1])
        elif self.index == 1:   # holds (x1, x2), (y1, y2)
            z = ring_matmul(np.concatenate([a[1], a[0]], axis=1), np.concatenate([b[0] + b[1], b[1]], axis=0))
        else:                   # holds (x2, x0), (y2, y0)
            z = ring_matmul(np.concatenate([a[0], a[1]], axis=1), np.concatenate([b[1], b[0]], axis=0))
        return z + self.zero_shares(z.shape)

    def mul(self, ctx: Context, a: Raw, b: Raw, shape: Shape) -> Raw:
        """Elementwise product (1 round)."""
        return self._reshare(ctx, self._product(a, b))

    def mul_bit(self, ctx: Context, bit: Raw, a: Raw, shape: Shape) -> Raw:
        """``bit * a`` for a 0/1 ``bit`` (an ordinary product here)."""
        return self.mul(ctx, bit, a, shape)

    def mul_fan(self, ctx: Context, a: Raw, b: Raw, n: int, width: int) -> Raw:
        """``a`` times each block of ``b`` (an ordinary product of the repeated ``a``)."""
        return self.mul(ctx, self.local(lambda r: np.tile(r, width), a), b, (width * n,))

    def square(self, ctx: Context, a: Raw, shape: Shape) -> Raw:
        """Elementwise square (1 round)."""
        return self.mul(ctx, a, a, shape)

    def matmul(self, ctx: Context, a: Raw, b: Raw, m: int, k: int, n: int) -> Raw:
        """Matrix product (1 round)."""
        return self._reshare(ctx, self._matproduct(a, b))

    def own(self, ctx: Context, owner: str, value: np.ndarray | None, shape: Shape, magnitude: int) -> Any:
        """The matrix itself, at its owner (it is shared at each product)."""
        return value if ctx.me == owner else None

    def owned_matmul(self, ctx: Context, products: Sequence[OwnedProduct]) -> list[Raw]:
        """``matrix @ shared`` for matrices their owners hold in the clear: the owner shares each one first."""
        return [self.matmul(ctx.sub(f"owned{i}"), self.share(ctx.sub(f"own{i}"), p.owner, p.matrix, (p.m, p.k)),
                            p.shared, p.m, p.k, p.n) for i, p in enumerate(products)]

    def _to_pair(self, ctx: Context, z: np.ndarray) -> np.ndarray | None:
        """3-of-3 additive to a P0/P1 additive pair: P2 sends its masked z2 to P1."""
        z = np.asarray(z)
        if self.index == 2:
            ctx.send(self.computing[1], z, "z2")
            return None
        if self.index == 1:
            return z + expect_array(ctx.recv(self.computing[2], "z2"), peer=self.computing[2], step=f"{ctx.path}/z2",
                                    shape=z.shape, dtype=DTYPE)
        return z

    def _pair_of(self, raw: Raw) -> np.ndarray | None:
        """Replicated to a P0/P1 additive pair without communication: P0 takes x0 + x1, P1 takes x2."""
        return raw[0] + raw[1] if self.index == 0 else raw[1] if self.index == 1 else None

    def _from_pair(self, ctx: Context, y: np.ndarray | None, shape: Shape) -> Raw:
        """A P0/P1 additive pair to replicated shares; P2 receives only values masked by F(k_1).

        ``u1`` and ``w`` come from ``k_1`` (held by P0 and P1 only); P0 keeps ``(u0, u1)`` with
        ``u0 = y0 - u1 - w``, P1 keeps ``(u1, u2)`` with ``u2 = y1 + w``, and both send P2 the component it
        needs (1 round).
        """
        own, nxt = self._streams()
        if self.index == 2:
            u2 = expect_array(ctx.recv(self.computing[1], "u"), peer=self.computing[1], step=f"{ctx.path}/u",
                              shape=tuple(shape), dtype=DTYPE)
            u0 = expect_array(ctx.recv(self.computing[0], "u"), peer=self.computing[0], step=f"{ctx.path}/u",
                              shape=tuple(shape), dtype=DTYPE)
            return (u2, u0)
        stream = nxt if self.index == 0 else own
        u1, w = stream.uint64(shape), stream.uint64(shape)
        if self.index == 0:
            u0 = np.asarray(y - u1 - w)
            ctx.send(self.computing[2], u0, "u")
            return (u0, u1)
        u2 = np.asarray(y + w)
        ctx.send(self.computing[2], u2, "u")
        return (u1, u2)

    def trunc(self, ctx: Context, a: Raw, shape: Shape, bits: int) -> Raw:
        """Truncation with P2 as helper (the two-party protocol, then re-sharing; 2 rounds)."""
        y = arithmetic.trunc(ctx, self.provider, shape, self._pair_of(a), bits)
        return self._from_pair(ctx, y, shape)

    def mul_trunc(self, ctx: Context, a: Raw, b: Raw, shape: Shape, bits: int) -> Raw:
        """Fixed-point product: the 3-of-3 product goes straight to a truncated pair (3 rounds)."""
        sub = ctx.sub("mul_trunc")
        pair = self._to_pair(sub, self._product(a, b))
        y = arithmetic.trunc(sub, self.provider, shape, pair, bits)
        return self._from_pair(sub, y, shape)

    def matmul_trunc(self, ctx: Context, a: Raw, b: Raw, m: int, k: int, n: int, bits: int) -> Raw:
        """Fixed-point matrix product with truncation (3 rounds)."""
        sub = ctx.sub("matmul_trunc")
        pair = self._to_pair(sub, self._matproduct(a, b))
        y = arithmetic.trunc(sub, self.provider, (m, n), pair, bits)
        return self._from_pair(sub, y, (m, n))

    def mul_split(self, ctx: Context, a: Raw, b: Raw, size: int, fixed: int, bits: int) -> Raw:
        """Products of flat arrays where the first ``fixed`` are truncated by ``bits`` (3 latencies).

        The untruncated tail is re-shared in the same round in which P2 sends its share of the head to
        P1, so integer products ride along with the fixed-point ones.
        """
        sub = ctx.sub("mul_trunc")
        z = self._product(a, b)
        tail = self._reshare(sub, z[fixed:])
        if fixed == 0:
            return tail
        pair = self._to_pair(sub, z[:fixed])
        y = arithmetic.trunc(sub, self.provider, (fixed,), pair, bits)
        head = self._from_pair(sub, y, (fixed,))
        return (np.concatenate([head[0], tail[0]]), np.concatenate([head[1], tail[1]]))

    def bits(self, ctx: Context, a: Raw, shape: Shape, positions: Sequence[int]) -> Raw:
        """Replicated 0/1 shares of the bits at ``positions`` (two-party carry tree with P2 as helper)."""
        shape = tuple(shape)
        full = (len(positions), *shape)
        pair = self._pair_of(a)
        if tuple(positions) == (63,):
            xor = binary.msb(ctx.sub("msb"), self.provider, shape, pair)
            xor = None if xor is None else xor[None]
        else:
            xor = binary.bits(ctx.sub("bits"), self.provider, shape, pair, positions)
        arith = binary.b2a(ctx.sub("b2a"), self.provider, full, xor)
        return self._from_pair(ctx.sub("reshare"), arith, full)


def _helper_keys(keys: dict[int, bytes]) -> dict[int, bytes]:
    """Dealer keys for P2's help, derived from the pairwise PRF keys under a separate label."""
    return {i: hashlib.sha256(b"accord-3pc-helper|" + k).digest()[:_KEY] for i, k in keys.items()}
