"""The receiver's last step: opened aggregates and group keys in, the query's answer out, by DuckDB.

The receiver holds, per output group, the key values and each opened aggregate (AVG as its SUM and
COUNT). It types them as DuckDB types the original query's aggregates and keys, then runs the query's
own SELECT list, ORDER BY and LIMIT over them, so output names, types and the semantics of expressions
over aggregates (NULLs, decimals, division) are DuckDB's.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import sqlglot
import sqlglot.expressions as exp

from accord.sql.parser import AGGREGATES
from accord.sql.plan import Plan
from accord.sql.rules import revealed


def decode_value(raw: int | float, sql_type: str, scale: int | None) -> str:
    """One aggregate value as exact text for a CAST to its DuckDB type."""
    if sql_type == "DATE":
        return str(np.datetime64(int(raw), "D"))
    if scale is None:
        return repr(float(raw))
    if scale:
        return str(Decimal(int(raw)).scaleb(-scale))
    return str(int(raw))


def answer(plan: Plan, rows: list[dict[str, Any]], key_types: list[str]) -> pd.DataFrame:
    """The final table from the receiver's rows (``k<i>`` key texts, ``a<i>`` / ``a<i>_n`` aggregate texts)."""
    q = plan.query
    opened = revealed(q)
    columns = [f"k{i}" for i in range(len(q.group_by))]
    casts = [f'CAST(k{i} AS {t}) AS k{i}' for i, t in enumerate(key_types)]
    for agg in plan.aggregates:
        if agg.node.sql() not in opened:
            continue
        columns.append(f"a{agg.index}")
        if agg.func == "avg":
            columns.append(f"a{agg.index}_n")
            casts += [f"CAST(a{agg.index} AS DOUBLE) AS a{agg.index}",
                      f"CAST(a{agg.index}_n AS BIGINT) AS a{agg.index}_n"]
        else:
            casts.append(f"CAST(a{agg.index} AS {agg.sql_type}) AS a{agg.index}")
    frame = pd.DataFrame({c: pd.Series([r.get(c) for r in rows], dtype=object) for c in columns})
    items = [f"{_rewrite(plan, node).sql(dialect='duckdb')} AS \"{name}\""
             for node, name in zip(q.select, plan.output_names)]
    sql = f"WITH t AS (SELECT {', '.join(casts) or '1 AS one'} FROM res) SELECT {', '.join(items)} FROM t"
    if q.order:
        sql += " ORDER BY " + ", ".join(_order_item(plan, o) for o in q.order)
    if q.limit is not None:
        sql += f" LIMIT {q.limit}"
    conn = duckdb.connect(":memory:")
    try:
        conn.register("res", frame if columns else pd.DataFrame({"one": [1] * len(rows)}))
        return conn.execute(sql).df()
    finally:
        conn.close()


def _order_item(plan: Plan, item: exp.Ordered) -> str:
    text = _rewrite(plan, item.this).sql(dialect="duckdb") + (" DESC" if item.args.get("desc") else "")
    nulls = item.args.get("nulls_first")
    return text if nulls is None else text + (" NULLS FIRST" if nulls else " NULLS LAST")


def _rewrite(plan: Plan, node: exp.Expr) -> exp.Expr:
    keys = {k.sql(): i for i, k in enumerate(plan.query.group_by)}
    index = {a.node.sql(): a for a in plan.aggregates}

    def swap(n: exp.Expr) -> exp.Expr:
        if n.sql() in keys:
            return exp.column(f"k{keys[n.sql()]}")
        if isinstance(n, AGGREGATES):
            agg = index[n.sql()]
            if agg.func == "avg":
                return sqlglot.parse_one(f"(CASE WHEN a{agg.index}_n = 0 THEN NULL ELSE a{agg.index} / "
                                         f"a{agg.index}_n END)", dialect="duckdb")
            return exp.column(f"a{agg.index}")
        return n

    return node.copy().transform(swap)


def empty_rows(plan: Plan) -> list[dict[str, Any]]:
    """The receiver's rows when no row survives the join: none with GROUP BY, else one of empty aggregates."""
    if plan.grouped:
        return []
    row: dict[str, Any] = {}
    for agg in plan.aggregates:
        row[f"a{agg.index}"] = "0" if agg.func in ("count", "count_star", "count_distinct") else None
        if agg.func == "avg":
            row[f"a{agg.index}_n"] = "0"
    return (row and [row]) or [{}]


def empty_passes(plan: Plan) -> bool:
    """Whether the single row of an empty ungrouped query survives HAVING and the minimum-entities rules."""
    if plan.thresholds:
        return False
    if plan.query.having is None:
        return True
    conn = duckdb.connect(":memory:")
    try:
        values = []
        for agg in plan.query.aggregates:
            zero = isinstance(agg, exp.Count)
            values.append(f"{'0' if zero else 'NULL'} AS a{plan.query.aggregates.index(agg)}")
        having = plan.having.transform(  # type: ignore[union-attr]
            lambda n: exp.column(f"a{n.name.rstrip('sn')}") if isinstance(n, exp.Column) else n)
        return bool(conn.execute(f"SELECT ({having.sql(dialect='duckdb')}) IS TRUE FROM (SELECT {', '.join(values)})")
                    .fetchall()[0][0])
    finally:
        conn.close()
