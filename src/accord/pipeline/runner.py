"""Run a job file: align with PSI, split, train every listed model, evaluate at the label holder, save parts.

The same function runs in simulation (every party hosted here) and in production (this process is one
party; the others run the same job file with their own name). Each party writes only into its own
output directory: its model parts, and at the label holder the metrics, ROC/KS plot and scores.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import accord
from accord.data.tables import write_table
from accord.errors import ConfigurationError, InputError
from accord.ml._checks import binary_labels, write_json
from accord.ml.binning import describe
from accord.ml.metrics import calibration_table, evaluate, plot_roc_ks
from accord.pipeline.job import JobSpec
from accord.runtime.cluster import Cluster, PartyObject, PartyTable
from accord.runtime.context import Context
from accord.runtime.report import protocol

# Features, label and test masks per party (party-owned), and the aligned tables.
Prepared = tuple[dict[str, PartyObject], dict[str, PartyObject], dict[str, PartyObject], dict[str, PartyTable]]


@protocol("pipeline.check-job", threat_model="semi-honest parties", leakage="a digest of the job file")
def check_job(ctx: Context, digest: str) -> None:
    """Refuse to start unless every party holds the same job file."""
    for peer, theirs in ctx.exchange(digest, "digest").items():
        if theirs != digest:
            raise ConfigurationError(f"party {peer!r} runs a different job file (digest {theirs!r}, ours "
                                     f"{digest!r}); every party must approve and run the same file")


def _test_mask(keys: pd.DataFrame, seed: int, fraction: float) -> np.ndarray:
    """Public split by a hash of the key: both parties pick the same rows without talking."""
    limit = int(fraction * 2**32)
    joined = keys.astype(str).agg("|".join, axis=1) if keys.shape[1] > 1 else keys.iloc[:, 0].astype(str)
    return np.array([int.from_bytes(hashlib.sha256(f"{seed}|{k}".encode()).digest()[:4], "big") < limit
                     for k in joined])


def _load(cluster: Cluster, spec: JobSpec, inputs: dict[str, Path]) -> dict[str, PartyTable]:
    return {name: cluster.party(name).read_table(inputs[name]) if cluster.party(name).is_local
            else cluster.party(name).remote_table() for name in spec.parties}


def _prepare(cluster: Cluster, spec: JobSpec, inputs: dict[str, Path]) -> Prepared:
    """Aligned feature tables per party, the label, and the test masks (all party-owned)."""
    tables = _load(cluster, spec, inputs)
    names = list(spec.parties)
    first, second = names[0], names[1]
    a, b = accord.psi.align(tables[first], tables[second], on={n: spec.parties[n].key for n in names},
                            protocol=spec.psi_protocol)
    aligned = {first: a, second: b}
    masks, features = {}, {}
    for name, table in aligned.items():
        p = spec.parties[name]
        drop = p.key + ([p.label] if p.label else [])
        masks[name] = cluster.party(name).apply(lambda df, k=p.key: _test_mask(df[k], spec.seed, spec.test_fraction),
                                                table)
        features[name] = cluster.party(name).apply(
            lambda df, d=drop, n=name: _numeric(df.drop(columns=d), n), table)
    label_party = spec.label_party
    column = spec.parties[label_party].label
    label = cluster.party(label_party).apply(lambda df: _numeric(df[[column]], label_party), aligned[label_party])
    return features, {label_party: label}, masks, aligned


def _numeric(df: pd.DataFrame, party: str) -> pd.DataFrame:
    """Columns as numbers (CSV cells arrive as text), or an error naming the column."""
    out = {}
    for column in df.columns:
        try:
            out[column] = pd.to_numeric(df[column])
        except (ValueError, TypeError):
            raise InputError(f"column {column!r} is not numeric; encode it as numbers first", party=party,
                             field=str(column)) from None
    return pd.DataFrame(out)


def _rows(cluster: Cluster, obj: PartyObject, mask: PartyObject, keep: bool) -> PartyObject:
    return cluster.party(obj.owner).apply(lambda df, m: df[m == keep].reset_index(drop=True), obj, mask)


class _Outputs:
    """A party's results are written to a staging directory and moved into place only if the job succeeds."""

    def __init__(self, cluster: Cluster, spec: JobSpec) -> None:
        self.cluster = cluster
        tag = secrets.token_hex(4)
        self.final = {n: spec.parties[n].output for n in spec.parties if cluster.party(n).is_local}
        self.stage = {n: out.parent / f".{out.name}.partial-{tag}" for n, out in self.final.items()}

    def path(self, party: str, *parts: str) -> Path:
        """A file (or directory, for a trailing ``""``) in ``party``'s staging area."""
        target = self.stage[party].joinpath(*parts)
        (target if not parts or parts[-1] == "" else target.parent).mkdir(parents=True, exist_ok=True)
        return target

    def commit(self) -> None:
        """Move every staged file into its party's output directory."""
        for party, stage in self.stage.items():
            if not stage.exists():
                continue
            for file in sorted(p for p in stage.rglob("*") if p.is_file()):
                target = self.final[party] / file.relative_to(stage)
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(file, target)
                self.cluster.record_output(party, str(target))
            shutil.rmtree(stage, ignore_errors=True)

    def discard(self) -> None:
        """Remove the staging areas of a failed job: no partial output is left behind."""
        for stage in self.stage.values():
            shutil.rmtree(stage, ignore_errors=True)


