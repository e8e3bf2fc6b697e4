"""Join semantics around a PSI: key validation and encoding, de-duplication, and row expansion.

PSI runs on *distinct* keys. This module turns a party's table into canonical key bytes (one per row,
multi-column keys included), groups rows by key, and after the PSI expands the matched keys back
into rows so both parties hold an inner join in the same row order.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from accord.errors import InputError

# Key kinds: both parties must agree on them column by column.
_KIND_BYTES = {"str": b"s", "int": b"i", "float": b"f", "bool": b"b", "datetime": b"t", "bytes": b"y"}
_LEN = struct.Struct(">I")


@dataclass(frozen=True)
class KeySet:
    """A party's distinct keys and where its rows are.

    Attributes
    ----------
    kinds:
        Kind of each key column (``"str"``, ``"int"``, ...), checked against the peer's.
    keys:
        Canonical bytes of each distinct key, in order of first appearance.
    counts:
        Number of rows holding each distinct key.
    rows:
        Row positions grouped by key: ``rows[starts[k] : starts[k] + counts[k]]`` are key ``k``'s rows,
        in table order.
    starts:
        Offsets into ``rows``.
    """

    kinds: tuple[str, ...]
    keys: list[bytes]
    counts: np.ndarray
    rows: np.ndarray
    starts: np.ndarray


def key_kind(series: pd.Series, *, party: str, column: str) -> str:
    """The kind of a key column, or an :class:`InputError` for nulls, NaN or mixed types."""
    nulls = int(series.isna().sum())
    if nulls:
        raise InputError(f"key column {column!r} has {nulls} missing value{'s' if nulls > 1 else ''} "
                         "(None/NaN); drop or fill them before the intersection", party=party, field=column)
    inferred = pd.api.types.infer_dtype(series, skipna=False)
    kinds = {"string": "str", "integer": "int", "floating": "float", "boolean": "bool", "bytes": "bytes",
             "datetime64": "datetime", "datetime": "datetime", "date": "datetime", "empty": "str"}
    if inferred not in kinds:
        raise InputError(f"key column {column!r} mixes value types ({inferred}); use one type per key column",
                         party=party, field=column)
    kind = kinds[inferred]
    if kind == "float":
        values = series.to_numpy(dtype=np.float64)
        if not np.isfinite(values).all():
            raise InputError(f"key column {column!r} holds infinite values", party=party, field=column)
    return kind


def _encode_column(series: pd.Series, kind: str) -> list[bytes]:
    if kind == "str":
        encoded = [s.encode("utf-8") for s in series.tolist()]
    elif kind == "int":
        encoded = [str(int(v)).encode() for v in series.tolist()]
    elif kind == "float":
        encoded = [repr(float(v) + 0.0).encode() for v in series.tolist()]  # + 0.0 folds -0.0 into 0.0
    elif kind == "bool":
        encoded = [b"1" if v else b"0" for v in series.tolist()]
    elif kind == "datetime":
        encoded = [pd.Timestamp(v).isoformat().encode() for v in series.tolist()]
    else:
        encoded = [bytes(v) for v in series.tolist()]
    tag = _KIND_BYTES[kind]
    return [tag + _LEN.pack(len(e)) + e for e in encoded]


def encode_keys(df: pd.DataFrame, on: Sequence[str], *, party: str) -> tuple[tuple[str, ...], list[bytes]]:
    """Validate the key columns of ``df`` and encode each row's key as canonical bytes."""
    if not isinstance(df, pd.DataFrame):
        raise InputError(f"expected a table (pandas DataFrame), got {type(df).__name__}", party=party)
    missing = [c for c in on if c not in df.columns]
    if missing:
        raise InputError(f"key column{'s' if len(missing) > 1 else ''} {', '.join(map(repr, missing))} not "
                         f"found; the table has columns {list(map(str, df.columns))}", party=party,
                         field=missing[0])
    if len(df) == 0:
        raise InputError("the table is empty: there are no keys to intersect", party=party)
    kinds = tuple(key_kind(df[c], party=party, column=c) for c in on)
    columns = [_encode_column(df[c], k) for c, k in zip(on, kinds)]
    keys = columns[0] if len(columns) == 1 else [b"".join(parts) for parts in zip(*columns)]
    return kinds, keys


def group_keys(kinds: tuple[str, ...], keys: list[bytes]) -> KeySet:
    """Group rows by key: distinct keys in order of first appearance, counts and row positions."""
    codes, uniques = pd.factorize(pd.Series(keys, dtype=object), sort=False)
    counts = np.bincount(codes, minlength=len(uniques)).astype(np.int64)
    rows = np.argsort(codes, kind="stable").astype(np.int64)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1])).astype(np.int64)
    return KeySet(kinds=kinds, keys=list(uniques), counts=counts, rows=rows, starts=starts)


def check_kinds(mine: Sequence[str], theirs: Sequence[str], on: Sequence[str], *, me: str, peer: str) -> None:
    """Raise an :class:`InputError` naming the first key column whose kind differs between parties."""
    if len(mine) != len(theirs):
        raise InputError(f"joins on {len(mine)} key columns but {peer!r} joins on {len(theirs)}", party=me)
    for column, a, b in zip(on, mine, theirs):
        if a != b:
            raise InputError(f"key column {column!r} holds {a} values but party {peer!r}'s key column in that "
                             f"position holds {b} values; convert one side so both match", party=me, field=column)


def expand_rows(keyset: KeySet, matched: np.ndarray, peer_counts: np.ndarray, *, outer: bool) -> np.ndarray:
    """Row positions of an inner join, for matched distinct keys in the agreed order.

    For key ``k`` with ``m`` local rows and ``c`` peer rows the join holds ``m * c`` row pairs,
    ordered by (first party's row, second party's row). The first party (``outer=True``) repeats
    each of its rows ``c`` times; the second tiles its ``m``-row block ``c`` times, so row ``i`` of
    both outputs belongs to the same pair.
    """
    mine = keyset.counts[matched]
    theirs = np.asarray(peer_counts, dtype=np.int64)
    block = mine * theirs
    total = int(block.sum())
    if total == 0:
        return np.empty(0, dtype=np.int64)
    key_of = np.repeat(np.arange(len(matched)), block)
    offset = np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(block) - block, block)
    local = offset // theirs[key_of] if outer else offset % mine[key_of]
    return keyset.rows[keyset.starts[matched][key_of] + local]


def output_bound(counts_a: np.ndarray, counts_b: np.ndarray) -> int:
    """Rows an inner join would produce (to refuse absurd blow-ups before allocating)."""
    return int(np.dot(np.asarray(counts_a, dtype=np.float64), np.asarray(counts_b, dtype=np.float64))) \
        if len(counts_a) else 0
