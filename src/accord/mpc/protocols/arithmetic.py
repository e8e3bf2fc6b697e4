"""Multiplication, matrix multiplication and truncation of two-party additive shares in Z_2^64.

All three are one round of communication between the computing parties plus correlations from the
provider. Security: semi-honest, in the provider's model (dealer not colluding, or OT-based with no
third party); the values opened are masked by uniform ring elements, so they are independent of
the inputs.
"""

from __future__ import annotations

import numpy as np

from accord.math.matmul import ring_matmul
from accord.mpc.preprocessing.base import CorrelationProvider, FanTriples, Shape, expect_array
from accord.mpc.protocols.exchange import swap, swap_list
from accord.runtime.context import Context

_LOW63 = np.uint64((1 << 63) - 1)
_OFFSET = np.uint64(1 << 62)


def mul(ctx: Context, prov: CorrelationProvider, shape: Shape, x: np.ndarray | None,
        y: np.ndarray | None) -> np.ndarray | None:
    """Elementwise product by Beaver's method (Beaver, CRYPTO 1991).

    Each party opens ``e = x - a`` and ``f = y - b`` in one message (16 bytes per element sent by each
    party; 1 round); then ``z_i = c_i + e b_i + f a_i`` (+ ``e f`` at the first party).
    """
    t = prov.triples(ctx, shape)
    if t is None or x is None or y is None:
        return None
    a, b, c = t
    mine = np.empty((2, *np.shape(x)), dtype=np.uint64)
    np.subtract(x, a, out=mine[0, ...])
    np.subtract(y, b, out=mine[1, ...])
    ef = swap(ctx, prov.roles, mine, "ef")
    ef += mine
    e, f = ef[0, ...], ef[1, ...]
    if prov.roles.index == 0:
        b = b + f    # e (b0 + f) + f a0 + c0 adds the public e f once.
    z = np.multiply(e, b)
    z += c
    f *= a
    z += f
    return z


def mul_fan(ctx: Context, prov: FanTriples, n: int, width: int, x: np.ndarray | None,
            y: np.ndarray | None) -> np.ndarray | None:
    """``x * y_j`` for each of the ``width`` blocks ``y_j`` of ``y`` from one fan-out triple ``(a, b, c = a b_j)``.

    As :func:`mul`, opening ``e = x - a`` once for all blocks and ``f = y - b`` (1 round).
    """
    a, b, c = prov.fan_triples(ctx, n, width)
    if x is None or y is None:
        return None
    mine = np.concatenate([x - a, (y.reshape(width, n) - b).reshape(-1)])
    ef = swap(ctx, prov.roles, mine, "ef")
    ef += mine
    e, f = ef[:n], ef[n:].reshape(width, n)
    if prov.roles.index == 0:
        b = b + f
    return (c + e * b + a * f).reshape(-1)


def square(ctx: Context, prov: CorrelationProvider, shape: Shape, x: np.ndarray | None) -> np.ndarray | None:
    """``x * x`` from a square pair ``(a, a^2)``: one opening of ``e = x - a`` (8 bytes per element, 1 round).

    ``x^2 = e^2 + 2 e a + a^2``.
    """
    pair = prov.square_pairs(ctx, shape)
    if pair is None or x is None:
        return None
    a, c = pair
    mine = x - a
    e = mine + swap(ctx, prov.roles, mine, "e")
    z = c + (e + e) * a
    if prov.roles.index == 0:
        z += e * e
    return z


def matmul(ctx: Context, prov: CorrelationProvider, m: int, k: int, n: int, x: np.ndarray | None,
           y: np.ndarray | None) -> np.ndarray | None:
    """Matrix product from a matrix Beaver triple (as in SecureML, Mohassel and Zhang, S&P 2017, Sec. 4.1).

    Opens ``E = X - A`` (m x k) and ``F = Y - B`` (k x n) in one message each way (1 round), then
    ``Z_i = C_i + E B_i + A_i F`` (+ ``E F`` at the first party), computed as one ring product of
    stacked operands.
    """
    t = prov.matrix_triples(ctx, m, k, n)
    if t is None or x is None or y is None:
        return None
    a, b, c = t
    mine = [x - a, y - b]
    theirs = swap_list(ctx, prov.roles, mine, "EF")
    e = mine[0] + theirs[0]
    f = mine[1] + theirs[1]
    right = b + f if prov.roles.index == 0 else b
    return c + ring_matmul(np.concatenate([e, a], axis=1), np.concatenate([right, f], axis=0))


