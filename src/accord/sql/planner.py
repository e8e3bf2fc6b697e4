"""Turn a bound query into a :class:`~accord.sql.plan.Plan`, proving first that it respects every CCL.

The planner decides, per WHERE conjunct, whether its owner may filter before the join (only when the
join partners may learn the comparison's outcome: ``PLAINTEXT_AFTER_COMPARE``) or must fold it into
its counts; per GROUP BY, whether the computing parties may see the partition
(``PLAINTEXT_AFTER_GROUP_BY``) or only its owner does; and it refuses, naming the column, rule and
clause, any query whose joins, filters, groups or outputs would reveal what a grant forbids.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlglot.expressions as exp

from accord.errors import ConfigurationError, QueryError, UnsupportedError
from accord.sql.catalog import Catalog
from accord.sql.ccl import Level, derive, lift
from accord.sql.parser import AGGREGATES, Query
from accord.sql.plan import Aggregate, Edge, LocalPlan, Partial, Plan
from accord.sql.probe import Probe, encoding_of
from accord.sql.rules import check_usage, join_checks, leakage, output_checks, where_check
from accord.sql.split import Splitter, bound_of, never_null

_FUNCS = {exp.Count: "count", exp.Sum: "sum", exp.Avg: "avg", exp.Min: "min", exp.Max: "max"}


def make_plan(query: Query, catalog: Catalog, receiver: str, computing: Sequence[str], *, frac: int = 18) -> Plan:
    """Plan ``query`` for ``receiver`` with MPC among ``computing``; raises before any protocol runs."""
    parties = query.data_parties
    if len(parties) < 2:
        raise UnsupportedError(f"the query reads only party {parties[0]!r}'s tables: it can answer it alone; "
                               "accord sql joins tables of two or more parties (clause FROM)")
    if receiver not in computing:
        raise ConfigurationError(f"the receiver {receiver!r} must be one of the computing parties {list(computing)}")
    check_usage(query, [receiver, *computing])
    probe = Probe(catalog)
    try:
        outputs = probe.describe(query.sql)
        classes = _key_classes(query)
        local = {p: _local(query, p, classes) for p in parties}
        order, edges = _join_order(query, parties, local)
        join_checks(query, edges, order, local)
        splitter = Splitter(query, probe, local, _from_sql(query))
        for conjunct in query.where:
            where_check(query, conjunct, receiver)
            owners = query.parties(conjunct)
            if len(owners) == 1:
                owner = next(iter(owners))
                others = [p for p in parties if p != owner]
                grants = [derive(conjunct, _grant(query, q)) for q in others]
                (local[owner].pushed if all(g.plaintext for g in grants) else local[owner].folded).append(conjunct)
        cross = [splitter.split(c) for c in query.where if len(query.parties(c)) != 1]
        grouping, group_owners = _grouping(query, computing)
        for key in query.group_by:
            local[next(iter(query.parties(key)))].groups.append(key)
        aggregates = [_aggregate(query, i, node, splitter, classes, computing, outputs)
                      for i, node in enumerate(query.aggregates)]
        output_checks(query, receiver)
        thresholds = _thresholds(query, classes, computing)
    finally:
        probe.close()
    having = _having(query)
    plan = Plan(query, receiver, tuple(computing), order, local, edges, cross, aggregates, having, grouping,
                group_owners,
                thresholds, [n for n, _ in outputs], [t for _, t in outputs], frac)
    plan.leakage = leakage(plan)
    return plan


def _grant(query: Query, party: str):
    return lambda c: query.tables[c.table].grant(c.name, party)


def _from_sql(query: Query) -> str:
    return ", ".join(f'"{t.name}" AS "{alias}"' for alias, t in query.tables.items())


def _key_classes(query: Query) -> dict[str, int]:
    """Union-find over join equalities: each column's key class (columns of one class hold equal values)."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            x = parent[x]
        return x

    for a, b in query.joins:
        parent[find(a.sql())] = find(b.sql())
    roots = sorted({find(x) for x in parent})
    return {x: roots.index(find(x)) for x in parent}


