"""Merging small WOE bins: every bin reaches the minimum, and no adjacent merge keeps more bins (brute force)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from accord.ml.woe import WOEParams, merge_small_bins


def most_bins(sizes: list[int], min_rows: int) -> int:
    """The largest number of adjacent groups all holding ``min_rows``, by trying every set of cut points."""
    best = 1
    for r in range(1, len(sizes)):
        for cuts in itertools.combinations(range(1, len(sizes)), r):
            bounds = [0, *cuts, len(sizes)]
            if all(sum(sizes[a:b]) >= min_rows for a, b in itertools.pairwise(bounds)):
                best = max(best, r + 1)
    return best


@pytest.mark.parametrize("seed", range(40))
def test_every_bin_reaches_the_minimum_and_as_many_bins_as_possible_remain(seed):
    gen = np.random.default_rng(seed)
    sizes = gen.integers(1, 60, gen.integers(1, 9)).tolist()
    starts = merge_small_bins(np.array(sizes), 30)
    groups = [sum(sizes[a:b]) for a, b in itertools.pairwise([0, *starts.tolist(), len(sizes)])]
    assert sum(groups) == sum(sizes)
    assert len(groups) == 1 or min(groups) >= 30
    assert len(groups) == most_bins(sizes, 30)
    # Bins that already hold the minimum are never merged into one another.
    big = [k for k, s in enumerate(sizes) if s >= 30]
    for a, b in itertools.pairwise(big):
        if b == a + 1:
            assert b in starts.tolist()


def test_the_minimum_is_a_count_and_a_share():
    assert WOEParams().min_rows(100) == 30
    assert WOEParams().min_rows(10_000) == 500
    assert WOEParams(min_bin_rows=1, min_bin_share=0.0).min_rows(10) == 1
    with pytest.raises(ValueError, match="min_bin_rows"):
        WOEParams(min_bin_rows=0)
