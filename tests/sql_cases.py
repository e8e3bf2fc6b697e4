"""Shared fixtures of the secure-SQL tests: generated tables, catalogs and the pooled-plaintext DuckDB oracle."""

from __future__ import annotations

import math
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from accord.sql import Catalog

PARTIES = ("pa", "pb", "pc")


def catalog(strict: bool = False, min_entities: int | None = None, keys_to: str = "pa") -> Catalog:
    """``a`` at pa, ``b`` at pb, ``c`` at pc; ``strict`` grants only the weakest constraint each use needs.

    Strict group keys (``a.g``, ``b.h``) are ``PLAINTEXT_AFTER_GROUP_BY`` for ``keys_to`` only (pa or pc).
    """
    join = "PLAINTEXT_AFTER_JOIN" if strict else "PLAINTEXT"
    value = "PLAINTEXT_AFTER_AGGREGATE" if strict else "PLAINTEXT"
    hidden = {p: "ENCRYPTED_ONLY" for p in PARTIES}
    key_a = {**hidden, keys_to: "PLAINTEXT_AFTER_GROUP_BY"} if strict else {"*": "PLAINTEXT"}
    key_b = {**hidden, keys_to: "PLAINTEXT_AFTER_GROUP_BY"} if strict else {"*": "PLAINTEXT"}
    key_a.pop("pa", None)
    key_b.pop("pb", None)
    tables: dict[str, Any] = {
        "a": {"owner": "pa", "columns": {"id": "int", "g": "str", "x": {"type": "int", "max_abs": 100},
                                         "d": "decimal(6,2)"},
              "ccl": {"id": {"*": join}, "g": key_a, "x": {"*": value}, "d": {"*": value}}},
        "b": {"owner": "pb", "columns": {"id": "int", "h": "str", "y": {"type": "int", "max_abs": 100}},
              "ccl": {"id": {"*": join}, "h": key_b, "y": {"*": value}}},
        "c": {"owner": "pc", "columns": {"id": "int", "z": {"type": "int", "max_abs": 100}},
              "ccl": {"id": {"*": join}, "z": {"*": value}}},
    }
    if min_entities:
        tables["b"]["min_entities"] = {"column": "id", "minimum": min_entities}
    return Catalog.from_dict({"tables": tables})


def tables(seed: int, rows: int = 24, keys: int = 12) -> dict[str, pd.DataFrame]:
    """Small tables with duplicate keys, NULLs and skew (the test's own numpy generator: data, not secrets)."""
    gen = np.random.default_rng(seed)

    def nullable(values: np.ndarray, share: float) -> list[Any]:
        return [None if gen.random() < share else v.item() for v in values]

    a = pd.DataFrame({"id": gen.integers(0, keys, rows), "g": nullable(gen.choice(["x", "y", "z"], rows), 0.15),
                      "x": pd.array(nullable(gen.integers(-9, 10, rows), 0.15), dtype="Int64"),
                      "d": [f"{v / 100:.2f}" for v in gen.integers(-999, 1000, rows)]})
    b = pd.DataFrame({"id": gen.integers(0, keys, rows), "h": gen.choice(["x", "p", "q"], rows),
                      "y": pd.array(nullable(gen.integers(0, 10, rows), 0.15), dtype="Int64")})
    c = pd.DataFrame({"id": gen.integers(0, keys, rows // 2), "z": gen.integers(-5, 6, rows // 2)})
    return {"a": a, "b": b, "c": c}


def oracle(data: dict[str, pd.DataFrame], sql: str) -> pd.DataFrame:
    """DuckDB on the pooled plaintext, with the catalog's column types."""
    conn = duckdb.connect()
    types = {"a": "id BIGINT, g VARCHAR, x BIGINT, d DECIMAL(6,2)", "b": "id BIGINT, h VARCHAR, y BIGINT",
             "c": "id BIGINT, z BIGINT"}
    for name, frame in data.items():
        conn.register(f"raw_{name}", frame)
        cols = ", ".join(f"CAST({c.split()[0]} AS {c.split()[1]}) AS {c.split()[0]}" for c in types[name].split(", "))
        conn.execute(f"CREATE TABLE {name} AS SELECT {cols} FROM raw_{name}")
    return conn.execute(sql).df()


def rows_of(frame: pd.DataFrame, ordered: bool) -> list[tuple[Any, ...]]:
    """Rows as tuples of plain values (NaN and None as None), sorted unless the query orders them."""
    out = [tuple(None if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA else
                 (float(v) if isinstance(v, (int, float, np.integer, np.floating)) else v) for v in row)
           for row in frame.itertuples(index=False)]
    return out if ordered else sorted(out, key=lambda r: tuple((x is None, str(type(x)), x if x is not None else 0)
                                                               for x in r))


def same(got: pd.DataFrame, want: pd.DataFrame, ordered: bool) -> bool:
    """Equal row sets (exact for integers and decimals; doubles to fixed-point accuracy)."""
    if list(got.columns) != list(want.columns) or len(got) != len(want):
        return False
    for a, b in zip(rows_of(got, ordered), rows_of(want, ordered)):
        for x, y in zip(a, b):
            if isinstance(x, float) and isinstance(y, float):
                if not math.isclose(x, y, rel_tol=1e-6, abs_tol=1e-3):
                    return False
            elif x != y:
                return False
    return True
