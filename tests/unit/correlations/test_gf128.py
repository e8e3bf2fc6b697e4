"""GF(2^128) arithmetic against a carry-less multiplication written here from the definition."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from accord.correlations import gf128

ELEMENT = st.integers(min_value=0, max_value=(1 << 128) - 1)
MODULUS = (1 << 128) | 0x87  # X^128 + X^7 + X^2 + X + 1


def clmul_mod(a: int, b: int) -> int:
    """Schoolbook polynomial product over GF(2), then long division by the modulus."""
    product = 0
    for i in range(b.bit_length()):
        if (b >> i) & 1:
            product ^= a << i
    for shift in range(product.bit_length() - 129, -1, -1):
        if (product >> (128 + shift)) & 1:
            product ^= MODULUS << shift
    return product


def test_known_reduction():
    # X^127 * X = X^128 = X^7 + X^2 + X + 1.
    assert gf128.int_mul(1 << 127, 2) == 0x87 == clmul_mod(1 << 127, 2)


@settings(max_examples=50, deadline=None)
@given(ELEMENT, st.lists(ELEMENT, min_size=1, max_size=20))
def test_multiplier_matches_polynomial_product(delta, xs):
    arr = np.stack([gf128.from_int(x) for x in xs])
    got = gf128.Multiplier(delta).mul(arr)
    assert [gf128.to_int(g) for g in got] == [clmul_mod(delta, x) for x in xs]
    assert gf128.int_mul(delta, xs[0]) == clmul_mod(delta, xs[0])


@settings(max_examples=30, deadline=None)
@given(st.lists(ELEMENT, min_size=1, max_size=128))
def test_combine_powers_is_sum_of_shifted_rows(rows):
    arr = np.stack([gf128.from_int(r) for r in rows])[None]
    expected = 0
    for i, r in enumerate(rows):
        expected ^= clmul_mod(r, 1 << i)
    assert gf128.to_int(gf128.combine_powers(arr)[0]) == expected


@given(ELEMENT)
def test_rows_round_trip(x):
    rows = gf128.to_rows(gf128.from_int(x)[None])
    assert int.from_bytes(rows[0].tobytes(), "little") == x
    assert gf128.to_int(gf128.from_rows(rows)[0]) == x
