"""Differentially private answers: noise per output cell, added under the shares, charged to owners' ledgers.

With ``query(..., dp=Budget(ε, δ))`` every opened cell goes through :meth:`accord.mpc.MPC.reveal` with
``dp=``: each computing party adds its own discrete Laplace (δ = 0) or Gaussian draw as a secret input,
so nobody sees an exact aggregate. The unit of privacy is one row of a data owner's table. So that one
row moves each cell by a known amount, every owner checks locally that its table holds at most one row
per join key (then a row joins at most once); a COUNT moves by 1, a SUM by its argument's declared
``max_abs`` (in the value's integer units). The budget is split evenly over the cells (basic
composition) and each data owner's ledger is checked by all and charged before any data is read.

Only queries without GROUP BY, HAVING and minimum-entities rules qualify: which groups exist, and
which pass a threshold, would otherwise be revealed exactly. MIN and MAX have no bounded sensitivity
and double values no exact integer one: both are refused.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from accord.dp.budget import Budget
from accord.dp.ledger import Ledger
from accord.dp.mechanisms import noise_for
from accord.errors import ConfigurationError, UnsupportedError
from accord.runtime.charging import charge_together
from accord.runtime.context import Context
from accord.runtime.report import protocol
from accord.sql.plan import Plan
from accord.sql.rules import revealed


@dataclass(frozen=True)
class Cell:
    """One noised output: aggregate index, component (value or count), integer sensitivity."""

    index: int
    component: str
    sensitivity: int


def cells(plan: Plan) -> list[Cell]:
    """The cells a DP answer opens, or :class:`UnsupportedError` naming what cannot be noised."""
    if plan.grouped or plan.query.having is not None or plan.thresholds:
        raise UnsupportedError("DP answers are supported without GROUP BY, HAVING and minimum-entities rules: which "
                               "groups exist and which pass a threshold would otherwise be revealed exactly")
    opened = revealed(plan.query)
    out = []
    for agg in plan.aggregates:
        if agg.node.sql() not in opened:
            continue
        if agg.counted is not None:
            raise UnsupportedError(f"{agg.node.sql()}: a DP answer counts distinct join keys only (clause SELECT)")
        if agg.func in ("count_star", "count", "count_distinct"):
            out.append(Cell(agg.index, "value", 1))
            continue
        if agg.func in ("min", "max") or agg.enc is None or agg.enc.kind != "int":
            raise UnsupportedError(f"{agg.node.sql()}: a DP answer noises COUNT and integer or decimal SUM / AVG "
                                   "only (MIN / MAX have no bounded sensitivity, doubles no exact integer one)")
        out.append(Cell(agg.index, "value", max(1, math.ceil(agg.bound * 10 ** agg.enc.scale))))
        if agg.func == "avg":
            out.append(Cell(agg.index, "count", 1))
    return out


def cell_budget(budget: Budget, count: int) -> Budget:
    """Each cell's share of the query's budget."""
    return budget.split(max(1, count))


@protocol("sql.dp-budget", threat_model="semi-honest parties; each checks its own ledger",
          leakage="every data party learns whether each other party's ledger allows the release")
def charge_ledgers(ctx: Context, ledger: Ledger | None, budget: Budget, sensitivities: list[int],
                   release: str) -> float | None:
    """Every data party checks its ledger, all agree, then each charges: no data is read unless all may spend."""
    return charge_together(ctx, ledger, [noise_for(budget, s).cost for s in sensitivities], release)


def check_ledgers(ledgers: Mapping[str, Ledger], parties: tuple[str, ...]) -> None:
    """Ledgers belong to data parties of the query."""
    unknown = sorted(set(ledgers) - set(parties))
    if unknown:
        raise ConfigurationError(f"ledgers given for {unknown}, which hold none of the query's tables")