def _local(query: Query, party: str, classes: dict[str, int]) -> LocalPlan:
    aliases = [a for a, t in query.tables.items() if t.owner == party]
    members: dict[int, list[exp.Column]] = {}
    for a, b in query.joins:
        for col in (a, b):
            if query.owner(col) == party and col.sql() not in [m.sql() for m in members.get(classes[col.sql()], [])]:
                members.setdefault(classes[col.sql()], []).append(col)
    joins = [(cols[0], other) for cols in members.values() for other in cols[1:]]
    shared = {cls: cols[0] for cls, cols in members.items()
              if any(query.owner(c) != party for c in _class_columns(query, classes, cls))}
    _check_connected(party, aliases, joins)
    return LocalPlan(party, aliases, joins, [], [], shared, [])


def _class_columns(query: Query, classes: dict[str, int], cls: int) -> list[exp.Column]:
    return [c for pair in query.joins for c in pair if classes[c.sql()] == cls]


def _check_connected(party: str, aliases: list[str], joins: list[tuple[exp.Column, exp.Column]]) -> None:
    reached = {aliases[0]}
    for _ in aliases:
        for a, b in joins:
            if a.table in reached or b.table in reached:
                reached |= {a.table, b.table}
    if reached != set(aliases):
        raise UnsupportedError(f"party {party!r}'s tables {sorted(aliases)} are not joined to each other by key "
                               "equalities; each party's tables must join among themselves (clause JOIN)")


def _join_order(query: Query, parties: tuple[str, ...], local: dict[str, LocalPlan]) -> tuple[list[str], list[Edge]]:
    order, edges = [parties[0]], []
    while len(order) < len(parties):
        for party in parties:
            if party in order:
                continue
            mine = set(local[party].keys)
            partners = [(len(mine & set(local[p].keys)), p) for p in order]
            best, left = max(partners, key=lambda x: x[0])
            if not best:
                continue
            shared = mine & set().union(*(set(local[p].keys) for p in order))
            if not shared <= set(local[left].keys):
                raise UnsupportedError(f"party {party!r} joins parties {order} on keys that no single one of them "
                                       "holds: cyclic joins are not supported (clause JOIN)")
            order.append(party)
            edges.append(Edge(left, party, sorted(shared)))
            break
        else:
            rest = [p for p in parties if p not in order]
            raise UnsupportedError(f"parties {rest} are not joined to {order} on key columns: cross joins are not "
                                   "supported (clause JOIN)")
    return order, edges


def _grouping(query: Query, computing: Sequence[str]) -> tuple[str, list[str]]:
    owners: list[str] = []
    for key in query.group_by:
        found = query.parties(key)
        if len(found) != 1:
            raise UnsupportedError(f"GROUP BY {key.sql()}: a group key must be computed from one party's columns "
                                   "(clause GROUP BY)")
        owners += [p for p in found if p not in owners]
    public = all(lift(derive(key, _grant(query, c)), Level.PLAINTEXT_AFTER_GROUP_BY).plaintext
                 for key in query.group_by for c in computing)
    return ("public" if public or not owners else "owner"), owners


