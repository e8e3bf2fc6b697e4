"""A party's own columns as bins for SecureBoost: numeric edges, categorical levels and missing values.

Everything here runs locally at the column's owner: edges, levels and which rows are missing never
leave it. What the label holder later learns is the gradient sum per bin (and per missing bucket).

Numeric columns are cut into at most ``max_bin`` bins that respect distinct values: a column with at
most ``max_bin`` distinct values gets one bin per value (as XGBoost's ``hist`` does); otherwise values
holding at least ``rows / max_bin`` rows get a bin of their own and the remaining bins are shared
equal-frequency among the runs of lighter values between them. A mostly-zero column thus keeps
almost all of its bins for its non-zero values, where plain equal-frequency quantiles collapse to a
handful.

Categorical columns (strings, pandas categoricals and booleans; integer columns with at most
``integer_levels`` distinct values when asked) get one bin per level, in sorted order. Levels with
fewer than ``min_rows`` rows are grouped into one last bin, ``OTHER``, which also takes levels never
seen in training when a model scores new rows (without a group, unseen levels count as missing).
Missing values (NaN, None, empty) are not a bin: SecureBoost keeps their gradient sums in a separate
bucket and learns which way they go at each split.

Every bin, the ``OTHER`` group and the missing bucket hold at least ``min_rows`` rows: smaller
numeric bins merge into their neighbours, the smallest levels join the group, and fewer missing rows
than that join the largest bin. The label holder sees each bin's gradient sums and knows every row's
gradient, so a bin of one or two rows would let it match the sum to those rows and learn their values'
bin; at least ``min_rows`` rows per bin at the root makes that a subset-sum search (deeper nodes hold
fewer rows per bin, which is SecureBoost's inherent leakage, declared with the protocol).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from accord.errors import InputError

MISSING = -1
OTHER = "<other>"


def is_categorical(values: pd.Series, integer_levels: int = 0) -> bool:
    """Whether a column is categorical: strings, pandas categoricals, booleans, or few-level integers on request."""
    dtype = values.dtype
    if isinstance(dtype, pd.CategoricalDtype) or pd.api.types.is_bool_dtype(dtype):
        return True
    if pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype):
        present = values.dropna()
        return bool(pd.to_numeric(present, errors="coerce").isna().any()) if len(present) else False
    if integer_levels and pd.api.types.is_numeric_dtype(dtype):
        numbers = values.dropna().to_numpy(dtype=np.float64)
        return bool(np.all(numbers == np.round(numbers))) and len(np.unique(numbers)) <= integer_levels
    return False


def level_keys(values: pd.Series) -> np.ndarray:
    """Each value as a level name (``None`` for missing); integral numbers print without ``.0``."""
    def key(v: Any) -> str | None:
        if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA or v is pd.NaT:
            return None
        if isinstance(v, (float, np.floating)) and float(v).is_integer():
            return str(int(v))
        return str(v)
    return np.array([key(v) for v in values.astype(object)], dtype=object)


def numeric_edges(x: np.ndarray, max_bin: int, min_rows: int = 1) -> np.ndarray:
    """Inner edges (bin ``k`` holds ``e[k-1] < x <= e[k]``) of at most ``max_bin`` bins of finite values ``x``.

    Bins of fewer than ``min_rows`` values merge into their right neighbour (the last into its left).
    """
    values, counts = np.unique(x, return_counts=True)
    return _merge_small(values, counts, _edge_positions(values, counts, max_bin), min_rows)


def _merge_small(values: np.ndarray, counts: np.ndarray, cut: np.ndarray, min_rows: int) -> np.ndarray:
    """Edges ``values[cut]``, dropping those that would leave a bin with fewer than ``min_rows`` values."""
    cumulative = np.cumsum(counts)
    kept: list[int] = []
    start = 0
    for position in cut.tolist():
        if cumulative[position] - start >= min_rows:
            kept.append(position)
            start = cumulative[position]
    if kept and cumulative[-1] - cumulative[kept[-1]] < min_rows:
        kept.pop()
    return values[np.asarray(kept, dtype=np.int64)]


def _edge_positions(values: np.ndarray, counts: np.ndarray, max_bin: int) -> np.ndarray:
    """Indices into the distinct ``values`` at which bins end (the last value's end is implied)."""
    x_len = int(counts.sum())
    if len(values) <= max_bin:
        return np.arange(len(values) - 1)
    heavy = counts >= x_len / max_bin
    budget = max(1, max_bin - int(heavy.sum()))
    light_rows = int(counts[~heavy].sum())
    ends: list[np.ndarray] = [np.flatnonzero(heavy), np.flatnonzero(heavy) - 1]
    change = np.flatnonzero(np.diff(np.r_[0, (~heavy).astype(np.int8), 0]))
    for start, stop in zip(change[::2], change[1::2]):
        rows = counts[start:stop]
        k = max(1, int(budget * rows.sum() / light_rows))
        cumulative = np.cumsum(rows)
        targets = cumulative[-1] * np.arange(1, k) / k
        ends += [start + np.searchsorted(cumulative, targets, side="left"), np.array([stop - 1])]
    cut = np.unique(np.concatenate(ends))
    cut = cut[(cut >= 0) & (cut < len(values) - 1)]
    if len(cut) >= max_bin:  # many runs of light values, each given a bin: thin them evenly
        cut = cut[np.unique(np.linspace(0, len(cut) - 1, max_bin - 1).round().astype(int))]
    return cut


@dataclass(frozen=True)
class ColumnBins:
    """How one column maps to bins, and the rows per bin in the data it was fitted on."""

    column: str
    edges: np.ndarray | None  # numeric: inner edges; None for a categorical column
    levels: tuple[str, ...]  # categorical: level names in bin order (the last is OTHER when grouped)
    rows: np.ndarray
    missing: int
    missing_to: int = MISSING  # the bin that takes missing values when they are too few for a bucket

    @property
    def missing_bucket(self) -> bool:
        """Whether missing values have their own bucket (and so a learned direction)."""
        return self.missing > 0 and self.missing_to == MISSING

    @property
    def categorical(self) -> bool:
        """Whether the bins are levels rather than value ranges."""
        return self.edges is None

    @property
    def n_bins(self) -> int:
        """Bins of present values (the missing bucket is extra)."""
        return len(self.levels) if self.edges is None else len(self.edges) + 1

    def assign(self, values: pd.Series) -> np.ndarray:
        """Bin of each value, ``MISSING`` for missing ones (and, without an ``OTHER`` group, unseen levels)."""
        if self.edges is None:
            index = {level: i for i, level in enumerate(self.levels)}
            unseen = index.get(OTHER, MISSING)
            return np.array([self.missing_to if k is None else index.get(k, unseen) for k in level_keys(values)],
                            dtype=np.int64)
        x = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64)
        out = np.searchsorted(self.edges, x, side="left").astype(np.int64)
        out[np.isnan(x)] = self.missing_to
        return out

    def describe(self) -> pd.DataFrame:
        """One row per bin (and one for missing values): its values and how many rows it held."""
        if self.edges is None:
            labels = list(self.levels)
        else:
            bounds = np.r_[-np.inf, self.edges, np.inf]
            labels = [f"({lo:g}, {hi:g}]" for lo, hi in itertools.pairwise(bounds)]
        frame = pd.DataFrame({"column": self.column, "bin": np.arange(self.n_bins), "values": labels,
                              "rows": self.rows})
        if self.missing:
            where = "missing" if self.missing_bucket else f"missing (in bin {self.missing_to})"
            frame.loc[len(frame)] = [self.column, -1, where, self.missing]
        return frame

    def to_dict(self) -> dict[str, Any]:
        """Plain data for a model file."""
        return {"column": self.column, "edges": None if self.edges is None else self.edges.tolist(),
                "levels": list(self.levels), "rows": self.rows.tolist(), "missing": self.missing,
                "missing_to": self.missing_to}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ColumnBins:
        """Inverse of :meth:`to_dict`."""
        edges = None if data["edges"] is None else np.asarray(data["edges"], dtype=np.float64)
        return cls(str(data["column"]), edges, tuple(str(v) for v in data["levels"]),
                   np.asarray(data["rows"], dtype=np.int64), int(data["missing"]), int(data["missing_to"]))


