"""SQL values under the shares: numbers with NULL bits, and three-valued booleans.

A :class:`Num` is a secret (or public) array with a validity bit (``None``: never NULL) and an
encoding: exact integers carry a decimal ``scale`` (DuckDB's DECIMAL rules: sums take the larger
scale, products add scales), doubles are fixed point (``scale=None``). A :class:`Tri` is SQL's
three-valued logic as two secret bits, *definitely true* and *definitely false*, so ``AND``, ``OR`` and
``NOT`` need no case analysis: a WHERE keeps rows whose true bit is set, a CASE takes a branch when
its condition's true bit is set, exactly as SQL treats NULL conditions.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import sqlglot.expressions as exp

from accord.errors import QueryError, UnsupportedError
from accord.mpc.functions import where
from accord.mpc.tensor import Shared

Array = Shared | np.ndarray | int | float


@dataclass
class Num:
    """A number (or date / text hash) per row; ``kind`` is num, date or hash."""

    x: Array
    valid: Array | None = None
    scale: int | None = 0
    kind: str = "num"


@dataclass
class Tri:
    """A three-valued boolean: ``t`` definitely true, ``f`` definitely false (both 0 where NULL)."""

    t: Array
    f: Array


def _and(a: Array | None, b: Array | None) -> Array | None:
    if a is None:
        return b
    if b is None:
        return a
    return a * b


def _flip(bit: Array) -> Array:
    return 1 - bit


def to_tri(bit: Array, valid: Array | None) -> Tri:
    """A 0/1 value with its validity as a three-valued boolean."""
    if valid is None:
        return Tri(bit, _flip(bit))
    t = bit * valid
    return Tri(t, valid - t)


def text_code(text: str) -> int:
    """The 62-bit hash a text literal is compared under (as :func:`accord.sql.local.text_hash`)."""
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big") >> 2


class Evaluator:
    """Evaluates a split expression; ``column(table, name)`` resolves placeholders (``@party.d3``, ``@agg.2``)."""

    def __init__(self, column: Callable[[str, str], Num | Tri]) -> None:
        self.column = column

    def predicate(self, node: exp.Expr) -> Tri:
        out = self.evaluate(node)
        if isinstance(out, Num):
            raise QueryError(f"{node.sql()} is not a condition")
        return out

    def evaluate(self, node: exp.Expr) -> Num | Tri:
        if isinstance(node, exp.Paren):
            return self.evaluate(node.this)
        if isinstance(node, exp.Column):
            return self.column(node.table, node.name)
        if isinstance(node, exp.Literal):
            return _literal(node)
        if isinstance(node, exp.Null):
            return Num(0, 0, 0)
        if isinstance(node, exp.Boolean):
            bit = 1 if node.this else 0
            return Tri(bit, 1 - bit)
        if isinstance(node, exp.Cast) and isinstance(node.this, exp.Literal) and node.to.is_type("date"):
            return Num((date.fromisoformat(node.this.this) - date(1970, 1, 1)).days, None, 0, "date")
        if isinstance(node, exp.Neg):
            a = self.numeric(node.this)
            return Num(-a.x, a.valid, a.scale)
        if isinstance(node, (exp.Add, exp.Sub, exp.Mul)):
            return self._arith(node)
        if isinstance(node, exp.Div):
            return self._divide(node)
        if isinstance(node, (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE)):
            return self._compare(type(node), self.evaluate(node.this), self.evaluate(node.expression), node)
        if isinstance(node, exp.Between):
            low = exp.GTE(this=node.this, expression=node.args["low"])
            high = exp.LTE(this=node.this, expression=node.args["high"])
            return self.evaluate(exp.And(this=low, expression=high))
        if isinstance(node, exp.In):
            tests = [exp.EQ(this=node.this, expression=e) for e in node.expressions]
            out = self.predicate(tests[0])
            for test in tests[1:]:
                out = _or(out, self.predicate(test))
            return out
        if isinstance(node, exp.And):
            left, right = self.predicate(node.this), self.predicate(node.expression)
            return Tri(left.t * right.t, left.f + right.f - left.f * right.f)
        if isinstance(node, exp.Or):
            return _or(self.predicate(node.this), self.predicate(node.expression))
        if isinstance(node, exp.Not):
            negated = self.predicate(node.this)
            return Tri(negated.f, negated.t)
        if isinstance(node, exp.Is) and isinstance(node.expression, exp.Null):
            inner = self.evaluate(node.this)
            valid = inner.valid if isinstance(inner, Num) else inner.t + inner.f
            return Tri(0, 1) if valid is None else Tri(1 - valid, valid)
        if isinstance(node, (exp.Case, exp.If, exp.Coalesce)):
            return self._choose(node)
        raise UnsupportedError(f"{node.sql()} cannot be evaluated across parties (operator {node.key})")

    def numeric(self, node: exp.Expr) -> Num:
        out = self.evaluate(node)
        if isinstance(out, Tri) or out.kind != "num":
            raise QueryError(f"{node.sql()} is not a number")
        return out

    def _arith(self, node: exp.Expr) -> Num:
        a, b = self.numeric(node.this), self.numeric(node.expression)
        valid = _and(a.valid, b.valid)
        if isinstance(node, exp.Mul):
            if a.scale is None or b.scale is None:
                return Num(_fixed(a) * _fixed(b), valid, None)
            return Num(a.x * b.x, valid, a.scale + b.scale)
        a, b = align(a, b)
        return Num(a.x + b.x if isinstance(node, exp.Add) else a.x - b.x, valid, a.scale)

    def _divide(self, node: exp.Div) -> Num:
        divisor = node.expression.unnest() if isinstance(node.expression, exp.Paren) else node.expression
        if not isinstance(divisor, exp.Literal) or divisor.is_string:
            raise UnsupportedError(f"{node.sql()}: across parties, divide by a number only (compute other "
                                   "divisions from one party's columns or after aggregation)")
        if float(divisor.this) == 0:
            raise QueryError(f"{node.sql()}: division by zero")
        a = self.numeric(node.this)
        return Num(_fixed(a) * (1.0 / float(divisor.this)), a.valid, None)

    def _compare(self, op: type, a: Num | Tri, b: Num | Tri, node: exp.Expr) -> Tri:
        if isinstance(a, Tri) or isinstance(b, Tri) or a.kind != b.kind:
            raise QueryError(f"{node.sql()}: cannot compare these values across parties")
        if a.kind == "hash" and op not in (exp.EQ, exp.NEQ):
            raise UnsupportedError(f"{node.sql()}: text is compared for equality only across parties")
        a, b = align(a, b)
        valid = _and(a.valid, b.valid)
        d = a.x - b.x
        if not isinstance(d, Shared):
            raise QueryError(f"{node.sql()} compares constants only")
        bit: Array = {exp.LT: lambda: d < 0, exp.GT: lambda: -d < 0, exp.LTE: lambda: 1 - (-d < 0),
               exp.GTE: lambda: 1 - (d < 0), exp.EQ: lambda: d == 0, exp.NEQ: lambda: 1 - (d == 0)}[op]()  # type: ignore[index]
        return to_tri(bit, valid)

    def _choose(self, node: exp.Expr) -> Num:
        if isinstance(node, exp.Coalesce):
            items = [node.this, *node.expressions]
            branches: list[tuple[Tri | None, Num]] = [(None, self.numeric(e)) for e in items[:-1]]
            result = self.numeric(items[-1])
        else:
            ifs = [node] if isinstance(node, exp.If) else node.args.get("ifs") or []
            default = node.args.get("false") if isinstance(node, exp.If) else node.args.get("default")
            branches = [(self.predicate(i.this), self.numeric(i.args["true"])) for i in ifs]
            result = self.numeric(default) if default is not None else Num(0, 0, 0)
        values = [v for _, v in branches] + [result]
        fixed = any(v.scale is None for v in values)
        scale = None if fixed else max(v.scale for v in values)  # type: ignore[type-var]
        result = rescale(result, scale)
        for cond, value in reversed(branches):
            value = rescale(value, scale)
            take = cond.t if cond is not None else (1 if value.valid is None else value.valid)
            result = Num(_pick(take, value.x, result.x), _pick(take, _one(value.valid), _one(result.valid)), scale)
        return result


def _or(a: Tri, b: Tri) -> Tri:
    return Tri(a.t + b.t - a.t * b.t, a.f * b.f)


def _one(valid: Array | None) -> Array:
    return 1 if valid is None else valid


def _pick(take: Array, a: Array, b: Array) -> Array:
    if isinstance(take, Shared):
        if not isinstance(a, Shared) and not isinstance(b, Shared):
            return take * (np.asarray(a) - np.asarray(b)) + np.asarray(b)
        return where(take, a, b)
    return a if take else b


def _fixed(a: Num) -> Array:
    if a.scale is None:
        return a.x
    x = a.x.astype("fixed") if isinstance(a.x, Shared) else float(a.x)
    return x * (10.0 ** -a.scale) if a.scale else x


def rescale(a: Num, scale: int | None) -> Num:
    """``a`` in decimal ``scale`` (or fixed point for ``None``)."""
    if scale is None:
        return Num(_fixed(a), a.valid, None, a.kind)
    if a.scale == scale:
        return a
    return Num(a.x * (10 ** (scale - a.scale)), a.valid, scale, a.kind)  # type: ignore[operator]


def align(a: Num, b: Num) -> tuple[Num, Num]:
    """Both operands in one encoding: fixed if either is, else the larger decimal scale."""
    scale = None if a.scale is None or b.scale is None else max(a.scale, b.scale)
    return rescale(a, scale), rescale(b, scale)


def _literal(node: exp.Literal) -> Num:
    if node.is_string:
        return Num(text_code(node.this), None, 0, "hash")
    text = node.this
    if "e" in text.lower():
        return Num(float(text), None, None)
    if "." in text:
        digits = text.split(".")[1]
        return Num(int(text.replace(".", "")), None, len(digits))
    return Num(int(text), None, 0)


def public(value: Any) -> bool:
    """Whether an operand is public (not a secret array)."""
    return not isinstance(value, Shared)
