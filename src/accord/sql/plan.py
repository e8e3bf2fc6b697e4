"""The plan's vocabulary: what each party computes locally, how the parties join, what runs under shares.

Every party derives the same :class:`Plan` from the same catalog and query (:mod:`accord.sql.planner`),
so the plan itself is never sent. Each party reduces its rows to *units*: one per distinct combination
of its join keys, group keys and the columns other parties' expressions need, carrying its row count
and partial aggregates (``SUM``, ``MIN``, ``MAX``, non-null counts) under its own filters. Units cross
the party boundary only as PSI inputs and as secret shares.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlglot.expressions as exp

from accord.sql.parser import Query
from accord.sql.probe import Encoding

RING_LIMIT = 2 ** 61      # magnitude of any value or sum under the shares, in ring units


@dataclass
class Derived:
    """A unit column its owner computes: a key, a group key, or a value other parties' expressions read."""

    name: str
    expr: exp.Expr
    enc: Encoding
    nullable: bool = True
    bound: float = 0.0       # largest magnitude of the value (in the type's units), checked by the owner


@dataclass
class Partial:
    """A per-unit partial aggregate of one party's expression: ``<name>_v`` (value) and ``<name>_n`` (non-nulls).

    When ``expr`` cannot be NULL its non-null count is the unit's row count ``cnt``, so ``<name>_n`` is
    not shared and the aggregate's count is the joined row's weight.
    """

    name: str
    func: str                # "sum", "min", "max" or "count"
    expr: exp.Expr
    enc: Encoding
    bound: float = 0.0
    nullable: bool = True


@dataclass
class LocalPlan:
    """What one party computes from its own tables before anything crosses."""

    party: str
    aliases: list[str]
    local_joins: list[tuple[exp.Column, exp.Column]]
    pushed: list[exp.Expr]          # filters applied to rows (their outcome reaches the join partners)
    folded: list[exp.Expr]          # filters folded into counts and partials (never revealed)
    keys: dict[int, exp.Column]           # key class -> this party's key column
    groups: list[exp.Expr]          # GROUP BY keys this party owns
    derived: list[Derived] = field(default_factory=list)
    partials: list[Partial] = field(default_factory=list)
    counted: list[exp.Column] = field(default_factory=list)   # columns counted distinct: unit columns c0, c1, ...

    def key_name(self, cls: int) -> str:
        """The unit column of key class ``cls``."""
        return f"k{cls}"


@dataclass
class Edge:
    """One PSI join: ``right`` joins the component holding ``left`` on the key classes they share."""

    left: str
    right: str
    classes: list[int]


@dataclass
class Aggregate:
    """One aggregate of the query and where its inputs come from.

    ``func`` is count_star, count, sum, avg, min, max or count_distinct. A ``partial`` aggregate reads one
    party's per-unit partials; a ``row`` aggregate evaluates ``expr`` (over unit columns of several
    parties, written as ``@party.column``) on each joined row. COUNT DISTINCT counts a join key's
    ``key_class`` (its partition of the joined rows is public), or ``owner``'s unit column ``counted``
    through a one-hot that only the owner knows.
    """

    index: int
    node: exp.Expr
    func: str
    sql_type: str
    partial: Partial | None = None
    owner: str | None = None
    expr: exp.Expr | None = None
    enc: Encoding | None = None
    key_class: int | None = None
    bound: float = 0.0
    counted: str | None = None


@dataclass
class Plan:
    """Everything the executor needs; see the module docstring."""

    query: Query
    receiver: str
    computing: tuple[str, ...]
    order: list[str]                      # data parties in join order
    local: dict[str, LocalPlan]
    edges: list[Edge]
    cross_where: list[exp.Expr]     # predicates over several parties' unit columns
    aggregates: list[Aggregate]
    having: exp.Expr | None         # over aggregates, written as @agg.<index>
    grouping: str                         # "public" (partition revealed to computing parties) or "owner"
    group_owners: list[str]
    thresholds: list[tuple[str, int, int]]   # (table, key class, minimum distinct entities)
    output_names: list[str]
    output_types: list[str]
    frac: int = 18
    leakage: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def grouped(self) -> bool:
        """Whether the query has GROUP BY (without it, exactly one output row exists before suppression)."""
        return bool(self.query.group_by)

    def describe(self) -> str:
        """A readable account of the plan: local work, joins, what runs under shares, and what leaks."""
        lines = [f"query: {self.query.sql.strip()}", f"result to: {self.receiver}; MPC among: "
                 f"{', '.join(self.computing)}"]
        for party in self.order:
            lp = self.local[party]
            lines.append(f"  {party}: pushed filters {[p.sql() for p in lp.pushed]}, folded filters "
                         f"{[f.sql() for f in lp.folded]}, unit columns {[d.name for d in lp.derived]}, "
                         f"partials {[(p.func, p.expr.sql()) for p in lp.partials]}")
        for edge in self.edges:
            lines.append(f"  PSI join: {edge.right} with {edge.left} on key classes {edge.classes}")
        lines.append(f"  grouping: {self.grouping} ({', '.join(self.group_owners) or 'no GROUP BY'})")
        lines.extend(f"  leaks: {item}" for item in self.leakage)
        return "\n".join(lines)
