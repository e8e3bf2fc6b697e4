"""Binning and weight of evidence, as pure local functions.

Each party bins its own columns locally (equal-frequency edges need no one else's data). What needs
the label is the count of events (label 1) and non-events per bin; for the label holder's own columns
that is local, for a partner's columns the counts come from the secure protocol in
:mod:`accord.ml.woe`. Given those counts, chi-merge, WOE and IV are the functions below.

Conventions (as in optbinning and most scorecard texts): the event is label 1 (default);
``WOE_b = ln((non_events_b / N) / (events_b / P))``; ``IV = sum_b (non_events_b / N - events_b / P) * WOE_b``.
A bin with no events or no non-events would give an infinite WOE; both of its counts get +0.5
(a Laplace-style correction), and the report says so.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from accord.errors import InputError


def quantile_edges(values: np.ndarray, n_bins: int, *, party: str | None = None, column: str = "") -> np.ndarray:
    """Inner edges splitting ``values`` into at most ``n_bins`` equal-frequency bins.

    Returns the sorted distinct cut points ``e`` with bin ``k`` holding ``e[k-1] < x <= e[k]``; ties
    keep equal values together, so heavily repeated values give fewer bins.
    """
    x = _numeric(values, party=party, column=column)
    if n_bins < 2:
        raise ValueError(f"n_bins must be at least 2, got {n_bins}")
    qs = np.quantile(x, np.linspace(0, 1, n_bins + 1)[1:-1], method="lower")
    edges = np.unique(qs)
    return edges[edges < x.max()]


def assign_bins(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Bin index of each value (``0 .. len(edges)``) for inner ``edges`` from :func:`quantile_edges`."""
    return np.searchsorted(np.asarray(edges, dtype=np.float64), np.asarray(values, dtype=np.float64), side="left")


def _numeric(values: np.ndarray, *, party: str | None, column: str) -> np.ndarray:
    try:
        x = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(f"column {column!r} is not numeric; encode categories as numbers first",
                         party=party, field=column) from None
    if x.size == 0:
        raise InputError(f"column {column!r} is empty", party=party, field=column)
    if not np.isfinite(x).all():
        raise InputError(f"column {column!r} holds NaN or infinite values; fill them before binning",
                         party=party, field=column)
    if x.min() == x.max():
        raise InputError(f"column {column!r} is constant ({x[0]:g}); it carries no information, drop it",
                         party=party, field=column)
    return x


def chi_merge(events: np.ndarray, non_events: np.ndarray, max_bins: int, threshold: float = 3.841) -> np.ndarray:
    """Merge adjacent bins by the chi-square test (Kerber 1992) on their event counts.

    Repeatedly merges the adjacent pair with the smallest chi-square statistic while there are more
    than ``max_bins`` bins or that statistic is below ``threshold`` (3.841: 95% with one degree of
    freedom). Returns the index of the first fine bin of every merged bin after the first, i.e. the
    fine-bin boundaries to keep.
    """
    groups = [[int(e), int(n)] for e, n in zip(events, non_events, strict=True)]
    starts = list(range(len(groups)))
    while len(groups) > 1:
        stats = [_chi2(groups[i], groups[i + 1]) for i in range(len(groups) - 1)]
        i = int(np.argmin(stats))
        if len(groups) <= max_bins and stats[i] >= threshold:
            break
        groups[i] = [groups[i][0] + groups[i + 1][0], groups[i][1] + groups[i + 1][1]]
        del groups[i + 1], starts[i + 1]
    return np.asarray(starts[1:], dtype=np.int64)


def _chi2(a: list[int], b: list[int]) -> float:
    table = np.array([a, b], dtype=np.float64)
    total = table.sum()
    expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0, keepdims=True) / max(total, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(expected > 0, (table - expected) ** 2 / expected, 0.0)
    return float(terms.sum())


@dataclass(frozen=True)
class WOETable:
    """Per-bin counts, WOE and the column's information value."""

    column: str
    events: np.ndarray
    non_events: np.ndarray
    woe: np.ndarray
    iv: float
    smoothed: bool

    def to_frame(self) -> pd.DataFrame:
        """One row per bin."""
        return pd.DataFrame({"bin": np.arange(len(self.woe)), "events": self.events,
                             "non_events": self.non_events, "woe": self.woe})


def woe_iv(column: str, events: np.ndarray, non_events: np.ndarray) -> WOETable:
    """WOE per bin and IV from event / non-event counts per bin."""
    e = np.asarray(events, dtype=np.float64)
    n = np.asarray(non_events, dtype=np.float64)
    if e.sum() == 0 or n.sum() == 0:
        raise InputError("the label has a single class: WOE needs events and non-events", field=column)
    smoothed = bool(((e == 0) | (n == 0)).any())
    if smoothed:
        zero = (e == 0) | (n == 0)
        e = np.where(zero, e + 0.5, e)
        n = np.where(zero, n + 0.5, n)
    dist_e, dist_n = e / e.sum(), n / n.sum()
    woe = np.log(dist_n / dist_e)
    iv = float(np.sum((dist_n - dist_e) * woe))
    return WOETable(column, np.asarray(events, dtype=np.int64), np.asarray(non_events, dtype=np.int64), woe, iv,
                    smoothed)


def bin_counts(bins: np.ndarray, labels: np.ndarray, n_bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Plaintext event and non-event counts per bin (the reference the secure protocol must match)."""
    events = np.bincount(bins, weights=labels, minlength=n_bins).astype(np.int64)
    totals = np.bincount(bins, minlength=n_bins).astype(np.int64)
    return events, totals - events


def describe(table: pd.DataFrame) -> pd.DataFrame:
    """Per-column summaries a party computes on its own data: count, missing, distinct, and for numeric
    columns mean, deviation and quantiles, for text (categorical) columns the most frequent levels."""
    rows = []
    for column in table.columns:
        raw = table[column]
        values = pd.to_numeric(raw, errors="coerce")
        row: dict[str, object] = {"column": str(column), "rows": len(raw), "missing": int(raw.isna().sum()),
                                  "distinct": int(raw.nunique())}
        if (values.notna() | raw.isna()).all() and not isinstance(raw.dtype, pd.CategoricalDtype):
            row.update({"mean": values.mean(), "std": values.std(), "min": values.min(), "p25": values.quantile(0.25),
                        "median": values.median(), "p75": values.quantile(0.75), "max": values.max()})
        else:
            top = raw.value_counts().head(5)
            row["top_levels"] = "; ".join(f"{level} ({count})" for level, count in top.items())
        rows.append(row)
    return pd.DataFrame(rows)
