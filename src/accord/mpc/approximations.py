"""Nonlinear functions on secret fixed-point arrays: sigmoid, softplus, exp, reciprocal, division, log, sqrt.

Each is range reduction with the engines' exact bit extraction followed by a low-degree Chebyshev
fit evaluated as a polynomial (powers by ``ceil(log2 degree)`` batched multiplication levels and one
truncation for the whole sum), in the spirit of CrypTen (Knott et al., NeurIPS 2021) and SecureML,
but with error bounds checked over the whole stated domain:

=============  ==============================  =================================================
function       domain at ``f`` fraction bits   method and error (``|err| <= rel |f(x)| + abs``)
=============  ==============================  =================================================
sigmoid        all that ``share()`` accepts    clip ``|x|`` to 8 (three sign bits), degree-7 fit;
                                               abs ``5e-4 + 2^(1-f)`` (saturation costs 3.4e-4)
softplus       all that ``share()`` accepts    ``max(x, 0) + ln(1 + e^-|x|)``, same clipping,
                                               degree-8 fit of the second term; abs ``3e-4 +
                                               2^(1-f)``
exp            ``|x| < 10.74``                 ``2^(x log2 e)``: integer part by truncation, its 5
                                               bits, ``2^int`` by a product tree, ``2^frac``
                                               degree 4; rel ``1.5e-4 + 6 2^-f``, abs ``2^-f``
reciprocal     ``2^-12 <= |x| < 2^hi``         normalise by comparisons against powers of two, 3
                                               Newton steps; rel ``3 2^-f``, abs ``2^-f``
log            ``2^-12 <= x < 2^hi``           same normalisation, ``ln m`` degree 6 on [1, 2);
                                               abs ``1.5e-6 + 4 2^-f``
sqrt           ``0 <= x < 2^hi``               normalise by powers of four, degree-7 fit on [1, 4);
                                               rel ``7.5e-6 + 3 2^-f``, abs ``2^-f``
=============  ==============================  =================================================

``2^hi = min(2^30, 2^(62 - 2f))`` (:func:`exponent_range`): from 16 fractional bits on, every value
``share()`` accepts. The errors were measured from 8 to 28 bits (docs/mpc.md). Relative accuracy of
small outputs (``exp(-10)``, ``1/1000``) is limited by the output's fractional bits: use a session
with more of them (e.g. ``frac=26``) when that matters. Inputs outside a function's domain give wrong
results (the values are secret, so they cannot be checked).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence

import numpy as np
from numpy.polynomial import chebyshev, polynomial

from accord.math.fixed import MAX_TRUNC_BITS, encode
from accord.mpc.tensor import Machine, Shared, bit_slices, concatenate, sign_bits


def exponent_range(frac: int) -> tuple[int, int]:
    """``(lo, hi)``: :func:`reciprocal` and :func:`log` take ``2^lo <= |x| < 2^hi`` at ``frac`` bits.

    ``hi`` is the bound :func:`~accord.math.fixed.encode` puts on shared inputs (``2^(62 - 2 frac)``),
    so every value ``share()`` accepts is below it, but at most 2^30: the normalised value is truncated
    by ``hi`` bits in one step, and :func:`sqrt` needs ``hi`` even (the cap binds below 16 bits).
    """
    return -12, min(MAX_TRUNC_BITS - 1, 62 - 2 * frac)


@functools.cache
def _fit(name: str, degree: int) -> tuple[float, ...]:
    """Monomial coefficients (in u on [-1, 1]) of a Chebyshev interpolant of a named function."""
    targets: dict[str, Callable[[np.ndarray], np.ndarray]] = {
        "sigmoid": lambda u: 1.0 / (1.0 + np.exp(-4.0 * (u + 1.0))) - 0.5,   # sigmoid(8t) - 1/2, t = (u+1)/2
        "exp2": lambda u: 2.0 ** (u - 0.5),                                   # 2^(r - 1/2), r = u in [-1, 1]
        "ln": lambda u: np.log((u + 3.0) / 2.0),                               # ln m, m = (u + 3)/2 in [1, 2)
        "sqrt": lambda u: np.sqrt((3.0 * u + 5.0) / 2.0),                      # sqrt m, m = (3u + 5)/2 in [1, 4)
        "log1p_exp": lambda u: np.log1p(np.exp(-4.0 * (u + 1.0))),             # ln(1 + e^-a), a = 4 (u + 1)
    }
    nodes = np.cos(np.linspace(0.0, np.pi, 4 * degree + 64))
    coeffs = chebyshev.chebfit(nodes, targets[name](nodes), degree)
    return tuple(float(c) for c in polynomial.polytrim(chebyshev.cheb2poly(coeffs)))


def mul_many(pairs: Sequence[tuple[Shared, Shared]]) -> list[Shared]:
    """Several independent products in one multiplication (one round, one message each way)."""
    if len(pairs) == 1:
        return [pairs[0][0] * pairs[0][1]]
    lhs = concatenate([a.flatten() for a, _ in pairs])
    rhs = concatenate([b.flatten() for _, b in pairs])
    prod = lhs * rhs
    out, start = [], 0
    for a, b in pairs:
        shape = np.broadcast_shapes(a.shape, b.shape)
        out.append(prod[start:start + a.size].reshape(shape))
        start += a.size
    return out


def powers(u: Shared, degree: int) -> list[Shared]:
    """``[u, u^2, ..., u^degree]`` in ``ceil(log2 degree)`` multiplication levels."""
    pw: dict[int, Shared] = {1: u}
    while len(pw) < degree:
        top = max(pw)
        if top == 1:
            pw[2] = u.square()
            continue
        todo = [k for k in range(top + 1, min(2 * top, degree) + 1)]
        results = mul_many([(pw[top], pw[k - top]) for k in todo])
        pw.update(zip(todo, results))
    return [pw[k] for k in range(1, degree + 1)]


def polyval(u: Shared, coeffs: Sequence[float], pw: Sequence[Shared] | None = None) -> Shared:
    """``sum_k coeffs[k] u^k`` with public coefficients, truncated once (``pw``: precomputed powers)."""
    m = u.m
    frac = m.frac
    pw = powers(u, len(coeffs) - 1) if pw is None else pw
    enc = [encode(np.float64(c), frac, field="coefficient") for c in coeffs]
    raw = m.engine.local(lambda *rs: sum((e * r for e, r in zip(enc[1:], rs)), start=np.zeros_like(rs[0])),
                         *[p.raw for p in pw])
    acc = Shared(m, raw, u.shape, "fixed")
    acc = Shared(m, m.engine.add_public(acc.raw, np.uint64(enc[0]) << np.uint64(frac)), u.shape, "fixed")
    return acc.trunc(frac)


def mixed_products(pairs: Sequence[tuple[Shared, Shared]]) -> list[Shared]:
    """Products of 1-D arrays in one multiplication round; fixed x fixed ones then share one truncation.

    Integer factors need no truncation, so batching them with fixed-point products saves the rounds a
    separate multiplication would take.
    """
    m = pairs[0][0].m
    fixed = [i for i, (a, b) in enumerate(pairs) if a.kind == "fixed" and b.kind == "fixed"]
    order = fixed + [i for i in range(len(pairs)) if i not in fixed]
    sizes = [pairs[i][0].size for i in order]
    raw = m.engine.mul_split(m.sub("mul"), _raw_concat(m, [pairs[i][0].raw for i in order]),
                             _raw_concat(m, [pairs[i][1].raw for i in order]), sum(sizes),
                             sum(sizes[:len(fixed)]), m.frac)
    parts = dict(zip(order, _raw_split_sizes(m, raw, sizes)))
    kinds = ["fixed" if "fixed" in (a.kind, b.kind) else "int" for a, b in pairs]
    return [Shared(m, parts[i], (pairs[i][0].size,), kinds[i]) for i in range(len(pairs))]


def _raw_split_sizes(m: Machine, raw: object, sizes: Sequence[int]) -> list[object]:
    out, start = [], 0
    for size in sizes:
        out.append(m.engine.local(lambda r, a=start, z=size: r[..., a:a + z], raw))
        start += size
    return out


def _raw_concat(m: Machine, raws: Sequence[object]) -> object:
    return m.engine.local(lambda *rs: np.concatenate(rs, axis=-1), *raws)


def select(bits: Shared, values: Shared) -> Shared:
    """``bits * values`` for secret 0/1 ``bits`` of the same shape (comparison results): no truncation.

    The engine's ``mul_bit`` is a multiplexer of 2 OTs per element in the dealer-free engine instead of
    a Beaver triple; the bits must be exactly 0 or 1 (as :func:`~accord.mpc.tensor.sign_bits` gives).
    """
    m = values.m
    raw = m.engine.mul_bit(m.sub("mul"), bits.raw, values.raw, values.shape)
    return Shared(m, raw, values.shape, values.kind)


def _clip(flat: Shared, bound: float | None) -> tuple[Shared, Shared, Shared, Shared, Shared]:
    """``lo = [x < -8]``, ``s = [x < 0]``, ``hi = [x < 8]`` and ``s * x`` and ``|x|`` inside [-8, 8] (0 outside)."""
    n = flat.size
    bits = _clip_bits(flat, bound)
    products = select(bits.reshape((3 * n,)), concatenate([flat, flat, flat]))
    s_x = products[n:2 * n]
    return bits[0], bits[1], bits[2], s_x, products[:n] + products[2 * n:] - 2 * s_x


def _clip_bits(x: Shared, bound: float | None) -> Shared:
    """``[x < -8]``, ``[x < 0]``, ``[x < 8]`` for flat ``x`` in one sign extraction (cheaper below ``|x| < bound``)."""
    n = x.size
    magnitude = 63 if bound is None else max(1, math.ceil(math.log2((abs(bound) + 8.0) * 2.0 ** x.m.frac)) + 1)
    return sign_bits(concatenate([x + 8.0, x, x - 8.0]), min(63, magnitude)).reshape((3, n))


def sigmoid(x: Shared, bound: float | None = None) -> Shared:
    """The logistic function ``1 / (1 + exp(-x))``, absolute error ``5e-4 + 2^(1-frac)`` (17 rounds in 2PC).

    ``bound``, a public bound on ``|x|`` that the caller guarantees (e.g. 4000 for logits of features
    clipped to a few standard deviations), makes the comparisons run on 32-bit words; larger inputs
    then give wrong results.

    One batched sign extraction gives ``lo = [x < -8]``, ``s = [x < 0]`` and ``hi = [x < 8]``. Then
    ``x (hi + lo - 2 s)`` is ``|x|`` inside [-8, 8] and 0 outside, so one multiplication by a secret
    integer yields ``u = min(|x|, 8)/4 - 1`` in [-1, 1], read with two extra fractional bits instead of
    being divided by 4. Powers of ``u`` keep those bits (every product is truncated by ``frac + 2``),
    ``g(u) ~ sigmoid(4 (u + 1)) - 1/2`` has degree 7, and ``sigmoid(x) = 1/2 + (1 - 2 s) g(u)``.
    """
    x = x.astype("fixed")
    m = x.m
    engine = m.engine
    frac = m.frac
    n = x.size
    flat = x.flatten()
    lo, s, hi, _, clipped = _clip(flat, bound)              # |x| inside [-8, 8], 0 outside
    outside = (1 - hi + lo) * np.int64(1 << (frac + 3))     # 2^(frac+3) = 8 at scale frac + 2, outside only
    u = engine.add_public(engine.local(np.add, clipped.raw, outside.raw),
                          np.uint64(0) - np.uint64(1 << (frac + 2)))
    shift = frac + 2
    u, p2, p3, p4, p5, p6, p7 = _raw_powers(m, u, n, 7, shift)
    coeffs = _fit("sigmoid", 7)
    enc = [encode(np.float64(c), frac, field="coefficient") for c in coeffs]
    acc = engine.local(lambda *rs: sum((e * r for e, r in zip(enc[1:], rs)), start=np.zeros_like(rs[0])),
                       u, p2, p3, p4, p5, p6, p7)
    acc = engine.add_public(acc, np.uint64(enc[0]) << np.uint64(shift))
    g = Shared(m, engine.trunc(m.sub("trunc"), acc, (n,), shift), (n,), "fixed")
    return (g - 2 * select(s, g) + 0.5).reshape(x.shape)


def softplus(x: Shared, bound: float | None = None) -> Shared:
    """``ln(1 + e^x)``, absolute error ``3e-4 + 2^(1-frac)`` everywhere (16 rounds in 2PC).

    ``bound`` as for :func:`sigmoid`.

    The logistic loss of a score ``z`` for label ``y`` is ``softplus((1 - 2y) z)``, and this form stays
    accurate under fixed point where ``-ln(sigmoid(z))`` does not (the log of a small approximated
    probability). ``softplus(x) = max(x, 0) + h(|x|)`` with ``h(a) = ln(1 + e^-a)`` in (0, ln 2]: the
    sign bits and the clipping of ``|x|`` to 8 are those of :func:`sigmoid`, ``max(x, 0)`` rides along
    in the same multiplication, and ``h`` is a degree-8 fit in ``u = min(|x|, 8)/4 - 1`` read with two
    extra fractional bits (powers in 3 multiplication levels).
    """
    x = x.astype("fixed")
    m = x.m
    engine = m.engine
    frac = m.frac
    n = x.size
    flat = x.flatten()
    lo, _, hi, s_x, clipped = _clip(flat, bound)            # |x| in [-8, 8]
    positive = flat - s_x                                   # max(x, 0)
    outside = (1 - hi + lo) * np.int64(1 << (frac + 3))     # 2^(frac+3) = 8 at scale frac + 2, outside only
    u = engine.add_public(engine.local(np.add, clipped.raw, outside.raw),
                          np.uint64(0) - np.uint64(1 << (frac + 2)))
    shift = frac + 2
    pw = _raw_powers(m, u, n, 8, shift)
    enc = [encode(np.float64(c), frac, field="coefficient") for c in _fit("log1p_exp", 8)]
    acc = engine.local(lambda *rs: sum((e * r for e, r in zip(enc[1:], rs)), start=np.zeros_like(rs[0])), *pw)
    acc = engine.add_public(acc, np.uint64(enc[0]) << np.uint64(shift))
    h = Shared(m, engine.trunc(m.sub("trunc"), acc, (n,), shift), (n,), "fixed")
    return (positive + h).reshape(x.shape)


def _raw_powers(m: Machine, u: object, n: int, degree: int, shift: int) -> list[object]:
    """Raw shares of ``u, u^2, ..., u^degree`` for a flat ``u`` read at scale ``shift``.

    ``ceil(log2 degree)`` levels, each one batched fixed-point multiplication truncated by ``shift``
    in which the highest power so far multiplies all the lower ones (``mul_fan``: in the dealer-free
    engine one OT per bit of that power serves every product).
    """
    pw: dict[int, object] = {1: u}
    while len(pw) < degree:
        top = max(pw)
        if top == 1:   # a square needs one cross product instead of two
            pw[2] = m.engine.trunc(m.sub("trunc"), m.engine.square(m.sub("mul"), u, (n,)), (n,), shift)
            continue
        todo = list(range(top + 1, min(2 * top, degree) + 1))
        size = (len(todo) * n,)
        prod = m.engine.trunc(m.sub("trunc"), m.engine.mul_fan(m.sub("mul"), pw[top], _raw_concat(
            m, [pw[k - top] for k in todo]), n, len(todo)), size, shift)
        pw.update(zip(todo, _raw_split_sizes(m, prod, [n] * len(todo))))
    return [pw[k] for k in range(1, degree + 1)]


def exp(x: Shared) -> Shared:
    """``e^x`` for ``|x| < 10.74``: relative error ``1.5e-4 + 6 2^-frac`` plus one unit (15 rounds in 2PC).

    ``y = x log2(e) + 15.5`` lies in [0, 31). Probabilistic truncation gives ``k`` equal to ``floor(y)``
    or one more, so ``r = y - k`` lies in (-1, 1) and ``2^(r - 1/2)`` is fitted there (degree 4, relative
    error 1.6e-4); the product tree of ``2^k`` shares multiplication rounds with the powers of ``r``.
    ``2^k = prod_i (1 + b_i (2^(2^i) - 1))`` from the 5 bits of ``k`` (extracted on 8-bit words), and
    ``e^x = 2^(r - 1/2) 2^k / 2^15``.
    """
    x = x.astype("fixed")
    frac = x.m.frac
    y = (x * math.log2(math.e) + 15.5).flatten()
    k = y.trunc(frac)._new_kind("int")
    r = y - k
    b = bit_slices(k, range(5))
    f = [b[i] * (2 ** (2**i) - 1) + 1 for i in range(5)]
    p01, p23, r2 = mixed_products([(f[0], f[1]), (f[2], f[3]), (r, r)])
    p, r3, r4 = mixed_products([(p01, p23), (r2, r), (r2, r2)])
    p = p * f[4]
    q = polyval(r, _fit("exp2", 4), [r, r2, r3, r4])
    return (q * p).trunc(15).reshape(x.shape)


def _onehot(a: Shared, exponents: Sequence[int], base_log2: int) -> Shared:
    """Indicators (shape ``(len(exponents), a.size)``) of ``2^(b e_i) <= a < 2^(b e_(i+1))`` for ``b = base_log2``.

    One batched sign extraction of ``len(exponents) * a.size`` elements; the last interval is open above.
    """
    n = a.size
    below = sign_bits(concatenate([(a - 2.0 ** (base_log2 * e)).flatten() for e in exponents]))
    ge = 1 - below.reshape((len(exponents), n))
    return concatenate([ge[:-1] - ge[1:], ge[-1:]])


def _weights(onehot: Shared, values: Sequence[int]) -> Shared:
    """``sum_i onehot_i * values_i`` per element, a secret integer (local)."""
    return np.asarray(values, dtype=np.int64) @ onehot


def reciprocal(x: Shared) -> Shared:
    """``1 / x`` for ``2^-12 <= |x| < 2^hi`` (:func:`exponent_range`): 3 Newton steps from a linear start.

    With ``2^j <= |x| < 2^(j+1)`` found by comparisons, ``m = |x| 2^-j`` in [1, 2), ``y0 = 1.4571 - m/2``
    (relative error below 0.09) and ``y <- y (2 - m y)`` three times (error below 1e-8).
    """
    x = x.astype("fixed")
    sign = 1 - 2 * sign_bits(x)
    a = x * sign
    lo, hi = exponent_range(x.m.frac)
    scale = _weights(_onehot(a, range(lo, hi), 1), [2 ** (hi - j) for j in range(lo, hi)]).reshape(x.shape)
    m = (a * scale).trunc(hi)
    y = 1.4571 - 0.5 * m
    for _ in range(3):
        y = y * (2.0 - m * y)
    return (y * scale).trunc(hi) * sign


def log(x: Shared) -> Shared:
    """Natural logarithm for ``2^-12 <= x < 2^hi``: ``j ln 2 + ln m`` with ``m = x 2^-j`` in [1, 2).

    ``ln 2`` carries 12 bits more than the session, so ``j ln 2`` (``|j| <= 31``) is rounded once.
    """
    x = x.astype("fixed")
    frac = x.m.frac
    lo, hi = exponent_range(frac)
    onehot = _onehot(x, range(lo, hi), 1)
    scale = _weights(onehot, [2 ** (hi - j) for j in range(lo, hi)]).reshape(x.shape)
    m = (x * scale).trunc(hi)
    j = _weights(onehot, list(range(lo, hi))).reshape(x.shape)
    j_ln2 = (j * np.int64(round(math.log(2.0) * 2.0 ** (frac + 12))))._new_kind("fixed").trunc(12)
    return polyval(2 * m - 3.0, _fit("ln", 6)) + j_ln2


def sqrt(x: Shared) -> Shared:
    """Square root for ``0 <= x < 2^hi``: ``2^j sqrt(m)`` with ``m = x 4^-j`` in [1, 4); ``sqrt(0) = 0``.

    The powers of four start at or below ``2^-frac``, so every positive encodable value is normalised.
    """
    x = x.astype("fixed")
    frac = x.m.frac
    lo, hi = -max(1, (frac + 1) // 2), exponent_range(frac)[1] // 2
    onehot = _onehot(x, range(lo, hi), 2)
    m = (x * _weights(onehot, [4 ** (hi - j) for j in range(lo, hi)]).reshape(x.shape)).trunc(2 * hi)
    root = polyval(m * (2.0 / 3.0) - 5.0 / 3.0, _fit("sqrt", 7))
    return (root * _weights(onehot, [2 ** (j - lo) for j in range(lo, hi)]).reshape(x.shape)).trunc(-lo)


def divide(a: Shared, b: Shared) -> Shared:
    """``a / b`` as ``a * reciprocal(b)`` (same domain as :func:`reciprocal` for ``b``)."""
    return a * reciprocal(b)
