"""Slot packing: layout arithmetic, round trips, sums, compression and overflow detection."""

from __future__ import annotations

import numpy as np
import pytest

from accord.errors import CryptoError, InputError
from accord.he.packing import SlotPacking


def test_layout_from_bounds():
    layout = SlotPacking.for_sums(slots=2, max_abs=1.0, max_terms=100_000, frac_bits=32)
    assert layout.value_bits == 33 and layout.sum_bits == 50 and layout.slot_bits == 52
    assert layout.vectors_per_plaintext(2048) == 19
    with pytest.raises(ValueError, match="does not fit"):
        SlotPacking(slots=40, value_bits=60, max_terms=1 << 20).vectors_per_plaintext(2048)


def test_pack_unpack_round_trip_with_negatives():
    layout = SlotPacking(slots=3, value_bits=10, max_terms=4)
    rows = np.array([[5, -7, 1023], [-1023, 0, -1]])
    packed = layout.pack(rows)
    assert layout.unpack(packed, 3) == rows.ravel().tolist()
    total = layout.unpack([sum(packed)], 3)
    assert total == rows.sum(axis=0).tolist()


def test_pack_refuses_values_outside_the_declared_range():
    layout = SlotPacking.for_sums(slots=2, max_abs=1.0, max_terms=8, frac_bits=8)
    with pytest.raises(InputError, match="declared range"):
        layout.pack(np.array([[0.5, 2.5]]), party="bank")
    with pytest.raises(InputError, match="last axis of 2 slots"):
        layout.pack(np.array([[0.5, 0.5, 0.5]]), party="bank")


def test_unpack_detects_slot_overflow():
    layout = SlotPacking(slots=2, value_bits=8, max_terms=2)  # slot sums must stay below 2**9
    w = layout.slot_bits
    for bad in (600, -600, 1200):
        with pytest.raises(CryptoError, match="overflow"):
            layout.unpack([bad + (3 << w)], 2)


def test_layout_wire_round_trip_and_rejects_junk():
    layout = SlotPacking(slots=2, value_bits=8, max_terms=2, frac_bits=3)
    assert SlotPacking.from_wire(layout.to_wire()) == layout
    for junk in ({"slots": 2}, {**layout.to_wire(), "slots": 0}, {**layout.to_wire(), "value_bits": 1 << 20}, [1]):
        with pytest.raises((ValueError, TypeError)):
            SlotPacking.from_wire(junk)


def test_encrypted_packed_bucket_sums_and_compression(he):
    rng = np.random.default_rng(1)
    gh = np.stack([rng.uniform(-1, 1, 300), rng.uniform(0, 0.25, 300)], axis=1)
    groups = rng.integers(0, 7, 300)
    layout = SlotPacking.for_sums(slots=2, max_abs=1.0, max_terms=300, frac_bits=24)
    packed = he.encrypt_packed(gh, layout)
    assert packed.fresh and packed.size == 300
    sums = packed.bucket_sum(groups, 7)
    expected = np.stack([np.bincount(groups, weights=gh[:, k], minlength=7) for k in range(2)], axis=1)
    assert sums.terms == 300  # public: the row count, never the largest bucket
    np.testing.assert_allclose(he.decrypt(sums), expected, atol=300 * 2.0**-24)
    compact = sums.compress()
    assert compact.size == 1 and compact.per_ciphertext == layout.vectors_per_plaintext(1024)
    np.testing.assert_allclose(he.decrypt(compact), expected, atol=300 * 2.0**-24)


def test_packed_sums_refuse_to_exceed_the_declared_terms(he):
    layout = SlotPacking.for_sums(slots=2, max_abs=1.0, max_terms=4, frac_bits=8)
    packed = he.encrypt_packed(np.ones((5, 2)) * 0.5, layout)
    with pytest.raises(InputError, match="at most 4"):
        packed.sum()
    assert he.decrypt(packed[:4].sum()).tolist() == [2.0, 2.0]
    with pytest.raises(InputError, match="at most 4"):
        packed.bucket_sum(np.zeros(5, dtype=int), 1)


def test_feature_grouped_packed_histograms(he):
    layout = SlotPacking.for_sums(slots=2, max_abs=4.0, max_terms=16, frac_bits=4)
    gh = np.array([[1.0, 0.5], [2.0, -0.5], [-3.0, 0.25], [0.5, 1.0]])
    bins = np.array([[0, 1], [1, 1], [0, 0], [2, 0]])  # 4 samples x 2 features
    out = he.decrypt(he.encrypt_packed(gh, layout).bucket_sum(bins, 3).compress())
    for f in range(2):
        for b in range(3):
            np.testing.assert_allclose(out[f, b], gh[bins[:, f] == b].sum(axis=0))
