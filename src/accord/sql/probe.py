"""DuckDB over empty tables of the catalog's schema: types of queries and expressions, without any data.

Every party builds the same probe from the shared catalog, so types decided here (which encoding a
value gets under the shares, what type an output column has) are identical everywhere, and a query
DuckDB would refuse is refused before any protocol starts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import duckdb
import sqlglot.expressions as exp

from accord.errors import QueryError, UnsupportedError
from accord.sql.catalog import Catalog

_DECIMAL = re.compile(r"^DECIMAL\((\d+),(\d+)\)$")
_INTS = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT"}


@dataclass(frozen=True)
class Encoding:
    """How a value travels under the shares.

    ``kind`` is ``"int"`` (exact; decimals are integers scaled by ``10^scale``), ``"fixed"`` (doubles, in
    the session's fixed point), ``"bool"``, ``"date"`` (days since 1970, compared only) or ``"hash"``
    (strings: a 62-bit hash, compared for equality only).
    """

    kind: str
    scale: int = 0
    sql_type: str = ""


def encoding_of(sql_type: str, what: str) -> Encoding:
    """The encoding of a DuckDB type."""
    name = sql_type.upper()
    match = _DECIMAL.match(name)
    if match:
        return Encoding("int", int(match.group(2)), name)
    if name in _INTS:
        return Encoding("int", 0, name)
    if name in ("DOUBLE", "FLOAT", "REAL"):
        return Encoding("fixed", 0, name)
    if name == "BOOLEAN":
        return Encoding("bool", 0, name)
    if name == "DATE":
        return Encoding("date", 0, name)
    if name == "VARCHAR":
        return Encoding("hash", 0, name)
    raise UnsupportedError(f"{what} has type {sql_type}, which cannot be computed on across parties")


class Probe:
    """An in-memory DuckDB holding the catalog's tables, empty."""

    def __init__(self, catalog: Catalog) -> None:
        self.conn = duckdb.connect(":memory:")
        for table in catalog.tables.values():
            columns = ", ".join(f'"{c.name}" {c.type.duckdb}' for c in table.columns.values())
            self.conn.execute(f'CREATE TABLE "{table.name}" ({columns})')

    def describe(self, sql: str) -> list[tuple[str, str]]:
        """Output names and DuckDB types of a query, or the DuckDB binder's error as a :class:`QueryError`."""
        try:
            rows = self.conn.execute(f"DESCRIBE {sql}").fetchall()
        except duckdb.Error as exc:
            raise QueryError(f"DuckDB refuses the query: {str(exc).splitlines()[0]}") from None
        return [(str(r[0]), str(r[1])) for r in rows]

    def type_of(self, node: exp.Expr, from_sql: str) -> str:
        """The DuckDB type of an expression over the query's tables (``from_sql`` is its FROM clause)."""
        return self.describe(f"SELECT {node.sql(dialect='duckdb')} FROM {from_sql}")[0][1]

    def close(self) -> None:
        """Release the connection."""
        self.conn.close()
