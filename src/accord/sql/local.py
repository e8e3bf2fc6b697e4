"""Each party's local work in DuckDB: read its sources, check them, and reduce its rows to units.

Sources are CSV or Parquet files, SQLite databases (``path.db`` or ``path.db#table``), PostgreSQL
tables or queries (:mod:`accord.sql.postgres`) or pandas DataFrames; every column is cast to the
catalog's type, NOT NULL columns and ``max_abs`` bounds are checked, and an
:class:`~accord.errors.InputError` names the party, table and column of any problem before anything
crosses the party boundary. Once loaded, the connection loses external access: the unit query is
generated from the user's SQL, so it must not reach the owner's file system.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import sqlglot.expressions as exp

from accord.errors import InputError
from accord.sql import postgres
from accord.sql.catalog import Table
from accord.sql.plan import Derived, Plan
from accord.sql.probe import Encoding

Source = str | os.PathLike[str] | pd.DataFrame


def units(plan: Plan, party: str, sources: dict[str, Source], *, unique_keys: bool = False) -> pd.DataFrame:
    """This party's units: one row per distinct key, group and unit-column combination (see :mod:`accord.sql.plan`).

    ``unique_keys`` (DP answers) first checks that the party's rows hold each join key at most once.
    """
    conn = duckdb.connect(":memory:")
    try:
        names = {t.name: t for alias, t in plan.query.tables.items() if t.owner == party}
        for name, table in names.items():
            if name not in sources:
                raise InputError(f"no source for table {name!r}: give one in the catalog or in sources=", party=party,
                                 field=name)
            _load(conn, table, sources[name], party)
        conn.execute("SET enable_external_access = false")
        if unique_keys:
            _check_unique(conn, plan, party)
        sql = unit_sql(plan, party)
        try:
            frame = conn.execute(sql).df()
        except duckdb.Error as exc:
            raise InputError(f"the local part of the query failed: {str(exc).splitlines()[0]}", party=party) from None
        _check_bounds(plan, party, frame)
        return frame
    finally:
        conn.close()


def _load(conn: duckdb.DuckDBPyConnection, table: Table, source: Source, party: str) -> None:
    if isinstance(source, str) and postgres.is_postgres(source):
        postgres.load(conn, table, source, party)
    else:
        _load_local(conn, table, source, party)
    _check_column_values(conn, table, party)


def _load_local(conn: duckdb.DuckDBPyConnection, table: Table, source: Source, party: str) -> None:
    """A file or DataFrame source through a view of its raw columns, cast into the catalog's types."""
    casts = ", ".join(f'CAST("{c.name}" AS {c.type.duckdb}) AS "{c.name}"' for c in table.columns.values())
    raw = f"__raw_{table.name}"
    try:
        if isinstance(source, pd.DataFrame):
            conn.register(raw, source.rename(columns=str.lower))
        else:
            path = os.fspath(source)
            file, _, inner = path.partition("#")
            if file.lower().endswith((".db", ".sqlite", ".sqlite3")):
                with sqlite3.connect(f"file:{file}?mode=ro", uri=True) as lite:
                    frame = pd.read_sql_query(f'SELECT * FROM "{inner or table.name}"', lite)
                conn.register(raw, frame.rename(columns=str.lower))
            elif file.lower().endswith((".parquet", ".pq")):
                conn.read_parquet(file).create_view(raw)
            else:
                conn.read_csv(file, header=True, all_varchar=True).create_view(raw)
        present = {str(r[0]).lower() for r in conn.execute(f"DESCRIBE {raw}").fetchall()}
    except (duckdb.Error, OSError, sqlite3.Error, pd.errors.DatabaseError) as exc:
        raise InputError(f"cannot read the source of table {table.name!r}: {str(exc).splitlines()[0]}",
                         party=party, field=table.name) from None
    missing = [c for c in table.columns if c not in present]
    if missing:
        raise InputError(f"table {table.name!r} lacks column{'s' if len(missing) > 1 else ''} {missing}",
                         party=party, field=missing[0])
    try:
        conn.execute(f'CREATE TABLE "{table.name}" AS SELECT {casts} FROM {raw}')
    except duckdb.Error as exc:
        raise InputError(f"table {table.name!r} does not match the catalog's types: {str(exc).splitlines()[0]}",
                         party=party, field=table.name) from None


def _check_column_values(conn: duckdb.DuckDBPyConnection, table: Table, party: str) -> None:
    """NOT NULL columns hold no NULL and numeric columns stay within their declared ``max_abs``."""
    for column in table.columns.values():
        nulls, biggest = conn.execute(
            f'SELECT COUNT(*) FILTER (WHERE "{column.name}" IS NULL), '
            + (f'MAX(ABS(CAST("{column.name}" AS DOUBLE)))' if column.type.numeric else "0")
            + f' FROM "{table.name}"').fetchall()[0]
        if nulls and not column.nullable:
            raise InputError(f"column {table.name}.{column.name} is declared NOT NULL but holds {nulls} NULLs",
                             party=party, field=column.name)
        if biggest is not None and biggest > column.max_abs:
            raise InputError(f"column {table.name}.{column.name} holds {biggest:g}, beyond its declared max_abs "
                             f"{column.max_abs:g}", party=party, field=column.name)


