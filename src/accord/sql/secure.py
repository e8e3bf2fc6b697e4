"""The part of a query that runs under the shares: row weights, filters, group aggregates, HAVING, suppression.

One SPMD function (:func:`program`) run through :meth:`accord.mpc.MPC.run` over every data party's
shared unit columns. A joined row stands for ``prod(cnt_p)`` underlying row combinations (each party's
row count of its unit, after its folded filters), times the cross-party WHERE's true bit. A party's
partial SUM is weighted by the other parties' counts; cross-party expressions are evaluated per row
(:mod:`accord.sql.values`). Groups are then reduced (:mod:`accord.sql.grouping`), HAVING and the
minimum-entities rules decide a keep bit per group, and every output is multiplied by it, so a
withheld group opens to zeros. A guard bit says whether any sum could have left the exact range.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
import sqlglot.expressions as exp

from accord.mpc.tensor import Shared, concatenate
from accord.sql.grouping import Segments, combined_index, masked, onehot_extreme, onehot_product, onehot_sum
from accord.sql.plan import RING_LIMIT, Plan
from accord.sql.probe import Encoding
from accord.sql.rules import revealed
from accord.sql.values import Evaluator, Num, Tri, rescale, to_tri


def layout(plan: Plan, party: str) -> tuple[list[str], list[str]]:
    """Names of a party's shared unit columns: integer-encoded ones, then fixed-point ones."""
    lp = plan.local[party]
    ints: list[str] = ["cnt"]
    fixed: list[str] = []
    for d in lp.derived:
        (fixed if d.enc.kind == "fixed" else ints).append(d.name)
        if d.nullable:
            ints.append(f"{d.name}?")
    for p in lp.partials:
        if p.func != "count":
            (fixed if p.enc.kind == "fixed" else ints).append(f"{p.name}_v")
        if p.nullable:
            ints.append(f"{p.name}_n")
    return ints, fixed


@dataclass
class Public:
    """What every computing party knows: join size, group partition or count, key-class partitions."""

    plan: Plan
    rows: int
    groups: int
    segments: Segments | None                 # public partition (None: the owners' one-hots are shared)
    classes: dict[int, np.ndarray] = field(default_factory=dict)   # key class -> codes per joined row
    pads: int = 0                             # number of shared pad matrices (group-key delivery)
    cells: list[tuple[int, str]] | None = None   # DP answers: one opened array per (aggregate, component)


@dataclass
class _Parts:
    sums: list[Shared] = field(default_factory=list)
    names: list[tuple[int, str]] = field(default_factory=list)


