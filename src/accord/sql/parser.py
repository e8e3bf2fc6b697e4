"""Parse a query with sqlglot, check it against the catalog and bind every column to its table.

The result, a :class:`Query`, is what the planner works on: tables by alias, join equalities, WHERE
conjuncts, GROUP BY keys, aggregates and the output list, with every column qualified by its alias.
Anything outside the supported subset is refused here, before any party is contacted, with an
:class:`~accord.errors.UnsupportedError` naming the clause; a query that does not fit the catalog
(unknown or ambiguous column, type mismatch) raises :class:`~accord.errors.QueryError`. The query is
also bound by DuckDB over empty tables of the catalog's schema (:func:`accord.sql.local.describe`),
which catches type errors the way DuckDB would and yields the output's names and types.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlglot
import sqlglot.expressions as exp
from sqlglot.errors import ParseError

from accord.errors import QueryError, UnsupportedError
from accord.sql.catalog import Catalog, Column, Table

AGGREGATES = (exp.Count, exp.Sum, exp.Avg, exp.Min, exp.Max)
# Scalar nodes accepted anywhere; functions the owner's DuckDB evaluates are listed separately.
_SCALAR = (exp.Column, exp.Literal, exp.Null, exp.Boolean, exp.Paren, exp.Neg, exp.Add, exp.Sub, exp.Mul, exp.Div,
           exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.And, exp.Or, exp.Not, exp.Case, exp.If,
           exp.Between, exp.In, exp.Is, exp.Cast, exp.DataType, exp.Coalesce, exp.Star, exp.Distinct,
           exp.Identifier, exp.Var)
_LOCAL_FUNCTIONS = (exp.Abs, exp.Round, exp.Floor, exp.Ceil, exp.Lower, exp.Upper, exp.Length, exp.Substring,
                    exp.Nullif, exp.Year, exp.Month, exp.Day, exp.Extract, exp.Greatest, exp.Least, exp.Concat,
                    exp.Trim, exp.Like, exp.ILike, exp.Mod, exp.IntDiv, exp.DPipe, exp.TryCast)
_CLAUSES_REFUSED = {"with": "WITH", "distinct": "SELECT DISTINCT (use GROUP BY)", "qualify": "QUALIFY",
                    "windows": "WINDOW", "laterals": "LATERAL", "pivots": "PIVOT", "sample": "SAMPLE",
                    "offset": "OFFSET", "cluster": "CLUSTER BY", "distribute": "DISTRIBUTE BY", "sort": "SORT BY",
                    "connect": "CONNECT BY", "locks": "FOR UPDATE", "into": "SELECT INTO", "prewhere": "PREWHERE"}


@dataclass
class Query:
    """A bound query; see the module docstring."""

    sql: str
    tables: dict[str, Table]
    joins: list[tuple[exp.Column, exp.Column]]
    where: list[exp.Expr]
    group_by: list[exp.Expr]
    select: list[exp.Expr]
    having: exp.Expr | None
    order: list[exp.Ordered]
    limit: int | None
    aggregates: list[exp.Expr] = field(default_factory=list)

    def owner(self, column: exp.Column) -> str:
        """The party holding a bound column."""
        return self.tables[column.table].owner

    def column(self, column: exp.Column) -> Column:
        """The catalog entry of a bound column."""
        return self.tables[column.table].columns[column.name]

    def parties(self, node: exp.Expr) -> set[str]:
        """The owners of the columns an expression reads."""
        return {self.owner(c) for c in node.find_all(exp.Column)}

    @property
    def data_parties(self) -> tuple[str, ...]:
        """Owners of the query's tables, in FROM order."""
        return tuple(dict.fromkeys(t.owner for t in self.tables.values()))


