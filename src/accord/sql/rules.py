"""The CCL proof obligations of a plan, and the leakage it declares.

Each check names what is revealed to whom by the plan's execution and asks :func:`accord.sql.ccl.derive`
whether that party's grants allow it; a refusal is a :class:`~accord.errors.PolicyViolation` naming the
column, the derived constraint, the party, the rule and the clause.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import sqlglot.expressions as exp

from accord.errors import PolicyViolation
from accord.sql.ccl import Level, Verdict, combine, derive, lift, refusal
from accord.sql.parser import AGGREGATES, Query

if TYPE_CHECKING:
    from accord.sql.plan import Edge, LocalPlan, Plan

_COMPARE = (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.Between, exp.In, exp.Is)


def grant_of(query: Query, party: str) -> Callable[[exp.Column], Level]:
    """Each bound column's constraint for ``party``."""
    return lambda c: query.tables[c.table].grant(c.name, party)


def _refuse(verdict: Verdict, party: str, clause: str, rule: str) -> PolicyViolation:
    return PolicyViolation(refusal(verdict, party, clause, rule))


def check_usage(query: Query, parties: Sequence[str]) -> None:
    """Every column the query reads has some grant (at least ENCRYPTED_ONLY) for the receiver and computing parties."""
    clauses: list[tuple[str, list[exp.Expr]]] = [
        ("SELECT", query.select), ("WHERE", query.where), ("GROUP BY", query.group_by),
        ("JOIN", [c for pair in query.joins for c in pair]), ("HAVING", [query.having] if query.having else []),
        ("ORDER BY", [o.this for o in query.order])]
    for clause, nodes in clauses:
        for node in nodes:
            for column in node.find_all(exp.Column):
                for party in dict.fromkeys(parties):
                    level = query.tables[column.table].grant(column.name, party)
                    if level is Level.REJECTED:
                        raise _refuse(Verdict(level, column.sql()), party, clause, "")


def join_checks(query: Query, edges: list[Edge], order: list[str], local: dict[str, LocalPlan]) -> None:
    """PSI reveals the intersection to both sides, and re-indexing tells the rest of the component which rows stay."""
    for i, edge in enumerate(edges):
        members = order[: i + 2]
        keys = [local[p].keys[c] for p in (edge.left, edge.right) for c in edge.classes]
        for party in members:
            for key in keys:
                if query.owner(key) == party:
                    continue
                verdict = lift(Verdict(query.tables[key.table].grant(key.name, party), key.sql()),
                               Level.PLAINTEXT_AFTER_JOIN)
                if not verdict.plaintext:
                    raise _refuse(verdict, party, "JOIN", "a join key must be PLAINTEXT_AFTER_JOIN for every party "
                                  "that learns which rows match")


def where_check(query: Query, conjunct: exp.Expr, receiver: str) -> None:
    """A filter shapes the revealed aggregates: its outcome may reach the receiver compared or aggregated only."""
    verdict = derive(conjunct, grant_of(query, receiver))
    if verdict.level not in (Level.PLAINTEXT, Level.PLAINTEXT_AFTER_AGGREGATE):
        raise _refuse(verdict, receiver, "WHERE", "a filter decides which rows the revealed aggregates count, so its "
                      "columns must be PLAINTEXT_AFTER_COMPARE or PLAINTEXT_AFTER_AGGREGATE for the receiver")


def revealed(query: Query) -> set[str]:
    """SQL of the aggregates the receiver learns (those in SELECT and ORDER BY; HAVING's stay secret)."""
    nodes = [*query.select, *(o.this for o in query.order)]
    return {a.sql() for node in nodes for a in node.find_all(*AGGREGATES)}


