"""Bad queries fail before any protocol starts, naming the column, table or clause."""

from __future__ import annotations

import pytest

import accord.sql
from accord.errors import ConfigurationError, QueryError, UnsupportedError
from accord.sql import Catalog
from tests.sql_cases import catalog

JOIN = "FROM a JOIN b ON a.id = b.id"


@pytest.mark.parametrize(("sql", "error", "message"), [
    ("SELEC COUNT(*) FROM a", QueryError, "malformed SQL"),
    (f"SELECT COUNT(*) {JOIN} WHERE id > 3", QueryError, "'id' is ambiguous"),
    (f"SELECT SUM(nope) {JOIN}", QueryError, "'nope' does not exist in any table"),
    ("SELECT COUNT(*) FROM a JOIN missing m ON a.id = m.id", QueryError, "'missing' is not in the catalog"),
    (f"SELECT a.g, COUNT(*) {JOIN}", QueryError, "must appear in GROUP BY"),
    (f"SELECT SUM(a.g) {JOIN}", QueryError, "DuckDB refuses"),
    ("SELECT COUNT(*) FROM a JOIN b ON a.id = b.h", QueryError, "compares int with str"),
    ("SELECT COUNT(*) FROM a LEFT JOIN b ON a.id = b.id", UnsupportedError, "clause JOIN"),
    ("SELECT COUNT(*) FROM a, b", UnsupportedError, "cross joins"),
    (f"SELECT a.x, b.y {JOIN}", UnsupportedError, "aggregate queries only"),
    (f"SELECT COUNT(*) {JOIN} WHERE a.x IN (SELECT 1)", UnsupportedError, "subqueries"),
    ("SELECT COUNT(*) FROM a", UnsupportedError, "can answer it alone"),
    (f"SELECT SUM(a.x / b.y) {JOIN}", UnsupportedError, "divide by a number only"),
    (f"SELECT SUM((a.x + b.y) / 0) {JOIN}", QueryError, "division by zero"),
    (f"SELECT SUM(a.x) {JOIN} LIMIT a.x", UnsupportedError, "clause LIMIT"),
    (f"SELECT a.g, SUM(b.y) {JOIN} GROUP BY a.g HAVING AVG(b.y) + 1 > 2", UnsupportedError, "clause HAVING"),
])
def test_bad_queries_are_refused_before_any_protocol(sql, error, message):
    with pytest.raises(error, match=message):
        accord.sql.explain(sql, catalog(), to="pa")


def test_catalog_errors_name_the_table_and_column():
    with pytest.raises(ConfigurationError, match="unknown type 'money'"):
        Catalog.from_dict({"tables": {"t": {"owner": "p", "columns": {"c": "money"}}}})
    with pytest.raises(ConfigurationError, match="unknown constraint 'SECRET'"):
        Catalog.from_dict({"tables": {"t": {"owner": "p", "columns": {"c": "int"}, "ccl": {"c": {"*": "SECRET"}}}}})
    with pytest.raises(ConfigurationError, match="ccl names column 'd'"):
        Catalog.from_dict({"tables": {"t": {"owner": "p", "columns": {"c": "int"}, "ccl": {"d": {"*": "PLAINTEXT"}}}}})


def test_plain_sums_of_wide_products_are_refused_before_running():
    wide = Catalog.from_dict({"tables": {
        "a": {"owner": "pa", "columns": {"id": "int", "x": "int"},
              "ccl": {"id": {"*": "PLAINTEXT"}, "x": {"*": "PLAINTEXT"}}},
        "b": {"owner": "pb", "columns": {"id": "int", "y": "int"},
              "ccl": {"id": {"*": "PLAINTEXT"}, "y": {"*": "PLAINTEXT"}}}}})
    with pytest.raises(QueryError, match="declare smaller max_abs"):
        accord.sql.explain("SELECT SUM(a.x * b.y) FROM a JOIN b ON a.id = b.id", wide, to="pa")
