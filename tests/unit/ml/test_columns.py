"""Column binning for SecureBoost: distinct values, ties, heavy values, categorical levels, missing values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from accord.errors import InputError
from accord.ml.columns import MISSING, OTHER, fit_column, is_categorical, numeric_edges


def test_few_distinct_values_get_one_bin_each():
    x = np.array([3.0, 1.0, 2.0, 2.0, 5.0, 1.0])
    assert numeric_edges(x, 4).tolist() == [1.0, 2.0, 3.0]  # bins (-inf, 1], (1, 2], (2, 3], (3, inf)


def test_equal_frequency_when_values_are_distinct():
    x = np.arange(100.0)
    counts = np.bincount(np.searchsorted(numeric_edges(x, 4), x, side="left"))
    assert counts.tolist() == [25, 25, 25, 25]


def test_mostly_zero_column_keeps_its_bins_for_the_other_values():
    gen = np.random.default_rng(1)
    x = np.where(gen.random(20_000) < 0.85, 0.0, gen.lognormal(size=20_000))
    edges = numeric_edges(x, 32)
    counts = np.bincount(np.searchsorted(edges, x, side="left"))
    assert len(counts) == 32 and counts[0] == np.sum(x == 0)  # zero alone; 31 bins for the 15% of other values
    assert counts[1:].max() <= 1.5 * counts[1:].min()
    # Plain equal-frequency quantiles would spend 27 of the 31 cut points on the zeros.
    assert len(np.unique(np.quantile(x, np.linspace(0, 1, 33)[1:-1], method="lower"))) <= 6


def test_ties_stay_together_and_bins_stay_within_max_bin():
    gen = np.random.default_rng(2)
    x = np.concatenate([gen.integers(0, 1000, 5000).astype(float), np.full(3000, 7.0), np.full(2000, 500.0)])
    edges = numeric_edges(x, 16)
    bins = np.searchsorted(edges, x, side="left")
    assert len(edges) + 1 <= 16
    for value in np.unique(x):
        assert len(np.unique(bins[x == value])) == 1
    assert np.sum(bins == bins[x == 7.0][0]) == 3000 + np.sum(x[:5000] == 7.0)  # the heavy value is alone


def test_categorical_levels_rare_group_unseen_and_missing():
    values = pd.Series(["b", "a", "b", "c", None, "a", "b", "d", None], name="city")
    spec = fit_column(values, 256, categorical=True, min_rows=2)
    assert spec.levels == ("a", "b", OTHER) and spec.rows.tolist() == [2, 3, 2] and spec.missing == 2
    assert spec.assign(pd.Series(["a", "c", "zzz", None, "b"])).tolist() == [0, 2, 2, MISSING, 1]
    table = spec.describe()
    assert table["values"].tolist() == ["a", "b", OTHER, "missing"] and table["rows"].tolist() == [2, 3, 2, 2]
    plain = fit_column(values, 256, categorical=True)
    assert plain.levels == ("a", "b", "c", "d")
    assert plain.assign(pd.Series(["zzz"])).tolist() == [MISSING]  # no group: an unseen level counts as missing


def test_small_bins_merge_and_few_missing_values_join_the_largest_bin():
    x = pd.Series([1.0] * 5 + [2.0] * 2 + [3.0] * 6 + [4.0] + [None] * 2, name="x")
    spec = fit_column(x, 256, categorical=False, min_rows=3)
    assert spec.rows.tolist() == [5, 9] and spec.edges.tolist() == [1.0]  # 2 joins 3; 4 (alone) joins them
    assert not spec.missing_bucket and spec.missing_to == 1  # 2 missing rows < 3: they join the largest bin
    assert spec.assign(pd.Series([None, 0.0])).tolist() == [1, 0]
    assert spec.describe()["values"].tolist()[-1] == "missing (in bin 1)"
    levels = pd.Series(["a"] * 5 + ["b"] * 4 + ["c"], name="c")
    assert fit_column(levels, 256, categorical=True, min_rows=3).levels == ("a", OTHER)  # b joins the 1-row group


def test_too_many_levels_group_the_smallest():
    values = pd.Series([f"L{i}" for i in range(10) for _ in range(10 - i)], name="c")
    spec = fit_column(values, 4, categorical=True)
    assert spec.levels == ("L0", "L1", "L2", OTHER) and spec.rows.tolist() == [10, 9, 8, 28]


def test_numeric_missing_values_and_summary():
    spec = fit_column(pd.Series([1.0, None, 2.0, 2.0, 3.0], name="x"), 256, categorical=False)
    assert spec.assign(pd.Series([1.0, np.nan, 2.5, 9.0])).tolist() == [0, MISSING, 2, 2]
    assert spec.describe()["values"].tolist() == ["(-inf, 1]", "(1, 2]", "(2, inf]", "missing"]


def test_columns_without_information():
    assert fit_column(pd.Series([4.0, 4.0, 4.0], name="x"), 256, categorical=False) is None
    assert fit_column(pd.Series(["a", "a"], name="x"), 256, categorical=True) is None
    assert fit_column(pd.Series([np.nan, np.nan], name="x"), 256, categorical=False) is None
    kept = fit_column(pd.Series([4.0, None, 4.0], name="x"), 256, categorical=False)  # present vs missing
    assert kept is not None and kept.n_bins == 1 and kept.missing == 1


def test_categorical_inference():
    assert is_categorical(pd.Series(["a", "b", None]))
    assert is_categorical(pd.Series([True, False]))
    assert is_categorical(pd.Series([1, 2], dtype="category"))
    assert not is_categorical(pd.Series(["1", "2.5", None]))  # numbers read as text (CSV) stay numeric
    assert not is_categorical(pd.Series([1, 2, 3]))
    assert is_categorical(pd.Series([1, 2, 3, 2]), integer_levels=3)
    assert not is_categorical(pd.Series([1.5, 2.0]), integer_levels=3)


def test_infinite_and_mixed_columns_are_refused():
    with pytest.raises(InputError, match="infinite"):
        fit_column(pd.Series([1.0, np.inf], name="x"), 256, categorical=False, party="partner")
    with pytest.raises(InputError, match="holds text"):
        fit_column(pd.Series(["1", "x"], name="x", dtype=object), 256, categorical=False, party="partner")
