"""Hypothesis: Paillier round trips (ints, negatives, floats, packed vectors) and homomorphic identities."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from accord.crypto.random import Rng
from accord.he import FixedPoint, Paillier, SlotPacking

HE = Paillier.generate(1024, allow_insecure_key_size=True, rng=Rng(seed=b"he-properties"),
                       encoding=FixedPoint(frac_bits=32, int_bits=200))
FAST = settings(max_examples=40, deadline=None)

ints = st.integers(min_value=-(2**199) + 1, max_value=2**199 - 1)
small_ints = st.integers(min_value=-(2**62) + 1, max_value=2**62 - 1)  # dot weights: |w| < 2**62
reals = st.floats(min_value=-1e12, max_value=1e12, allow_nan=False, allow_infinity=False)


@FAST
@given(st.lists(ints, min_size=1, max_size=8))
def test_integer_round_trip_is_exact(values):
    assert HE.decrypt(HE.encrypt(np.array(values, dtype=object))).tolist() == values


@FAST
@given(st.lists(reals, min_size=1, max_size=8))
def test_real_round_trip_within_the_declared_precision(values):
    got = HE.decrypt(HE.encrypt(np.array(values)))
    np.testing.assert_allclose(got, values, rtol=1e-15, atol=2.0**-33)


@FAST
@given(st.lists(st.tuples(small_ints, small_ints, small_ints), min_size=1, max_size=6), small_ints)
def test_homomorphic_identities(triples, k):
    a, b, c = (np.array(col, dtype=np.int64) for col in zip(*triples))
    ea, eb = HE.encrypt(a), HE.encrypt(b)
    exact = [int(v) for v in a]
    assert HE.decrypt(ea + eb).tolist() == [x + int(y) for x, y in zip(exact, b)]
    assert HE.decrypt(ea - eb).tolist() == [x - int(y) for x, y in zip(exact, b)]
    assert HE.decrypt(ea + c).tolist() == [x + int(y) for x, y in zip(exact, c)]
    assert HE.decrypt(ea * k).tolist() == [x * k for x in exact]
    assert HE.decrypt(-ea).tolist() == [-x for x in exact]
    assert HE.decrypt(ea.sum()).item() == sum(exact)
    assert HE.decrypt(ea @ c).item() == sum(x * int(y) for x, y in zip(exact, c))
    assert HE.decrypt(ea.rerandomize()).tolist() == exact


@FAST
@given(st.integers(1, 40), st.integers(1, 4), st.integers(0, 24), st.data())
def test_packed_vectors_round_trip_and_sum(rows, slots, frac_bits, data):
    layout = SlotPacking.for_sums(slots=slots, max_abs=100.0, max_terms=rows, frac_bits=frac_bits)
    values = np.array(data.draw(st.lists(st.lists(st.floats(-100, 100), min_size=slots, max_size=slots),
                                         min_size=rows, max_size=rows)))
    quantum = 2.0**-frac_bits
    packed = HE.encrypt_packed(values, layout)
    np.testing.assert_allclose(HE.decrypt(packed), values, atol=quantum / 2 + 1e-12)
    groups = np.array(data.draw(st.lists(st.integers(0, 2), min_size=rows, max_size=rows)))
    expected = np.stack([np.bincount(groups, weights=values[:, s], minlength=3) for s in range(slots)], axis=1)
    sums = packed.bucket_sum(groups, 3)
    np.testing.assert_allclose(HE.decrypt(sums), expected, atol=rows * quantum / 2 + 1e-9)
    np.testing.assert_allclose(HE.decrypt(sums.compress()), expected, atol=rows * quantum / 2 + 1e-9)
    np.testing.assert_allclose(HE.decrypt(packed.sum()), values.sum(axis=0), atol=rows * quantum / 2 + 1e-9)
