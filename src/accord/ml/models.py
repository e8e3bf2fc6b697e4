"""Driver-level models on vertically split data: fit, predict, evaluate, save and load.

A model is trained from one feature table per party (rows aligned, e.g. by :func:`accord.psi.align`)
and a label column at one party. Each party keeps only its own part of the model; predictions and
metrics are revealed only to the label holder.

>>> import accord, numpy as np, pandas as pd
>>> gen = np.random.default_rng(0)  # synthetic data for the example
>>> x = gen.normal(size=(300, 2))
>>> y = (x[:, 0] + x[:, 1] > 0).astype(int)
>>> with accord.Cluster.simulate(["bank", "partner"]) as cluster:
...     bank, partner = cluster.parties("bank", "partner")
...     a = bank.put(pd.DataFrame({"x0": x[:, 0], "y": y}))
...     b = partner.put(pd.DataFrame({"x1": x[:, 1]}))
...     model = accord.ml.SecureBoost(label=a["y"], n_trees=3, max_depth=2, key_bits=1024,
...                                   allow_insecure_key_size=True, workers=1)   # 2048-bit keys outside tests
...     metrics = model.fit([a.drop(columns="y"), b]).evaluate([a.drop(columns="y"), b], a["y"])
...     metrics.get()["auc"] > 0.9
True
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from accord.errors import ConfigurationError, InputError
from accord.ml._checks import binary_labels, read_part, write_json
from accord.ml.metrics import evaluate as evaluate_scores
from accord.ml.secureboost import BoosterPart, params_from, secureboost_fit, secureboost_predict
from accord.ml.secureboost.params import FORMAT
from accord.ml.woe import woe_binning, woe_params
from accord.runtime.cluster import Cluster, PartyObject


def _inputs(features: Sequence[PartyObject], active: str) -> dict[str, PartyObject]:
    tables = {t.owner: t for t in features}
    if len(tables) != len(features):
        raise ConfigurationError("pass one feature table per party")
    if active not in tables:
        raise ConfigurationError(f"the label holder {active!r} must also pass its feature table")
    return tables


class SecureBoost:
    """Gradient-boosted trees trained with SecureBoost (see :mod:`accord.ml.secureboost`).

    Parameters
    ----------
    label:
        The label column, a party-owned table with one column; its owner becomes the active party.
    positive:
        The label value that counts as 1 (e.g. ``"bad"``); without it the label must be 0/1. It stays
        at the label holder.
    **params:
        Hyper-parameters of :class:`~accord.ml.secureboost.BoostParams`.

    Notes
    -----
    Each party's feature table may hold numeric and categorical columns (strings, booleans, pandas
    categoricals) and missing values; see :mod:`accord.ml.columns`. A column with a single value in
    the training rows is dropped by its owner, and the job report says so.
    """

    def __init__(self, label: PartyObject, positive: Any = None, **params: Any) -> None:
        self.label = label
        self.positive = positive
        self.params = params_from(params)
        self.parts: dict[str, PartyObject] = {}

    @property
    def cluster(self) -> Cluster:
        """The cluster the model lives in."""
        return self.label.cluster

    @property
    def active(self) -> str:
        """The label holder."""
        return self.label.owner

    def fit(self, features: Sequence[PartyObject]) -> SecureBoost:
        """Train on aligned feature tables, one per party."""
        tables = _inputs(features, self.active)
        label = self._labels(self.label)
        inputs = {p: (t, label if p == self.active else None, self.active, self.params)
                  for p, t in tables.items()}
        learned = {p: "the row partition at every tree node, its own chosen splits and their gains"
                   for p in tables if p != self.active}
        learned[self.active] = ("per-bin and missing-value gradient sums of the partners' features, their bin counts "
                                "and kinds, the row partition at every node")
        self.parts = self.cluster.run(secureboost_fit, inputs, learned=learned)
        for party, part in self.parts.items():
            if part.is_local and part.get().dropped:
                self.cluster.report().notes.append(
                    f"SecureBoost: {party} dropped columns with a single value in the training rows: "
                    f"{', '.join(part.get().dropped)}")
        return self

    def _labels(self, label: PartyObject) -> PartyObject:
        """The label as 0/1 at its owner (``positive`` never leaves it)."""
        return self.cluster.party(label.owner).apply(
            lambda y, positive=self.positive: binary_labels(y, len(y), label.owner, positive), label)

    def predict(self, features: Sequence[PartyObject]) -> PartyObject:
        """Probabilities of label 1 for aligned rows; the result lives at the label holder."""
        parts = self._require_fit()
        tables = _inputs(features, self.active)
        out = self.cluster.run(secureboost_predict, {p: (parts[p], t) for p, t in tables.items()},
                               learned={self.active: "the scores and the partners' split outcomes per row"})
        return out[self.active]

    def evaluate(self, features: Sequence[PartyObject], label: PartyObject, threshold: float = 0.5) -> PartyObject:
        """AUC, KS, Gini, precision and recall, computed at (and revealed to) the label holder only."""
        if label.owner != self.active:
            raise ConfigurationError(f"the evaluation label must be held by {self.active!r}")
        scores = self.predict(features)
        return self.cluster.party(self.active).apply(
            lambda s, y: evaluate_scores(y, s, threshold), scores, self._labels(label))

    def feature_importance(self) -> dict[str, PartyObject]:
        """Total split gain per column, each party seeing only its own columns."""
        parts = self._require_fit()
        return {p: self.cluster.party(p).apply(lambda part: dict(part.importance), obj) for p, obj in parts.items()}

    def bin_summary(self) -> dict[str, PartyObject]:
        """Each party's bins of its own columns (values and training rows per bin, missing rows), kept at that party."""
        parts = self._require_fit()
        return {p: self.cluster.party(p).apply(lambda part: pd.concat([c.describe() for c in part.bins],
                                                                       ignore_index=True), obj)
                for p, obj in parts.items()}

    def save(self, directory: str | os.PathLike[str], parties: Sequence[str] | None = None, *,
             record: bool = True) -> None:
        """Hosted parties (of ``parties``, default all) write their parts to ``<dir>/<party>.secureboost.json``."""
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        for party, obj in self._require_fit().items():
            if obj.is_local and (parties is None or party in parties):
                path = out / f"{party}.secureboost.json"
                write_json(path, obj.get().to_dict())
                if record:
                    self.cluster.record_output(party, str(path.resolve()))

    @classmethod
    def load(cls, cluster: Cluster, directory: str | os.PathLike[str] | Mapping[str, str | os.PathLike[str]],
             label_party: str, parties: Sequence[str]) -> SecureBoost:
        """The model saved by :meth:`save`; each hosted party reads only its own part.

        ``directory`` is one directory for every party, or a map from party to its directory.
        """
        model = cls(cluster.party(label_party).put(None))
        for party in parties:
            where = Path(directory[party] if isinstance(directory, Mapping) else directory)
            model.parts[party] = cluster.party(party).apply(
                lambda name=party, path=where / f"{party}.secureboost.json": _read_part(path, name))
        return model

    def _require_fit(self) -> dict[str, PartyObject]:
        if not self.parts:
            raise ConfigurationError("the model is not trained yet: call fit() or load()")
        return self.parts


