"""Boolean (XOR-shared) protocols: AND, bit extraction by a carry tree, and conversion of bits to Z_2^64.

A comparison ``x < y`` is the sign bit of ``x - y``. With ``x = x0 + x1`` held additively, bit ``j`` of
the sum is ``x0_j XOR x1_j XOR carry_j``; the carry into position ``j`` is the *generate* signal of
positions ``0..j-1`` in a carry-lookahead adder (generate ``g = x0 AND x1``, propagate
``p = x0 XOR x1``). We compute it with a binary tree of (G, P) combinations, the up-sweep of a
parallel-prefix adder (as in ABY3, Mohassel and Rindal, CCS 2018, Sec. 5.3, and SPU's PPA), not the
full Kogge-Stone network: only one carry per element is needed, so each level halves the number of
bits. The bits are first permuted (bit-reversal permutation of the 6-bit positions, a local
operation on XOR shares) so that every level pairs the upper half of a word with its lower half and
the words shrink from 64 to 32, 16, 8, ... bits.

Cost of one carry (e.g. the sign bit for a comparison): 7 rounds (one AND of the two parties'
inputs, then six tree levels, each packing its two ANDs into one word) and about 42 bytes sent by
each computing party; converting the result bit to an additive share is one more round
(:func:`b2a`, 1/8 byte each).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from accord.mpc.preprocessing.base import CorrelationProvider, Shape
from accord.mpc.protocols.exchange import swap
from accord.runtime.context import Context

_U64 = np.dtype(np.uint64)


def _rev(j: int, width: int) -> int:
    n = width.bit_length() - 1
    return int(f"{j:0{n}b}"[::-1], 2)


def _swap_masks(width: int) -> list[tuple[int, int]]:
    """Delta swaps (Knuth, TAOCP 7.1.3) realising the bit-reversal permutation of ``width`` positions.

    Exchanging index bits ``a < b`` moves position ``k`` (bit a set, bit b clear) to ``k + 2^b - 2^a``.
    """
    n = width.bit_length() - 1
    swaps = []
    for a in range(n // 2):
        b = n - 1 - a
        mask = sum(1 << k for k in range(width) if k >> a & 1 and not k >> b & 1)
        swaps.append(((1 << b) - (1 << a), mask))
    return swaps


def permute_bits(x: np.ndarray, width: int = 64) -> np.ndarray:
    """Move bit ``j`` of every word to bit ``rev(j)`` (bit-reversal permutation of the ``width`` positions).

    A permutation of bit positions commutes with XOR and AND, so parties apply it to their own
    shares locally.
    """
    x = np.array(x, copy=True)
    for delta, mask in _swap_masks(width):
        t = ((x >> x.dtype.type(delta)) ^ x) & x.dtype.type(mask)
        x ^= t ^ (t << x.dtype.type(delta))
    return x


def and_bits(ctx: Context, prov: CorrelationProvider, shape: Shape, dtype: np.dtype, x: np.ndarray | None,
             y: np.ndarray | None) -> np.ndarray | None:
    """AND of XOR-shared words by Beaver's method over GF(2): open ``x ^ a`` and ``y ^ b`` (1 round)."""
    t = prov.bool_triples(ctx, shape, dtype)
    if t is None or x is None or y is None:
        return None
    a, b, c = t
    mine = np.empty((2, *x.shape), dtype=x.dtype)
    np.bitwise_xor(x, a, out=mine[0, ...])
    np.bitwise_xor(y, b, out=mine[1, ...])
    ef = swap(ctx, prov.roles, mine, "ef")
    ef ^= mine
    e, f = ef[0, ...], ef[1, ...]
    if prov.roles.index == 0:
        b = b ^ f     # e (b0 ^ f) ^ f a0 ^ c0 includes the public e & f once.
    z = e & b
    z ^= c
    f &= a
    z ^= f
    return z


def cross_and(ctx: Context, prov: CorrelationProvider, shape: Shape, dtype: np.dtype,
              v: np.ndarray | None) -> np.ndarray | None:
    """XOR shares of ``v0 & v1`` where each computing party holds its ``v`` in full (one word each way).

    With ``(u, w)`` from the provider (the first party's ``u = a``, the second's ``u = b``,
    ``w0 ^ w1 = a & b``) the parties swap ``v ^ u``; then ``v0 & v1 = (v0 & d1) ^ (d0 & b) ^ (a & b)``.
    """
    t = prov.cross_bool_triples(ctx, shape, dtype)
    if t is None or v is None:
        return None
    u, w = t
    d = swap(ctx, prov.roles, v ^ u, "d")
    return ((v & d) if prov.roles.index == 0 else (d & u)) ^ w


_WORD = {8: np.uint8, 16: np.uint16, 32: np.uint32, 64: np.uint64}


