"""Metrics against hand-computed values and brute-force definitions."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from accord.errors import InputError
from accord.ml import metrics


def brute_auc(y, s):
    pos, neg = s[y == 1], s[y == 0]
    wins = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return wins / (len(pos) * len(neg))


@given(st.lists(st.tuples(st.integers(0, 1), st.integers(0, 5)), min_size=2, max_size=60))
def test_auc_equals_the_pairwise_definition(pairs):
    y = np.array([p[0] for p in pairs])
    s = np.array([p[1] for p in pairs], dtype=float)
    if y.min() == y.max():
        return
    assert metrics.roc_auc(y, s) == pytest.approx(brute_auc(y, s))


def test_ks_gini_precision_recall_and_calibration():
    y = np.array([0, 0, 1, 1, 0, 1])
    s = np.array([0.1, 0.3, 0.35, 0.8, 0.4, 0.9])
    assert metrics.ks_statistic(y, s) == pytest.approx(2 / 3)
    assert metrics.gini(y, s) == pytest.approx(2 * brute_auc(y, s) - 1)
    assert metrics.precision_recall(y, s, 0.5) == (1.0, pytest.approx(2 / 3))
    table = metrics.calibration_table(y, s, n_bins=3)
    assert table["count"].tolist() == [2, 2, 2] and table["observed_rate"].tolist() == [0.0, 0.5, 1.0]


@pytest.mark.parametrize("y, s, message", [
    ([0, 1], [0.1], "same length"), ([0, 2], [0.1, 0.2], "0 or 1"), ([1, 1], [0.1, 0.2], "single class"),
    ([0, 1], [0.1, np.nan], "NaN"),
])
def test_bad_input(y, s, message):
    with pytest.raises(InputError, match=message):
        metrics.roc_auc(np.array(y), np.array(s))


def test_plot_is_written(tmp_path):
    pytest.importorskip("matplotlib")
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    out = metrics.plot_roc_ks(y, y * 0.5 + rng.random(200), tmp_path / "roc.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
