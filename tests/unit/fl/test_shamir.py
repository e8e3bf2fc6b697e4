"""Shamir sharing over GF(2^31 - 1), checked against a plain-integer Lagrange interpolation written here."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accord.crypto.random import Rng
from accord.fl.secagg import shamir

P = 2**31 - 1


def interpolate_at_zero(points: list[tuple[int, int]]) -> int:
    """Textbook Lagrange interpolation with Python integers (Shamir 1979), independent of the module."""
    total = 0
    for i, (xi, yi) in enumerate(points):
        num, den = 1, 1
        for j, (xj, _) in enumerate(points):
            if i != j:
                num *= -xj
                den *= xi - xj
        total += yi * num * pow(den, -1, P)
    return total % P


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 8), st.integers(0, 6), st.binary(min_size=32, max_size=32), st.randoms(use_true_random=False))
def test_any_t_shares_rebuild_the_secret(t, extra, secret, pick):
    n = t + extra
    xs = np.arange(1, n + 1) * 7 + 3
    limbs = shamir.to_limbs(secret)
    shares = shamir.split(Rng(b"shamir"), limbs[None, :], xs, t)[0]
    chosen = pick.sample(range(n), t)
    oracle = [interpolate_at_zero([(int(xs[i]), int(shares[i, k])) for i in chosen]) for k in range(len(limbs))]
    assert oracle == limbs.tolist()
    rebuilt = shamir.combine(xs[chosen], shares[chosen], t)
    assert shamir.from_limbs(rebuilt, 32) == secret


def test_fewer_than_t_shares_are_refused_and_do_not_determine_the_secret():
    xs = np.array([1, 2, 3])
    a = shamir.split(Rng(b"a"), shamir.to_limbs(b"\x00" * 16)[None, :], xs, 3)[0]
    with pytest.raises(ValueError, match="cannot reconstruct"):
        shamir.combine(xs[:2], a[:2], 3)
    # Two shares of a degree-2 polynomial fit every secret: interpolating them with a forged third point
    # at x=3 gives any constant term we like.
    for forged in (0, 12345):
        pts = [(1, int(a[0, 0])), (2, int(a[1, 0]))]
        target = forged
        # Solve for the y at x=3 that makes f(0) = target: f(0) is linear in y3 with coefficient l3(0) = 1.
        l3 = (1 * 2) * pow((1 - 3) * (2 - 3), -1, P) % P
        base = interpolate_at_zero([*pts, (3, 0)])
        y3 = (target - base) * pow(l3, -1, P) % P
        assert interpolate_at_zero([*pts, (3, y3)]) == target


def test_field_elements_are_in_range_and_spread():
    draws = shamir.field_elements(Rng(b"f"), 20000)
    assert draws.min() >= 0 and draws.max() < P
    assert abs(draws.mean() / P - 0.5) < 0.01
