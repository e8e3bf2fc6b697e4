"""Fixed-base tables: digits recombine to the exponent and powers match pow()."""

from __future__ import annotations

import secrets

import pytest

from accord.he._fixed_base import WINDOW_BITS, FixedBaseTable, exponent_digits


def test_digits_recombine_to_the_exponent():
    exps = [secrets.token_bytes(28) for _ in range(5)] + [bytes(28), b"\xff" * 28]
    windows = -(-224 // WINDOW_BITS)
    for e, digits in zip(exps, exponent_digits(exps, windows)):
        assert sum(d << (WINDOW_BITS * i) for i, d in enumerate(digits)) == int.from_bytes(e, "little")
        assert all(0 <= d < 1 << WINDOW_BITS for d in digits)


def test_exponents_longer_than_the_table_are_refused():
    with pytest.raises(ValueError, match="more than 24 bits"):
        exponent_digits([b"\x00\x00\x00\x01"], windows=2)


def test_powers_match_pow():
    modulus = 2**127 - 1
    table = FixedBaseTable(5, modulus, exponent_bits=40)
    exps = [secrets.token_bytes(5) for _ in range(20)] + [bytes(5)]
    assert table.powers(exps) == [pow(5, int.from_bytes(e, "little"), modulus) for e in exps]
