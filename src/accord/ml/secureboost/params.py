"""SecureBoost's declarations, hyper-parameters, model parts and local binning."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from accord.errors import ConfigurationError, InputError
from accord.ml._checks import build_params
from accord.ml.columns import MISSING, ColumnBins, fit_column, is_categorical
from accord.ml.splits import Split, SplitRules
from accord.ml.tree import Tree

THREAT_MODEL = (
    "semi-honest (passive) parties, no trusted third party; gradients are protected by additively homomorphic "
    "encryption under the label holder's key: Okamoto-Uchiyama by default (2048-bit n = p^2 q; one-way if "
    "factoring n is hard, semantically secure under the p-subgroup assumption, with 2*kappa-bit randomness "
    "exponents) or Paillier with he='paillier' (decisional composite residuosity, Damgard-Jurik-Nielsen "
    "short-exponent randomness); histogram sums are re-randomised with full-entropy randomness before the label "
    "holder decrypts them"
)
FIT_LEAKAGE = (
    "passive parties learn the number of rows, which rows are used for training in each tree, the left/right "
    "partition of the rows at every tree node (the instance space) and which party owns each split, which of their "
    "own (feature, bin) pairs were chosen as splits, their features' total gain, and the number of trees trained "
    "(with early stopping, the round at which the label holder's validation loss stopped improving); the label "
    "holder learns, per node, the sums of gradients and hessians in every bin of every passive feature and in its "
    "bucket of rows with a missing value (not the values, thresholds or level names), each passive feature's number "
    "of bins, whether it is categorical and whether it has missing values, which of its cells (bins or missing "
    "bucket) holds the most rows of the first tree (which that tree's root sums show anyway: all its rows have the "
    "same hessian), the row partition at every node (so a "
    "split that separates missing from present values shows which rows lack that value; a bin holding few of a "
    "node's rows lets the label holder match its sums to those rows' gradients), and which passive feature "
    "index and bins each passive split uses (for a categorical split, which of its level indices go right, chosen "
    "from the decrypted per-level sums); labels, gradients, passive feature values, level names and which rows are "
    "missing (beyond those partitions) never leave their owners"
)
PREDICT_LEAKAGE = (
    "the label holder learns, for every scored row and tree, which leaves the passive parties' splits allow (the "
    "outcome of each passive split for that row) and the scores; passive parties learn the number of rows only"
)


SCHEMES = ("ou", "paillier")


@dataclass(frozen=True)
class BoostParams:
    """Hyper-parameters; every party must use the same values (checked at the start of training).

    Parameters
    ----------
    n_trees, max_depth, learning_rate:
        As in XGBoost (defaults 5, 5, 0.3).
    reg_lambda, gamma, min_child_weight:
        L2 on leaf weights, minimum gain to split (XGBoost's ``min_split_loss``), minimum hessian per
        child (defaults 1.0, 0.0, 1.0).
    max_bin:
        Bins per numeric feature at most (default 48): one per distinct value when there are no more,
        else quantile bins that give heavily repeated values their own bin (:mod:`accord.ml.columns`).
        XGBoost's default is 256, but the partner's encrypted histograms grow with the bins: on the
        UCI credit data 256 bins took about 4.5 times as long as 32 and 64 a fifth longer than before
        this binning, while AUC moved within its noise; 48 keeps the training time and stays within
        0.003 of XGBoost's AUC on both benchmark tables (docs/ml.md has the measurements).
    max_cat_to_onehot, max_cat_threshold:
        Categorical features with fewer levels than ``max_cat_to_onehot`` (4) split one level against
        the rest; others split a partition of their levels sorted by gradient statistics, scanning at
        most ``max_cat_threshold`` (64) levels from each end (XGBoost's names and defaults).
    min_bin_rows:
        Every bin, group of rare levels and missing-value bucket holds at least this many training
        rows (default 10); smaller ones are merged (:mod:`accord.ml.columns`), so the label holder
        never sees the gradient sum of a bin of one or two rows at the root.
    integer_levels:
        Integer columns with at most this many distinct values are categorical (default 0: none;
        strings, booleans and pandas categoricals always are).
    row_subsample, col_subsample:
        Fraction of training rows (chosen by the label holder) and of each party's own columns (chosen
        by that party) used per tree (default 1.0).
    validation_fraction, early_stopping_rounds:
        Rows the label holder holds out and the rounds without improvement of their log-loss after
        which training stops (0 disables early stopping).
    he:
        The encryption of gradients: ``"ou"`` (default), Okamoto-Uchiyama (:mod:`accord.he.ou`), or
        ``"paillier"`` (:mod:`accord.he.paillier`). OU rests on factoring ``n = p² q`` and the
        p-subgroup assumption instead of Paillier's decisional composite residuosity; its additions
        cost about a third as much at the same key size, which made it the default (docs/ml.md has
        the measurements).
    key_bits, frac_bits:
        Modulus size (2048 by default; smaller only with ``allow_insecure_key_size`` in tests) and
        fixed-point fractional bits of gradients and hessians (default 20).
    workers:
        Processes for Paillier batches at each party (default: all cores).
    """

    n_trees: int = 5
    max_depth: int = 5
    learning_rate: float = 0.3
    reg_lambda: float = 1.0
    gamma: float = 0.0
    min_child_weight: float = 1.0
    max_bin: int = 48
    max_cat_to_onehot: int = 4
    max_cat_threshold: int = 64
    min_bin_rows: int = 10
    integer_levels: int = 0
    row_subsample: float = 1.0
    col_subsample: float = 1.0
    validation_fraction: float = 0.0
    early_stopping_rounds: int = 0
    he: str = "ou"
    key_bits: int = 2048
    frac_bits: int = 20
    workers: int | None = None
    allow_insecure_key_size: bool = False

    def __post_init__(self) -> None:
        for name in ("n_trees", "max_depth", "max_bin", "max_cat_to_onehot", "max_cat_threshold", "min_bin_rows"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ValueError(f"{name} must be a positive integer, got {getattr(self, name)!r}")
        if self.max_bin < 2:
            raise ValueError("max_bin must be at least 2")
        if not isinstance(self.integer_levels, int) or self.integer_levels < 0:
            raise ValueError(f"integer_levels must be a non-negative integer, got {self.integer_levels!r}")
        for name in ("row_subsample", "col_subsample"):
            if not 0 < getattr(self, name) <= 1:
                raise ValueError(f"{name} must be in (0, 1], got {getattr(self, name)!r}")
        if not 0 <= self.validation_fraction < 1:
            raise ValueError(f"validation_fraction must be in [0, 1), got {self.validation_fraction!r}")
        if self.early_stopping_rounds and not self.validation_fraction:
            raise ValueError("early_stopping_rounds needs validation_fraction > 0")
        if self.he not in SCHEMES:
            raise ValueError(f"he must be one of {', '.join(SCHEMES)}, got {self.he!r}")

    def public(self) -> dict[str, Any]:
        """The values every party must agree on."""
        return {k: v for k, v in asdict(self).items() if k != "workers"}

    def rules(self) -> SplitRules:
        """The split search's regularisation."""
        return SplitRules(self.reg_lambda, self.min_child_weight, self.gamma, self.max_cat_to_onehot,
                          self.max_cat_threshold)

    @property
    def width(self) -> int:
        """Cells per feature in a histogram grid: ``max_bin`` bins and the missing bucket last."""
        return self.max_bin + 1


SplitRecord = tuple[int, int, bool, tuple[int, ...]]  # feature, bin, default_left, right_levels
FORMAT = "accord.secureboost.v2"


@dataclass
class BoosterPart:
    """One party's share of a trained model: tree shapes, its own splits and bins, (label holder) leaf weights."""

    party: str
    active: str
    columns: list[str]
    trees: list[Tree]
    splits: list[SplitRecord]
    bins: list[ColumnBins]
    base_margin: float = 0.0
    importance: dict[str, float] = field(default_factory=dict)
    history: list[float] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)

    def split(self, ref: int) -> Split:
        """Split number ``ref`` of this party."""
        feature, split_bin, default_left, right = self.splits[ref]
        return Split(0.0, feature, split_bin, default_left, right)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for saving as JSON (no pickle)."""
        return {"format": FORMAT, "party": self.party, "active": self.active,
                "columns": self.columns, "trees": [t.to_dict() for t in self.trees],
                "splits": [[f, b, d, list(r)] for f, b, d, r in self.splits], "bins": [c.to_dict() for c in self.bins],
                "base_margin": self.base_margin, "importance": self.importance, "history": self.history,
                "dropped": self.dropped}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BoosterPart:
        """Inverse of :meth:`to_dict`."""
        if data.get("format") != FORMAT:
            raise ConfigurationError(f"not an accord SecureBoost model file of format {FORMAT} (retrain older models)")
        return cls(data["party"], data["active"], list(data["columns"]), [Tree.from_dict(t) for t in data["trees"]],
                   [(int(f), int(b), bool(d), tuple(int(v) for v in r)) for f, b, d, r in data["splits"]],
                   [ColumnBins.from_dict(c) for c in data["bins"]], float(data["base_margin"]),
                   dict(data["importance"]), list(data["history"]), list(data["dropped"]))


@dataclass
class Binned:
    """A party's columns as bins: ``bins`` is rows x features, missing values in the last cell of the grid."""

    columns: list[str]
    bins: np.ndarray
    specs: list[ColumnBins]
    dropped: list[str]

    def layout(self) -> list[list[int]]:
        """Per feature: bins of present values, whether any value is missing, whether it is categorical."""
        return [[s.n_bins, int(s.missing_bucket), int(s.categorical)] for s in self.specs]


