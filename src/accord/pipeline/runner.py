"""Run a job file: align with PSI, split, train every listed model, evaluate at the label holder, save parts.

The same function runs in simulation (every party hosted here) and in production (this process is one
party; the others run the same job file with their own name). Before any protocol, every party checks
its own input and output location and all parties agree to start (:mod:`accord.pipeline.checks`).
Each party writes only into its own output directory: its model parts, and at the label holder the
metrics, ROC/KS plot and scores.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import accord
from accord.data.tables import write_table
from accord.dp.ledger import Ledger
from accord.errors import ConfigurationError, UnsupportedError
from accord.ml._checks import binary_labels, write_json
from accord.ml.binning import describe
from accord.ml.metrics import calibration_table, evaluate, plot_roc_ks
from accord.pipeline import prepare, privacy
from accord.pipeline.checks import scoring_problems, training_problems
from accord.pipeline.job import JobSpec
from accord.pipeline.outputs import Outputs, check_output_file
from accord.pipeline.streaming import score_streamed
from accord.runtime.cluster import Cluster, PartyObject


def train_job(cluster: Cluster, spec: JobSpec) -> dict[str, Any]:
    """Train and evaluate every model of ``spec``; returns the label holder's metrics (where hosted).

    Nothing is written to a party's output directory unless the whole job succeeds.
    """
    outputs = Outputs({n: p.output for n, p in spec.parties.items() if cluster.party(n).is_local},
                      cluster.record_output)
    ledgers: dict[str, Ledger] = {}

    def local(name: str) -> pd.DataFrame | None:
        if name not in spec.parties:
            return None  # a dealer holds no data
        df = prepare.read_checked(spec.parties[name].input, spec.parties[name], training_problems)
        outputs.prepare(name)
        if spec.dp is not None and name in spec.dp.columns:  # can the ledger pay? (before any protocol)
            party = spec.parties[name]
            ledgers[name] = privacy.open_ledger(spec.dp, name, party.dataset or privacy.dataset_name(party.input),
                                                spec.state_dir)
            ledgers[name].check(privacy.planned_costs(spec.dp, name, df))
        return df

    try:
        tables = prepare.start(cluster, spec, local)
        summary = _train(cluster, spec, outputs, tables)
        for name, ledger in ledgers.items():
            _publish(cluster, spec, outputs, name, tables[name].get(), ledger)
    except BaseException:
        outputs.discard()
        raise
    outputs.commit()
    return summary


def _train(cluster: Cluster, spec: JobSpec, outputs: Outputs, tables: dict[str, Any]) -> dict[str, Any]:
    aligned = prepare.align(cluster, spec, tables)
    features = prepare.features(cluster, spec, aligned)
    masks = prepare.split_masks(cluster, spec, aligned)
    for name, table in features.items():  # local summaries, each party of its own columns
        if table.is_local:
            write_table(describe(table.get()), outputs.path(name, "summary.csv"), party=name)
    label_party = spec.label_party
    label = prepare.label_table(cluster, spec, aligned)
    train = [prepare.rows(cluster, features[n], masks[n], False) for n in spec.parties]
    test = [prepare.rows(cluster, features[n], masks[n], True) for n in spec.parties]
    y_train, y_test = (prepare.rows(cluster, label, masks[label_party], keep) for keep in (False, True))
    summary: dict[str, Any] = {}
    for kind, params in spec.models:
        model = _fit(kind, params, spec, y_train, train)
        scores = model.predict(test)  # every party takes part; only the label holder gets the scores
        for name in outputs.stage:
            model.save(outputs.path(name, "models", kind, ""), parties=[name], record=False)
            if kind == "secureboost":  # each party's bins of its own columns, rows per bin and missing
                write_table(model.bin_summary()[name].get(), outputs.path(name, "models", kind, "bins.csv"),
                            party=name)
        if scores.is_local:
            y = binary_labels(y_test.get(), len(scores.get()), label_party, spec.parties[label_party].positive)
            summary[kind] = evaluate(y, scores.get(), spec.threshold)
            summary[kind]["calibration"] = calibration_table(y, scores.get()).to_dict(orient="records")
            if spec.plots:
                _plot(spec, outputs.path(label_party, f"{kind}_roc_ks.png"), y, scores.get())
    if label_party in outputs.stage:
        write_json(outputs.path(label_party, "metrics.json"), summary)
    return summary


def _publish(cluster: Cluster, spec: JobSpec, outputs: Outputs, name: str, frame: pd.DataFrame,
             ledger: Ledger) -> None:
    """``name``'s DP summaries of its own input (charged release by release), saved and reported."""
    if spec.dp is None:
        return
    released = privacy.summaries(spec.dp, name, frame, ledger, f"{spec.name}/{cluster.session}")
    write_json(outputs.path(name, "dp_summary.json"), released)
    cluster.record_privacy(name, ledger.dataset, "job summaries", released["spent"], released["cap"])