def all_ones(ctx: Context, prov: CorrelationProvider, shape: Shape, x: np.ndarray | None) -> np.ndarray | None:
    """XOR shares (uint8) of whether every bit of the XOR-shared 64-bit word ``x`` is 1 (6 rounds).

    Each level ANDs the upper half of every word into its lower half, so the words shrink from 64 to
    32, ..., 1 bits; ``all_ones(~(a ^ b))`` is the equality test of two XOR-shared words.
    """
    width = 64
    while width > 1:
        half = width // 2
        dtype = np.dtype(_WORD.get(half, np.uint8))
        low = (1 << half) - 1
        hi = lo = None
        if x is not None:
            hi = (x >> np.uint64(half)).astype(dtype)
            lo = (x & np.uint64(low)).astype(dtype)
        z = and_bits(ctx, prov, shape, dtype, hi, lo)
        x = None if z is None else (z & dtype.type(low)).astype(_U64)
        width = half
    return None if x is None else x.astype(np.uint8)


def carries(ctx: Context, prov: CorrelationProvider, shape: Shape, x: np.ndarray | None,
            positions: Sequence[int]) -> np.ndarray | None:
    """XOR shares (uint8 0/1) of the carry into each of ``positions`` when adding ``x0 + x1``.

    Only the low bits up to the largest position matter, so the tree runs on the narrowest word
    (8, 16, 32 or 64 bits) that holds them: carries into low positions cost less than the sign bit.
    Returns an array of shape ``(len(positions),) + shape``.
    """
    width = next(w for w in (8, 16, 32, 64) if max(positions) < w)
    word = np.dtype(_WORD[width])
    count = int(np.prod(shape))
    jn = len(positions) * count
    i = prov.roles.index
    xp = None if x is None else permute_bits(x.reshape(-1).astype(word), width)
    g = cross_and(ctx, prov, (count,), word, xp)
    gen = prop = None
    if g is not None and xp is not None:
        keep = permute_bits(np.array([(1 << j) - 1 for j in positions], dtype=word), width)[:, None]
        gen = (g[None, :] & keep).reshape(-1)
        prop = xp[None, :] & keep
        if i == 0:
            prop = prop | ~keep
        prop = prop.reshape(-1)
    half = width // 2
    while half >= 1:
        last = half == 1
        # Both ANDs of a level, P_hi & G_lo and P_hi & P_lo, share one word of 2 * half bits.
        word_dt = np.dtype(_WORD[max(2 * half, 8)])
        lhs = rhs = None
        if gen is not None and prop is not None:
            low = word_dt.type((1 << half) - 1)
            hi_g = gen >> word_dt.type(half)
            hi_p = prop >> word_dt.type(half)
            lhs = hi_p if last else hi_p | (hi_p << word_dt.type(half))
            rhs = gen & low if last else (gen & low) | ((prop & low) << word_dt.type(half))
        z = and_bits(ctx, prov, (jn,), word_dt, lhs, rhs)
        if z is not None:
            # AND triples on narrow fields carry random high bits (shares of zero): mask them away.
            next_dt = np.dtype(_WORD[max(half, 8)])
            gen = ((hi_g ^ z) & low).astype(next_dt)
            prop = None if last else ((z >> word_dt.type(half)) & low).astype(next_dt)
        half //= 2
    if gen is None:
        return None
    return gen.astype(np.uint8).reshape((len(positions), *shape))


def msb(ctx: Context, prov: CorrelationProvider, shape: Shape, x: np.ndarray | None) -> np.ndarray | None:
    """XOR shares (uint8) of the top bit of ``x0 + x1``: the sign, so ``x < 0`` (7 rounds)."""
    c = carries(ctx, prov, shape, x, [63])
    if c is None or x is None:
        return None
    return c[0] ^ (x >> np.uint64(63)).astype(np.uint8)


def bits(ctx: Context, prov: CorrelationProvider, shape: Shape, x: np.ndarray | None,
         positions: Sequence[int]) -> np.ndarray | None:
    """XOR shares (uint8) of the bits of ``x0 + x1`` at ``positions``; shape ``(len(positions),) + shape``."""
    c = carries(ctx, prov, shape, x, positions)
    if c is None or x is None:
        return None
    own = np.stack([(x >> np.uint64(j)).astype(np.uint8) & np.uint8(1) for j in positions])
    return c ^ own


def b2a(ctx: Context, prov: CorrelationProvider, shape: Shape, v: np.ndarray | None) -> np.ndarray | None:
    """Additive shares of XOR-shared bits, with a daBit ``rho`` (Rotaru and Wood, INDOCRYPT 2019).

    The parties open ``e = v ^ rho`` (packed, 1/8 byte per bit each; 1 round) and set
    ``v = e + rho - 2 e rho`` using the additive sharing of ``rho``.
    """
    d = prov.dabits(ctx, shape)
    if d is None or v is None:
        return None
    rho_b, rho_a = d
    flat = (v ^ rho_b).reshape(-1)
    mine = np.packbits(flat)
    e = np.unpackbits(mine ^ swap(ctx, prov.roles, mine, "e"), count=flat.size).reshape(shape).astype(_U64)
    out = rho_a * (np.uint64(1) - (e << np.uint64(1)))
    if prov.roles.index == 0:
        out += e
    return out

