"""Split search against gains worked out by hand from XGBoost's formulas (Chen & Guestrin 2016, eqs. 5-7).

Every expected number below is written out from the formulas, not computed with accord's helpers:
logistic loss, ``g = p - y``, ``h = p (1 - p)``, gain ``G_L²/(H_L+λ) + G_R²/(H_R+λ) - G²/(H+λ)`` (XGBoost's
``loss_chg``, without the paper's factor 1/2), leaf weight ``-G/(H+λ)``.
"""

from __future__ import annotations

import numpy as np
import pytest

from accord.ml.splits import SplitRules, best_split
from accord.ml.tree import gradients, histograms

# Eight rows, base margin 0 (p = 1/2): g = 1/2 - y = -1/2 for y = 1 and +1/2 for y = 0; h = 1/4 everywhere.
Y = np.array([1, 1, 1, 1, 0, 1, 0, 0], dtype=float)
BINS = np.array([[0, 0], [0, 1], [1, 0], [1, 1], [2, 0], [2, 1], [3, 0], [3, 1]])  # two features, 4 and 2 bins


def test_gradients_by_hand():
    # sigmoid(0) = 1/2; sigmoid(ln 3) = 3/4, so g = 3/4 - 1 = -1/4 and h = 3/4 * 1/4 = 3/16.
    g, h = gradients(np.array([1.0, 0.0, 1.0]), np.array([0.0, 0.0, np.log(3)]))
    np.testing.assert_allclose(g, [-0.5, 0.5, -0.25], rtol=1e-12)
    np.testing.assert_allclose(h, [0.25, 0.25, 0.1875], rtol=1e-12)


def test_histograms_by_hand():
    g, h = 0.5 - Y, np.full(8, 0.25)
    hg, hh = histograms(BINS, g, h, 4)
    # feature 0: bin 0 = rows 0, 1 (-1/2 - 1/2), bin 1 = rows 2, 3 (-1), bin 2 = rows 4, 5 (1/2 - 1/2), bin 3 = +1
    # feature 1: bin 0 = rows 0, 2, 4, 6 (-1/2 - 1/2 + 1/2 + 1/2 = 0), bin 1 = rows 1, 3, 5, 7 (-1/2 * 3 + 1/2 = -1)
    np.testing.assert_allclose(hg, [[-1, -1, 0, 1], [0, -1, 0, 0]])
    np.testing.assert_allclose(hh, [[0.5, 0.5, 0.5, 0.5], [1, 1, 0, 0]])


def test_gains_and_best_split_by_hand():
    hg = np.array([[-1, -1, 0, 1], [0, -1, 0, 0]], dtype=float)
    hh = np.array([[0.5, 0.5, 0.5, 0.5], [1, 1, 0, 0]])
    # G = -1, H = 2, lambda = 1: the parent's term is 1/3.
    # feature 0 after bin 0: 1/1.5 + 0/2.5 - 1/3 = 1/3; after bin 1: 4/2 + 1/2 - 1/3 = 13/6;
    #           after bin 2: 4/2.5 + 1/1.5 - 1/3 = 29/15.   feature 1 after bin 0: 0/2 + 1/2 - 1/3 = 1/6.
    split = best_split(hg, hh, SplitRules(reg_lambda=1.0, min_child_weight=0.0))
    assert (split.feature, split.bin) == (0, 1)
    assert split.gain == pytest.approx(13 / 6, rel=1e-12)
    # With lambda = 3: after bin 1, 4/4 + 1/4 - 1/5 = 21/20; after bin 2, 4/4.5 + 1/3.5 - 1/5 = 307/315 (smaller).
    split = best_split(hg, hh, SplitRules(reg_lambda=3.0, min_child_weight=0.0))
    assert (split.feature, split.bin, split.gain) == (0, 1, pytest.approx(21 / 20, rel=1e-12))


def test_min_child_weight_and_gamma_by_hand():
    hg = np.array([[-2.0, 0.5, 0.5]])
    hh = np.array([[0.5, 1.0, 1.0]])
    # G = -1, H = 2.5, lambda = 1: parent term 1/3.5 = 2/7.
    # after bin 0: 4/1.5 + 1/3 - 2/7 = 8/3 + 1/3 - 2/7 = 19/7; after bin 1: 2.25/2.5 + 0.25/2 - 2/7 = 0.9 + 0.125 - 2/7.
    assert best_split(hg, hh, SplitRules(1.0, min_child_weight=0.5)).bin == 0
    # The left child of bin 0 has hessian 0.5 < 1, so only bin 1 is allowed.
    split = best_split(hg, hh, SplitRules(1.0, min_child_weight=1.0))
    assert split.bin == 1 and split.gain == pytest.approx(0.9 + 0.125 - 2 / 7, rel=1e-12)
    # gamma is compared with the whole gain (XGBoost's min_split_loss): 19/7 = 2.714 splits at 2.7, not at 2.72.
    assert best_split(hg, hh, SplitRules(1.0, 0.5, gamma=2.7)) is not None
    assert best_split(hg, hh, SplitRules(1.0, 0.5, gamma=2.72)) is None