def fit_column(values: pd.Series, max_bin: int, *, categorical: bool, min_rows: int = 1,
               party: str | None = None) -> ColumnBins | None:
    """Bins for one column, or ``None`` when it carries no information (one bin, no missing bucket)."""
    column = str(values.name)
    if categorical:
        keys = level_keys(values)
        present = keys[pd.notna(keys)]
        names, tally = np.unique(present.astype(str), return_counts=True)
        levels, counts = [str(v) for v in names], np.asarray(tally, dtype=np.int64)
        rare = counts < min_rows
        if len(levels) - rare.sum() > max_bin - int(rare.any()):  # too many levels: the smallest join the group
            rare[np.argsort(-counts, kind="stable")[max_bin - 1:]] = True
        for smallest in np.argsort(np.where(rare, np.iinfo(np.int64).max, counts), kind="stable"):
            if not rare.any() or counts[rare].sum() >= min_rows or rare[smallest]:
                break
            rare[smallest] = True  # the group itself is too small: its smallest neighbour level joins
        if rare.any():
            kept = [lv for lv, r in zip(levels, rare) if not r]
            levels, counts = [*kept, OTHER], np.r_[counts[~rare], counts[rare].sum()]
        result = ColumnBins(column, None, tuple(levels), counts, int(len(keys) - len(present)))
        missing = result.missing
    else:
        x = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64)
        text = values.dropna()
        if pd.api.types.is_object_dtype(values.dtype) and pd.to_numeric(text, errors="coerce").isna().any():
            raise InputError(f"column {column!r} is declared numeric but holds text", party=party, field=column)
        if np.isinf(x).any():
            raise InputError(f"column {column!r} holds infinite values", party=party, field=column)
        finite = x[~np.isnan(x)]
        edges = numeric_edges(finite, max_bin, min_rows) if len(finite) else np.zeros(0)
        rows = np.bincount(np.searchsorted(edges, finite, side="left"), minlength=len(edges) + 1)
        missing = int(np.isnan(x).sum())
        result = ColumnBins(column, edges, (), rows.astype(np.int64), missing)
    if not len(result.rows) or not result.rows.sum():
        return None
    if 0 < missing < min_rows:
        result = ColumnBins(column, result.edges, result.levels, result.rows, missing, int(np.argmax(result.rows)))
    return result if result.n_bins + result.missing_bucket >= 2 else None
