"""Secure SQL between three processes over mTLS gives DuckDB's answers on the pooled plaintext."""

from __future__ import annotations

import io
import json

import pandas as pd

from tests.procs import run_parties
from tests.sql_cases import catalog, oracle, same, tables

QUERIES = [
    "SELECT a.g, COUNT(*), SUM(b.y), MAX(c.z) FROM a JOIN b ON a.id = b.id JOIN c ON c.id = b.id "
    "WHERE a.x > -5 GROUP BY a.g ORDER BY a.g",
    "SELECT b.h, COUNT(DISTINCT a.id), AVG(a.x + b.y) FROM a JOIN b ON a.id = b.id JOIN c ON c.id = a.id "
    "GROUP BY b.h HAVING COUNT(*) > 1",
    "SELECT a.g, b.h, COUNT(*), MIN(c.z) FROM a JOIN b ON a.id = b.id JOIN c ON c.id = a.id GROUP BY a.g, b.h",
    "SELECT a.g, COUNT(DISTINCT b.y), COUNT(DISTINCT c.z) FROM a JOIN b ON a.id = b.id JOIN c ON c.id = a.id "
    "WHERE a.x + b.y > 2 GROUP BY a.g",
]


def test_three_processes_answer_like_duckdb(tmp_path):
    data = tables(5, rows=30)
    sources = {}
    for name, frame in data.items():
        path = tmp_path / f"{name}.csv"
        frame.to_csv(path, index=False)
        sources[name] = str(path)
    cat = catalog(strict=True)
    raw = {"tables": {name: {"owner": t.owner,
                             "columns": {c.name: {"type": str(c.type), "nullable": c.nullable, "max_abs": c.max_abs}
                                         for c in t.columns.values()},
                             "ccl": {c: {p: level.value for p, level in grants.items()} for c, grants in t.ccl.items()}}
                      for name, t in cat.tables.items()}}
    runs = run_parties(tmp_path, "tests.integration.sql_drivers:sql_driver", ["pa", "pb", "pc"],
                       {"catalog": raw, "sources": sources, "queries": QUERIES, "to": "pa", "job": "sql"})
    for party, run in runs.items():
        assert run.returncode == 0, f"{party}: {run.stderr[-2000:]}"
    answers = runs["pa"].result["answers"]
    assert runs["pb"].result["answers"] == [None] * len(QUERIES)
    for sql, text in zip(QUERIES, answers):
        got = pd.read_json(io.StringIO(text), orient="split")
        assert same(got, oracle(data, sql), "ORDER BY" in sql), sql
    assert any("learn which of their units have a matching key" in n for n in runs["pc"].result["notes"])
    json.dumps(runs["pa"].result)