def feature_cells(spec: list[int], width: int) -> np.ndarray:
    """The cells of a ``width``-cell grid row that a feature with layout ``spec`` uses (its bins, the missing cell)."""
    return np.r_[np.arange(spec[0]), [width - 1] * spec[1]].astype(np.int64)


def sent_cells(layout: list[list[int]], features: np.ndarray, width: int, derived: np.ndarray) -> np.ndarray:
    """Flat (feature, cell) positions, in a features x width grid, of the cells a partner sends.

    That is every cell the sampled features use except each one's ``derived`` cell, its most
    populated: the label holder derives it as the node's total minus the other cells.
    """
    return np.concatenate([i * width + cells[cells != derived[i]]
                           for i, f in enumerate(features.tolist())
                           for cells in [feature_cells(layout[f], width)]]).astype(np.int64)


def bin_table(table: pd.DataFrame, params: BoostParams, party: str) -> Binned:
    """Bins of every informative column; columns with a single value (in these rows) are dropped."""
    if not isinstance(table, pd.DataFrame) or table.shape[1] == 0:
        raise InputError("expected a table with at least one feature column", party=party)
    names = {str(c): c for c in table.columns}
    specs, dropped = [], []
    for name, c in names.items():
        column = table[c].rename(name)
        spec = fit_column(column, params.max_bin, categorical=is_categorical(column, params.integer_levels),
                          min_rows=params.min_bin_rows, party=party)
        if spec is None:
            dropped.append(name)
        else:
            specs.append(spec)
    if not specs:
        raise InputError(f"every feature column is constant in these rows ({', '.join(dropped)}); nothing to "
                         "split on", party=party)
    bins = np.stack([s.assign(table[names[s.column]]) for s in specs], axis=1)
    bins[bins == MISSING] = params.width - 1
    return Binned([s.column for s in specs], bins.astype(np.int64), specs, dropped)


def params_from(kwargs: dict[str, Any]) -> BoostParams:
    """Build :class:`BoostParams`, naming unknown keywords."""
    return build_params(BoostParams, kwargs, "SecureBoost")
