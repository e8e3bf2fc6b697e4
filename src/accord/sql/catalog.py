"""The shared catalog of a secure-SQL deployment: tables, their owners, column types and column policies.

Every party holds the same catalog (the handshake compares digests in production): it is the public
contract of what exists and what each owner allows. It names each table's owner, the type and bound of
each column, and per column and receiving party a column-control constraint (:mod:`accord.sql.ccl`);
Clean-Rooms-style aggregation thresholds (``min_entities``) live beside them. Where a table's rows
come from (``source``) is the owner's business: the catalog may give a default, which an owner can
override locally.

.. code-block:: yaml

    tables:
      persons:
        owner: social
        source: social/persons.csv
        columns:
          person_id: {type: str, nullable: false}
          district: str
          benefit: decimal(10,2)
        ccl:
          person_id: {"*": PLAINTEXT_AFTER_JOIN}
          district: {"*": PLAINTEXT_AFTER_GROUP_BY}
          benefit: {tax: PLAINTEXT_AFTER_AGGREGATE}
        min_entities: {column: person_id, minimum: 10}
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from accord.errors import ConfigurationError
from accord.sql.ccl import Level, parse_level

# Magnitude bounds when a column declares none: the ring is Z_2^64, so values and sums must stay below 2^62.
DEFAULT_INT_BOUND = 2 ** 31
DEFAULT_FLOAT_BOUND = 2 ** 20
_DECIMAL = re.compile(r"^decimal\((\d+)\s*,\s*(\d+)\)$")
_KINDS = {"int": "int", "integer": "int", "bigint": "int", "float": "float", "double": "float", "real": "float",
          "str": "str", "string": "str", "varchar": "str", "text": "str", "bool": "bool", "boolean": "bool",
          "date": "date"}
_DUCKDB = {"int": "BIGINT", "float": "DOUBLE", "str": "VARCHAR", "bool": "BOOLEAN", "date": "DATE"}


@dataclass(frozen=True)
class ColumnType:
    """A column's type: ``kind`` is int, float, str, bool, date or decimal (with ``precision`` and ``scale``)."""

    kind: str
    precision: int = 0
    scale: int = 0

    @property
    def duckdb(self) -> str:
        """The DuckDB type the column is read as."""
        return f"DECIMAL({self.precision},{self.scale})" if self.kind == "decimal" else _DUCKDB[self.kind]

    @property
    def numeric(self) -> bool:
        """Whether arithmetic applies (int, float, decimal; bools and dates compare only)."""
        return self.kind in ("int", "float", "decimal")

    def __str__(self) -> str:
        return f"decimal({self.precision},{self.scale})" if self.kind == "decimal" else self.kind


def parse_type(text: str, where: str) -> ColumnType:
    """A type name (``int``, ``float``, ``str``, ``bool``, ``date``, ``decimal(p,s)``) as a :class:`ColumnType`."""
    name = str(text).strip().lower()
    match = _DECIMAL.match(name)
    if match:
        precision, scale = int(match.group(1)), int(match.group(2))
        if not 1 <= precision <= 18 or scale > precision:
            raise ConfigurationError(f"{where}: decimal({precision},{scale}) needs 1 <= precision <= 18 and "
                                     "scale <= precision (values are exact 64-bit integers under the shares)")
        return ColumnType("decimal", precision, scale)
    if name not in _KINDS:
        raise ConfigurationError(f"{where}: unknown type {text!r}; use int, float, str, bool, date or decimal(p,s)")
    return ColumnType(_KINDS[name])


@dataclass(frozen=True)
class Column:
    """One column: its type, whether it may hold NULLs and the largest magnitude it may hold."""

    name: str
    type: ColumnType
    nullable: bool = True
    max_abs: float = 0.0


@dataclass(frozen=True)
class MinEntities:
    """Each output group must aggregate at least ``minimum`` distinct values of ``column`` (Clean Rooms)."""

    column: str
    minimum: int


@dataclass(frozen=True)
class Table:
    """A table of the catalog: owner, columns in order, column policies, threshold, default source."""

    name: str
    owner: str
    columns: dict[str, Column]
    ccl: dict[str, dict[str, Level]] = field(default_factory=dict)
    min_entities: MinEntities | None = None
    source: str | None = None

    def grant(self, column: str, party: str) -> Level:
        """The constraint on ``column`` for ``party``: the owner sees its own columns in plaintext."""
        if party == self.owner:
            return Level.PLAINTEXT
        grants = self.ccl.get(column, {})
        return grants.get(party, grants.get("*", Level.REJECTED))


