"""Secure logistic regression on vertically split data: shares in, shares out.

Each party standardises (and winsorises) its own columns locally (means and deviations never leave
it) and places them in the session as a plaintext matrix (:meth:`accord.mpc.MPC.owned`, 10 fractional
bits): only the weights and residuals are secret-shared, and ``X_p w`` and ``X_p^T e`` are products
of a party's own block with shared vectors (in the dealer-free engine, through OTs on the block's bits
made once for the whole training). The label holder shares its labels. Mini-batch gradient descent
with L2 runs in an :class:`accord.mpc.MPC` session (any engine: a trusted dealer, two parties with OT
and no third party, or three parties), one SPMD run per epoch, and the model is the average of the
second half's iterates (Polyak-Ruppert), which removes most of the last iterate's noise.

**The trained weights stay secret-shared**: each party keeps only its share. Revealing each
party's own weights to it would leak what the labels say about its columns (the weights are a
function of the label), and scoring needs both parties online anyway, so keeping them shared costs
nothing at prediction time but one more MPC step.

Validation and early stopping stay under the shares. After each epoch the validation rows' log-loss
is summed in MPC (as ``softplus((1 - 2y) z)`` per row, accurate under fixed point), compared with the
best sum so far, and the best weights are kept by a secret selection; no score, loss or comparison is
revealed. With ``early_stopping_rounds`` the parties open one bit per epoch, whether training stops
(the loss has not improved for that many epochs in a row), to the label holder, who passes it on: the
epoch at which training stops is all anyone learns. (Revealing the validation scores instead would let
the label holder regress the partner's columns out of a few epochs' scores.)
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from accord.errors import ConfigurationError, InputError, MalformedMessage
from accord.ml._checks import binary_labels, build_params, read_part, write_json
from accord.ml.metrics import evaluate as evaluate_scores
from accord.ml.preprocess import IMPUTE, Encoder
from accord.mpc.approximations import mixed_products, sigmoid, softplus
from accord.mpc.owned import Owned, owned_matmul
from accord.mpc.session import MPC, SecretArray
from accord.mpc.tensor import Shared, concatenate, sign_bits
from accord.runtime.cluster import PartyObject
from accord.runtime.context import Context
from accord.runtime.report import protocol

# Logits stay below this in absolute value (features are clipped to ``clip`` standard deviations, so it
# would take weights whose absolute values sum to 4000 / clip); sigmoid and softplus then compare on
# 32-bit words instead of 64.
LOGIT_BOUND = 4000.0


@dataclass(frozen=True)
class LRParams:
    """Hyper-parameters (every party passes the same).

    Parameters
    ----------
    epochs, batch_size, learning_rate:
        Mini-batch gradient descent on standardised features (defaults 5, 1024, 1.0).
    l2:
        L2 penalty on the weights, not the bias (default 0).
    validation_fraction, early_stopping_rounds:
        Training rows held out (chosen by a public seed) and epochs without improvement of their
        log-loss before stopping (0 disables). The log-loss is computed and compared under the shares;
        the weights of the best epoch are kept.
    average:
        Return the average of the iterates of the second half of the epochs (Polyak-Ruppert averaging,
        default on): mini-batch steps on heavy-tailed credit data leave the last iterate noisy.
    clip:
        Standardised feature values are clipped to ``[-clip, clip]`` (winsorised, default 5), which
        tames outliers and keeps products inside the fixed-point range.
    seed:
        Public seed for the validation split and batch order.
    impute, fill_value, min_level_rows, integer_levels:
        Local input preparation at each owner (:mod:`accord.ml.preprocess`): missing numeric values
        filled with the training rows' ``"mean"`` (default), ``"median"`` or a ``"constant"``
        ``fill_value``; categorical columns one-hot encoded, levels with fewer than ``min_level_rows``
        (10) rows grouped; integer columns with at most ``integer_levels`` values count as categorical.
    """

    epochs: int = 5
    batch_size: int = 1024
    learning_rate: float = 1.0
    l2: float = 0.0
    validation_fraction: float = 0.0
    early_stopping_rounds: int = 0
    average: bool = True
    clip: float = 5.0
    seed: int = 0
    impute: str = "mean"
    fill_value: float = 0.0
    min_level_rows: int = 10
    integer_levels: int = 0

    def __post_init__(self) -> None:
        if self.impute not in IMPUTE:
            raise ValueError(f"impute must be one of {IMPUTE}, got {self.impute!r}")
        if self.epochs < 1 or self.batch_size < 1 or not self.learning_rate > 0 or self.l2 < 0:
            raise ValueError("epochs and batch_size must be >= 1, learning_rate > 0 and l2 >= 0")
        if not 0 <= self.validation_fraction < 1:
            raise ValueError(f"validation_fraction must be in [0, 1), got {self.validation_fraction}")
        if self.early_stopping_rounds and not self.validation_fraction:
            raise ValueError("early_stopping_rounds needs validation_fraction > 0")
        if not self.clip > 0:
            raise ValueError(f"clip must be positive, got {self.clip}")


def lr_params(kwargs: dict[str, Any]) -> LRParams:
    """Build :class:`LRParams`, naming unknown keywords."""
    return build_params(LRParams, kwargs, "logistic-regression")


@dataclass
class Scaler:
    """A party's standardisation of its own columns (kept at that party)."""

    columns: list[str]
    mean: np.ndarray
    std: np.ndarray
    clip: float = 5.0
    encoder: Encoder | None = None

    @classmethod
    def fit(cls, table: pd.DataFrame, party: str, clip: float = 5.0, params: LRParams | None = None) -> Scaler:
        """Means and deviations of ``table``'s prepared columns, with errors naming bad columns."""
        p = params or LRParams()
        encoder = None
        if isinstance(table, pd.DataFrame) and table.shape[1]:
            encoder = Encoder.fit(table, party, p.impute, p.fill_value, p.min_level_rows, p.integer_levels)
            table = encoder.transform(table, party)
        values = _matrix(table, party)
        std = values.std(axis=0)
        constant = [c for c, s in zip(table.columns, std) if s == 0]
        if constant:
            raise InputError(f"column {constant[0]!r} is constant; it carries no information, drop it", party=party,
                             field=str(constant[0]))
        return cls([str(c) for c in table.columns], values.mean(axis=0), std, clip, encoder)

    def transform(self, table: pd.DataFrame, party: str) -> np.ndarray:
        """Standardised values of the same columns."""
        if self.encoder is not None:
            table = self.encoder.transform(table, party)
        missing = [c for c in self.columns if c not in table.columns]
        if missing:
            raise InputError(f"the model needs columns {missing} that the table lacks", party=party, field=missing[0])
        return np.clip((_matrix(table[self.columns], party) - self.mean) / self.std, -self.clip, self.clip)


