"""Read a party's table in batches and spill its rows into buckets on disk (Arrow IPC files).

A row's bucket is a keyed hash of its canonical key bytes (:func:`accord.psi.join.encode_keys`), so
both parties put a key in the same bucket exactly when they hash under the same bucket key. Only one
input batch is in memory at a time; each bucket file keeps the rows in table order and adds the
row's position in the whole table (:data:`ROW`), which orders semi-join results.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from accord.errors import InputError
from accord.psi.join import encode_keys
from accord.psi.kkrt.oprf import fingerprints

ROW = "_accord_row"
Source = pd.DataFrame | str | Path
SUFFIXES = (".parquet", ".csv")


def check_source(source: object, *, party: str) -> None:
    """Refuse a source that is neither a table nor an existing Parquet or CSV file."""
    if isinstance(source, pd.DataFrame):
        return
    if not isinstance(source, (str, Path)):
        raise InputError(f"expected a table or a Parquet/CSV path, got {type(source).__name__}", party=party)
    path = Path(source)
    if path.suffix.lower() not in SUFFIXES:
        raise InputError(f"{path} is neither a .parquet nor a .csv file", party=party)
    if not path.is_file():
        raise InputError(f"input file {path} does not exist", party=party)


def count_rows(source: Source) -> int:
    """The number of rows of ``source`` (read from Parquet metadata; a CSV is scanned once)."""
    if isinstance(source, pd.DataFrame):
        return len(source)
    path = Path(source)
    if path.suffix.lower() == ".parquet":
        return int(pq.ParquetFile(path).metadata.num_rows)
    return sum(_batch.num_rows for _batch in _csv_batches(path))


def fingerprint(source: Source) -> str:
    """What identifies the input for a resumed run: the file's path, size and modification time."""
    if isinstance(source, pd.DataFrame):
        hashed = pd.util.hash_pandas_object(source, index=False).to_numpy()
        return f"table:{hashlib.sha256(hashed.tobytes()).hexdigest()}:{list(map(str, source.columns))}"
    stat = Path(source).stat()
    return f"file:{Path(source).resolve()}:{stat.st_size}:{stat.st_mtime_ns}"


def batches(source: Source, rows: int) -> Iterator[pa.RecordBatch]:
    """``source`` as record batches of at most ``rows`` rows."""
    if isinstance(source, pd.DataFrame):
        yield from pa.Table.from_pandas(source, preserve_index=False).to_batches(max_chunksize=rows)
    elif Path(source).suffix.lower() == ".parquet":
        yield from pq.ParquetFile(source).iter_batches(batch_size=rows)
    else:
        for batch in _csv_batches(Path(source)):
            for start in range(0, batch.num_rows, rows):
                yield batch.slice(start, rows)


def _csv_batches(path: Path) -> Iterator[pa.RecordBatch]:
    reader = pacsv.open_csv(path, read_options=pacsv.ReadOptions(block_size=16 << 20))
    yield from reader


def bucket_of(keys: list[bytes], key: bytes, buckets: int) -> np.ndarray:
    """Each canonical key's bucket: its AES-CBC-MAC fingerprint under ``key``, modulo ``buckets``."""
    if not keys:
        return np.empty(0, dtype=np.int64)
    head = fingerprints(keys, key)[:, :8].copy().view("<u8").ravel()
    return (head % np.uint64(buckets)).astype(np.int64)


def bucket_path(directory: Path, bucket: int) -> Path:
    return directory / f"{bucket:05d}.arrow"


def spill(source: Source, on: Sequence[str], key: bytes, buckets: int, directory: Path, *, party: str,
          batch_rows: int) -> tuple[tuple[str, ...], np.ndarray]:
    """Write each row of ``source`` to its bucket's file in ``directory``; the key kinds and rows per bucket.

    Every bucket gets a file (an empty bucket an empty one), so a bucket's schema is known even when
    it holds no rows. Files are written under temporary names and renamed when all are complete.
    """
    directory.mkdir(parents=True, exist_ok=True)
    counts = np.zeros(buckets, dtype=np.int64)
    kinds: tuple[str, ...] | None = None
    seen = 0
    with ExitStack() as stack:
        writers: list[pa.ipc.RecordBatchFileWriter] = []
        for batch in batches(source, batch_rows):
            if ROW in batch.schema.names:
                raise InputError(f"the table has a column named {ROW!r}, which bucketed PSI reserves", party=party,
                                 field=ROW)
            batch_kinds, keys = encode_keys(batch.select(list(on)).to_pandas(), on, party=party)
            if kinds is None:
                kinds = batch_kinds
            elif batch_kinds != kinds:
                raise InputError(f"key columns {list(on)} change type inside the table ({kinds} then {batch_kinds}); "
                                 "give each key column one type", party=party, field=on[0])
            table = pa.Table.from_batches([batch]).append_column(
                ROW, pa.array(np.arange(seen, seen + batch.num_rows, dtype=np.int64)))
            seen += batch.num_rows
            if not writers:
                writers = [stack.enter_context(pa.ipc.new_file(_partial(bucket_path(directory, b)), table.schema))
                           for b in range(buckets)]
            ids = bucket_of(keys, key, buckets)
            order = np.argsort(ids, kind="stable")
            sizes = np.bincount(ids, minlength=buckets)
            counts += sizes
            ends = np.cumsum(sizes)
            for b in np.flatnonzero(sizes).tolist():
                writers[b].write_table(table.take(order[ends[b] - sizes[b]: ends[b]]))
        if kinds is None:
            raise InputError("the table is empty: there are no keys to intersect", party=party)
    for b in range(buckets):
        _partial(bucket_path(directory, b)).replace(bucket_path(directory, b))
    return kinds, counts


def _partial(path: Path) -> Path:
    return path.with_name(path.name + ".partial")


def load(path: Path) -> pa.Table:
    """One bucket (or one bucket's result) back from its Arrow IPC file."""
    with pa.OSFile(str(path), "rb") as source:
        return pa.ipc.open_file(source).read_all()


def load_schema(path: Path) -> pa.Schema:
    """The schema of a bucket file, without reading its rows."""
    with pa.OSFile(str(path), "rb") as source:
        return pa.ipc.open_file(source).schema


def store(table: pa.Table, path: Path) -> None:
    """Write ``table`` to ``path`` atomically (a temporary file renamed when complete)."""
    partial = _partial(path)
    with pa.ipc.new_file(partial, table.schema) as writer:
        writer.write_table(table)
    partial.replace(path)