def parse(sql: str, catalog: Catalog) -> Query:
    """Parse and bind ``sql`` against ``catalog``; raises before any protocol runs."""
    try:
        statements = [s for s in sqlglot.parse(sql, dialect="duckdb") if s is not None]
    except ParseError as exc:
        raise QueryError(f"malformed SQL: {exc}") from None
    if len(statements) != 1:
        raise QueryError(f"expected one SELECT statement, got {len(statements)}")
    tree = statements[0]
    if not isinstance(tree, exp.Select):
        raise UnsupportedError(f"only SELECT queries are supported, got {tree.key.upper()}")
    for key, clause in _CLAUSES_REFUSED.items():
        if tree.args.get(key):
            raise UnsupportedError(f"{clause} is not supported")
    if tree.find(exp.Subquery, exp.Union, exp.Window) or any(isinstance(n, exp.Select) for n in tree.walk()
                                                             if n is not tree):
        raise UnsupportedError("subqueries, set operations and window functions are not supported")
    tables, conditions = _from(tree, catalog)
    binder = _Binder(tables)
    select = [binder.bind(e, "SELECT") for e in tree.expressions]
    names = [e.alias_or_name for e in tree.expressions]
    conjuncts = [binder.bind(c, "JOIN ... ON") for c in conditions]
    if tree.args.get("where"):
        conjuncts += _conjuncts(binder.bind(tree.args["where"].this, "WHERE"))
    joins, where = [], []
    for c in conjuncts:
        if (isinstance(c, exp.EQ) and isinstance(c.this, exp.Column) and isinstance(c.expression, exp.Column)
                and c.this.table != c.expression.table):
            joins.append((c.this, c.expression))
        else:
            where.append(c)
    group = [_positional(binder, e, select, names, "GROUP BY") for e in
             (tree.args["group"].expressions if tree.args.get("group") else [])]
    having = binder.bind(tree.args["having"].this, "HAVING", names, select) if tree.args.get("having") else None
    order = [exp.Ordered(this=_positional(binder, o.this, select, names, "ORDER BY"), desc=o.args.get("desc"),
                         nulls_first=o.args.get("nulls_first"))
             for o in (tree.args["order"].expressions if tree.args.get("order") else [])]
    query = Query(sql, tables, joins, where, group, [e.unalias() if isinstance(e, exp.Alias) else e for e in select],
                  having, order, _limit(tree))
    _check(query, names)
    return query


def _from(tree: exp.Select, catalog: Catalog) -> tuple[dict[str, Table], list[exp.Expr]]:
    source = tree.args.get("from_") or tree.args.get("from")
    if source is None:
        raise QueryError("the query has no FROM clause")
    items = [(source.this, None)] + [(j.this, j) for j in tree.args.get("joins") or []]
    tables: dict[str, Table] = {}
    conditions: list[exp.Expr] = []
    for item, join in items:
        if join is not None:
            side, kind = (join.args.get("side") or ""), (join.args.get("kind") or "")
            if side or str(kind).upper() not in ("", "INNER") or join.args.get("using") or join.args.get("method"):
                what = " ".join(str(x).upper() for x in (join.args.get("method"), side, kind) if x)
                raise UnsupportedError(f"{what or 'this'} JOIN is not supported: use inner joins on key columns "
                                       "(clause JOIN)")
            if join.args.get("on"):
                conditions += _conjuncts(join.args["on"])
        if not isinstance(item, exp.Table) or item.args.get("db") or item.args.get("catalog"):
            raise UnsupportedError(f"FROM {item.sql()} is not supported: name catalog tables only (clause FROM)")
        name = item.name.lower()
        if name not in catalog.tables:
            raise QueryError(f"table {name!r} is not in the catalog; it has {sorted(catalog.tables)}")
        alias = (item.alias or name).lower()
        if alias in tables:
            raise QueryError(f"table name or alias {alias!r} appears twice in FROM; give each an alias")
        tables[alias] = catalog.tables[name]
    return tables, conditions


def _conjuncts(node: exp.Expr) -> list[exp.Expr]:
    node = node.unnest() if isinstance(node, exp.Paren) else node
    if isinstance(node, exp.And):
        return _conjuncts(node.this) + _conjuncts(node.expression)
    return [node]


