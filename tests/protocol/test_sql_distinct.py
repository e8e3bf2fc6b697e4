"""COUNT(DISTINCT column) of one party's column over joined rows whose survival is secret: DuckDB's answer."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import accord
import accord.sql
from accord.errors import UnsupportedError
from tests.protocol.wiretap import leaves, tap
from tests.sql_cases import catalog, oracle, same, tables

COUNTED = ["a.x", "a.d", "b.y", "a.id"]
WHERE = ["a.x > 0", "b.y < 6", "a.x + b.y > 3", "a.d >= 0 OR b.y IS NULL", "NOT (a.x < b.y)"]


@pytest.fixture(scope="module")
def cluster():
    with accord.Cluster.simulate(["pa", "pb", "pc"], timeout=120) as c:
        yield c


@pytest.fixture(scope="module")
def sessions(cluster):
    return {"dealer": cluster.mpc(["pa", "pb"], dealer="pc"), "three": cluster.mpc(["pa", "pb", "pc"]),
            "ot": cluster.mpc(["pa", "pb"], mode="ot")}


def _run(cluster, sessions, sql, data, cat, mode):
    pa, pb, pc = cluster.parties("pa", "pb", "pc")
    sources = {"a": pa.put(data["a"]), "b": pb.put(data["b"]), "c": pc.put(data["c"])}
    return accord.sql.query(cluster, sql, cat, to="pa", sources=sources, spu=sessions[mode]).get()


@st.composite
def queries(draw):
    """A query, the MPC mode and whether grants are strict; ``c`` (pc's table) joins when pc computes too."""
    mode = draw(st.sampled_from(["dealer", "three", "ot"]))
    three = mode == "three"
    group = draw(st.sampled_from([[], ["a.g"], ["b.h"], ["a.g", "b.h"]]))
    counted = draw(st.lists(st.sampled_from([*COUNTED, *(["c.z"] if three else [])]), min_size=1, max_size=2,
                            unique=True))
    where = draw(st.lists(st.sampled_from([*WHERE, *(["c.z > -2"] if three else [])]), max_size=2, unique=True))
    aggs = [f"COUNT(DISTINCT {c})" for c in counted] + draw(st.sampled_from([[], ["COUNT(*)"], ["SUM(b.y)"]]))
    sql = f"SELECT {', '.join([*group, *aggs])} FROM a JOIN b ON a.id = b.id"
    sql += " JOIN c ON c.id = a.id" if three else ""
    sql += f" WHERE {' AND '.join(where)}" if where else ""
    sql += f" GROUP BY {', '.join(group)}" if group else ""
    if group and draw(st.booleans()):
        sql += f" HAVING COUNT(DISTINCT {counted[0]}) > 1"
    return sql, mode, draw(st.booleans())


@settings(max_examples=14, deadline=None, suppress_health_check=list(HealthCheck))
@given(case=queries(), seed=st.integers(0, 10_000))
def test_count_distinct_of_one_partys_column_matches_duckdb(cluster, sessions, case, seed):
    """Strict grants fold filters (survival secret) and group at the key owner; open ones push down and share groups.

    With a dealer, even COUNT(DISTINCT a.id) takes this path: the dealer holds no join key.
    """
    sql, mode, strict = case
    data = tables(seed, rows=30, keys=10)
    got = _run(cluster, sessions, sql, data, catalog(strict=strict), mode)
    assert same(got, oracle(data, sql), False), f"{sql}\ngot:\n{got}\nwant:\n{oracle(data, sql)}"


def test_the_counted_columns_policy_applies_and_unsupported_forms_name_the_clause(cluster, sessions):
    data = tables(3)
    join = "FROM a JOIN b ON a.id = b.id"
    refused = [(f"SELECT COUNT(DISTINCT b.h) {join}", r"column b.h is PLAINTEXT_AFTER_GROUP_BY for party .pa.*SELECT"),
               (f"SELECT COUNT(DISTINCT a.x + 1) {join}", r"takes one column.*clause SELECT"),
               (f"SELECT COUNT(DISTINCT CASE WHEN a.x > 0 THEN b.y END) {join}", r"takes one column.*clause SELECT")]
    for sql, message in refused:
        with pytest.raises((UnsupportedError, accord.errors.PolicyViolation), match=message):
            _run(cluster, sessions, sql, data, catalog(strict=True), "ot")
    plan = accord.sql.explain("SELECT COUNT(DISTINCT b.y) FROM a JOIN b ON a.id = b.id WHERE a.x > 0",
                              catalog(strict=True), to="pa", computing=["pa", "pb"])
    assert "the number of distinct non-NULL values of b.y among pb's joined rows" in plan.describe()


def test_other_parties_see_shares_and_the_one_hots_width_only(monkeypatch, cluster, sessions):
    """Wiretap: pa, the receiver, gets only PSI, MPC and the declared SQL messages; its MPC words look uniform."""
    data = tables(9, rows=40)
    sql = "SELECT a.g, COUNT(DISTINCT b.y) FROM a JOIN b ON a.id = b.id WHERE a.x > 0 GROUP BY a.g"
    received = tap(monkeypatch, "pa")
    got = _run(cluster, sessions, sql, data, catalog(strict=True), "ot")
    assert same(got, oracle(data, sql), False)
    assert {key.split("/")[0] for key, _ in received if key.startswith("sql.")} <= {"sql.sizes", "sql.reindex"}
    words = [a.view(np.int64).ravel() for key, msg in received if key.startswith("mpc.") for a in leaves(msg)
             if isinstance(a, np.ndarray) and a.dtype in (np.uint64, np.int64) and a.size > 8]
    assert np.mean(np.abs(np.concatenate(words)) < 2 ** 40) < 0.01        # uniform-looking ring elements


def test_minimum_entities_beside_min_and_count_distinct(cluster, sessions):
    """The threshold counts every surviving entity, also those whose MIN argument is NULL."""
    data = {"a": pd.DataFrame({"id": range(9), "g": ["u"] * 5 + ["v"] * 4,
                               "x": pd.array([1, None, None, 4, 5, 6, 7, 8, None], dtype="Int64"),
                               "d": ["1.00"] * 9}),
            "b": pd.DataFrame({"id": range(9), "h": ["p"] * 9, "y": pd.array([1, 1, 2, 3, 5, 8, 8, 9, 9])}),
            "c": pd.DataFrame({"id": [0], "z": [0]})}
    sql = "SELECT a.g, MIN(a.x), COUNT(DISTINCT b.y) FROM a JOIN b ON a.id = b.id GROUP BY a.g"
    got = _run(cluster, sessions, sql, data, catalog(min_entities=4), "ot")
    want = oracle(data, sql.replace("GROUP BY a.g", "GROUP BY a.g HAVING COUNT(DISTINCT b.id) >= 4"))
    assert len(want) == 2 and same(got, want, False), f"got:\n{got}\nwant:\n{want}"
