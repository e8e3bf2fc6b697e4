"""Column control lists: the constraints SCQL 0.9 defined and the rules that derive them through a query.

A constraint says, for one column and one receiving party, in which form the column's information may
reach that party. The owner always sees its own columns (``PLAINTEXT``). Derivation follows SCQL's
(docs/topics/ccl/intro.rst in secretflow/scql, up to 0.9): a JOIN makes ``PLAINTEXT_AFTER_JOIN`` keys
plaintext, GROUP BY makes ``PLAINTEXT_AFTER_GROUP_BY`` keys plaintext, an aggregate makes
``PLAINTEXT_AFTER_AGGREGATE`` arguments plaintext, a comparison makes ``PLAINTEXT_AFTER_COMPARE``
operands plaintext; any other operator ignores plaintext operands, is ``ENCRYPTED_ONLY`` when one
operand is, keeps a level its operands share and is underivable otherwise. Counts reveal only sizes,
which SCQL does not protect either. ``REJECTED`` (no grant) forbids any use, even under shares.

The planner asks two questions of every value it moves: may party X see it (:func:`derive` yields
``PLAINTEXT``), and if not, which column and rule stand in the way (:class:`Verdict`).
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass

import sqlglot.expressions as exp

from accord.errors import ConfigurationError


class Level(enum.Enum):
    """A column-control constraint, or the derived form of a value, for one receiving party."""

    PLAINTEXT = "PLAINTEXT"
    PLAINTEXT_AFTER_JOIN = "PLAINTEXT_AFTER_JOIN"
    PLAINTEXT_AFTER_GROUP_BY = "PLAINTEXT_AFTER_GROUP_BY"
    PLAINTEXT_AFTER_AGGREGATE = "PLAINTEXT_AFTER_AGGREGATE"
    PLAINTEXT_AFTER_COMPARE = "PLAINTEXT_AFTER_COMPARE"
    ENCRYPTED_ONLY = "ENCRYPTED_ONLY"
    REJECTED = "REJECTED"
    UNKNOWN = "UNKNOWN"   # derivation failed: operands with different constraints


GRANTS = tuple(level for level in Level if level is not Level.UNKNOWN)


def parse_level(value: object, where: str) -> Level:
    """A constraint name from a catalog (case-insensitive)."""
    try:
        level = Level(str(value).upper())
    except ValueError:
        level = Level.UNKNOWN
    if level is Level.UNKNOWN:
        raise ConfigurationError(f"{where}: unknown constraint {value!r}; use one of "
                                 f"{', '.join(g.value for g in GRANTS)}")
    return level


@dataclass(frozen=True)
class Verdict:
    """A derived level and the column that decided it (``None`` when only constants were involved)."""

    level: Level
    column: str | None = None

    @property
    def plaintext(self) -> bool:
        """Whether the value may be revealed."""
        return self.level is Level.PLAINTEXT


PLAIN = Verdict(Level.PLAINTEXT)
_COMPARISONS = (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.Between, exp.In, exp.Like, exp.ILike,
                exp.Is, exp.NullSafeEQ, exp.NullSafeNEQ)
_AGGREGATES = (exp.Sum, exp.Avg, exp.Min, exp.Max)


def combine(verdicts: list[Verdict]) -> Verdict:
    """SCQL's general rule for an operator over several inputs."""
    rest = [v for v in verdicts if v.level is not Level.PLAINTEXT]
    if not rest:
        return PLAIN
    for strongest in (Level.REJECTED, Level.UNKNOWN, Level.ENCRYPTED_ONLY):
        for v in rest:
            if v.level is strongest:
                return v
    if len({v.level for v in rest}) == 1:
        return rest[0]
    return Verdict(Level.UNKNOWN, rest[0].column)


def lift(verdict: Verdict, after: Level) -> Verdict:
    """An operation that makes ``after``-constrained inputs plaintext (join, group by, aggregate, compare)."""
    return PLAIN if verdict.level in (Level.PLAINTEXT, after) else verdict


def derive(node: exp.Expr, grant: Callable[[exp.Column], Level]) -> Verdict:
    """The level of an expression for one party, given each column's grant to that party."""
    if isinstance(node, exp.Column):
        return Verdict(grant(node), node.sql())
    if isinstance(node, exp.Star):
        return PLAIN
    if isinstance(node, exp.Count):
        inner = node.this
        if isinstance(inner, exp.Distinct):
            return lift(combine([derive(e, grant) for e in inner.expressions]), Level.PLAINTEXT_AFTER_AGGREGATE)
        below = derive(inner, grant) if inner is not None else PLAIN
        return below if below.level is Level.REJECTED else PLAIN      # counts reveal sizes only
    children = [derive(c, grant) for c in node.iter_expressions()]
    if isinstance(node, _AGGREGATES):
        return lift(combine(children), Level.PLAINTEXT_AFTER_AGGREGATE)
    if isinstance(node, _COMPARISONS):
        return combine([lift(v, Level.PLAINTEXT_AFTER_COMPARE) for v in children])
    return combine(children)


def refusal(verdict: Verdict, party: str, clause: str, rule: str) -> str:
    """The message of a refused query: the column, its derived level, the party, the rule and the clause."""
    what = f"column {verdict.column}" if verdict.column else "an expression"
    if verdict.level is Level.REJECTED:
        return (f"{what} has no CCL grant for party {party!r} (REJECTED): it may not be used in a query that "
                f"involves {party!r} (clause {clause})")
    if verdict.level is Level.UNKNOWN:
        return (f"{what} mixes columns with different CCL constraints for party {party!r}, so the result's "
                f"constraint cannot be derived (clause {clause}); {rule}")
    return f"{what} is {verdict.level.value} for party {party!r}: {rule} (clause {clause})"