def _matrix(table: pd.DataFrame, party: str) -> np.ndarray:
    if not isinstance(table, pd.DataFrame) or table.shape[1] == 0:
        raise InputError("expected a table with at least one feature column", party=party)
    try:
        values = table.to_numpy(dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError("feature columns must be numeric", party=party) from None
    if not np.isfinite(values).all():
        bad = table.columns[~np.isfinite(values).all(axis=0)][0]
        raise InputError(f"column {bad!r} holds NaN or infinite values", party=party, field=str(bad))
    return values


@protocol("ml.lr.decide", threat_model="semi-honest parties",
          leakage="one bit per epoch, opened to the label holder and passed on to every party: whether training "
                  "stops (the secret-shared validation log-loss has not improved for early_stopping_rounds epochs); "
                  "no validation score, loss or comparison is revealed")
def broadcast_decision(ctx: Context, stop: bool | None, owner: str) -> bool:
    """The label holder tells everyone the opened stop bit (the dealer, too, must know when to stop)."""
    if ctx.me == owner:
        ctx.send_all({"stop": bool(stop)}, "decision")
        return bool(stop)
    value = ctx.recv(owner, "decision")
    if not isinstance(value, dict) or set(value) != {"stop"} or not isinstance(value["stop"], bool):
        raise MalformedMessage(f"party {owner!r} sent a malformed stop decision", party=owner, step="decision")
    return value["stop"]


@protocol("ml.check-rows", threat_model="semi-honest parties", leakage="every party's number of rows")
def check_rows(ctx: Context, n_rows: int | None) -> int:
    """Agree on the number of aligned rows (a party without data, such as a dealer, passes ``None``)."""
    theirs = ctx.exchange(n_rows, "rows")
    known = {p: n for p, n in {ctx.me: n_rows, **theirs}.items() if n is not None}
    if not known:
        raise ConfigurationError("no party reported a row count")
    first, count = next(iter(known.items()))
    for party, n in known.items():
        if n != count:
            raise InputError(f"has {count} rows but party {party!r} has {n}; align the tables with accord.psi.align "
                             "first", party=first)
    return count


def _epoch(params: LRParams, batches: list[tuple[int, int]], n_features: int, average: bool) -> Any:
    """One epoch of mini-batch gradient descent, as a function for :meth:`MPC.run`.

    The function takes each party's feature block (an :class:`~accord.mpc.owned.Owned` matrix: it
    stays at its owner), the secret labels, weights and running sum of the iterates, and returns the
    new weights and sum (added to only when ``average``).
    """
    decay = np.ones(n_features + 1)
    decay[:-1] = 1.0 - params.learning_rate * params.l2  # the bias (last weight) is not penalised

    def step(*arrays: Any) -> tuple[Shared, Shared]:
        *parts, target, w, total = arrays
        for start, stop in batches:
            blocks = [x[start:stop] for x in parts]
            residual = sigmoid(_logits(blocks, w), LOGIT_BOUND) - target[start:stop]
            gradient = concatenate([*owned_matmul([(x.T, residual) for x in blocks]), residual.sum().reshape((1,))])
            w = (w * decay if params.l2 else w) - gradient * (params.learning_rate / (stop - start))
            if average:
                total = total + w
        return w, total

    return step


def _validate(n_parts: int, rounds: int) -> Any:
    """One epoch's validation on shares, as a function for :meth:`MPC.run`.

    The function takes the validation rows (``n_parts`` feature blocks), their labels, the epoch's
    weights and the state (the best sum of log-losses, the best weights, the epochs since the last
    improvement; none at the first epoch) and returns the new state and the secret stop bit. A row's
    log-loss is ``softplus((1 - 2y) z)``; the two comparisons share one sign extraction and the four
    selections one multiplication.
    """

    def step(*arrays: Any) -> tuple[Shared, Shared, Shared, Shared]:
        parts, (y, w, *state) = arrays[:n_parts], arrays[n_parts:]
        loss = softplus((1 - 2 * y) * _logits(parts, w), LOGIT_BOUND).sum().reshape((1,))  # the rows' total log-loss
        if not state:  # the first epoch is the best so far
            zero = Shared(w.m, w.m.engine.public(np.zeros(1, dtype=np.uint64)), (1,), "int")
            return loss, w, zero, zero.astype("bool")
        best, best_w, since = state
        bits = sign_bits(concatenate([loss - best, since + (1 - rounds)]))
        improved, fresh = bits[:1], bits[1:]                  # loss < best; since + 1 < rounds
        keep = 1 - improved
        moved, counters = mixed_products([
            (improved * np.ones(len(w) + 1, dtype=np.int64), concatenate([loss - best, w - best_w])),
            (concatenate([keep, keep]), concatenate([since + 1, 1 - fresh]))])
        return best + moved[:1], best_w + moved[1:], counters[:1], counters[1:].astype("bool")

    return step


def _logits(parts: Sequence[Owned], w: Shared) -> Shared:
    """``X w + bias``: each party's block times its slice of the weights (the last weight is the bias)."""
    ends = np.cumsum([x.shape[1] for x in parts]).tolist()
    products = owned_matmul([(x, w[end - x.shape[1]:end]) for x, end in zip(parts, ends)])
    return sum(products[1:], start=products[0]) + w[-1]


def _scores(*arrays: Any) -> Shared:
    *parts, w = arrays
    return sigmoid(_logits(parts, w), LOGIT_BOUND)


class LogisticRegression:
    """Logistic regression trained on secret shares (see the module docstring).

    Parameters
    ----------
    label:
        The label column, a party-owned table with one column.
    positive:
        The label value that counts as 1 (e.g. ``"bad"``); without it the label must be 0/1.
    engine:
        The :class:`accord.mpc.MPC` session to compute in; by default the label holder and the other
        feature owner in two-party mode without a third party (``mode="ot"``).
    **params:
        Hyper-parameters of :class:`LRParams`.

    Notes
    -----
    Threat model: that of the MPC engine (semi-honest; a non-colluding dealer, no third party, or an
    honest majority of three). Training reveals nothing but the shapes (rows, each party's number of
    columns) and, with ``early_stopping_rounds``, one bit per epoch opened to the label holder and
    passed on to every party: whether training stops there. ``epochs_run`` holds the number of epochs
    trained, which every party learns. The validation log-loss, the comparisons with the best epoch
    and which epoch's weights are kept stay secret-shared. :meth:`predict` and :meth:`evaluate` open
    scores to the label holder only.
    """

    def __init__(self, label: PartyObject, engine: MPC | None = None, positive: Any = None, **params: Any) -> None:
        self.label = label
        self.positive = positive
        self.engine = engine
        self.params = lr_params(params)
        self.scalers: dict[str, PartyObject] = {}
        self.weights: SecretArray | None = None
        self.epochs_run = 0

    @property
    def active(self) -> str:
        """The label holder."""
        return self.label.owner

    def _session(self, owners: list[str]) -> MPC:
        if self.engine is None:
            if len(owners) != 2:
                raise ConfigurationError("with more than two feature owners pass an MPC session as engine=")
            self.engine = self.label.cluster.mpc(owners, mode="ot")
        return self.engine

    def fit(self, features: Sequence[PartyObject]) -> LogisticRegression:
        """Train on aligned feature tables, one per party; the weights stay secret-shared."""
        cluster = self.label.cluster
        owners = [t.owner for t in features]
        if self.active not in owners or len(set(owners)) != len(owners):
            raise ConfigurationError(f"pass one feature table per party, including the label holder {self.active!r}")
        spu = self._session(owners)
        p = self.params
        rows = cluster.party(self.active).apply(lambda y: binary_labels(y, len(y), self.active, self.positive),
                                                self.label)
        self.scalers = {t.owner: cluster.party(t.owner).apply(Scaler.fit, t, t.owner, p.clip, p) for t in features}
        for owner, scaler in self.scalers.items():
            if scaler.is_local and scaler.get().encoder is not None and scaler.get().encoder.dropped:
                cluster.report().notes.append(f"logistic regression: {owner} dropped columns with a single value in "
                                              f"the training rows: {', '.join(scaler.get().encoder.dropped)}")
        standard = [cluster.party(t.owner).apply(lambda s, df, o=t.owner: s.transform(df, o), self.scalers[t.owner], t)
                    for t in features]
        # Every process, the dealer's included, must take the same steps: all learn the row count.
        sizes = {o: len(x.get()) if x.is_local else 0 for o, x in zip(owners, standard)}
        counts = cluster.run(check_rows, {p: (sizes.get(p),) for p in spu.participants})
        n_rows = next(v.get() for v in counts.values() if v.is_local)
        order = np.random.default_rng(p.seed).permutation(n_rows)  # not-secret: public split and batch order
        n_valid = round(p.validation_fraction * n_rows)
        valid, train = np.sort(order[:n_valid]), order[n_valid:]
        pick = lambda obj, idx: cluster.party(obj.owner).apply(lambda a: np.asarray(a)[idx], obj)  # noqa: E731
        x_train = [spu.owned(pick(s, train), p.clip) for s in standard]
        y_train = spu.share(pick(rows, train), kind="fixed")
        x_valid = [spu.owned(pick(s, valid), p.clip) for s in standard] if n_valid else []
        y_valid = spu.share(pick(rows, valid), kind="int") if n_valid else None
        n_features = sum(x.shape[1] for x in x_train)
        batches = [(s, min(s + p.batch_size, len(train))) for s in range(0, len(train), p.batch_size)]
        w = spu.share(cluster.party(self.active).put(np.zeros(n_features + 1)), kind="fixed")
        total = spu.share(cluster.party(self.active).put(np.zeros(n_features + 1)), kind="fixed")
        state: list[SecretArray] = []   # best loss, best weights, epochs since (secret), once validated
        best_w, averaged = w, 0
        for epoch in range(p.epochs):
            self.epochs_run = epoch + 1
            average = p.average and epoch >= p.epochs // 2
            w, total = spu.run(_epoch(p, batches, n_features, average), *x_train, y_train, w, total,
                               name="lr.epoch")
            averaged += len(batches) if average else 0
            current = spu.run(lambda t, k=averaged: t * (1.0 / k), total, name="lr.average") if averaged else w
            if not n_valid:
                best_w = current
                continue
            *state, stop = spu.run(_validate(len(x_valid), p.early_stopping_rounds), *x_valid, y_valid, current,
                                   *state, name="lr.validate")
            best_w = state[1]
            if p.early_stopping_rounds and self._stop(spu, spu.reveal(stop, to=self.active)):
                break
        self.weights = best_w
        return self

    def _stop(self, spu: MPC, opened: PartyObject) -> bool:
        """Every process (the dealer's included) learns the stop bit opened to the label holder."""
        bit = bool(opened.get()[0]) if opened.is_local else None
        others = [q for q in spu.participants if q != self.active]
        out = self.label.cluster.run(broadcast_decision, {q: (bit, self.active) for q in spu.participants},
                                     learned={q: "whether secure LR training stops after this epoch" for q in others})
        return next(v.get() for v in out.values() if v.is_local)

    def predict(self, features: Sequence[PartyObject]) -> PartyObject:
        """Probabilities of label 1 for aligned rows; revealed to the label holder only."""
        if self.weights is None:
            raise ConfigurationError("the model is not trained yet: call fit() or load()")
        cluster = self.label.cluster
        spu = self._session([t.owner for t in features])
        standard = [cluster.party(t.owner).apply(lambda s, df, o=t.owner: s.transform(df, o), self.scalers[t.owner], t)
                    for t in features]
        owned = [spu.owned(s, self.params.clip) for s in standard]
        return spu.reveal(spu.run(_scores, *owned, self.weights, name="lr.score"), to=self.active)

    def evaluate(self, features: Sequence[PartyObject], label: PartyObject, threshold: float = 0.5) -> PartyObject:
        """AUC, KS, Gini, precision and recall at the label holder only."""
        scores = self.predict(features)
        return self.label.cluster.party(self.active).apply(
            lambda s, y: evaluate_scores(binary_labels(y, len(s), self.active, self.positive), s, threshold), scores,
            label)

    # ------------------------------------------------------------------------------ persistence
    def save(self, directory: str | os.PathLike[str], parties: Sequence[str] | None = None, *,
             record: bool = True) -> None:
        """Hosted parties (of ``parties``, default all) write scaler and weight share to ``<dir>/<party>.lr.json``."""
        if self.weights is None:
            raise ConfigurationError("the model is not trained yet")
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        for party, share in self.weights.shares.items():
            if share.is_local and share.get() is not None and (parties is None or party in parties):
                scaler = self.scalers[party].get() if party in self.scalers else None
                data = {"format": "accord.lr.v1", "party": party, "active": self.active,
                        "mode": self.engine.mode if self.engine else None, "shape": list(self.weights.shape),
                        "share": _pack(share.get()), "params": asdict(self.params),
                        "scaler": None if scaler is None else {
                            "columns": scaler.columns, "mean": scaler.mean.tolist(), "std": scaler.std.tolist(),
                            "clip": scaler.clip, "encoder": scaler.encoder and scaler.encoder.to_dict()}}
                path = out / f"{party}.lr.json"
                write_json(path, data)
                if record:
                    self.label.cluster.record_output(party, str(path.resolve()))

    @classmethod
    def load(cls, engine: MPC, directory: str | os.PathLike[str] | Mapping[str, str | os.PathLike[str]],
             label_party: str) -> LogisticRegression:
        """The model saved by :meth:`save`, into the MPC session ``engine`` (same parties and mode)."""
        cluster = engine.cluster
        model = cls(cluster.party(label_party).put(None), engine=engine)
        shares: dict[str, PartyObject] = {}
        shape = None
        if engine.dealer:  # the dealer holds no share of anything
            shares[engine.dealer] = cluster.party(engine.dealer).put(None)
        for party in engine.parties:
            where = Path(directory[party] if isinstance(directory, Mapping) else directory) / f"{party}.lr.json"
            part = cluster.party(party).apply(lambda path=where, name=party: read_part(path, name, "accord.lr.v1"))
            if part.is_local:
                shape = tuple(part.get()["shape"])
                if part.get()["mode"] != engine.mode:
                    raise ConfigurationError(f"{where} was trained with MPC mode {part.get()['mode']!r}, not "
                                             f"{engine.mode!r}")
            shares[party] = cluster.party(party).apply(lambda d: _unpack(d["share"]), part)
            model.scalers[party] = cluster.party(party).apply(
                lambda d: Scaler(d["scaler"]["columns"], np.array(d["scaler"]["mean"]), np.array(d["scaler"]["std"]),
                                 float(d["scaler"]["clip"]),
                                 d["scaler"].get("encoder") and Encoder.from_dict(d["scaler"]["encoder"])), part)
        shape = _agreed_shape(cluster, engine, shape)
        model.weights = SecretArray(engine, shares, shape, "fixed")
        return model


def _agreed_shape(cluster: Any, engine: MPC, shape: tuple[int, ...] | None) -> tuple[int, ...]:
    """The weight shape from the hosted parts (every process hosts at least one computing party or the dealer)."""
    out = cluster.run(agree_shape, {p: (list(shape) if shape is not None else None,) for p in engine.participants})
    return tuple(next(v.get() for v in out.values() if v.is_local))


@protocol("ml.lr.check-shape", threat_model="semi-honest parties", leakage="the number of weights")
def agree_shape(ctx: Context, shape: list[int] | None) -> list[int]:
    """Agree on the saved weights' shape: the computing parties compare theirs, the dealer learns it."""
    theirs = ctx.exchange(shape, "shape")
    known = [s for s in (shape, *theirs.values()) if s is not None]
    if not known or any(s != known[0] for s in known) \
            or not all(isinstance(d, int) and d > 0 for d in known[0]):
        raise ConfigurationError(f"the saved model parts do not belong together (weight shapes {known})")
    return known[0]


def _pack(share: Any) -> dict[str, Any]:
    """A weight share (one uint64 array, or a replicated pair) as plain data."""
    arrays = list(share) if isinstance(share, tuple) else [share]
    return {"pair": isinstance(share, tuple), "arrays": [
        None if a is None else {"shape": list(np.shape(a)), "data": np.asarray(a, dtype="<u8").tobytes().hex()}
        for a in arrays]}


def _unpack(data: dict[str, Any]) -> Any:
    arrays = [None if a is None else np.frombuffer(bytes.fromhex(a["data"]), dtype="<u8").reshape(a["shape"]).copy()
              for a in data["arrays"]]
    return tuple(arrays) if data["pair"] else arrays[0]
