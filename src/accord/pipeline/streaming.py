"""``accord score --memory``: score tables beyond memory, batch by batch, with a bound on each party's memory.

Each data party reads its new rows in batches, checks them and keeps its key and model columns in a
Parquet file in its state directory; the bucketed PSI (:func:`accord.psi.join_files`) aligns the two
files with bounded memory; then both parties read the aligned rows in batches of the same size and
score each batch through the split models, the label holder appending the batch's scores to a
temporary file that is renamed into place only when every batch is scored.

What this reveals beyond unbatched scoring: the bucketed PSI's leakage (each party's number of
distinct keys per bucket, under a bucket key neither chose; see :mod:`accord.psi.bucket.protocol`),
and each party's proposed batch size (from its memory bound). Batches cut the aligned rows, which
both parties already hold in the same order, at public positions, so the per-batch predictions
reveal together what one prediction of all rows reveals. The scores come in bucket order (keys in
canonical order within a bucket) rather than in one global key order.
"""

from __future__ import annotations

import math
import os
import secrets
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

import accord
from accord.dp.ledger import state_dir
from accord.errors import ConfigurationError, InputError, MalformedMessage
from accord.pipeline import prepare
from accord.pipeline.checks import InputProblems, Problem, key_problems
from accord.pipeline.job import JobSpec, PartySpec
from accord.pipeline.outputs import FILE_MODE, check_output_file
from accord.runtime.cluster import Cluster
from accord.runtime.context import Context
from accord.runtime.report import protocol

ROW_BYTES = 40 << 10      # peak memory per row of a batch, both models (measured 35 KiB: benchmarks/score_scale.py)
BASE_BYTES = 512 << 20    # a scoring process before its batches: runtime, models, MPC session (measured 450 MiB)
MIN_MEMORY = 640 << 20
MAX_BATCH = 1 << 26
PLAN_LEAKAGE = "each data party's number of aligned rows (which the PSI already gave) and its proposed batch size"


def score_streamed(cluster: Cluster, spec: JobSpec, models: Sequence[str] | None, memory: int, *,
                   batch: int | None = None, buckets: int | None = None, workers: int = 1,
                   ray_address: str | None = None) -> int | None:
    """Score the job's ``score`` inputs like :func:`~accord.pipeline.runner.score_job`, within ``memory`` bytes.

    ``batch`` (rows) and ``buckets`` replace the batch size and the PSI's bucket count that ``memory``
    sets; ``workers`` and ``ray_address`` run the PSI's buckets in parallel on a local process pool or
    on the party's Ray cluster (:func:`accord.psi.join_files`). Returns the number of rows scored
    where the label holder is hosted (else ``None``).
    """
    if memory < MIN_MEMORY:
        raise ConfigurationError(f"the memory bound must be at least {MIN_MEMORY >> 20} MiB, got {memory} bytes")
    if batch is not None and not 1 <= batch <= MAX_BATCH:
        raise ConfigurationError(f"the batch size must be in [1, {MAX_BATCH}] rows, got {batch}")
    rows = batch or batch_rows(memory)
    label = spec.label_party
    chosen = prepare.chosen_models(spec, list(models or []))
    directories = {n: {kind: p.output / "models" / kind for kind, _ in chosen} for n, p in spec.parties.items()}
    root = state_dir(spec.state_dir) / "score" / spec.name  # one run of a job at a time per state directory
    work = {n: root / n for n in spec.parties if cluster.party(n).is_local}
    needed: dict[str, list[str]] = {}

    def local(name: str) -> Path | None:
        if set(spec.score) != set(spec.parties):
            raise ConfigurationError(f"job file {spec.source}: 'score' must name an input for every party")
        if name not in spec.parties:
            return None
        columns = [prepare.model_columns(kind, directories[name][kind], name) for kind, _ in chosen]
        needed[name] = list(dict.fromkeys(c for cs in columns for c in cs))
        if name == label:
            check_output_file(prepare.scores_file(spec, name), name)
        shutil.rmtree(work[name], ignore_errors=True)  # what a killed run left
        work[name].mkdir(parents=True)
        return stage(spec.score[name].input, spec.parties[name], needed[name], work[name] / "input.parquet", rows)

    try:
        staged = prepare.agree(cluster, spec.participants, spec.digest, local)
        aligned = {n: work[n] / "aligned.parquet" for n in work}
        accord.psi.join_files(cluster, {n: staged.get(n) for n in spec.parties}, dict(aligned),
                              on={n: spec.parties[n].key for n in spec.parties}, run=root.name,
                              protocol=spec.psi_protocol, memory=memory, buckets=buckets, state_dir=spec.state_dir,
                              workers=workers, ray_address=ray_address)
        return _score(cluster, spec, chosen, directories, aligned, needed, rows)
    finally:
        for directory in work.values():
            shutil.rmtree(directory, ignore_errors=True)
        if root.is_dir() and not any(root.iterdir()):
            root.rmdir()