class _Binder:
    """Qualifies columns with their table's alias and refuses what the engine cannot run."""

    def __init__(self, tables: dict[str, Table]) -> None:
        self.tables = tables

    def bind(self, node: exp.Expr, clause: str, names: list[str] | None = None,
             select: list[exp.Expr] | None = None) -> exp.Expr:
        node = node.copy()
        for sub in list(node.walk()):
            if not isinstance(sub, (*_SCALAR, *_LOCAL_FUNCTIONS, *AGGREGATES, exp.Alias, exp.Ordered)):
                raise UnsupportedError(f"{sub.sql(dialect='duckdb')!r} ({sub.key}) is not supported (clause {clause})")
            if isinstance(sub, exp.Literal) and not sub.is_string and not _number(sub.this):
                raise QueryError(f"bad number {sub.this!r} (clause {clause})")
        return node.transform(lambda n: self._column(n, clause, names, select) if isinstance(n, exp.Column) else n)

    def _column(self, node: exp.Column, clause: str, names: list[str] | None,
                select: list[exp.Expr] | None) -> exp.Expr:
        name = node.name.lower()
        if node.table:
            alias = node.table.lower()
            if alias not in self.tables:
                raise QueryError(f"{node.sql()}: no table or alias {alias!r} in FROM (clause {clause})")
            if name not in self.tables[alias].columns:
                raise QueryError(f"column {name!r} does not exist in table {self.tables[alias].name!r} "
                                 f"(clause {clause}); it has {list(self.tables[alias].columns)}")
            return exp.column(name, table=alias)
        hits = [a for a, t in self.tables.items() if name in t.columns]
        if not hits and names and select is not None and name in [n.lower() for n in names]:
            target = select[[n.lower() for n in names].index(name)]
            return (target.unalias() if isinstance(target, exp.Alias) else target).copy()
        if not hits:
            raise QueryError(f"column {name!r} does not exist in any table of the query "
                             f"({', '.join(sorted(t.name for t in self.tables.values()))}) (clause {clause})")
        if len(hits) > 1:
            raise QueryError(f"column {name!r} is ambiguous: it is in {', '.join(sorted(hits))}; qualify it "
                             f"(clause {clause})")
        return exp.column(name, table=hits[0])


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _positional(binder: _Binder, node: exp.Expr, select: list[exp.Expr], names: list[str],
                clause: str) -> exp.Expr:
    """GROUP BY / ORDER BY items: an output position (``2``) or an output name stands for that output."""
    if isinstance(node, exp.Literal) and not node.is_string:
        position = int(float(node.this))
        if not 1 <= position <= len(select):
            raise QueryError(f"{clause} position {position} is not in the SELECT list (1..{len(select)})")
        target = select[position - 1]
        return (target.unalias() if isinstance(target, exp.Alias) else target).copy()
    if isinstance(node, exp.Column) and not node.table and clause == "ORDER BY":
        lowered = [n.lower() for n in names]
        if node.name.lower() in lowered:
            target = select[lowered.index(node.name.lower())]
            return (target.unalias() if isinstance(target, exp.Alias) else target).copy()
    return binder.bind(node, clause, names, select)


def _limit(tree: exp.Select) -> int | None:
    limit = tree.args.get("limit")
    if limit is None:
        return None
    value = limit.expression
    if not isinstance(value, exp.Literal) or value.is_string or not value.this.isdigit():
        raise UnsupportedError(f"LIMIT {value.sql()} is not supported: give a whole number (clause LIMIT)")
    return int(value.this)


def _check(query: Query, names: list[str]) -> None:
    """Aggregates where they belong, outputs that are group keys or aggregates, joinable key types."""
    for clause, nodes in (("WHERE", query.where), ("GROUP BY", query.group_by),
                          ("JOIN ... ON", [e for pair in query.joins for e in pair])):
        for node in nodes:
            found = node.find(*AGGREGATES)
            if found is not None:
                raise QueryError(f"aggregate {found.sql()} is not allowed (clause {clause})")
    seen: dict[str, exp.Expr] = {}
    for node in [*query.select, *([query.having] if query.having else []), *(o.this for o in query.order)]:
        for agg in node.find_all(*AGGREGATES):
            if any(isinstance(inner, AGGREGATES) for inner in agg.walk() if inner is not agg):
                raise QueryError(f"nested aggregate in {agg.sql()}")
            if isinstance(agg.this, exp.Distinct) and not isinstance(agg, exp.Count):
                raise UnsupportedError(f"{agg.sql()}: DISTINCT is supported in COUNT only (clause SELECT)")
            seen.setdefault(agg.sql(), agg)
    query.aggregates = list(seen.values())
    if not query.aggregates and not query.group_by:
        raise UnsupportedError("a SELECT without aggregates or GROUP BY returns individual rows; accord sql answers "
                               "aggregate queries only (clause SELECT)")
    keys = {g.sql() for g in query.group_by}
    for clause, node in [("SELECT", e) for e in query.select] + [("ORDER BY", o.this) for o in query.order]:
        _grouped(node, keys, clause)
    for a, b in query.joins:
        ta, tb = query.column(a).type, query.column(b).type
        if ta.kind in ("float", "decimal") or tb.kind in ("float", "decimal"):
            raise QueryError(f"join {a.sql()} = {b.sql()}: join keys must be int, str, bool or date, not {ta} / {tb}")
        if ta.kind != tb.kind:
            raise QueryError(f"join {a.sql()} = {b.sql()} compares {ta} with {tb}: the key types must match")
    if query.having is not None:
        _grouped(query.having, keys, "HAVING")


def _grouped(node: exp.Expr, keys: set[str], clause: str) -> None:
    if node.sql() in keys or isinstance(node, AGGREGATES):
        return
    if isinstance(node, exp.Column):
        raise QueryError(f"column {node.sql()} must appear in GROUP BY or inside an aggregate (clause {clause})")
    for child in node.iter_expressions():
        _grouped(child, keys, clause)