def train_job(cluster: Cluster, spec: JobSpec) -> dict[str, Any]:
    """Train and evaluate every model of ``spec``; returns the label holder's metrics (where hosted).

    Nothing is written to a party's output directory unless the whole job succeeds.
    """
    cluster.run(check_job, {p: (spec.digest,) for p in spec.participants})
    outputs = _Outputs(cluster, spec)
    try:
        summary = _train(cluster, spec, outputs)
    except BaseException:
        outputs.discard()
        raise
    outputs.commit()
    return summary


def _train(cluster: Cluster, spec: JobSpec, outputs: _Outputs) -> dict[str, Any]:
    features, labels, masks, _ = _prepare(cluster, spec, {n: p.input for n, p in spec.parties.items()})
    for name, table in features.items():  # local summaries, each party of its own columns
        if table.is_local:
            write_table(describe(table.get()), outputs.path(name, "summary.csv"), party=name)
    label_party = spec.label_party
    label = labels[label_party]
    train = [_rows(cluster, features[n], masks[n], False) for n in spec.parties]
    test = [_rows(cluster, features[n], masks[n], True) for n in spec.parties]
    y_train, y_test = (_rows(cluster, label, masks[label_party], keep) for keep in (False, True))
    summary: dict[str, Any] = {}
    for kind, params in spec.models:
        model = _fit(kind, params, spec, y_train, train)
        scores = model.predict(test)  # every party takes part; only the label holder gets the scores
        for name in outputs.stage:
            model.save(outputs.path(name, "models", kind, ""), parties=[name], record=False)
        if scores.is_local:
            y = binary_labels(y_test.get(), len(scores.get()), label_party)
            summary[kind] = evaluate(y, scores.get(), spec.threshold)
            summary[kind]["calibration"] = calibration_table(y, scores.get()).to_dict(orient="records")
            if spec.plots:
                _plot(spec, outputs.path(label_party, f"{kind}_roc_ks.png"), y, scores.get())
    if label_party in outputs.stage:
        write_json(outputs.path(label_party, "metrics.json"), summary)
    return summary


def _plot(spec: JobSpec, path: Path, y: np.ndarray, scores: np.ndarray) -> None:
    try:
        plot_roc_ks(y, scores, path)
    except accord.errors.UnsupportedError as exc:
        print(f"{spec.label_party}: no plot ({exc})")


def _fit(kind: str, params: dict[str, Any], spec: JobSpec, label: PartyObject, train: list[PartyObject]) -> Any:
    if kind == "secureboost":
        return accord.ml.SecureBoost(label=label, **{"key_bits": spec.key_bits, **params}).fit(train)
    options = dict(params)
    engine = _engine(label.cluster, spec, options.pop("mpc", None))
    return accord.ml.LogisticRegression(label=label, engine=engine, **options).fit(train)


def _engine(cluster: Cluster, spec: JobSpec, settings: dict[str, Any] | None) -> Any:
    """The MPC session of a job: two parties with OT (default) or with the dealer the job names."""
    settings = dict(settings or {"mode": "ot"})
    unknown = set(settings) - {"mode", "dealer"}
    if unknown:
        raise ConfigurationError(f"job file {spec.source}: unknown mpc settings {sorted(unknown)}")
    if settings.get("mode") == "insecure-self-dealer":  # one party would learn the other's inputs: tests only
        raise ConfigurationError(f"job file {spec.source}: mpc mode 'insecure-self-dealer' is INSECURE and "
                                 "for tests only; job files may use mode: ot or dealer: <third party>")
    return cluster.mpc(list(spec.parties), dealer=settings.get("dealer"), mode=settings.get("mode"))


def score_job(cluster: Cluster, spec: JobSpec) -> int | None:
    """Score the job's ``score`` inputs with the first saved model; scores land at the label holder."""
    if set(spec.score) != set(spec.parties):
        raise ConfigurationError(f"job file {spec.source}: 'score' must name an input for every party")
    cluster.run(check_job, {p: (spec.digest,) for p in spec.participants})
    kind = spec.models[0][0]
    features, _, _, aligned = _prepare_scoring(cluster, spec)
    directories: dict[str, str | os.PathLike[str]] = {n: spec.parties[n].output / "models" / kind
                                                       for n in spec.parties}
    model: accord.ml.SecureBoost | accord.ml.LogisticRegression
    if kind == "secureboost":
        model = accord.ml.SecureBoost.load(cluster, directories, spec.label_party, list(spec.parties))
    else:
        engine = _engine(cluster, spec, dict(spec.models[0][1]).get("mpc"))
        model = accord.ml.LogisticRegression.load(engine, directories, spec.label_party)
    scores = model.predict([features[n] for n in spec.parties])
    party = spec.label_party
    if not scores.is_local:
        return None
    keys = aligned[party].get()[spec.parties[party].key]
    target = spec.score[party].get("output", spec.parties[party].output / "scores.csv")
    write_table(keys.assign(score=scores.get()), target, party=party)
    cluster.record_output(party, str(target))
    return len(keys)


def _prepare_scoring(cluster: Cluster, spec: JobSpec) -> Prepared:
    tables = _load(cluster, spec, {n: spec.score[n]["input"] for n in spec.parties})
    names = list(spec.parties)
    a, b = accord.psi.align(tables[names[0]], tables[names[1]], on={n: spec.parties[n].key for n in names},
                            protocol=spec.psi_protocol)
    aligned = {names[0]: a, names[1]: b}
    features = {}
    for name, table in aligned.items():
        p = spec.parties[name]
        drop = p.key + ([p.label] if p.label else [])
        features[name] = cluster.party(name).apply(
            lambda df, d=drop, n=name: _numeric(df.drop(columns=[c for c in d if c in df.columns]), n), table)
    return features, {}, {}, aligned