def output_checks(query: Query, receiver: str) -> None:
    """Group keys, opened aggregates and the HAVING outcome must derive PLAINTEXT for the receiver."""
    grant = grant_of(query, receiver)
    for key in query.group_by:
        verdict = lift(derive(key, grant), Level.PLAINTEXT_AFTER_GROUP_BY)
        if not verdict.plaintext:
            raise _refuse(verdict, receiver, "GROUP BY", "group keys are revealed with the result, so they must be "
                          "PLAINTEXT_AFTER_GROUP_BY for the receiver")
    opened = revealed(query)
    for agg in query.aggregates:
        if agg.sql() in opened:
            verdict = derive(agg, grant)
            if not verdict.plaintext:
                raise _refuse(verdict, receiver, "SELECT", f"{agg.sql()} is revealed, so its argument must be "
                              "PLAINTEXT_AFTER_AGGREGATE for the receiver")
    if query.having is not None:
        verdict = _post(query.having, grant, {k.sql() for k in query.group_by})
        if not verdict.plaintext:
            raise _refuse(verdict, receiver, "HAVING", "the receiver learns which groups pass HAVING, so it must "
                          "derive PLAINTEXT (compare PLAINTEXT_AFTER_COMPARE aggregates, or aggregate "
                          "PLAINTEXT_AFTER_AGGREGATE columns)")


def _post(node: exp.Expr, grant: Callable[[exp.Column], Level], keys: set[str]) -> Verdict:
    """Derivation over an expression of group keys and aggregates (HAVING)."""
    if node.sql() in keys:
        return lift(derive(node, grant), Level.PLAINTEXT_AFTER_GROUP_BY)
    if isinstance(node, AGGREGATES):
        return derive(node, grant)
    children = [_post(c, grant, keys) for c in node.iter_expressions()]
    if isinstance(node, _COMPARE):
        return combine([lift(v, Level.PLAINTEXT_AFTER_COMPARE) for v in children])
    return combine(children)


def leakage(plan: Plan) -> list[str]:
    """What each party learns beyond the result, stated for the job report."""
    q = plan.query
    out = [f"every data party ({', '.join(plan.order)}) learns each data party's number of units (distinct "
           "combinations of its join keys, group keys and cross-party columns, after its pushed-down filters) and "
           "the row count of every join step"]
    for edge in plan.edges:
        out.append(f"{edge.left} and {edge.right} learn which of their units have a matching key in the other's "
                   f"(PSI) and how many units the other holds per matching key")
    for party in plan.order:
        for pred in plan.local[party].pushed:
            others = ", ".join(p for p in plan.order if p != party)
            out.append(f"{others} learn through the join whether {party}'s units satisfy {pred.sql()} "
                       "(pushed down: PLAINTEXT_AFTER_COMPARE for them)")
    if plan.grouped and plan.grouping == "public":
        out.append(f"the computing parties ({', '.join(plan.computing)}) learn the partition of the joined rows by "
                   f"{', '.join(k.sql() for k in q.group_by)} (group ids, not values)")
    elif plan.grouped:
        out.append(f"the computing parties learn, per group-key owner ({', '.join(plan.group_owners)}), the number "
                   f"of distinct values of its keys among {', '.join(k.sql() for k in q.group_by)} in the joined "
                   "rows (only each owner knows which row is in which of its groups)")
    for agg in plan.aggregates:
        if agg.counted is not None:
            column = agg.node.this.expressions[0].sql()
            out.append(f"for {agg.node.sql()}, the computing parties learn the number of distinct non-NULL values "
                       f"of {column} among {agg.owner}'s joined rows, after the pushed-down filters and before the "
                       f"secret ones (at least 1: the width of its shared one-hot); {agg.owner} learns nothing "
                       "beyond its own column")
    out.append("the computing parties learn one bit: whether the sums could leave the exact 61-bit range")
    thresholds = "; groups below the minimum number of distinct entities are suppressed" if plan.thresholds else ""
    having = "; groups failing HAVING are withheld" if q.having is not None else ""
    out.append(f"{plan.receiver} learns, per candidate group, whether it is output{thresholds}{having} (suppression "
               "itself is visible, the suppressed values are not), and for each output group its keys and the value "
               "and nullness of each aggregate in SELECT / ORDER BY (AVG as its SUM and COUNT); it applies "
               "ORDER BY and LIMIT itself, so it learns every output group before the LIMIT")
    return out