def trunc(ctx: Context, prov: CorrelationProvider, shape: Shape, x: np.ndarray | None,
          bits: int) -> np.ndarray | None:
    """Divide by ``2^bits``: the result is ``floor(x / 2^bits)`` or one more (one unit in the last place).

    Probabilistic truncation with a dealt triple ``(r, t, s)``, ``t = (r mod 2^63) >> bits`` and
    ``s = r >> 63``, in the spirit of Escudero et al., "Improved primitives for MPC over mixed
    arithmetic-binary circuits" (CRYPTO 2020), Sec. 5. With ``y = x + 2^62`` (in [0, 2^63) whenever
    ``|x| < 2^62``) the parties open ``c = y + r``; writing ``c'`` for ``c mod 2^63``, the carry
    ``beta = [y + (r mod 2^63) >= 2^63]`` equals ``msb(c) XOR s``, which is linear in ``s`` because
    ``msb(c)`` is public, and

        (c' >> bits) - t + beta * 2^(63 - bits) = (y >> bits) + delta,   delta in {0, 1}

    (delta is 1 when the low ``bits`` bits of ``c'`` are below those of ``r``). So the result is
    ``floor(x / 2^bits)`` or one more; there is no failure probability as long as
    ``|x| < 2^62`` and ``bits <= 31`` (``s`` is shared modulo 2^32, enough for its weight
    ``2^(63 - bits)``). Cost: 8 bytes per element sent by each computing party, 1 round; the dealer
    sends 12 bytes per element.
    """
    if prov.one_sided_truncation:
        return trunc_one_sided(ctx, prov, shape, x, bits)
    pair = prov.trunc_pairs(ctx, shape, bits)
    if pair is None or x is None:
        return None
    r, t, s = pair
    i = prov.roles.index
    mine = np.add(x, r)
    if i == 0:
        mine += _OFFSET
    c = swap(ctx, prov.roles, mine, "c")
    c += mine
    c_msb = c >> np.uint64(63)
    # beta = msb(c) + s - 2 msb(c) s, shifted into place; s only matters modulo 2^(bits + 1).
    beta = np.array(s * c_msb, dtype=np.uint64)
    beta <<= np.uint64(1)
    np.subtract(s, beta, out=beta)
    if i == 0:
        beta += c_msb
    beta <<= np.uint64(63 - bits)
    beta -= t
    if i == 0:
        c &= _LOW63
        c >>= np.uint64(bits)
        beta += c
        beta -= np.uint64(1 << (62 - bits))
    return beta


def trunc_one_sided(ctx: Context, prov: CorrelationProvider, shape: Shape, x: np.ndarray | None,
                    bits: int) -> np.ndarray | None:
    """Truncation where only the second party sees the masked value (2 message latencies).

    The first party knows ``r`` (and so ``t = (r mod 2^63) >> bits`` and ``s = msb(r)``) and sends
    ``c0 = x0 + 2^62 + r``; the second computes ``c`` and the carry ``beta = msb(c) XOR s`` needs the
    cross product ``msb(c) s`` of bits the two hold separately. A correlated OT
    ``m_rho = m0 + rho s 2^(64 - bits)`` with the second party's random choice ``rho`` is
    derandomised by sending ``e = msb(c) XOR rho`` (Beaver's OT precomputation, CRYPTO 1995): the
    shares ``m_rho (1 - 2e)`` and ``m0 (2e - 1) + e s 2^(64 - bits)`` sum to ``msb(c) s 2^(64 - bits)``.
    The result is ``floor(x / 2^bits)`` or one more, as with :func:`trunc`. Cost: 8 bytes from the
    first party and 1 bit from the second per element; one correlated OT (16 + 8 bytes with IKNP).
    """
    cot = prov.trunc_cots(ctx, shape, bits)
    if cot is None or x is None:
        return None
    roles = prov.roles
    shift = np.uint64(63 - bits)
    if roles.index == 0:
        r, m0 = cot
        ctx.send(roles.peer, np.asarray(x + r + _OFFSET), "c")
        e = np.unpackbits(expect_array(ctx.recv(roles.peer, "e"), peer=roles.peer, step=f"{ctx.path}/e",
                                       shape=((int(np.prod(shape)) + 7) // 8,), dtype=np.uint8),
                          count=int(np.prod(shape))).reshape(shape).astype(np.uint64)
        s = r >> np.uint64(63)
        cross = m0 * ((e << np.uint64(1)) - np.uint64(1)) + e * (s << np.uint64(64 - bits))
        return (s << shift) - ((r & _LOW63) >> np.uint64(bits)) - np.uint64(1 << (62 - bits)) - cross
    rho, m_rho = cot
    c = expect_array(ctx.recv(roles.peer, "c"), peer=roles.peer, step=f"{ctx.path}/c", shape=tuple(shape),
                     dtype=np.uint64) + x
    c_msb = c >> np.uint64(63)
    e = c_msb.astype(np.uint8) ^ rho
    ctx.send(roles.peer, np.packbits(e.reshape(-1)), "e")
    cross = m_rho * (np.uint64(1) - (e.astype(np.uint64) << np.uint64(1)))
    return ((c & _LOW63) >> np.uint64(bits)) + (c_msb << shift) - cross
