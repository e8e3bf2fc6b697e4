"""Hypothesis: Paillier and Okamoto-Uchiyama round trips (ints, negatives, floats, packed vectors) and identities."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accord.crypto.random import Rng
from accord.he import OU, FixedPoint, Paillier, SlotPacking

# OU's plaintexts have about a third of the modulus' bits: 1536 bits leave room for products of 200-bit values.
ENGINES = [engine.generate(bits, allow_insecure_key_size=True, rng=Rng(seed=b"he-properties"),
                           encoding=FixedPoint(frac_bits=32, int_bits=200)) for engine, bits in ((Paillier, 1024),
                                                                                                  (OU, 1536))]
each_scheme = pytest.mark.parametrize("he", ENGINES, ids=["paillier", "ou"])
FAST = settings(max_examples=40, deadline=None)

ints = st.integers(min_value=-(2**199) + 1, max_value=2**199 - 1)
small_ints = st.integers(min_value=-(2**62) + 1, max_value=2**62 - 1)  # dot weights: |w| < 2**62
reals = st.floats(min_value=-1e12, max_value=1e12, allow_nan=False, allow_infinity=False)


@each_scheme
@FAST
@given(st.lists(ints, min_size=1, max_size=8))
def test_integer_round_trip_is_exact(he, values):
    assert he.decrypt(he.encrypt(np.array(values, dtype=object))).tolist() == values


@each_scheme
@FAST
@given(st.lists(reals, min_size=1, max_size=8))
def test_real_round_trip_within_the_declared_precision(he, values):
    got = he.decrypt(he.encrypt(np.array(values)))
    np.testing.assert_allclose(got, values, rtol=1e-15, atol=2.0**-33)


@each_scheme
@FAST
@given(st.lists(st.tuples(small_ints, small_ints, small_ints), min_size=1, max_size=6), small_ints)
def test_homomorphic_identities(he, triples, k):
    a, b, c = (np.array(col, dtype=np.int64) for col in zip(*triples))
    ea, eb = he.encrypt(a), he.encrypt(b)
    exact = [int(v) for v in a]
    assert he.decrypt(ea + eb).tolist() == [x + int(y) for x, y in zip(exact, b)]
    assert he.decrypt(ea - eb).tolist() == [x - int(y) for x, y in zip(exact, b)]
    assert he.decrypt(ea + c).tolist() == [x + int(y) for x, y in zip(exact, c)]
    assert he.decrypt(ea * k).tolist() == [x * k for x in exact]
    assert he.decrypt(-ea).tolist() == [-x for x in exact]
    assert he.decrypt(ea.sum()).item() == sum(exact)
    assert he.decrypt(ea @ c).item() == sum(x * int(y) for x, y in zip(exact, c))
    assert he.decrypt(ea.rerandomize()).tolist() == exact


@each_scheme
@FAST
@given(st.integers(1, 40), st.integers(1, 4), st.integers(0, 24), st.data())
def test_packed_vectors_round_trip_and_sum(he, rows, slots, frac_bits, data):
    layout = SlotPacking.for_sums(slots=slots, max_abs=100.0, max_terms=rows, frac_bits=frac_bits)
    values = np.array(data.draw(st.lists(st.lists(st.floats(-100, 100), min_size=slots, max_size=slots),
                                         min_size=rows, max_size=rows)))
    quantum = 2.0**-frac_bits
    packed = he.encrypt_packed(values, layout)
    np.testing.assert_allclose(he.decrypt(packed), values, atol=quantum / 2 + 1e-12)
    groups = np.array(data.draw(st.lists(st.integers(0, 2), min_size=rows, max_size=rows)))
    expected = np.stack([np.bincount(groups, weights=values[:, s], minlength=3) for s in range(slots)], axis=1)
    sums = packed.bucket_sum(groups, 3)
    np.testing.assert_allclose(he.decrypt(sums), expected, atol=rows * quantum / 2 + 1e-9)
    np.testing.assert_allclose(he.decrypt(sums.compress()), expected, atol=rows * quantum / 2 + 1e-9)
    np.testing.assert_allclose(he.decrypt(packed.sum()), values.sum(axis=0), atol=rows * quantum / 2 + 1e-9)