def _plot(spec: JobSpec, path: Path, y: np.ndarray, scores: np.ndarray) -> None:
    label = spec.parties[spec.label_party]
    positive = label.positive if label.positive is not None else "1"
    names = spec.label_names or (f"{label.label} = {positive}", f"{label.label} ≠ {positive}")
    try:
        plot_roc_ks(y, scores, path, names)
    except UnsupportedError as exc:
        print(f"{spec.label_party}: no plot ({exc})")


def _fit(kind: str, params: dict[str, Any], spec: JobSpec, label: PartyObject, train: list[PartyObject]) -> Any:
    positive = spec.parties[spec.label_party].positive
    if kind == "secureboost":
        return accord.ml.SecureBoost(label=label, positive=positive, **{"key_bits": spec.key_bits, **params}).fit(train)
    options = dict(params)
    engine = prepare.mpc_engine(label.cluster, spec, options.pop("mpc", None))
    return accord.ml.LogisticRegression(label=label, engine=engine, positive=positive, **options).fit(train)


def score_job(cluster: Cluster, spec: JobSpec, models: Sequence[str] | None = None, *,
              memory: int | None = None, batch: int | None = None, workers: int = 1,
              ray_address: str | None = None) -> int | None:
    """Score the job's ``score`` inputs with every saved model (or those named in ``models``).

    The label holder gets one column per model, ``score_<kind>``, beside the key columns; it returns
    the number of rows scored (``None`` where the label holder is not hosted). With ``memory`` (bytes),
    the rows are read, aligned (bucketed PSI) and scored in batches within that bound at each party
    (:mod:`accord.pipeline.streaming`), ``batch`` rows at a time if given, the alignment's buckets on
    ``workers`` local processes or on the party's Ray cluster at ``ray_address``.
    """
    if memory is not None:
        return score_streamed(cluster, spec, models, memory, batch=batch, workers=workers, ray_address=ray_address)
    if workers != 1 or ray_address is not None:
        raise ConfigurationError("workers and ray_address apply to batched scoring only (memory=...)")
    chosen: list[tuple[str, dict[str, Any]]] = []
    needed: dict[str, list[str]] = {}
    directories: dict[str, dict[str, Path]] = {}
    party = spec.label_party

    def local(name: str) -> pd.DataFrame | None:  # its errors reach the peers in the check round
        if set(spec.score) != set(spec.parties):
            raise ConfigurationError(f"job file {spec.source}: 'score' must name an input for every party")
        chosen[:] = prepare.chosen_models(spec, list(models or []))
        directories.update({n: {kind: p.output / "models" / kind for kind, _ in chosen}
                            for n, p in spec.parties.items()})
        if name not in spec.parties:
            return None
        columns = [prepare.model_columns(kind, directories[name][kind], name) for kind, _ in chosen]
        needed[name] = list(dict.fromkeys(c for cs in columns for c in cs))
        df = prepare.read_checked(spec.score[name].input, spec.parties[name],
                                  lambda df, p: scoring_problems(df, p, needed[name]))
        if name == party:
            check_output_file(prepare.scores_file(spec, name), name)
        return df

    tables = prepare.start(cluster, spec, local)
    aligned = prepare.align(cluster, spec, tables)
    features = prepare.features(cluster, spec, aligned, {n: needed.get(n, []) for n in spec.parties})
    scores = {}
    for kind, params in chosen:
        directory = {n: directories[n][kind] for n in spec.parties}
        model: Any
        if kind == "secureboost":
            model = accord.ml.SecureBoost.load(cluster, directory, party, list(spec.parties))
        else:
            engine = prepare.mpc_engine(cluster, spec, dict(params).get("mpc"))
            model = accord.ml.LogisticRegression.load(engine, directory, party)
        scores[f"score_{kind}"] = model.predict([features[n] for n in spec.parties])
    if not aligned[party].is_local:
        return None
    keys = aligned[party].get()[spec.parties[party].key]
    target = prepare.scores_file(spec, party)
    write_table(keys.assign(**{column: s.get() for column, s in scores.items()}), target, party=party)
    cluster.record_output(party, str(target))
    return len(keys)