def _aggregate(query: Query, index: int, node: exp.Expr, splitter: Splitter, classes: dict[str, int],
               computing: Sequence[str], outputs: list[tuple[str, str]]) -> Aggregate:
    func = _FUNCS[type(node)]  # type: ignore[index]
    sql_type = splitter.probe.type_of(node, _from_sql(query))
    arg = node.this
    if func == "count" and isinstance(arg, exp.Star):
        return Aggregate(index, node, "count_star", sql_type)
    if isinstance(arg, exp.Distinct):
        inner = arg.expressions
        if len(inner) != 1 or not isinstance(inner[0], exp.Column):
            raise UnsupportedError(f"{node.sql()}: COUNT(DISTINCT ...) takes one column, not an expression or "
                                   "several columns (clause SELECT)")
        column = inner[0]
        if column.sql() in classes and not _missing(query, classes[column.sql()], classes, computing):
            return Aggregate(index, node, "count_distinct", sql_type, key_class=classes[column.sql()])
        owner = query.owner(column)
        counted = [c.sql() for c in splitter.local[owner].counted]
        if column.sql() not in counted:
            splitter.local[owner].counted.append(column)
            counted.append(column.sql())
        return Aggregate(index, node, "count_distinct", sql_type, owner=owner,
                         counted=f"c{counted.index(column.sql())}")
    owners = query.parties(arg)
    if len(owners) == 1:
        owner = next(iter(owners))
        enc = encoding_of(splitter.probe.type_of(arg, _from_sql(query)), arg.sql())
        if func in ("sum", "avg") and enc.kind not in ("int", "fixed"):
            raise QueryError(f"{node.sql()}: cannot sum a {enc.sql_type} value (clause SELECT)")
        if func in ("min", "max") and enc.kind == "hash":
            raise UnsupportedError(f"{node.sql()}: MIN / MAX of text is not supported (clause SELECT)")
        partial = Partial(f"p{index}", {"avg": "sum"}.get(func, func), arg, enc, bound_of(query, arg),
                          not never_null(query, arg))
        splitter.local[owner].partials.append(partial)
        return Aggregate(index, node, func, sql_type, partial=partial, owner=owner, enc=enc, bound=partial.bound)
    expr, enc, bound = splitter.split_value(arg)
    if (func in ("min", "max") and enc.kind == "hash") or (func in ("sum", "avg") and enc.kind not in ("int", "fixed")):
        raise UnsupportedError(f"{node.sql()}: {func.upper()} of a {enc.sql_type} value is not supported "
                               "(clause SELECT)")
    return Aggregate(index, node, func, sql_type, expr=expr, enc=enc, bound=bound)


def _missing(query: Query, cls: int, classes: dict[str, int], computing: Sequence[str]) -> list[str]:
    """The computing parties that hold no column of key class ``cls``."""
    holders = {query.owner(c) for pair in query.joins for c in pair if classes[c.sql()] == cls}
    return [c for c in computing if c not in holders]


def _known_to_all(query: Query, cls: int, classes: dict[str, int], computing: Sequence[str], what: str) -> None:
    missing = _missing(query, cls, classes, computing)
    if missing:
        raise UnsupportedError(f"{what}: counting distinct values needs a join key that every computing party holds; "
                               f"{missing} do not (clause SELECT)")


def _thresholds(query: Query, classes: dict[str, int], computing: Sequence[str]) -> list[tuple[str, int, int]]:
    out = []
    for alias, table in query.tables.items():
        if table.min_entities is None:
            continue
        column = f"{alias}.{table.min_entities.column}"
        if column not in classes:
            raise UnsupportedError(f"table {table.name!r} requires at least {table.min_entities.minimum} distinct "
                                   f"{table.min_entities.column} per output row, so the query must join on that "
                                   "column (clause JOIN)")
        _known_to_all(query, classes[column], classes, computing, f"the minimum-entities rule of {table.name!r}")
        out.append((table.name, classes[column], table.min_entities.minimum))
    return out


def _having(query: Query) -> exp.Expr | None:
    """HAVING over aggregate placeholders ``@agg.<i>``; ``AVG(x) <op> c`` becomes ``SUM <op> c * COUNT``."""
    if query.having is None:
        return None
    index = {a.sql(): i for i, a in enumerate(query.aggregates)}

    def swap(node: exp.Expr) -> exp.Expr:
        if isinstance(node, (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE)):
            left, right = node.this, node.expression
            for avg, other, flip in ((left, right, False), (right, left, True)):
                if isinstance(avg, exp.Avg) and not other.find(exp.Column, *AGGREGATES):
                    i = index[avg.sql()]
                    total = exp.column(f"{i}s", table="@agg")
                    scaled = exp.Mul(this=other.copy(), expression=exp.column(f"{i}n", table="@agg"))
                    pair = (scaled, total) if flip else (total, scaled)
                    return type(node)(this=pair[0], expression=pair[1])
        if isinstance(node, exp.Avg):
            raise UnsupportedError(f"{node.sql()} in HAVING: compare AVG directly with a constant (clause HAVING)")
        if isinstance(node, AGGREGATES):
            return exp.column(str(index[node.sql()]), table="@agg")
        if isinstance(node, exp.Column):
            raise UnsupportedError(f"HAVING on the group key {node.sql()}: move it to WHERE (clause HAVING)")
        new = node.copy()
        for child in list(new.iter_expressions()):
            child.replace(swap(child))
        return new

    return swap(query.having)