class WOEBinning:
    """Weight-of-evidence binning of every party's columns against one party's label (see :mod:`accord.ml.woe`).

    Parameters
    ----------
    label:
        The 0/1 label column, a party-owned table with one column.
    **params:
        ``n_bins`` (10), ``method`` (``"quantile"`` or ``"chimerge"``), ``fine_bins`` (50) and the
        Paillier settings of :class:`~accord.ml.woe.WOEParams`.
    """

    def __init__(self, label: PartyObject, **params: Any) -> None:
        self.label = label
        self.params = woe_params(params)
        self.parts: dict[str, PartyObject] = {}

    def fit(self, features: Sequence[PartyObject]) -> WOEBinning:
        """Bin each party's columns and compute WOE/IV; each party keeps its own tables."""
        active = self.label.owner
        tables = _inputs(features, active)
        self.parts = self.label.cluster.run(
            woe_binning, {p: (t, self.label if p == active else None, active, self.params) for p, t in tables.items()},
            learned={**{p: "the WOE value and IV of each bin of its own columns" for p in tables if p != active},
                     active: "rows and events per bin of every partner column"})
        return self

    def transform(self, features: Sequence[PartyObject]) -> list[PartyObject]:
        """Each party replaces its binned columns by their WOE, locally; tables keep their order."""
        if not self.parts:
            raise ConfigurationError("call fit() first")
        cluster = self.label.cluster
        return [cluster.party(t.owner).apply(lambda part, df: part.transform(df), self.parts[t.owner], t)
                for t in features]

    def iv(self) -> dict[str, PartyObject]:
        """Information value per column, each party seeing its own columns."""
        cluster = self.label.cluster
        return {p: cluster.party(p).apply(lambda part: part.iv(), obj) for p, obj in self.parts.items()}


def _read_part(path: Path, party: str) -> BoosterPart:
    data = read_part(path, party, FORMAT)
    try:
        return BoosterPart.from_dict(data)
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError(f"model file {path} is not a SecureBoost model: {exc}", party=party,
                         field=str(path)) from None