class Catalog:
    """Tables by name; build with :meth:`load` (a YAML file) or :meth:`from_dict`."""

    def __init__(self, tables: Mapping[str, Table], digest: str) -> None:
        self.tables = dict(tables)
        self.digest = digest

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Catalog:
        """Read a catalog file (YAML); relative sources are resolved against its directory."""
        import yaml

        source = Path(path)
        try:
            raw = yaml.safe_load(source.read_text())
        except OSError as exc:
            raise ConfigurationError(f"cannot read catalog {source}: {exc.strerror}") from None
        except yaml.YAMLError as exc:
            raise ConfigurationError(f"catalog {source} is not valid YAML: {exc}") from None
        return cls.from_dict(raw, base=source.parent)

    @classmethod
    def from_dict(cls, raw: Any, *, base: Path | None = None) -> Catalog:
        """A catalog from plain data (the YAML structure in the module docstring)."""
        if not isinstance(raw, Mapping) or not isinstance(raw.get("tables"), Mapping) or not raw["tables"]:
            raise ConfigurationError("a catalog needs a non-empty 'tables' mapping")
        tables = {}
        for name, spec in raw["tables"].items():
            if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
                raise ConfigurationError(f"table name {name!r} must be an identifier")
            tables[name.lower()] = _table(name.lower(), spec, base)
        digest = hashlib.sha256(json.dumps(_public(raw), sort_keys=True, default=str).encode()).hexdigest()
        return cls(tables, digest)

    @property
    def parties(self) -> tuple[str, ...]:
        """The owners of the catalog's tables, in order of first appearance."""
        return tuple(dict.fromkeys(t.owner for t in self.tables.values()))


def _public(raw: Mapping[str, Any]) -> dict[str, Any]:
    """The catalog without sources: what every party must agree on (sources are each owner's own)."""
    return {"tables": {name: {k: v for k, v in spec.items() if k != "source"} if isinstance(spec, Mapping) else spec
                       for name, spec in raw["tables"].items()}}


def _table(name: str, spec: Any, base: Path | None) -> Table:
    where = f"catalog table {name!r}"
    if not isinstance(spec, Mapping) or not isinstance(spec.get("owner"), str):
        raise ConfigurationError(f"{where} needs an 'owner' (a party name)")
    unknown = set(spec) - {"owner", "columns", "ccl", "min_entities", "source"}
    if unknown:
        raise ConfigurationError(f"{where}: unknown keys {sorted(unknown)}")
    raw_columns = spec.get("columns")
    if not isinstance(raw_columns, Mapping) or not raw_columns:
        raise ConfigurationError(f"{where} needs a non-empty 'columns' mapping of name to type")
    columns = {str(c).lower(): _column(str(c).lower(), v, f"{where} column {c!r}") for c, v in raw_columns.items()}
    ccl: dict[str, dict[str, Level]] = {}
    for column, grants in (spec.get("ccl") or {}).items():
        column = str(column).lower()
        if column not in columns:
            raise ConfigurationError(f"{where}: ccl names column {column!r}, which the table does not have")
        if not isinstance(grants, Mapping):
            raise ConfigurationError(f"{where}: ccl of {column!r} must map party names (or '*') to constraints")
        ccl[column] = {str(p): parse_level(v, f"{where} ccl {column!r} for {p!r}") for p, v in grants.items()}
    threshold = None
    if spec.get("min_entities") is not None:
        rule = spec["min_entities"]
        if (not isinstance(rule, Mapping) or str(rule.get("column", "")).lower() not in columns
                or not isinstance(rule.get("minimum"), int) or rule["minimum"] < 1):
            raise ConfigurationError(f"{where}: min_entities needs a 'column' of the table and a 'minimum' >= 1")
        threshold = MinEntities(str(rule["column"]).lower(), int(rule["minimum"]))
    source = spec.get("source")
    if source is not None:
        source = str(source) if base is None or "://" in str(source) else str((base / str(source)).resolve())
    return Table(name, spec["owner"], columns, ccl, threshold, source)


def _column(name: str, spec: Any, where: str) -> Column:
    if isinstance(spec, str):
        spec = {"type": spec}
    if not isinstance(spec, Mapping) or "type" not in spec or set(spec) - {"type", "nullable", "max_abs"}:
        raise ConfigurationError(f"{where}: give a type name or {{type, nullable, max_abs}}")
    ctype = parse_type(spec["type"], where)
    nullable = spec.get("nullable", True)
    if not isinstance(nullable, bool):
        raise ConfigurationError(f"{where}: nullable must be true or false")
    if ctype.kind == "decimal":
        default = 10.0 ** (ctype.precision - ctype.scale)
    else:
        default = {"int": DEFAULT_INT_BOUND, "float": DEFAULT_FLOAT_BOUND}.get(ctype.kind, 1.0)
    max_abs = spec.get("max_abs", default)
    if not isinstance(max_abs, (int, float)) or isinstance(max_abs, bool) or not 0 < max_abs < 2.0 ** 62:
        raise ConfigurationError(f"{where}: max_abs must be a positive number below 2^62")
    return Column(name, ctype, nullable, float(max_abs))
