"""The split search of histogram boosting: numeric and categorical features, with missing values.

Written to grow the trees XGBoost's ``hist`` booster grows from the same bins (its
``HistEvaluator``), so the same hyper-parameters mean the same thing:

- gain ``G_L²/(H_L+λ) + G_R²/(H_R+λ) - G²/(H+λ)`` (XGBoost's ``loss_chg``, which drops the paper's
  factor 1/2, Chen & Guestrin 2016 eq. 7); a child needs hessian ``>= min_child_weight``; a node
  splits if its best gain exceeds 1e-6 and is at least ``gamma`` (``min_split_loss``);
- numeric features: present bins ``<= b`` go left. Missing values are a separate bucket: a forward
  scan sends them right; when the node has missing values a backward scan also tries them on the
  left, and the better direction is the split's default (XGBoost's sparsity-aware split finding);
- categorical features with fewer than ``max_cat_to_onehot`` levels: one level against the rest,
  missing values tried on either side; otherwise levels are sorted by their weight ``-G/(H+λ)`` and
  the best cut of that order is taken (Fisher 1958, as in LightGBM and XGBoost), scanning at most
  ``max_cat_threshold`` levels from each end. The chosen levels go right.

Ties go to the lower feature, then the first candidate in XGBoost's scan order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_MIN_GAIN = 1e-6  # XGBoost's kRtEps: smaller gains are rounding noise


@dataclass(frozen=True)
class SplitRules:
    """Regularisation of the split search (XGBoost's names and defaults)."""

    reg_lambda: float = 1.0
    min_child_weight: float = 1.0
    gamma: float = 0.0
    max_cat_to_onehot: int = 4
    max_cat_threshold: int = 64


@dataclass(frozen=True)
class Split:
    """A split of one feature: numeric (bins ``<= bin`` left) or categorical (``right_levels`` go right)."""

    gain: float
    feature: int
    bin: int = -1
    default_left: bool = False
    right_levels: tuple[int, ...] = ()

    def goes_left(self, bins: np.ndarray, missing_bin: int) -> np.ndarray:
        """Which rows go left, for the rows' bins of this feature (``missing_bin`` marks missing values)."""
        left = ~np.isin(bins, self.right_levels) if self.right_levels else bins <= self.bin
        left[bins == missing_bin] = self.default_left
        return left


def best_split(hist_g: np.ndarray, hist_h: np.ndarray, rules: SplitRules, *, missing_g: np.ndarray | None = None,
               missing_h: np.ndarray | None = None, categorical: np.ndarray | None = None,
               n_bins: np.ndarray | None = None) -> Split | None:
    """The best split over ``features x bins`` histograms of present values, or ``None``.

    ``missing_g`` / ``missing_h`` are each feature's sums over rows with a missing value (default
    none); ``categorical`` marks categorical features and ``n_bins`` gives each feature's bins in
    use (default: all columns of the histogram).
    """
    features, width = hist_g.shape
    if not features or not width:
        return None
    mg = np.zeros(features) if missing_g is None else np.asarray(missing_g, dtype=np.float64)
    mh = np.zeros(features) if missing_h is None else np.asarray(missing_h, dtype=np.float64)
    cat = np.zeros(features, dtype=bool) if categorical is None else np.asarray(categorical, dtype=bool)
    counts = np.full(features, width) if n_bins is None else np.asarray(n_bins)
    best: Split | None = None
    for candidate in [*_numeric(hist_g, hist_h, mg, mh, rules, ~cat),
                      *(_categorical(hist_g[f, : counts[f]], hist_h[f, : counts[f]], mg[f], mh[f], rules, f)
                        for f in np.flatnonzero(cat).tolist())]:
        if candidate is not None and (best is None or candidate.gain > best.gain
                                      or (candidate.gain == best.gain and candidate.feature < best.feature)):
            best = candidate
    if best is None or not (best.gain > _MIN_GAIN and best.gain >= rules.gamma):
        return None
    return best


def _gain(gl: np.ndarray, hl: np.ndarray, g: np.ndarray, h: np.ndarray, rules: SplitRules) -> np.ndarray:
    """Gain of every candidate with left sums ``gl, hl`` in a node with sums ``g, h``; invalid ones -inf."""
    lam = rules.reg_lambda
    gr, hr = g - gl, h - hl
    with np.errstate(divide="ignore", invalid="ignore"):
        gain = gl**2 / (hl + lam) + gr**2 / (hr + lam) - g**2 / (h + lam)
    valid = (hl >= rules.min_child_weight) & (hr >= rules.min_child_weight) & (hl > 0) & (hr > 0)
    return np.where(valid & np.isfinite(gain), gain, -np.inf)


def _numeric(hg: np.ndarray, hh: np.ndarray, mg: np.ndarray, mh: np.ndarray, rules: SplitRules,
             use: np.ndarray) -> list[Split | None]:
    """Each numeric feature's best threshold and default direction (forward, then backward scans)."""
    rows = np.flatnonzero(use)
    if not len(rows):
        return []
    hg, hh, mg, mh = hg[rows], hh[rows], mg[rows, None], mh[rows, None]
    g, h = hg.sum(axis=1, keepdims=True) + mg, hh.sum(axis=1, keepdims=True) + mh
    cg, ch = np.cumsum(hg, axis=1), np.cumsum(hh, axis=1)
    forward = _gain(cg, ch, g, h, rules)  # left: bins <= b, missing right
    zero = np.zeros((len(rows), 1))
    backward = _gain(mg + np.hstack([zero, cg[:, :-1]]), mh + np.hstack([zero, ch[:, :-1]]), g, h, rules)
    backward[mh[:, 0] == 0] = -np.inf  # left: missing and bins <= b - 1; only when the node has missing rows
    out: list[Split | None] = []
    for i, feature in enumerate(rows.tolist()):
        f_bin = int(np.argmax(forward[i]))
        b_pos = backward.shape[1] - 1 - int(np.argmax(backward[i, ::-1]))  # the backward scan meets high bins first
        if backward[i, b_pos] > forward[i, f_bin]:
            out.append(Split(float(backward[i, b_pos]), feature, b_pos - 1, True))
        elif np.isfinite(forward[i, f_bin]):
            out.append(Split(float(forward[i, f_bin]), feature, f_bin, False))
    return out


def _categorical(hg: np.ndarray, hh: np.ndarray, mg: float, mh: float, rules: SplitRules,
                 feature: int) -> Split | None:
    """One feature's best one-vs-rest or sorted-partition split of its levels."""
    k = len(hg)
    g, h = hg.sum() + mg, hh.sum() + mh
    if k < rules.max_cat_to_onehot:
        # Candidates in scan order: level c right with missing left, then level c and missing right.
        right_g = np.stack([hg, hg + mg], axis=1).ravel()
        right_h = np.stack([hh, hh + mh], axis=1).ravel()
        gain = _gain(g - right_g, h - right_h, g, h, rules)
        pos = int(np.argmax(gain))
        if not np.isfinite(gain[pos]):
            return None
        return Split(float(gain[pos]), feature, -1, pos % 2 == 0, (pos // 2,))
    with np.errstate(divide="ignore", invalid="ignore"):
        weight = np.where((hh >= rules.min_child_weight) & (hh > 0), -hg / (hh + rules.reg_lambda), 0.0)
    order = np.argsort(weight, kind="stable")
    n = min(rules.max_cat_threshold, k)
    cg, ch = np.cumsum(hg[order]), np.cumsum(hh[order])
    # Forward: the first j + 1 sorted levels go right, missing left. Backward (from the top): the first
    # i sorted levels and missing go right, for i = k - 1 down to k - n + 1.
    forward = _gain(g - cg[: n - 1], h - ch[: n - 1], g, h, rules)
    sizes = np.arange(k - 1, k - n, -1)
    backward = _gain(g - cg[sizes - 1] - mg, h - ch[sizes - 1] - mh, g, h, rules) if len(sizes) else np.zeros(0)
    f_pos = int(np.argmax(forward)) if len(forward) else -1
    b_pos = int(np.argmax(backward)) if len(backward) else -1
    f_gain = forward[f_pos] if f_pos >= 0 else -np.inf
    b_gain = backward[b_pos] if b_pos >= 0 else -np.inf
    if not np.isfinite(max(f_gain, b_gain)):
        return None
    if b_gain > f_gain:
        return Split(float(b_gain), feature, -1, False, tuple(sorted(order[: sizes[b_pos]].tolist())))
    return Split(float(f_gain), feature, -1, True, tuple(sorted(order[: f_pos + 1].tolist())))
