"""Each CCL constraint has a query it allows and one it refuses, with the column, rule and clause named."""

from __future__ import annotations

import pytest

import accord.sql
from accord.errors import PolicyViolation
from accord.sql import Catalog


def _catalog(**grants: str) -> Catalog:
    """``a`` (pa) and ``b`` (pb); ``grants`` sets b's columns' constraint for pa (default PLAINTEXT)."""
    columns = {"id": "int", "h": "str", "y": "int", "w": "int"}
    return Catalog.from_dict({"tables": {
        "a": {"owner": "pa", "columns": {"id": "int", "g": "str", "x": "int"},
              "ccl": {c: {"*": "PLAINTEXT"} for c in ("id", "g", "x")}},
        "b": {"owner": "pb", "columns": columns,
              "ccl": {c: {"pa": grants.get(c, "PLAINTEXT")} for c in columns if grants.get(c) != "REJECTED"}}}})


JOIN = "FROM a JOIN b ON a.id = b.id"
CASES = [  # constraint on the column, query it allows, query it refuses, clause named in the refusal
    ("id", "PLAINTEXT_AFTER_JOIN", f"SELECT COUNT(*) {JOIN}", f"SELECT b.id, COUNT(*) {JOIN} GROUP BY b.id",
     "GROUP BY"),
    ("h", "PLAINTEXT_AFTER_GROUP_BY", f"SELECT b.h, COUNT(*) {JOIN} GROUP BY b.h",
     f"SELECT COUNT(*) {JOIN} WHERE b.h = 'x'", "WHERE"),
    ("y", "PLAINTEXT_AFTER_AGGREGATE", f"SELECT SUM(b.y), MAX(b.y) {JOIN} WHERE b.y > 2",
     f"SELECT b.y, COUNT(*) {JOIN} GROUP BY b.y", "GROUP BY"),
    ("y", "PLAINTEXT_AFTER_COMPARE", f"SELECT COUNT(*) {JOIN} WHERE b.y > 2 GROUP BY a.g HAVING COUNT(*) > 1",
     f"SELECT SUM(b.y) {JOIN}", "SELECT"),
    ("y", "ENCRYPTED_ONLY", f"SELECT COUNT(b.y) {JOIN}", f"SELECT COUNT(*) {JOIN} WHERE b.y > 2", "WHERE"),
    ("y", "REJECTED", f"SELECT SUM(b.w) {JOIN}", f"SELECT COUNT(b.y) {JOIN}", "SELECT"),
    ("y", "PLAINTEXT", f"SELECT b.y, SUM(b.y) {JOIN} GROUP BY b.y", f"SELECT SUM(b.y + b.w) {JOIN}", "SELECT"),
]


@pytest.mark.parametrize(("column", "level", "allowed", "refused", "clause"), CASES,
                         ids=[f"{c[1]}" for c in CASES])
def test_each_constraint_allows_and_refuses(column, level, allowed, refused, clause):
    grants = {column: level}
    if level == "PLAINTEXT":
        grants["w"] = "ENCRYPTED_ONLY"   # the refusal comes from the other column of the expression
    catalog = _catalog(**grants)
    accord.sql.explain(allowed, catalog, to="pa")
    with pytest.raises(PolicyViolation, match=rf"clause {clause}") as refusal:
        accord.sql.explain(refused, catalog, to="pa")
    assert "column b." in str(refusal.value) and "'pa'" in str(refusal.value)


def test_join_key_must_be_plaintext_after_join_for_the_partner():
    catalog = _catalog(id="PLAINTEXT_AFTER_AGGREGATE")
    with pytest.raises(PolicyViolation, match=r"column b\.id is PLAINTEXT_AFTER_AGGREGATE.*clause JOIN"):
        accord.sql.explain(f"SELECT COUNT(*) {JOIN}", catalog, to="pa")


def test_underivable_mix_of_constraints_is_refused():
    catalog = _catalog(y="PLAINTEXT_AFTER_AGGREGATE", w="PLAINTEXT_AFTER_COMPARE")
    accord.sql.explain(f"SELECT SUM(b.y) {JOIN} WHERE b.w > 1", catalog, to="pa")
    with pytest.raises(PolicyViolation, match="cannot be derived"):
        accord.sql.explain(f"SELECT SUM(b.y + b.w) {JOIN}", catalog, to="pa")


def test_having_reveals_a_comparison_only():
    catalog = _catalog(y="PLAINTEXT_AFTER_COMPARE")
    accord.sql.explain(f"SELECT a.g, COUNT(*) {JOIN} GROUP BY a.g HAVING SUM(b.y) > 10", catalog, to="pa")
    with pytest.raises(PolicyViolation, match="clause SELECT"):
        accord.sql.explain(f"SELECT a.g, SUM(b.y) {JOIN} GROUP BY a.g HAVING SUM(b.y) > 10", catalog, to="pa")


def test_filters_push_down_only_when_the_partner_may_see_the_comparison():
    sql = f"SELECT SUM(b.y) {JOIN} WHERE a.x > 2"
    assert accord.sql.explain(sql, _catalog(), to="pa").local["pa"].pushed
    strict = Catalog.from_dict({"tables": {
        "a": {"owner": "pa", "columns": {"id": "int", "x": "int"},
              "ccl": {"id": {"*": "PLAINTEXT_AFTER_JOIN"}, "x": {"pb": "PLAINTEXT_AFTER_AGGREGATE"}}},
        "b": {"owner": "pb", "columns": {"id": "int", "y": "int"},
              "ccl": {"id": {"*": "PLAINTEXT_AFTER_JOIN"}, "y": {"*": "PLAINTEXT_AFTER_AGGREGATE"}}}}})
    plan = accord.sql.explain(sql, strict, to="pa")
    assert not plan.local["pa"].pushed and plan.local["pa"].folded
    assert not any("learn through the join whether" in line for line in plan.leakage)
