"""From each party's file to aligned, numeric feature tables: local checks, agreement to start, PSI, order.

:func:`start` runs each hosted party's local checks and then :func:`~accord.pipeline.checks.check_job`,
so every party stops before PSI when one of them cannot run. :func:`align` joins the tables with PSI
and puts the joined rows in a canonical order, so the same job gives the same model on every run.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import accord
from accord.data.tables import read_table
from accord.errors import AccordError, ConfigurationError, InputError
from accord.ml._checks import read_part
from accord.ml.secureboost.params import FORMAT as SECUREBOOST_FORMAT
from accord.pipeline.checks import InputProblems, Problem, check_job, public_summary
from accord.pipeline.job import JobSpec, PartySpec
from accord.psi.join import encode_keys
from accord.runtime.cluster import Cluster, PartyObject, PartyTable

# A party's local preparation: reads and checks its input (None for a dealer) or raises an AccordError.
LocalStep = Callable[[str], "pd.DataFrame | None"]


def start(cluster: Cluster, spec: JobSpec, local: LocalStep) -> dict[str, PartyTable]:
    """Run ``local`` at every hosted party, then agree with all parties to start (or stop together).

    Returns each data party's table handle (the value only where the party is hosted).
    """
    tables = agree(cluster, spec.participants, spec.digest, local)
    return {n: cluster.party(n).put(tables[n]) if n in tables else cluster.party(n).remote_table()
            for n in spec.parties}


def agree(cluster: Cluster, parties: Sequence[str], digest: str, local: Callable[[str], Any]) -> dict[str, Any]:
    """``local(p)`` at each hosted party of ``parties``, then one round in which all agree to start.

    ``digest`` names what every party must run (a job file's digest). A party whose ``local`` step
    raised an :class:`~accord.errors.AccordError` stops with it; the others stop with
    :class:`~accord.errors.PeerAborted` naming that party. Returns the hosted parties' results.
    """
    results: dict[str, Any] = {}
    failures: dict[str, AccordError] = {}
    for name in parties:
        if cluster.party(name).is_local:
            try:
                results[name] = local(name)
            except AccordError as exc:
                failures[name] = exc
    cluster.run(check_job, {p: (digest, failures.get(p), public_summary(failures[p]) if p in failures else "")
                            for p in parties})
    return results


def read_checked(path: Path, party: PartySpec, check: Callable[[pd.DataFrame, PartySpec], list[Problem]]
                 ) -> pd.DataFrame:
    """``party``'s table at ``path``, or an :class:`InputProblems` listing everything wrong with it."""
    df = read_table(path, party=party.name)
    problems = check(df, party)
    if problems:
        raise InputProblems(problems, party=party.name, source=str(path))
    return df


def align(cluster: Cluster, spec: JobSpec, tables: dict[str, PartyTable]) -> dict[str, PartyObject]:
    """The inner join of the parties' tables, rows in the canonical order of their keys."""
    first, second = spec.parties
    a, b = accord.psi.align(tables[first], tables[second], on={n: spec.parties[n].key for n in spec.parties},
                            protocol=spec.psi_protocol)
    return {n: cluster.party(n).apply(lambda df, p=spec.parties[n]: canonical_order(df, p), t)
            for n, t in ((first, a), (second, b))}


def canonical_order(df: pd.DataFrame, party: PartySpec) -> pd.DataFrame:
    """The joined rows sorted by their keys' canonical bytes (as PSI encodes them), stably.

    PSI delivers the join in a pseudo-random order, so mini-batch training would differ from run to
    run. Both parties hold the joined keys in the clear, in the same order, and encode equal keys to
    equal bytes, so sorting by them applies the same permutation at both: it depends only on values
    each party already learned from the join, and reveals nothing new. Rows sharing a key keep the
    join's order, which follows the input tables' order at both parties.
    """
    _, keys = encode_keys(df, party.key, party=party.name)
    order = sorted(range(len(keys)), key=keys.__getitem__)
    return df.iloc[order].reset_index(drop=True)


def features(cluster: Cluster, spec: JobSpec, aligned: dict[str, PartyObject],
             columns: dict[str, list[str]] | None = None) -> dict[str, PartyObject]:
    """Each party's feature columns as numbers: ``columns[party]``, else the job's ``features``, else all but
    its key and label."""
    out = {}
    for name, table in aligned.items():
        p = spec.parties[name]
        chosen = columns[name] if columns is not None else (list(p.features) if p.features else None)
        out[name] = cluster.party(name).apply(lambda df, p=p, c=chosen: _numeric(df, p, c), table)
    return out


def _numeric(df: pd.DataFrame, party: PartySpec, columns: list[str] | None) -> pd.DataFrame:
    """Columns as numbers where every present cell reads as one (CSV cells arrive as text).

    Other columns stay text, and the models treat them as categorical, as they do the party's
    declared ``categorical`` columns; empty cells are missing values.
    """
    if columns is None:
        columns = [c for c in df.columns if c not in (*party.key, party.label)]
    out = {}
    for c in columns:
        if c in party.categorical:
            out[c] = df[c].astype("category")
            continue
        numbers = as_numbers(df[c])
        out[c] = numbers if numbers is not None else df[c]
    return pd.DataFrame(out)


def as_numbers(values: pd.Series) -> pd.Series | None:
    """The column as numbers if every present cell reads as one (CSV cells arrive as text), else None."""
    numbers = pd.to_numeric(values, errors="coerce")
    return numbers if bool((numbers.notna() | values.isna()).all()) else None


def label_table(cluster: Cluster, spec: JobSpec, aligned: dict[str, PartyObject]) -> PartyObject:
    """The label holder's label column: as numbers, or as text when the job declares its positive class."""
    party = spec.parties[spec.label_party]
    if party.positive is not None:
        return cluster.party(party.name).apply(lambda df: df[[party.label]], aligned[party.name])
    return cluster.party(party.name).apply(lambda df: pd.DataFrame({party.label: pd.to_numeric(df[party.label])}),
                                           aligned[party.name])


def split_masks(cluster: Cluster, spec: JobSpec, aligned: dict[str, PartyObject]) -> dict[str, PartyObject]:
    """Which aligned rows are test rows, at every party (a public split by a hash of the key)."""
    return {n: cluster.party(n).apply(lambda df, k=spec.parties[n].key: _test_mask(df[k], spec.seed,
                                                                                   spec.test_fraction), t)
            for n, t in aligned.items()}


def _test_mask(keys: pd.DataFrame, seed: int, fraction: float) -> np.ndarray:
    """Public split by a hash of the key: both parties pick the same rows without talking."""
    limit = int(fraction * 2**32)
    joined = keys.astype(str).agg("|".join, axis=1) if keys.shape[1] > 1 else keys.iloc[:, 0].astype(str)
    return np.array([int.from_bytes(hashlib.sha256(f"{seed}|{k}".encode()).digest()[:4], "big") < limit
                     for k in joined])


def rows(cluster: Cluster, obj: PartyObject, mask: PartyObject, keep: bool) -> PartyObject:
    """The rows of ``obj`` where ``mask`` is ``keep``, at its owner."""
    return cluster.party(obj.owner).apply(lambda df, m: df[m == keep].reset_index(drop=True), obj, mask)


def model_columns(kind: str, directory: Path, party: str) -> list[str]:
    """The feature columns ``party``'s saved part of a ``kind`` model uses, read before any protocol."""
    if kind == "secureboost":
        data: Any = read_part(directory / f"{party}.secureboost.json", party, SECUREBOOST_FORMAT)
        columns = data.get("columns")
    else:
        data = read_part(directory / f"{party}.lr.json", party, "accord.lr.v1")
        scaler = data.get("scaler") or {}
        encoder = scaler.get("encoder")  # the source columns, before one-hot encoding
        columns = [*encoder["fill"], *encoder["levels"]] if isinstance(encoder, dict) else scaler.get("columns", [])
    if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
        raise InputError(f"model file in {directory} does not list its columns", party=party, field=str(directory))
    return columns


def chosen_models(spec: JobSpec, names: list[str] | None) -> list[tuple[str, dict[str, Any]]]:
    """The job's models named in ``names`` (all when ``None``), or a ConfigurationError naming the others."""
    if not names:
        return list(spec.models)
    kinds = [k for k, _ in spec.models]
    unknown = [n for n in names if n not in kinds]
    if unknown:
        raise ConfigurationError(f"job {spec.name!r} has no model {', '.join(map(repr, unknown))}; it trains {kinds}")
    return [(k, p) for k, p in spec.models if k in names]


def mpc_engine(cluster: Cluster, spec: JobSpec, settings: dict[str, Any] | None) -> Any:
    """The MPC session of a job: two parties with OT (default) or with the dealer the job names."""
    settings = dict(settings or {"mode": "ot"})
    unknown = set(settings) - {"mode", "dealer"}
    if unknown:
        raise ConfigurationError(f"job file {spec.source}: unknown mpc settings {sorted(unknown)}")
    if settings.get("mode") == "insecure-self-dealer":  # one party would learn the other's inputs: tests only
        raise ConfigurationError(f"job file {spec.source}: mpc mode 'insecure-self-dealer' is INSECURE and "
                                 "for tests only; job files may use mode: ot or dealer: <third party>")
    return cluster.mpc(list(spec.parties), dealer=settings.get("dealer"), mode=settings.get("mode"))


def scores_file(spec: JobSpec, party: str) -> Path:
    """Where the label holder's scores go (localised job files always name it; the default is for the type)."""
    return spec.score[party].output or spec.parties[party].output / "scores.csv"
