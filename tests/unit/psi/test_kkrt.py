"""KKRT's pure steps: cuckoo hashing places every key (re-hashing on failure), the OPRF agrees, matching is exact."""

from __future__ import annotations

import numpy as np
import pytest

from accord.crypto.random import Rng
from accord.errors import UnsupportedError
from accord.psi.kkrt import cuckoo, oprf


def _check_table(table: cuckoo.CuckooTable, fps: np.ndarray) -> None:
    candidates = cuckoo.candidate_bins(fps, table.seed, table.bins)
    assert len(table.slot) == len(fps)
    assert len(np.unique(table.slot)) == len(fps), "two keys share a bin"
    assert np.all((table.slot >= 0) & (table.slot < table.bins))
    assert np.array_equal(candidates[np.arange(len(fps)), table.function], table.slot)


@pytest.mark.parametrize("n", [1, 2, 7, 100, 513, 20_000])
def test_every_key_is_placed_in_one_of_its_bins(n):
    fps = Rng(seed=b"keys%d" % n).uint8((n, 16))
    table = cuckoo.build(fps, Rng(seed=b"seed"))
    assert table.bins == cuckoo.bin_count(n)
    _check_table(table, fps)


def test_bin_count_follows_the_fitted_failure_bound():
    # lambda = 240 e - log2(n) - 256 for n >= 512; per-size lines below.
    assert cuckoo.bin_count(512) == int(np.ceil(512 * (40 + 256 + 9) / 240))
    assert 1.30 < cuckoo.bin_count(100_000) / 100_000 < 1.31
    assert 1.31 < cuckoo.bin_count(1_000_000) / 1_000_000 < 1.32
    assert cuckoo.bin_count(1) == 7 and cuckoo.bin_count(100) == 178


def test_placement_that_cannot_succeed_reports_failure():
    candidates = np.array([[0, 1, 2]] * 4)  # four keys, three bins between them
    assert cuckoo.place(candidates, bins=10, max_rounds=500) is None
    slot, function = cuckoo.place(candidates[:3], bins=10)
    assert sorted(slot.tolist()) == [0, 1, 2] and function.dtype == np.int8


def test_failed_seed_is_replaced_by_a_new_one():
    fps = Rng(seed=b"fit").uint8((20, 16))  # 20 keys in 20 bins: most seeds fail
    seeds = Rng(seed=b"rehash2")
    outcomes = [cuckoo.hash_with_seed(fps, seeds.bytes(16), 20) for _ in range(8)]
    first_fit = next(i for i, t in enumerate(outcomes) if t is not None)
    assert first_fit > 0, "the test needs a stream whose first seed fails"
    table = cuckoo.build(fps, Rng(seed=b"rehash2"), bins=20)
    assert table.seed == outcomes[first_fit].seed
    _check_table(table, fps)


def test_too_small_table_fails_loudly_instead_of_dropping_keys():
    fps = Rng(seed=b"fit").uint8((20, 16))
    with pytest.raises(ValueError, match="20 keys cannot fit in 19 bins"):
        cuckoo.build(fps, Rng(seed=b"x"), bins=19)
    with pytest.raises(ValueError, match="failed with 3 seeds"):
        cuckoo.build(Rng(seed=b"many").uint8((100, 16)), Rng(seed=b"x"), bins=100, attempts=3)


def test_oprf_values_agree_exactly_for_the_receivers_key():
    """With OT rows q = t ^ (C & s), the sender's value of the receiver's key equals the receiver's value."""
    rng = Rng(seed=b"oprf")
    keys = [b"alice", b"bob", b"carol", b"dave"]
    fps = oprf.fingerprints(keys, b"k" * 16)
    code = oprf.Code(b"code-seed")
    table = cuckoo.build(fps[:3], rng)  # the receiver holds alice, bob, carol
    rows = rng.uint8((table.bins, oprf.CODE_BYTES))
    dummies = rows.copy()
    oprf.receiver_rows(rows, fps[:3], table.slot, table.function, code)
    empty = np.setdiff1d(np.arange(table.bins), table.slot)
    assert np.array_equal(rows[empty], dummies[empty]) and not np.array_equal(rows[table.slot], dummies[table.slot])
    t = rng.uint8((table.bins, oprf.CODE_BYTES))
    s = rng.uint8(oprf.CODE_BYTES)
    q = t ^ (rows & s)
    mine = oprf.receiver_values(t, table.slot, table.slot, 16)
    # The sender holds dave, carol, alice; it evaluates its pairs in two OT batches of bins.
    sender_fps = fps[[3, 2, 0]]
    candidates = cuckoo.candidate_bins(sender_fps, table.seed, table.bins)

    def evaluate(secret):
        values = np.zeros((9, 16), np.uint8)
        split = table.bins // 2
        for first, last in ((0, split), (split, table.bins)):
            pairs = np.flatnonzero((candidates.reshape(-1) >= first) & (candidates.reshape(-1) < last))
            oprf.sender_values(values, pairs, candidates, sender_fps, q[first:last], first, secret, code)
        return values.reshape(3, 3, 16)

    theirs = evaluate(s)
    assert np.array_equal(theirs[1, table.function[2]], mine[2])  # carol
    assert np.array_equal(theirs[2, table.function[0]], mine[0])  # alice
    mine_idx, theirs_idx = oprf.match(mine, table.function, theirs)
    assert mine_idx.tolist() == [2, 0] and theirs_idx.tolist() == [1, 2]
    # A wrong secret s breaks agreement: the values really depend on the OT correlation.
    assert len(oprf.match(mine, table.function, evaluate(s ^ np.uint8(1)))[0]) == 0


def test_matching_is_exact_on_all_bytes_and_respects_the_hash_function():
    theirs = np.zeros((3, 3, 12), np.uint8)
    theirs[0, 1, :] = 5
    theirs[1, 1, :8] = 5  # same first 64 bits as theirs[0, 1], different tail
    theirs[2, 0, :] = 7
    mine = np.stack([np.full(12, 5, np.uint8), np.full(12, 7, np.uint8), np.full(12, 7, np.uint8)])
    function = np.array([1, 1, 0], np.int8)
    mine_idx, theirs_idx = oprf.match(mine, function, theirs)
    # Key 1 carries the right bytes under the wrong hash function: no match.
    assert mine_idx.tolist() == [0, 2] and theirs_idx.tolist() == [0, 2]


def test_value_length_covers_the_false_positive_bound():
    assert oprf.value_bytes(1, 1) == 5
    assert oprf.value_bytes(100_000, 100_000) == 10  # 40 + 2 * 16.6 = 73.2 bits
    assert oprf.value_bytes(2**40, 2**40) == 15
    assert oprf.value_bytes(2**44, 2**44) == 16
    with pytest.raises(UnsupportedError, match="longer than the 128 bits"):
        oprf.value_bytes(2**45, 2**44)


def test_fingerprints_are_injective_in_length_and_content():
    keys = [b"", b"\x00", b"\x00\x00", b"a", b"a\x00", b"x" * 8, b"x" * 9, b"y" * 100, b"y" * 100 + b"\x00"]
    fps = oprf.fingerprints(keys, b"k" * 16)
    assert fps.shape == (len(keys), 16)
    assert len({bytes(f) for f in fps}) == len(keys)
    # Same keys, same session key: same fingerprints, whatever the order and grouping; another key differs.
    again = oprf.fingerprints(keys[::-1], b"k" * 16)[::-1]
    assert np.array_equal(fps, again)
    assert not np.array_equal(fps, oprf.fingerprints(keys, b"j" * 16))
    assert oprf.fingerprints([], b"k" * 16).shape == (0, 16)
