"""Binning, chi-merge and WOE/IV against direct computations."""

from __future__ import annotations

import numpy as np
import pytest

from accord.errors import InputError
from accord.ml import binning


def test_quantile_edges_make_equal_frequency_bins():
    x = np.arange(100.0)
    edges = binning.quantile_edges(x, 4)
    counts = np.bincount(binning.assign_bins(x, edges))
    assert counts.tolist() == [25, 25, 25, 25]


def test_ties_stay_together():
    x = np.array([1.0] * 80 + [2.0] * 10 + [3.0] * 10)
    bins = binning.assign_bins(x, binning.quantile_edges(x, 5))
    for value in (1.0, 2.0, 3.0):
        assert len(set(bins[x == value])) == 1


def test_woe_iv_matches_the_formula():
    events, non_events = np.array([10, 30, 60]), np.array([90, 70, 40])
    table = binning.woe_iv("x", events, non_events)
    de, dn = events / 100, non_events / 200
    np.testing.assert_allclose(table.woe, np.log(dn / de))
    assert table.iv == pytest.approx(np.sum((dn - de) * np.log(dn / de)))
    assert not table.smoothed
    assert binning.woe_iv("x", np.array([0, 5]), np.array([5, 5])).smoothed


def test_chi_merge_merges_similar_neighbours_first():
    events = np.array([10, 11, 50, 52, 90])
    non_events = np.array([90, 89, 50, 48, 10])
    starts = binning.chi_merge(events, non_events, max_bins=3)
    assert starts.tolist() == [2, 4]


@pytest.mark.parametrize("values, message", [(np.array([1.0, 1.0]), "constant"), (np.array([1.0, np.nan]), "NaN"),
                                             (np.array(["a", "b"]), "not numeric")])
def test_bad_columns(values, message):
    with pytest.raises(InputError, match=message):
        binning.quantile_edges(values, 3, party="partner", column="AGE")
