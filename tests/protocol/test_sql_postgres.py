"""PostgreSQL sources: the same query answered from tables and queries in PostgreSQL equals DuckDB on the pool."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pandas as pd
import pytest

import accord
import accord.sql
from accord.errors import InputError
from accord.sql import postgres
from tests.postgres import postgres_url
from tests.sql_cases import catalog, oracle, same, tables

COLUMNS = {"a": "id bigint, g text, x integer, d numeric(6,2)", "b": "id bigint, h text, y bigint",
           "c": "id bigint, z integer"}


@pytest.fixture(scope="module")
def cluster():
    with accord.Cluster.simulate(["pa", "pb", "pc"], timeout=120) as c:
        yield c


@pytest.fixture()
def schema() -> Iterator[tuple[str, str]]:
    """A fresh schema in the test database, dropped afterwards: (psycopg URL, schema name)."""
    import psycopg

    url = postgres_url().replace("postgresql+psycopg://", "postgresql://", 1)
    name = f"sql_{secrets.token_hex(4)}"
    with psycopg.connect(url, autocommit=True) as pg:
        pg.execute(f"CREATE SCHEMA {name}")
    yield url, name
    with psycopg.connect(url, autocommit=True) as pg:
        pg.execute(f"DROP SCHEMA {name} CASCADE")


def _store(url: str, schema: str, data: dict[str, pd.DataFrame], columns: dict[str, str]) -> None:
    import psycopg

    with psycopg.connect(url) as pg:
        for name, frame in data.items():
            pg.execute(f"CREATE TABLE {schema}.{name} ({columns[name]})")
            with pg.cursor().copy(f"COPY {schema}.{name} FROM STDIN") as copy:
                for row in frame.astype(object).where(frame.notna(), None).itertuples(index=False):
                    copy.write_row(row)


def _query(cluster, sql, sources):
    return accord.sql.query(cluster, sql, catalog(), to="pa", sources=sources,
                            spu=cluster.mpc(["pa", "pb", "pc"])).get()


def test_tables_and_queries_in_postgresql_answer_as_duckdb_on_the_pool(monkeypatch, cluster, schema):
    """Tables by name, by schema.table and through a read-only query, streamed in batches smaller than a table."""
    url, name = schema
    monkeypatch.setattr(postgres, "BATCH_ROWS", 5)
    data = tables(17, rows=30)
    data["a"]["id"] = pd.array([None if i % 7 == 0 else v for i, v in enumerate(data["a"]["id"])], dtype="Int64")
    _store(url, name, data, COLUMNS)
    sources = {"a": f"postgresql+psycopg{url[len('postgresql'):]}#{name}.a",
               "b": f"{url}#SELECT id, h, y FROM {name}.b WHERE true",
               "c": f"{url}#WITH c AS (SELECT * FROM {name}.c) SELECT z, id FROM c"}
    for sql in ["SELECT COUNT(*), SUM(b.y), COUNT(DISTINCT a.id), SUM(a.d) FROM a JOIN b ON a.id = b.id "
                "JOIN c ON c.id = a.id WHERE a.x > -5",
                "SELECT b.h, COUNT(*), AVG(a.x), MIN(c.z), MAX(a.d) FROM a JOIN b ON a.id = b.id "
                "JOIN c ON c.id = b.id GROUP BY b.h"]:
        assert same(_query(cluster, sql, sources), oracle(data, sql), False), sql


def test_bad_postgresql_sources_name_party_table_and_column(cluster, schema):
    """Missing columns, values of another type, writes (refused by the READ ONLY transaction), unknown tables."""
    import psycopg

    url, name = schema
    data = tables(5)
    _store(url, name, {"a": data["a"]}, COLUMNS)
    with psycopg.connect(url, autocommit=True) as pg:
        pg.execute(f"CREATE SEQUENCE {name}.s")
    _store(url, name, {"b": data["b"].drop(columns="y")}, {"b": "id bigint, h text"})
    _store(url, name, {"c": data["c"].astype(str).assign(z="many")}, {"c": "id text, z text"})
    sql = "SELECT COUNT(*) FROM a JOIN b ON a.id = b.id JOIN c ON c.id = a.id"
    good = {"a": f"{url}#{name}.a", "b": data["b"], "c": data["c"]}
    cases = [({"b": f"{url}#{name}.b"}, r"party 'pb': table 'b' lacks column \['y'\]"),
             ({"c": f"{url}#{name}.c"}, r"party 'pc': table 'c' does not match the catalog's types"),
             ({"a": f"{url}#WITH gone AS (DELETE FROM {name}.a RETURNING *) SELECT * FROM gone"},
              r"party 'pa': cannot read the PostgreSQL source of table 'a': DECLARE CURSOR must not contain"),
             ({"a": f"{url}#SELECT *, nextval('{name}.s') FROM {name}.a"},
              r"party 'pa': cannot read the PostgreSQL source of table 'a': .*read-only transaction"),
             ({"a": f"{url}#{name}.nowhere"}, r"party 'pa': cannot read the PostgreSQL source of table 'a'"),
             ({"a": f"{url}#a; DROP TABLE x"}, r"party 'pa': the PostgreSQL source of table 'a' names")]
    for override, message in cases:
        with pytest.raises(InputError, match=message):
            _query(cluster, sql, {**good, **override})
    assert same(_query(cluster, sql, good), oracle({**data, "a": data["a"]}, sql), False)