def unit_sql(plan: Plan, party: str) -> str:
    """The DuckDB query computing this party's units (keys, groups, derived values, counts, partials)."""
    lp = plan.local[party]
    q = plan.query
    items = [f"{col.sql(dialect='duckdb')} AS {lp.key_name(cls)}" for cls, col in sorted(lp.keys.items())]
    items += [f"{g.sql(dialect='duckdb')} AS g{i}" for i, g in enumerate(lp.groups)]
    items += [f"{_encode(d.expr, d.enc)} AS {d.name}" for d in lp.derived]
    items += [f"CAST({c.sql(dialect='duckdb')} AS VARCHAR) AS c{i}" for i, c in enumerate(lp.counted)]
    group_by = ", ".join(str(i + 1) for i in range(len(items)))
    folded = " AND ".join(f"({f.sql(dialect='duckdb')})" for f in lp.folded)
    flag = f" FILTER (WHERE {folded})" if lp.folded else ""
    items.append(f"COUNT(*){flag} AS cnt")
    for p in lp.partials:
        arg = p.expr.sql(dialect="duckdb")
        if p.func != "count":
            items.append(f"{_encode(exp.func(p.func.upper(), p.expr), p.enc, flag)} AS {p.name}_v")
        items.append(f"COUNT({arg}){flag} AS {p.name}_n")
        if p.enc.kind in ("int", "fixed"):
            items.append(f"MAX(ABS(CAST({arg} AS DOUBLE))){flag} AS {p.name}_m")
    tables = ", ".join(f'"{q.tables[a].name}" AS "{a}"' for a in lp.aliases)
    where = [f"{a.sql(dialect='duckdb')} = {b.sql(dialect='duckdb')}" for a, b in lp.local_joins]
    where += [f"{col.sql(dialect='duckdb')} IS NOT NULL" for col in lp.keys.values()]
    where += [f"({p.sql(dialect='duckdb')})" for p in lp.pushed]
    return (f"SELECT {', '.join(items)} FROM {tables}" + (f" WHERE {' AND '.join(where)}" if where else "")
            + f" GROUP BY {group_by}")


def _check_unique(conn: duckdb.DuckDBPyConnection, plan: Plan, party: str) -> None:
    lp = plan.local[party]
    keys = ", ".join(col.sql(dialect="duckdb") for col in lp.keys.values())
    tables = ", ".join(f'"{plan.query.tables[a].name}" AS "{a}"' for a in lp.aliases)
    joins = " AND ".join(f"{a.sql(dialect='duckdb')} = {b.sql(dialect='duckdb')}" for a, b in lp.local_joins)
    most = conn.execute(f"SELECT MAX(n) FROM (SELECT COUNT(*) AS n FROM {tables}"
                        + (f" WHERE {joins}" if joins else "") + f" GROUP BY {keys})").fetchall()[0][0]
    if most is not None and most > 1:
        raise InputError(f"a DP answer needs at most one row per join key ({keys}), so that one row moves each "
                         f"cell by a known amount; a key here has {most} rows", party=party, field=keys)


def _encode(node: exp.Expr, enc: Encoding, flag: str = "") -> str:
    """SQL turning a value into its ring encoding (NULL stays NULL)."""
    sql = node.sql(dialect="duckdb")
    if flag:   # an aggregate: the FILTER goes right after the call
        sql = f"{sql}{flag}"
    if enc.kind == "int":
        return f"CAST(({sql}) * {10 ** enc.scale} AS BIGINT)" if enc.scale else f"CAST({sql} AS BIGINT)"
    if enc.kind == "fixed":
        return f"CAST({sql} AS DOUBLE)"
    if enc.kind == "bool":
        return f"CAST({sql} AS INTEGER)"
    if enc.kind == "date":
        return f"date_diff('day', DATE '1970-01-01', {sql})"
    return f"CAST({sql} AS VARCHAR)"


def _check_bounds(plan: Plan, party: str, frame: pd.DataFrame) -> None:
    lp = plan.local[party]
    for d in lp.derived:
        if d.enc.kind in ("int", "fixed") and len(frame):
            biggest = float(np.nanmax(np.abs(frame[d.name].to_numpy(dtype=np.float64, na_value=0.0))))
            if biggest > d.bound * (10 ** d.enc.scale) * (1 + 1e-9):
                raise InputError(f"{d.expr.sql()} reaches {biggest / 10 ** d.enc.scale:g}, beyond the bound "
                                 f"{d.bound:g} derived from the catalog's max_abs", party=party, field=d.expr.sql())
    for p in lp.partials:
        if f"{p.name}_m" in frame and len(frame):
            biggest = float(np.nanmax(frame[f"{p.name}_m"].to_numpy(dtype=np.float64, na_value=0.0)))
            if biggest > p.bound * (1 + 1e-9):
                raise InputError(f"{p.expr.sql()} reaches {biggest:g}, beyond the bound {p.bound:g} derived from the "
                                 "catalog's max_abs", party=party, field=p.expr.sql())


def text_hash(values: pd.Series) -> np.ndarray:
    """Strings as 62-bit integers (SHA-256), for equality under the shares."""
    return np.array([int.from_bytes(hashlib.sha256(str(v).encode()).digest()[:8], "big") >> 2 for v in values],
                    dtype=np.int64)


def encode_derived(frame: pd.DataFrame, d: Derived) -> tuple[np.ndarray, np.ndarray]:
    """A derived column as ring-ready values (NULL as 0) and its validity bits."""
    column = frame[d.name]
    valid = column.notna().to_numpy()
    if d.enc.kind == "hash":
        values = text_hash(column.fillna(""))
    elif d.enc.kind == "fixed":
        values = column.to_numpy(dtype=np.float64, na_value=0.0)
    else:
        values = column.to_numpy(dtype=np.float64, na_value=0.0).astype(np.int64) if column.dtype.kind == "f" \
            else column.fillna(0).to_numpy(dtype=np.int64)
    return values, valid.astype(np.int64)


def key_text(value: Any) -> str:
    """The canonical text of a group-key value (NULL as None), cast back to its type by the receiver."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NaT:
        return ""
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, (float, np.floating)):
        return repr(float(value))
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat()
    return str(value)