def program(pub: Public, *shared: Shared) -> list[Shared]:
    """The secure part of a plan; returns ``[guard, keep, ints, fixed, *pads]`` (see the module docstring)."""
    plan = pub.plan
    it = iter(shared)
    cols: dict[str, dict[str, Any]] = {}
    for party in plan.order:
        cols[party] = {}
        for names in layout(plan, party):
            if names:
                matrix = next(it)
                cols[party].update({n: matrix[:, j] for j, n in enumerate(names)})
    onehots = [next(it) for _ in plan.group_owners] if pub.segments is None and plan.grouped else []
    onehot = onehot_product(onehots) if onehots else None
    pads = [next(it) for _ in range(pub.pads)]
    values = {a.index: next(it) for a in plan.aggregates if a.counted is not None}   # owners' value one-hots
    if onehots:   # each owner's padded keys, spread over the combinations of all owners' groups
        sizes = [m.shape[1] for m in onehots]
        owners = [o for o in plan.group_owners if o != plan.receiver]
        pads = [p[combined_index(sizes, plan.group_owners.index(o))] for p, o in zip(pads, owners)]
    evaluator = Evaluator(lambda table, name: _unit(plan, cols, table, name))
    mask: Any = None
    for predicate in plan.cross_where:
        bit = evaluator.predicate(predicate).t
        mask = bit if mask is None else mask * bit
    weight = _product([mask, *(cols[p]["cnt"] for p in plan.order)])
    total = weight.sum().reshape((1,))
    limit = min([RING_LIMIT] + [RING_LIMIT // max(1, int(_ring_bound(plan, a))) for a in plan.aggregates if a.bound])
    guard = total > limit
    reduce = _Reducer(pub, onehot)
    ints, fixed, extremes = _Parts(), _Parts(), []
    grouped: dict[tuple[int, str], Any] = {}
    alive: Any = None   # weight > 0: compared once, for every COUNT DISTINCT and minimum-entities rule
    ints.sums.append(weight)
    ints.names.append((-1, "count"))
    for agg in plan.aggregates:
        owner = str(agg.owner)
        value: Any = None
        if agg.func == "count_star":
            continue
        if agg.func == "count_distinct":
            alive = weight > 0 if alive is None else alive
            grouped[(agg.index, "distinct")] = reduce.distinct(alive, agg.key_class) if agg.counted is None \
                else reduce.distinct_values(alive, values[agg.index])
            continue
        w = weight if agg.owner is None else _product([mask, *(cols[p]["cnt"] for p in plan.order if p != agg.owner)])
        if agg.partial is not None:
            value = cols[owner][f"{agg.partial.name}_v"] if agg.func != "count" else None
            count = w * cols[owner][f"{agg.partial.name}_n"] if agg.partial.nullable else weight
        else:
            enc = cast(Encoding, agg.enc)
            arg = rescale(evaluator.numeric(cast(exp.Expr, agg.expr)), None if enc.kind == "fixed" else enc.scale)
            value = arg.x if isinstance(arg.x, Shared) else weight * 0 + arg.x
            count = w if arg.valid is None else w * arg.valid
            if agg.func in ("sum", "avg") and not isinstance(arg.valid, (type(None), int)):
                value = value * arg.valid
        ints.sums.append(count)
        ints.names.append((agg.index, "n"))
        if agg.func in ("min", "max"):
            extremes.append((agg.index, value, count > 0, agg.func == "max"))
        elif agg.func in ("sum", "avg"):
            part = fixed if value.kind == "fixed" else ints
            part.sums.append(value * w if agg.partial is not None else value * weight)
            part.names.append((agg.index, "v"))
    per_group = reduce.sums(ints) | reduce.sums(fixed) | grouped
    for index, value, present, largest in extremes:
        per_group[(index, "v")] = reduce.extreme(value, present, largest)
    for cls_index, (_, cls, _minimum) in enumerate(plan.thresholds):
        alive = weight > 0 if alive is None else alive
        per_group[(-2 - cls_index, "distinct")] = reduce.distinct(alive, cls)
    keep = _keep(plan, per_group, reduce.groups)
    if pub.cells is not None:
        by_index = {a.index: a for a in plan.aggregates}
        return [guard, keep, *(_component(by_index[i], per_group, c) for i, c in pub.cells)]
    outputs = _outputs(plan, per_group, keep)
    return [guard, keep, *outputs, *(p * keep.reshape((keep.shape[0], 1)) for p in pads)]


def _ring_bound(plan: Plan, agg) -> float:
    enc = agg.enc
    if enc is None:
        return 1.0
    return agg.bound * (2.0 ** plan.frac if enc.scale is None or enc.kind == "fixed" else 10.0 ** enc.scale)


def _product(items: list[Any]) -> Any:
    present = [x for x in items if x is not None]
    out = present[0]
    for x in present[1:]:
        out = out * x
    return out


def _unit(plan: Plan, cols: dict[str, dict[str, Any]], table: str, name: str) -> Num | Tri:
    party = table[1:]
    derived = next(d for d in plan.local[party].derived if d.name == name)
    valid = cols[party].get(f"{name}?")
    value = cols[party][name]
    if derived.enc.kind == "bool":
        return to_tri(value, valid)
    kind = {"date": "date", "hash": "hash"}.get(derived.enc.kind, "num")
    return Num(value, valid, None if derived.enc.kind == "fixed" else derived.enc.scale, kind)


class _Reducer:
    """Group reductions under the public partition or the owner's one-hot."""

    def __init__(self, pub: Public, onehot: Shared | None) -> None:
        self.pub = pub
        self.segments = cast(Segments, pub.segments)   # set whenever no one-hot is shared
        self.onehot = onehot
        self.groups = pub.groups

    def sums(self, parts: _Parts) -> dict[tuple[int, str], Any]:
        if not parts.sums:
            return {}
        stacked = concatenate([s.reshape((s.shape[0], 1)) for s in parts.sums], axis=1)
        out = self.segments.sum(stacked) if self.onehot is None else onehot_sum(self.onehot, stacked)
        return {name: out[:, j] for j, name in enumerate(parts.names)}

    def extreme(self, value: Shared, present: Shared, largest: bool) -> Shared:
        if self.onehot is None:
            return self.segments.extreme(masked(value, present, largest), largest)
        return onehot_extreme(self.onehot, value, present, largest)

    def distinct(self, present: Shared, cls: int | None) -> Shared:
        codes = self.pub.classes[int(cls or 0)]
        if self.onehot is None:
            gid = self.segments.ids
            pairs = Segments.of(gid * (int(codes.max()) + 1) + codes)
            first = np.zeros(pairs.count, dtype=np.int64)
            first[pairs.ids[::-1]] = gid[::-1]
            bits = pairs.sum(present) > 0
            return Segments(first, self.groups).sum(bits)
        chosen = self.onehot * present.reshape((present.shape[0], 1))
        per_key = Segments.of(codes).sum(chosen) > 0
        return per_key.sum(axis=0)

    def distinct_values(self, present: Shared, values: Shared) -> Shared:
        """Per group, how many columns of the owner's value one-hot (rows x values) hold a present row.

        Each (group, value) cell sums its present rows; the cell is counted when the sum is positive,
        that is the OR of the rows' survival bits. Nobody but the owner knows which row holds which value.
        """
        column = present.reshape((present.shape[0], 1))
        if self.onehot is None:
            per_cell = self.segments.sum(values * column)
        else:
            per_cell = (self.onehot * column).T @ values
        return (per_cell > 0).sum(axis=1)


def _keep(plan: Plan, per_group: dict[tuple[int, str], Any], groups: int) -> Shared:
    bits = []
    if plan.grouped:
        bits.append(per_group[(-1, "count")] > 0)
    for i, (_, _, minimum) in enumerate(plan.thresholds):
        bits.append(1 - (per_group[(-2 - i, "distinct")] < minimum))
    if plan.having is not None:
        evaluator = Evaluator(lambda table, name: _aggregate_value(plan, per_group, name))
        bits.append(evaluator.predicate(plan.having).t)
    if not bits:
        count = per_group[(-1, "count")]
        return count * 0 + 1
    return _product(bits)


def _aggregate_value(plan: Plan, per_group: dict[tuple[int, str], Any], name: str) -> Num:
    agg = plan.aggregates[int(name.rstrip("sn"))]
    count: Any = per_group[(-1, "count")] if agg.func == "count_star" else per_group.get((agg.index, "n"))
    if agg.func in ("count_star", "count"):
        return Num(count, None, 0)
    if agg.func == "count_distinct":
        return Num(per_group[(agg.index, "distinct")], None, 0)
    value = per_group[(agg.index, "v")]
    scale = None if value.kind == "fixed" else cast(Encoding, agg.enc).scale
    if name.endswith("n"):
        return Num(count, None, 0)
    return Num(value, count > 0, scale)


def _outputs(plan: Plan, per_group: dict[tuple[int, str], Any], keep: Shared) -> list[Shared]:
    opened = revealed(plan.query)
    ints: list[Shared] = []
    fixed: list[Shared] = []
    for agg in plan.aggregates:
        if agg.node.sql() not in opened:
            continue
        for component in output_columns(agg):
            value = _component(agg, per_group, component)
            (fixed if value.kind == "fixed" else ints).append(value * keep)
    ints.insert(0, keep)
    stack = [concatenate([v.reshape((v.shape[0], 1)) for v in ints], axis=1)]
    if fixed:
        stack.append(concatenate([v.reshape((v.shape[0], 1)) for v in fixed], axis=1))
    return stack


def output_columns(agg) -> list[str]:
    """What the receiver learns of one aggregate: its value and, where it can be NULL, whether it is."""
    return {"count_star": ["value"], "count": ["value"], "count_distinct": ["value"], "sum": ["value", "valid"],
            "avg": ["value", "count"], "min": ["value", "valid"], "max": ["value", "valid"]}[agg.func]


def _component(agg, per_group: dict[tuple[int, str], Any], component: str) -> Shared:
    if agg.func == "count_star":
        return per_group[(-1, "count")]
    if agg.func == "count_distinct":
        return per_group[(agg.index, "distinct")]
    count = per_group[(agg.index, "n")]
    if agg.func == "count" or component == "count":
        return count
    if component == "valid":
        return count > 0
    return per_group[(agg.index, "v")]

