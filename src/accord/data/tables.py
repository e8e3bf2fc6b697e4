"""Party-local tables: reading CSV and Parquet files, checking columns, writing results atomically.

A failed job must leave no partial output: :func:`write_table` writes to a temporary file in the
destination directory and renames it into place only once the write completed.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from accord.errors import InputError


def read_table(path: str | os.PathLike[str], *, party: str, fmt: str | None = None, **options: Any) -> pd.DataFrame:
    """Read a CSV or Parquet file held by ``party``; the format defaults to the file extension.

    CSV columns are read as strings unless ``dtype`` is given, so identifiers such as ``"007"`` keep
    their leading zeros and both parties see keys exactly as written.
    """
    source = Path(path)
    kind = fmt or ("parquet" if source.suffix.lower() in (".parquet", ".pq") else "csv")
    try:
        if kind == "parquet":
            df = pd.read_parquet(source, **options)
        elif kind == "csv":
            options.setdefault("dtype", str)
            options.setdefault("keep_default_na", False)
            options.setdefault("na_values", [""])
            df = pd.read_csv(source, **options)
        else:
            raise InputError(f"unknown table format {kind!r} for {source}; use csv or parquet", party=party)
    except FileNotFoundError:
        raise InputError(f"input file {source} does not exist", party=party, field=str(source)) from None
    except PermissionError:
        raise InputError(f"input file {source} is not readable (permission denied)", party=party,
                         field=str(source)) from None
    except InputError:
        raise
    except Exception as exc:
        raise InputError(f"cannot read {source} as {kind}: {exc}", party=party, field=str(source)) from None
    return df


def require_columns(df: pd.DataFrame, columns: Sequence[str], *, party: str) -> None:
    """Raise an :class:`InputError` naming the party and the missing columns."""
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise InputError(
            f"column{'s' if len(missing) > 1 else ''} {', '.join(map(repr, missing))} not found; "
            f"the table has {list(map(str, df.columns))}", party=party, field=missing[0],
        )


def write_table(df: pd.DataFrame, path: str | os.PathLike[str], *, party: str) -> Path:
    """Write ``df`` to ``path`` (CSV, or Parquet by extension) atomically; returns the final path."""
    target = Path(path)
    directory = target.parent if str(target.parent) else Path(".")
    if not directory.is_dir():
        raise InputError(f"output directory {directory} does not exist", party=party, field=str(target))
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=directory)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        if target.suffix.lower() in (".parquet", ".pq"):
            df.to_parquet(tmp, index=False)
        else:
            df.to_csv(tmp, index=False)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target
