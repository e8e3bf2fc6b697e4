"""Accuracy of the nonlinear functions, products and comparisons at each precision, for every engine.

Bounds are twice the errors docs/mpc.md documents (``tests.accuracy.documented``); the oracle is numpy
on the encoded input. Domains follow what ``share()`` accepts: its largest accepted value is accurate
wherever a domain reaches it, and the next value is refused with an error naming the party.
"""

from __future__ import annotations

import numpy as np
import pytest

from accord.errors import InputError
from accord.math.fixed import decode, encode
from tests.accuracy import FUNCTIONS, documented, errors, largest_accepted, share_limit, ulp
from tests.mpc_sessions import ENGINES, mpc_session

# Every engine at the default and the high precision; the dealer engine across the supported range.
CASES = [(engine, frac) for engine in ENGINES for frac in (18, 26)] + [("dealer", f) for f in (8, 12, 16, 22, 28)]
POINTS = {"ot": 101}   # dealer-free correlations cost ~10 ms per element of a comparison-heavy function


@pytest.fixture(scope="module", params=CASES, ids=[f"{e}-{f}" for e, f in CASES])
def session(request):
    engine, frac = request.param
    with mpc_session(engine, frac=frac) as (cluster, spu):
        yield engine, frac, cluster, spu


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_error_within_twice_the_documented_bound(session, name):
    engine, frac, cluster, spu = session
    err, size = errors(spu, cluster.party("a"), name, frac, POINTS.get(engine, 2001))
    rel, absolute = documented(name, frac)
    excess = err - 2 * (rel * size + absolute)
    worst = int(np.argmax(excess))
    assert excess[worst] <= 0, (f"{name} at {frac} bits: error {err[worst]:.3g} where |f| = {size[worst]:.3g}, "
                                f"documented {rel:.3g} |f| + {absolute:.3g}")


def _quantised(values, frac):
    return decode(encode(values, frac), frac)


def test_products_within_one_unit(session):
    _, frac, cluster, spu = session
    gen = np.random.default_rng(frac)
    # |x y| stays in range, and below 2^(52 - frac), where revealed float64 values are exact.
    side = np.sqrt(min(share_limit(frac), 2.0 ** (52 - frac)))
    xs = _quantised(np.concatenate([gen.uniform(-side, side, 200), [0.0, ulp(frac), -ulp(frac)]]), frac)
    ys = _quantised(np.concatenate([gen.uniform(-side, side, 200), [side / 2, 1.0, -1.0]]), frac)
    a, b = cluster.parties("a", "b")
    x, y = spu.share(a.put(xs)), spu.share(b.put(ys))
    prod, halves = (spu.reveal(v, to="a").get() for v in spu.run(lambda p, q: (p * q, p.trunc(1)), x, y))
    # Exact integer arithmetic: a float64 product of the inputs is not exact at 8 fractional bits.
    units = [int(v) for v in np.rint(np.ldexp(xs, frac))], [int(v) for v in np.rint(np.ldexp(ys, frac))]
    got = [int(v) for v in np.rint(np.ldexp(prod, frac))]
    assert all(abs(g * 2**frac - p * q) < 2**frac for g, p, q in zip(got, *units))
    assert np.max(np.abs(halves - xs / 2)) <= ulp(frac)


def test_comparisons_exact_across_the_whole_range(session):
    _, frac, cluster, spu = session
    top, u = largest_accepted(frac), ulp(frac)
    xs = _quantised(np.array([top, -top, top, 0.0, u, -u, 0.0, 1.0, -3.5, top]), frac)
    ys = _quantised(np.array([-top, top, top, u, 0.0, 0.0, -u, 1.0 + u, -3.5, top - 1.0]), frac)
    a, b = cluster.parties("a", "b")
    x, y = spu.share(a.put(xs)), spu.share(b.put(ys))
    for op in ("__lt__", "__le__", "__gt__", "__ge__", "__eq__", "__ne__"):
        assert np.array_equal(spu.reveal(getattr(x, op)(y), to="a").get(), getattr(xs, op)(ys)), op


def test_division_of_secrets(session):
    engine, frac, cluster, spu = session
    if engine == "ot":
        pytest.skip("division is a reciprocal and a product, both covered for this engine above")
    # Divisors in the reciprocal's domain; |a| and |a / b| within a quarter of the range, so products fit.
    limit = share_limit(frac) / 4
    top = min(100.0, limit)
    bs = np.geomspace(max(0.01, top / limit), min(1000.0, limit), 300)
    bs = _quantised(np.concatenate([bs, -bs[::6]]), frac)
    as_ = _quantised(np.random.default_rng(3).uniform(-top, top, bs.size), frac)
    a, b = cluster.parties("a", "b")
    got = spu.reveal(spu.share(a.put(as_)) / spu.share(b.put(bs)), to="a").get()
    # a * reciprocal(b): the reciprocal's relative error, its absolute error times |a|, one rounding.
    rel, absolute = documented("reciprocal", frac)
    want = as_ / bs
    assert np.all(np.abs(got - want) <= 2 * (rel * np.abs(want) + absolute * (np.abs(as_) + 1)))


@pytest.mark.parametrize("frac", [8, 18, 26, 28])
def test_share_refuses_the_first_value_outside_the_range(frac):
    with mpc_session("dealer", frac=frac) as (cluster, spu):
        a = cluster.party("a")
        inside = spu.share(a.put(np.array([largest_accepted(frac), -largest_accepted(frac)])))
        assert spu.reveal(inside, to="a").get().tolist() == [largest_accepted(frac), -largest_accepted(frac)]
        for outside in (share_limit(frac), -share_limit(frac)):
            with pytest.raises(InputError, match=r"party 'a'.*outside the fixed-point range") as info:
                spu.share(a.put(np.array([1.0, outside])))
            assert info.value.party == "a" and info.value.field == "input"


def test_bounded_sign_and_sigmoid_agree_with_the_full_ones(session):
    """With a public bound on |x| the comparisons run on 32-bit words: same bits, same sigmoid within the bound."""
    _, frac, cluster, spu = session
    from accord.mpc.approximations import sigmoid, softplus
    from accord.mpc.tensor import sign_bits

    bound = min(4000.0, share_limit(frac) / 4)
    magnitude = int(np.ceil(np.log2(bound * 2.0**frac))) + 1
    if magnitude > 31:
        pytest.skip("the bound does not fit 32-bit words at this precision")
    u = ulp(frac)
    xs = _quantised(np.concatenate([np.linspace(-bound, bound, 41), [0.0, u, -u, 8.0, -8.0, 8.0 + u, -8.0 - u]]),
                    frac)
    x = spu.share(cluster.party("a").put(xs))
    bits, sig, soft = (spu.reveal(v, to="a").get() for v in spu.run(
        lambda v: (sign_bits(v, magnitude), sigmoid(v, bound), softplus(v, bound)), x))
    assert np.array_equal(bits, xs < 0)
    assert np.max(np.abs(sig - 0.5 * (1 + np.tanh(xs / 2)))) <= 2 * (5e-4 + 2.0 ** (1 - frac))
    assert np.max(np.abs(soft - np.logaddexp(0, xs))) <= 2 * (3e-4 + 2.0 ** (1 - frac))
