"""Local input preparation for secure logistic regression: one-hot categoricals, imputed missing values.

It runs at each column's owner before anything is secret-shared, so level names, fill values and
which rows are missing never leave the owner; what is shared is the prepared numeric matrix.

- Categorical columns (strings, booleans, pandas categoricals; integer columns with at most
  ``integer_levels`` distinct values when asked) become one 0/1 column per level, ``<column>=<level>``.
  Levels with fewer than ``min_level_rows`` training rows share one column ``<column>=<other>``,
  which also takes levels first seen when scoring (without such a column, an unseen level and a
  missing value are all zeros).
- Missing numeric values are filled with the training rows' ``mean`` or ``median``, or a
  ``constant`` (``fill_value``): the declared ``impute`` strategy.
- Prepared columns with a single value in the training rows carry no information and are dropped
  (the caller reports them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from accord.errors import InputError
from accord.ml.columns import OTHER, is_categorical, level_keys

IMPUTE = ("mean", "median", "constant")


@dataclass
class Encoder:
    """How one party's table becomes numbers: fill values, one-hot levels, and the columns kept."""

    fill: dict[str, float]
    levels: dict[str, list[str]]
    columns: list[str]
    dropped: list[str] = field(default_factory=list)

    @classmethod
    def fit(cls, table: pd.DataFrame, party: str, impute: str = "mean", fill_value: float = 0.0,
            min_level_rows: int = 10, integer_levels: int = 0) -> Encoder:
        """Learn fill values and levels from ``table`` (the training rows)."""
        if impute not in IMPUTE:
            raise InputError(f"impute must be one of {IMPUTE}, got {impute!r}", party=party)
        fill: dict[str, float] = {}
        levels: dict[str, list[str]] = {}
        for name in table.columns:
            column = table[name]
            if is_categorical(column, integer_levels):
                keys = pd.Series(level_keys(column)).dropna()
                counts = keys.value_counts()
                kept = sorted(str(v) for v in counts.index[counts >= min_level_rows])
                levels[str(name)] = kept + ([OTHER] if (counts < min_level_rows).any() else [])
                continue
            x = _numbers(column, party)
            present = x[~np.isnan(x)]
            if impute == "constant" or not len(present):
                fill[str(name)] = float(fill_value)
            else:
                fill[str(name)] = float(np.mean(present) if impute == "mean" else np.median(present))
        encoder = cls(fill, levels, [])
        wide = encoder._expand(table, party)
        constant = [c for c in wide.columns if wide[c].nunique(dropna=False) <= 1]
        encoder.columns = [c for c in wide.columns if c not in constant]
        encoder.dropped = constant
        return encoder

    def transform(self, table: pd.DataFrame, party: str) -> pd.DataFrame:
        """The prepared numeric columns of ``table`` (same source columns as at fitting)."""
        return self._expand(table, party)[self.columns]

    def _expand(self, table: pd.DataFrame, party: str) -> pd.DataFrame:
        names = {str(c): c for c in table.columns}
        absent = [c for c in [*self.fill, *self.levels] if c not in names]
        if absent:
            raise InputError(f"the model needs columns {absent} that the table lacks", party=party, field=absent[0])
        out: dict[str, np.ndarray] = {}
        for name in names:
            if name in self.fill:
                x = _numbers(table[names[name]], party)
                out[name] = np.where(np.isnan(x), self.fill[name], x)
            elif name in self.levels:
                keys = level_keys(table[names[name]])
                known = set(self.levels[name])
                if OTHER in known:
                    keys = np.array([k if k is None or k in known else OTHER for k in keys], dtype=object)
                for level in self.levels[name]:
                    out[f"{name}={level}"] = (keys == level).astype(np.float64)
        return pd.DataFrame(out, index=table.index)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for a model file."""
        return {"fill": self.fill, "levels": self.levels, "columns": self.columns, "dropped": self.dropped}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Encoder:
        """Inverse of :meth:`to_dict`."""
        return cls({str(k): float(v) for k, v in data["fill"].items()},
                   {str(k): [str(v) for v in vs] for k, vs in data["levels"].items()},
                   [str(c) for c in data["columns"]], [str(c) for c in data["dropped"]])


def _numbers(column: pd.Series, party: str) -> np.ndarray:
    x = pd.to_numeric(column, errors="coerce").to_numpy(dtype=np.float64)
    if np.isinf(x).any():
        raise InputError(f"column {column.name!r} holds infinite values", party=party, field=str(column.name))
    if (np.isnan(x) & column.notna().to_numpy()).any():
        raise InputError(f"column {column.name!r} mixes numbers and text", party=party, field=str(column.name))
    return x
