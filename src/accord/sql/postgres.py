"""A party's table read from PostgreSQL into its local DuckDB, in bounded memory.

DuckDB's own postgres extension is downloaded on first use, which an air-gapped owner cannot do, so
the owner reads through psycopg (``pip install accord[postgres]``): a server-side cursor in a READ
ONLY transaction streams the rows, and each batch becomes an Arrow table that DuckDB casts to the
catalog's types and appends. Only one batch is held in Python at a time.

A source is ``postgresql://user@host/db[#table]``: after ``#`` a table name (``schema.table`` allowed;
the catalog's table name by default) or a read-only query (``#SELECT ...`` / ``#WITH ...``). The
``postgresql+psycopg://`` spelling of SQLAlchemy URLs is accepted as well.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import duckdb
import pyarrow as pa

from accord.errors import InputError, UnsupportedError
from accord.sql.catalog import Table

BATCH_ROWS = 65_536
CONNECT_TIMEOUT = 10
_SCHEMES = re.compile(r"^postgres(?:ql)?(?:\+psycopg\d?)?://", re.IGNORECASE)
_QUERY = re.compile(r"^\s*(?:select|with|values|table)\b", re.IGNORECASE)
_AS_TEXT = ("numeric", "date")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*(?:\.[A-Za-z_][A-Za-z0-9_$]*)?$")


def is_postgres(source: str) -> bool:
    """Whether a source string is a PostgreSQL URL."""
    return bool(_SCHEMES.match(source))


def load(conn: duckdb.DuckDBPyConnection, table: Table, source: str, party: str) -> None:
    """Create ``table`` in ``conn`` from the PostgreSQL ``source``, cast to the catalog's column types."""
    try:
        import psycopg
        from psycopg import sql as pgsql
        from psycopg.types.string import TextLoader
    except ImportError:
        raise UnsupportedError("PostgreSQL sources need psycopg: pip install 'accord[postgres]'") from None
    url, _, inner = source.partition("#")
    url = _SCHEMES.sub("postgresql://", url, count=1)
    inner = inner.strip() or table.name
    statement: Any
    if _QUERY.match(inner):
        statement = inner
    elif _NAME.match(inner):
        statement = pgsql.SQL("SELECT * FROM {}").format(pgsql.Identifier(*inner.split(".")))
    else:
        raise InputError(f"the PostgreSQL source of table {table.name!r} names {inner!r}, which is neither a table "
                         "name nor a query (SELECT / WITH ...)", party=party, field=table.name)
    where = f"the PostgreSQL source of table {table.name!r}"
    columns = ", ".join(f'"{c.name}" {c.type.duckdb}' for c in table.columns.values())
    conn.execute(f'CREATE TABLE "{table.name}" ({columns})')
    try:
        with psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT) as pg:
            pg.read_only = True
            for name in _AS_TEXT:   # exact text, cast by DuckDB: no Decimal or date object per value
                pg.adapters.register_loader(name, TextLoader)
            with pg.cursor(name="accord_sql_source") as cursor:
                cursor.itersize = BATCH_ROWS
                cursor.execute(statement)
                present = [str(d.name).lower() for d in cursor.description or ()]
                missing = [c for c in table.columns if c not in present]
                if missing:
                    raise InputError(f"table {table.name!r} lacks column{'s' if len(missing) > 1 else ''} {missing}",
                                     party=party, field=missing[0])
                picks = [present.index(c) for c in table.columns]
                while rows := cursor.fetchmany(BATCH_ROWS):
                    _append(conn, table, rows, picks, party)
    except psycopg.Error as exc:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"cannot read {where}: {message}", party=party, field=table.name) from None


def _append(conn: duckdb.DuckDBPyConnection, table: Table, rows: Sequence[tuple[Any, ...]], picks: list[int],
            party: str) -> None:
    """One batch of rows as an Arrow table, cast by DuckDB into the catalog's types and appended."""
    names = list(table.columns)
    arrays = [_arrow([row[i] for row in rows]) for i in picks]
    batch = pa.Table.from_arrays(arrays, names=names)
    casts = ", ".join(f'CAST("{c.name}" AS {c.type.duckdb})' for c in table.columns.values())
    conn.register("__pg_batch", batch)
    try:
        conn.execute(f'INSERT INTO "{table.name}" SELECT {casts} FROM __pg_batch')
    except duckdb.Error as exc:
        raise InputError(f"table {table.name!r} does not match the catalog's types: {str(exc).splitlines()[0]}",
                         party=party, field=table.name) from None
    finally:
        conn.unregister("__pg_batch")


def _arrow(values: list[Any]) -> pa.Array:
    """A column of Python values (as psycopg returns them) as an Arrow array; text when Arrow cannot type it."""
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        return pa.array([None if v is None else str(v) for v in values], pa.string())