def batch_rows(memory: int) -> int:
    """Rows per batch for a memory bound in bytes: what the bound leaves beside the process's base."""
    return max(1, min(MAX_BATCH, (memory - BASE_BYTES) // ROW_BYTES))


def stage(source: Path, party: PartySpec, needed: list[str], target: Path, rows: int) -> Path:
    """Check ``party``'s rows batch by batch and keep its key and ``needed`` columns in ``target`` (Parquet).

    CSV cells are read as text, as :func:`accord.data.tables.read_table` reads them. Problems are
    raised before any protocol as :class:`InputProblems`: missing columns before reading a row, a
    batch's key problems at that batch, the feature columns' problems over all batches at the end.
    """
    columns = list(dict.fromkeys([*party.key, *needed]))
    found = _columns(source, party.name)
    problems = key_problems(pd.DataFrame(columns=found), [k for k in party.key if k not in found], party.name)
    problems += [Problem(c, f"column {c!r}, which the saved model uses, is missing") for c in needed if c not in found]
    if problems:
        raise InputProblems(problems, party=party.name, source=str(source))
    tally = _Features(needed, party.categorical)
    seen = 0
    with pq.ParquetWriter(target, _schema(source, columns)) as writer:
        for frame in _read(source, columns, rows, party.name):
            problems = key_problems(frame, party.key, party.name)
            if problems:
                raise InputProblems(problems, party=party.name, source=str(source))
            tally.add(frame)
            writer.write_table(pa.Table.from_pandas(frame, schema=writer.schema, preserve_index=False))
            seen += len(frame)
    problems = tally.problems() if seen else [Problem("", "the table has no rows", "the table has no rows")]
    if problems:
        raise InputProblems(problems, party=party.name, source=str(source))
    return target


def _columns(source: Path, party: str) -> list[str]:
    try:
        if source.suffix.lower() in (".parquet", ".pq"):
            return list(pq.ParquetFile(source).schema_arrow.names)
        return list(pd.read_csv(source, nrows=0).columns)
    except FileNotFoundError:
        raise InputError(f"input file {source} does not exist", party=party, field=str(source)) from None
    except Exception as exc:
        raise InputError(f"cannot read {source}: {exc}", party=party, field=str(source)) from None


def _schema(source: Path, columns: list[str]) -> pa.Schema:
    if source.suffix.lower() in (".parquet", ".pq"):
        return pq.ParquetFile(source).schema_arrow.empty_table().select(columns).schema.remove_metadata()
    return pa.schema([(c, pa.string()) for c in columns])


def _read(source: Path, columns: list[str], rows: int, party: str) -> Iterator[pd.DataFrame]:
    try:
        if source.suffix.lower() in (".parquet", ".pq"):
            for batch in pq.ParquetFile(source).iter_batches(batch_size=rows, columns=columns):
                yield batch.to_pandas()
        else:
            yield from pd.read_csv(source, usecols=columns, dtype=str, keep_default_na=False, na_values=[""],
                                   chunksize=rows)
    except (ValueError, pa.ArrowException) as exc:
        raise InputError(f"cannot read {source}: {exc}", party=party, field=str(source)) from None


class _Features:
    """What :func:`~accord.pipeline.checks.feature_problems` finds in a whole table, gathered batch by batch."""

    def __init__(self, columns: list[str], categorical: Sequence[str]) -> None:
        self.columns, self.categorical = columns, set(categorical)
        self.present = dict.fromkeys(columns, 0)
        self.numeric = dict.fromkeys(columns, True)
        self.infinite = dict.fromkeys(columns, 0)

    def add(self, frame: pd.DataFrame) -> None:
        for column in self.columns:
            raw = frame[column]
            present = raw[raw.notna() & (raw.astype(str).str.strip() != "")]
            self.present[column] += len(present)
            numbers = pd.to_numeric(present, errors="coerce")
            self.numeric[column] &= bool(numbers.notna().all())
            self.infinite[column] += int(np.isinf(numbers.to_numpy(dtype=np.float64, na_value=np.nan)).sum())

    def problems(self) -> list[Problem]:
        out = []
        for c in self.columns:
            if not self.present[c]:
                out.append(Problem(c, f"column {c!r} has no values"))
            elif c not in self.categorical and self.numeric[c] and self.infinite[c]:
                n = self.infinite[c]
                out.append(Problem(c, f"column {c!r} has {n} infinite value{'s' if n > 1 else ''}"))
        return out


def _score(cluster: Cluster, spec: JobSpec, chosen: list[tuple[str, dict[str, Any]]],
           directories: dict[str, dict[str, Path]], aligned: dict[str, Path], needed: dict[str, list[str]],
           batch: int) -> int | None:
    """Agree on the batches, then score the aligned rows batch by batch into the label holder's file."""
    label = spec.label_party
    counts = {n: pq.ParquetFile(path).metadata.num_rows for n, path in aligned.items()}
    planned = cluster.run(plan_batches, {p: (counts.get(p), batch if p in spec.parties else None)
                                         for p in spec.participants},
                          learned={p: PLAN_LEAKAGE for p in spec.participants})
    total, rows = next(v.get() for v in planned.values() if v.is_local)
    models: list[Any] = []
    for kind, params in chosen:
        directory = {n: directories[n][kind] for n in spec.parties}
        if kind == "secureboost":
            models.append(accord.ml.SecureBoost.load(cluster, directory, label, list(spec.parties)))
        else:
            engine = prepare.mpc_engine(cluster, spec, dict(params).get("mpc"))
            models.append(accord.ml.LogisticRegression.load(engine, directory, label))
    kinds = {n: _kinds(path, needed[n], spec.parties[n]) for n, path in aligned.items()}
    readers = {n: _exact(path, [*spec.parties[n].key, *needed[n]], rows) for n, path in aligned.items()}
    columns = [*spec.parties[label].key, *(f"score_{k}" for k, _ in chosen)]
    writer = _ScoreWriter(prepare.scores_file(spec, label), columns) if label in aligned else None
    try:
        for _ in range(math.ceil(total / rows)):
            frames = {n: next(r) for n, r in readers.items()}
            features = [cluster.party(n).put(_numeric(frames[n], needed[n], kinds[n])) if n in frames
                        else cluster.party(n).remote_table() for n in spec.parties]
            scores = {f"score_{kind}": model.predict(features) for (kind, _), model in zip(chosen, models)}
            if writer is not None:
                writer.write(frames[label][list(spec.parties[label].key)].assign(
                    **{column: s.get() for column, s in scores.items()}))
        if writer is None:
            return None
        target = writer.commit()
    finally:
        if writer is not None:
            writer.discard()
    cluster.record_output(label, str(target))
    return total


@protocol("score.plan", threat_model="semi-honest (passive) parties", leakage=PLAN_LEAKAGE)
def plan_batches(ctx: Context, rows: int | None, batch: int | None) -> tuple[int, int]:
    """Every participant (a dealer too) learns the aligned row count and the batch size: the smaller proposal."""
    mine = np.asarray([-1 if rows is None else rows, -1 if batch is None else batch], dtype=np.int64)
    proposals = {ctx.me: mine}
    for peer, message in ctx.exchange(mine, "plan").items():
        if not (isinstance(message, np.ndarray) and message.dtype == np.int64 and message.shape == (2,)
                and -1 <= message[0] and -1 <= message[1] <= MAX_BATCH and message[1] != 0):
            raise MalformedMessage(f"party {peer!r} sent a malformed scoring plan", party=peer, step=ctx.path)
        proposals[peer] = message
    data = [m for m in proposals.values() if m[1] > 0]
    counts = {int(m[0]) for m in data}
    if len(counts) != 1:
        raise MalformedMessage(f"the parties hold different numbers of aligned rows {sorted(counts)}",
                               party=ctx.peers[0], step=ctx.path)
    return counts.pop(), int(min(m[1] for m in data))


def _exact(path: Path, columns: list[str], rows: int) -> Iterator[pd.DataFrame]:
    """The aligned rows in batches of exactly ``rows`` rows (the last one shorter), whatever the row groups."""
    pending: list[pa.RecordBatch] = []
    held = 0
    for batch in pq.ParquetFile(path).iter_batches(batch_size=rows, columns=columns):
        pending.append(batch)
        held += batch.num_rows
        while held >= rows:
            table = pa.Table.from_batches(pending)
            yield table.slice(0, rows).to_pandas()
            pending, held = table.slice(rows).to_batches(), held - rows
    if held:
        yield pa.Table.from_batches(pending).to_pandas()


def _kinds(path: Path, columns: list[str], party: PartySpec) -> dict[str, str]:
    """Each column's type over all aligned rows, as :func:`prepare.features` decides it for the whole table."""
    numeric = dict.fromkeys(columns, True)
    for batch in pq.ParquetFile(path).iter_batches(columns=columns):
        frame = batch.to_pandas()
        for c in columns:
            numeric[c] &= prepare.as_numbers(frame[c]) is not None
    return {c: "category" if c in party.categorical else "number" if numeric[c] else "text" for c in columns}


def _numeric(frame: pd.DataFrame, columns: list[str], kinds: dict[str, str]) -> pd.DataFrame:
    out = {}
    for c in columns:
        kind = kinds[c]
        out[c] = (frame[c].astype("category") if kind == "category" else
                  pd.to_numeric(frame[c], errors="coerce") if kind == "number" else frame[c])
    return pd.DataFrame(out)


class _ScoreWriter:
    """The label holder's scores, appended batch by batch to a temporary file renamed into place at the end."""

    def __init__(self, target: Path, columns: list[str]) -> None:
        self.target, self.columns = target, columns
        self.partial = target.with_name(f".{target.name}.partial-{secrets.token_hex(4)}")
        self.parquet = target.suffix.lower() in (".parquet", ".pq")
        self.writer: pq.ParquetWriter | None = None
        self.header = True

    def write(self, frame: pd.DataFrame) -> None:
        if not self.parquet:
            frame.to_csv(self.partial, mode="w" if self.header else "a", header=self.header, index=False)
            self.header = False
            return
        table = pa.Table.from_pandas(frame, preserve_index=False)
        if self.writer is None:
            self.writer = pq.ParquetWriter(self.partial, table.schema)
        self.writer.write_table(table.cast(self.writer.schema))

    def commit(self) -> Path:
        if self.writer is not None:
            self.writer.close()
            self.writer = None
        elif self.header:  # no rows were aligned: the columns only
            empty = pd.DataFrame(columns=self.columns)
            empty.to_parquet(self.partial, index=False) if self.parquet else empty.to_csv(self.partial, index=False)
        self.partial.chmod(FILE_MODE)
        os.replace(self.partial, self.target)
        return self.target

    def discard(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None
        self.partial.unlink(missing_ok=True)
