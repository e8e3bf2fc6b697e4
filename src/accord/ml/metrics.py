"""Binary-classification metrics a credit-risk team reads: AUC, KS, Gini, precision/recall, calibration.

These run locally at the label holder on revealed scores; the secure part is how the scores were
computed. Plots need the optional ``plots`` extra (matplotlib).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from accord.errors import InputError, UnsupportedError


def _check(y_true: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y_true)
    s = np.asarray(score, dtype=np.float64)
    if y.shape != s.shape or y.ndim != 1:
        raise InputError(f"labels {y.shape} and scores {s.shape} must be 1-D arrays of the same length",
                         field="score")
    if not np.isin(y, (0, 1)).all():
        raise InputError("labels must be 0 or 1", field="label")
    if not np.isfinite(s).all():
        raise InputError("scores contain NaN or infinite values", field="score")
    if y.min() == y.max():
        raise InputError("labels hold a single class; AUC and KS need both", field="label")
    return y.astype(np.int8), s


def roc_curve(y_true: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """False and true positive rates at every distinct score threshold (descending), with (0, 0) first."""
    y, s = _check(y_true, score)
    order = np.argsort(-s, kind="mergesort")
    s, y = s[order], y[order]
    distinct = np.r_[np.nonzero(np.diff(s))[0], len(s) - 1]
    tps = np.cumsum(y)[distinct]
    fps = (distinct + 1) - tps
    tpr = np.r_[0.0, tps / tps[-1]]
    fpr = np.r_[0.0, fps / fps[-1]]
    return fpr, tpr, np.r_[np.inf, s[distinct]]


def roc_auc(y_true: np.ndarray, score: np.ndarray) -> float:
    """Area under the ROC curve (ties count one half)."""
    fpr, tpr, _ = roc_curve(y_true, score)
    return _area(fpr, tpr)


def _area(fpr: np.ndarray, tpr: np.ndarray) -> float:
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1])) / 2)


def ks_statistic(y_true: np.ndarray, score: np.ndarray) -> float:
    """Kolmogorov-Smirnov: the largest gap between the score distributions of the two classes."""
    fpr, tpr, _ = roc_curve(y_true, score)
    return float(np.max(tpr - fpr))


def log_loss(y_true: np.ndarray, score: np.ndarray) -> float:
    """Mean binary cross-entropy of probabilities ``score`` (clipped to [1e-12, 1 - 1e-12])."""
    y = np.asarray(y_true, dtype=np.float64)
    p = np.clip(np.asarray(score, dtype=np.float64), 1e-12, 1 - 1e-12)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def gini(y_true: np.ndarray, score: np.ndarray) -> float:
    """Gini coefficient, ``2 * AUC - 1``."""
    return 2.0 * roc_auc(y_true, score) - 1.0


def precision_recall(y_true: np.ndarray, score: np.ndarray, threshold: float = 0.5) -> tuple[float, float]:
    """Precision and recall of predicting 1 when ``score >= threshold``."""
    y, s = _check(y_true, score)
    predicted = s >= threshold
    tp = int(np.sum(predicted & (y == 1)))
    precision = tp / int(predicted.sum()) if predicted.any() else 0.0
    return precision, tp / int(y.sum())


def calibration_table(y_true: np.ndarray, score: np.ndarray, n_bins: int = 10) -> pd.DataFrame:
    """Rows grouped into equal-count score bins: count, mean predicted score, observed default rate."""
    y, s = _check(y_true, score)
    order = np.argsort(s, kind="mergesort")
    bins = np.array_split(order, n_bins)
    return pd.DataFrame({
        "bin": np.arange(1, len(bins) + 1),
        "count": [len(b) for b in bins],
        "mean_score": [float(s[b].mean()) if len(b) else np.nan for b in bins],
        "observed_rate": [float(y[b].mean()) if len(b) else np.nan for b in bins],
    })


def evaluate(y_true: np.ndarray, score: np.ndarray, threshold: float = 0.5) -> dict[str, Any]:
    """AUC, KS, Gini, precision and recall at ``threshold``, and how many rows were predicted positive.

    When no score reaches ``threshold``, precision is undefined: it is reported as 0 and ``note`` says so
    (at a 5 % positive rate a threshold of 0.5 often flags nobody).
    """
    precision, recall = precision_recall(y_true, score, threshold)
    auc = roc_auc(y_true, score)
    flagged = int(np.sum(np.asarray(score, dtype=np.float64) >= threshold))
    out: dict[str, Any] = {"auc": auc, "ks": ks_statistic(y_true, score), "gini": 2 * auc - 1,
                           "precision": precision, "recall": recall, "threshold": threshold,
                           "rows": len(np.asarray(y_true)), "predicted_positive": flagged}
    if not flagged:
        out["note"] = (f"no row scored {threshold:g} or more: nothing was predicted positive, so precision is "
                       "undefined (shown as 0); a lower evaluate.threshold flags the riskiest rows")
    return out


def plot_roc_ks(y_true: np.ndarray, score: np.ndarray, path: str | os.PathLike[str],
                names: tuple[str, str] = ("positives", "negatives")) -> Path:
    """Write a PNG with the ROC curve and the KS curves side by side.

    ``names`` label the classes in the legend (positive first), in the words of the job file's label.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise UnsupportedError("plots need matplotlib: pip install 'accord[plots]'") from None
    fpr, tpr, _ = roc_curve(y_true, score)
    fig, (roc_ax, ks_ax) = plt.subplots(1, 2, figsize=(10, 4.5))
    roc_ax.plot(fpr, tpr, label=f"AUC = {_area(fpr, tpr):.3f}")
    roc_ax.plot([0, 1], [0, 1], linestyle="--", color="grey")
    roc_ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC")
    roc_ax.legend(loc="lower right")
    positives = float(np.sum(np.asarray(y_true) == 1))
    share = (tpr * positives + fpr * (len(np.asarray(y_true)) - positives)) / len(np.asarray(y_true))
    gap = int(np.argmax(tpr - fpr))
    ks_ax.plot(share, tpr, label=f"{names[0]} (cumulative)")
    ks_ax.plot(share, fpr, label=f"{names[1]} (cumulative)")
    ks_ax.vlines(share[gap], fpr[gap], tpr[gap], colors="red", label=f"KS = {tpr[gap] - fpr[gap]:.3f}")
    ks_ax.set(xlabel="share of customers (riskiest first)", ylabel="cumulative share", title="KS")
    ks_ax.legend(loc="lower right")
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out
