"""Split expressions between parties: each owner computes its maximal single-party parts locally.

An expression over several parties' columns (a cross-party WHERE predicate, a CASE inside an
aggregate) becomes a tree whose leaves are unit columns (``@party.d3``) computed by their owners in
DuckDB, with SQL semantics for NULLs, functions and types; only the operators joining the parts are
evaluated under shares (:mod:`accord.sql.secure`). Each leaf carries a magnitude bound from the
catalog's ``max_abs`` (interval arithmetic), which its owner checks before sharing, so sums under the
shares cannot silently wrap.
"""

from __future__ import annotations

import sqlglot.expressions as exp

from accord.errors import QueryError, UnsupportedError
from accord.sql.parser import Query
from accord.sql.plan import Derived, LocalPlan
from accord.sql.probe import Encoding, Probe, encoding_of

UNBOUNDED = float(2 ** 31)   # bound of a value interval arithmetic cannot follow (owners check it)


def unit_column(party: str, name: str) -> exp.Column:
    """A placeholder for a unit column of ``party`` in a split expression."""
    return exp.Column(this=exp.to_identifier(name), table=exp.to_identifier(f"@{party}"))


class Splitter:
    """Rewrites cross-party expressions over unit columns, registering each derived column with its owner."""

    def __init__(self, query: Query, probe: Probe, local: dict[str, LocalPlan], from_sql: str) -> None:
        self.query = query
        self.probe = probe
        self.local = local
        self.from_sql = from_sql
        self._seen: dict[tuple[str, str], str] = {}

    def split(self, node: exp.Expr) -> exp.Expr:
        """``node`` with each maximal single-party subtree replaced by a unit column."""
        owners = self.query.parties(node)
        if len(owners) == 1:
            return self._derive(next(iter(owners)), node)
        _check_range(self.query, node)
        new = node.copy()
        if owners:
            for child in list(new.iter_expressions()):
                child.replace(self.split(child))
        return new

    def split_value(self, node: exp.Expr) -> tuple[exp.Expr, Encoding, float]:
        """A cross-party value: the split tree, its encoding and its magnitude bound."""
        enc = encoding_of(self.probe.type_of(node, self.from_sql), node.sql())
        return self.split(node), enc, bound_of(self.query, node)

    def _derive(self, party: str, node: exp.Expr) -> exp.Column:
        key = (party, node.sql())
        if key not in self._seen:
            plan = self.local[party]
            name = f"d{len(plan.derived)}"
            enc = encoding_of(self.probe.type_of(node, self.from_sql), node.sql())
            nullable = not (isinstance(node, exp.Column) and not self.query.column(node).nullable)
            plan.derived.append(Derived(name, node, enc, nullable, bound_of(self.query, node)))
            self._seen[key] = name
        return unit_column(party, self._seen[key])


def bound_of(query: Query, node: exp.Expr) -> float:
    """An upper bound on ``|node|`` over rows whose columns respect their declared ``max_abs``."""
    if isinstance(node, exp.Column):
        return query.column(node).max_abs
    if isinstance(node, exp.Literal):
        return abs(float(node.this)) if not node.is_string else 0.0
    if isinstance(node, (exp.Paren, exp.Neg, exp.Abs, exp.Round, exp.Floor, exp.Ceil, exp.Cast)):
        return bound_of(query, node.this)
    if isinstance(node, (exp.Add, exp.Sub)):
        return bound_of(query, node.this) + bound_of(query, node.expression)
    if isinstance(node, exp.Mul):
        return bound_of(query, node.this) * bound_of(query, node.expression)
    if isinstance(node, exp.Div) and isinstance(node.expression, exp.Literal) and float(node.expression.this):
        return bound_of(query, node.this) / abs(float(node.expression.this))
    if isinstance(node, (exp.Case, exp.If, exp.Coalesce, exp.Greatest, exp.Least)):
        values = [c for c in node.iter_expressions() if not _is_condition(c, node)]
        return max((bound_of(query, v) for v in values), default=0.0)
    if isinstance(node, (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.And, exp.Or, exp.Not, exp.Is,
                         exp.Between, exp.In, exp.Boolean, exp.Null)):
        return 1.0
    return UNBOUNDED


def never_null(query: Query, node: exp.Expr) -> bool:
    """Whether ``node`` is arithmetic over NOT NULL columns and constants (so SQL never makes it NULL)."""
    if isinstance(node, exp.Column):
        return not query.column(node).nullable
    if isinstance(node, exp.Literal):
        return True
    if isinstance(node, (exp.Paren, exp.Neg, exp.Add, exp.Sub, exp.Mul)):
        return all(never_null(query, child) for child in node.iter_expressions())
    return False


def _is_condition(child: exp.Expr, parent: exp.Expr) -> bool:
    if isinstance(parent, exp.If):
        return child is parent.this
    return False


def _check_range(query: Query, node: exp.Expr) -> None:
    """Refuse cross-party arithmetic whose declared bounds could leave the exact range of the shares."""
    if isinstance(node, exp.Div):
        divisor = node.expression.unnest() if isinstance(node.expression, exp.Paren) else node.expression
        if not isinstance(divisor, exp.Literal) or divisor.is_string:
            raise UnsupportedError(f"{node.sql()}: across parties, divide by a number only (compute other "
                                   "divisions from one party's columns or after aggregation)")
        if float(divisor.this) == 0:
            raise QueryError(f"{node.sql()}: division by zero")
    if isinstance(node, (exp.Add, exp.Sub, exp.Mul)):
        columns = [query.column(col) for col in node.find_all(exp.Column)]
        scale = max((c.type.scale for c in columns), default=0)
        # Fixed-point products hold 2 * frac fractional bits before truncation: |a * b| must stay below 2^26.
        limit = 2.0 ** 26 if any(c.type.kind == "float" for c in columns) else 2.0 ** 40
        if bound_of(query, node) * 10.0 ** (2 * scale) >= limit:
            raise QueryError(f"{node.sql()} may reach {bound_of(query, node):.3g} with the catalog's max_abs bounds, "
                             "beyond what the shares compute exactly; declare smaller max_abs for its columns")
