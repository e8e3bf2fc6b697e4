"""SecureBoost's declarations, hyper-parameters, model parts and local binning."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from accord.errors import ConfigurationError, InputError
from accord.ml._checks import build_params
from accord.ml.binning import assign_bins, quantile_edges
from accord.ml.tree import Tree

THREAT_MODEL = (
    "semi-honest (passive) parties, no trusted third party; gradients are protected by Paillier (2048-bit by "
    "default, decisional composite residuosity with Damgard-Jurik-Nielsen short-exponent randomness); "
    "histogram sums are re-randomised before the label holder decrypts them"
)
FIT_LEAKAGE = (
    "passive parties learn the number of rows, which rows are used for training in each tree, the left/right "
    "partition of the rows at every tree node (the instance space) and which party owns each split, which of their "
    "own (feature, bin) pairs were chosen as splits, their features' total gain, and the number of trees trained "
    "(with early stopping, the round at which the label holder's validation loss stopped improving); the label "
    "holder learns, per node, the sums of gradients and hessians in every bin of every passive feature (not the "
    "values or thresholds), the row partition at every node, and which passive feature index and bin each passive "
    "split uses; labels, gradients and passive feature values never leave their owners"
)
PREDICT_LEAKAGE = (
    "the label holder learns, for every scored row and tree, which leaves the passive parties' splits allow (the "
    "outcome of each passive split for that row) and the scores; passive parties learn the number of rows only"
)


@dataclass(frozen=True)
class BoostParams:
    """Hyper-parameters; every party must use the same values (checked at the start of training).

    Parameters
    ----------
    n_trees, max_depth, learning_rate:
        As in XGBoost (defaults 5, 5, 0.3).
    reg_lambda, gamma, min_child_weight:
        L2 on leaf weights, minimum gain to split, minimum hessian per child (defaults 1.0, 0.0, 1.0).
    n_bins:
        Equal-frequency bins per feature (default 32).
    row_subsample, col_subsample:
        Fraction of training rows (chosen by the label holder) and of each party's own columns (chosen
        by that party) used per tree (default 1.0).
    validation_fraction, early_stopping_rounds:
        Rows the label holder holds out and the rounds without improvement of their log-loss after
        which training stops (0 disables early stopping).
    key_bits, frac_bits:
        Paillier modulus size (2048 by default; smaller only with ``allow_insecure_key_size`` in
        tests) and fixed-point fractional bits of gradients and hessians (default 20).
    workers:
        Processes for Paillier batches at each party (default: all cores).
    """

    n_trees: int = 5
    max_depth: int = 5
    learning_rate: float = 0.3
    reg_lambda: float = 1.0
    gamma: float = 0.0
    min_child_weight: float = 1.0
    n_bins: int = 32
    row_subsample: float = 1.0
    col_subsample: float = 1.0
    validation_fraction: float = 0.0
    early_stopping_rounds: int = 0
    key_bits: int = 2048
    frac_bits: int = 20
    workers: int | None = None
    allow_insecure_key_size: bool = False

    def __post_init__(self) -> None:
        for name in ("n_trees", "max_depth", "n_bins"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ValueError(f"{name} must be a positive integer, got {getattr(self, name)!r}")
        if self.n_bins < 2:
            raise ValueError("n_bins must be at least 2")
        for name in ("row_subsample", "col_subsample"):
            if not 0 < getattr(self, name) <= 1:
                raise ValueError(f"{name} must be in (0, 1], got {getattr(self, name)!r}")
        if not 0 <= self.validation_fraction < 1:
            raise ValueError(f"validation_fraction must be in [0, 1), got {self.validation_fraction!r}")
        if self.early_stopping_rounds and not self.validation_fraction:
            raise ValueError("early_stopping_rounds needs validation_fraction > 0")

    def public(self) -> dict[str, Any]:
        """The values every party must agree on."""
        return {k: v for k, v in asdict(self).items() if k != "workers"}


@dataclass
class BoosterPart:
    """One party's share of a trained model: tree shapes, its own splits, and (label holder) leaf weights."""

    party: str
    active: str
    columns: list[str]
    trees: list[Tree]
    splits: list[tuple[int, float]]
    base_margin: float = 0.0
    importance: dict[str, float] = field(default_factory=dict)
    history: list[float] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for saving as JSON (no pickle)."""
        return {"format": "accord.secureboost.v1", "party": self.party, "active": self.active,
                "columns": self.columns, "trees": [t.to_dict() for t in self.trees],
                "splits": [[c, t] for c, t in self.splits], "base_margin": self.base_margin,
                "importance": self.importance, "history": self.history}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BoosterPart:
        """Inverse of :meth:`to_dict`."""
        if data.get("format") != "accord.secureboost.v1":
            raise ConfigurationError("not an accord SecureBoost model file")
        return cls(data["party"], data["active"], list(data["columns"]), [Tree.from_dict(t) for t in data["trees"]],
                   [(int(c), float(t)) for c, t in data["splits"]], float(data["base_margin"]),
                   dict(data["importance"]), list(data["history"]))


@dataclass
class Binned:
    columns: list[str]
    bins: np.ndarray  # rows x features, int64
    edges: list[np.ndarray]

    def bin_counts(self) -> list[int]:
        """Bins in use per feature (equal-frequency binning of repeated values gives fewer)."""
        return [len(e) + 1 for e in self.edges]


def used_cells(bin_counts: list[int], features: np.ndarray, n_bins: int) -> np.ndarray:
    """Flat (feature, bin) positions, in a features x n_bins grid, of the bins the sampled features use."""
    return np.concatenate([i * n_bins + np.arange(bin_counts[f]) for i, f in enumerate(features.tolist())])


def bin_table(table: pd.DataFrame, n_bins: int, party: str) -> Binned:
    if not isinstance(table, pd.DataFrame) or table.shape[1] == 0:
        raise InputError("expected a table with at least one feature column", party=party)
    edges = [quantile_edges(table[c].to_numpy(), n_bins, party=party, column=str(c)) for c in table.columns]
    bins = np.stack([assign_bins(table[c].to_numpy(), e) for c, e in zip(table.columns, edges)], axis=1)
    return Binned([str(c) for c in table.columns], bins.astype(np.int64), edges)


def params_from(kwargs: dict[str, Any]) -> BoostParams:
    """Build :class:`BoostParams`, naming unknown keywords."""
    return build_params(BoostParams, kwargs, "SecureBoost")
