"""PSI value matching against a plain Python set lookup: exact on all bytes, one pair per value, sender order."""

from __future__ import annotations

import numpy as np

from accord.psi._matching import equal_rows, one_to_one
from accord.psi.ecdh import _match


def test_ecdh_matches_equal_a_dictionary_lookup_in_sender_order():
    rng = np.random.default_rng(3)
    mine = rng.integers(0, 256, (500, 16), dtype=np.uint8)
    theirs = np.concatenate([mine[rng.permutation(500)[:200]], rng.integers(0, 256, (300, 16), dtype=np.uint8)])
    theirs = theirs[rng.permutation(500)]
    where = {bytes(row): j for j, row in enumerate(theirs)}
    expected = sorted((where[bytes(row)], i) for i, row in enumerate(mine) if bytes(row) in where)
    mine_idx, theirs_idx = _match(mine, theirs)
    assert list(zip(theirs_idx.tolist(), mine_idx.tolist())) == expected


def test_a_shared_first_word_is_not_a_match_and_repeats_keep_one_pair():
    mine = np.zeros((3, 16), np.uint8)
    mine[1, 15] = 1
    mine[2, :] = 9
    theirs = np.zeros((4, 16), np.uint8)
    theirs[0, 15] = 2  # first 64 bits equal mine[0] and mine[1]: compared on the second word too
    theirs[1, 15] = 1
    theirs[2, :] = 9
    theirs[3, :] = 9  # a repeated value (a misbehaving peer): one pair is kept
    assert [p.tolist() for p in equal_rows(mine, theirs)] == [[1, 2, 2], [1, 2, 3]]
    assert [p.tolist() for p in one_to_one(*equal_rows(mine, theirs))] == [[1, 2], [1, 2]]
