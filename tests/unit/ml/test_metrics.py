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


def test_evaluate_says_when_nothing_crosses_the_threshold():
    y = np.array([0, 0, 1, 0, 1, 0, 0, 0])
    low = np.array([0.01, 0.02, 0.3, 0.05, 0.2, 0.1, 0.04, 0.03])  # a 25 % positive rate, all scores below 0.5
    quiet = metrics.evaluate(y, low, 0.5)
    assert quiet["predicted_positive"] == 0 and quiet["precision"] == 0.0
    assert "nothing was predicted positive" in quiet["note"]
    flagged = metrics.evaluate(y, low, 0.2)
    assert flagged["predicted_positive"] == 2 and "note" not in flagged


def test_plot_legend_uses_the_job_files_class_names(tmp_path, monkeypatch):
    import matplotlib.axes

    labels = []
    original = matplotlib.axes.Axes.plot

    def spy(self, *args, **kwargs):
        labels.append(kwargs.get("label"))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(matplotlib.axes.Axes, "plot", spy)
    metrics.plot_roc_ks(np.array([0, 1, 0, 1]), np.array([0.1, 0.9, 0.4, 0.6]), tmp_path / "p.png",
                ("bad payers", "good payers"))
    assert "bad payers (cumulative)" in labels and "good payers (cumulative)" in labels
    assert not any("defaulters" in (label or "") for label in labels)
