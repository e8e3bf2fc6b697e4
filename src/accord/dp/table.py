"""A party's own table behind its privacy budget: a statistic is charged before the data is touched.

>>> import pandas as pd
>>> from accord.crypto.random import Rng
>>> from accord.dp import Budget, PrivateTable
>>> t = PrivateTable(pd.DataFrame({"age": [31, 45, 27, 60]}), dataset="customers", rng=Rng(seed=b"doc"))
>>> release = t.sum("age", bounds=(18, 80), budget=Budget(1.0))
>>> release.cost[0].describe()
'discrete_laplace(scale=80, sensitivity=80)'

Without a ledger nothing is enforced (the caller accounts); with one, every method first charges the
ledger (which refuses with :class:`~accord.errors.PrivacyBudgetExceeded` when the cap would be passed)
and only then reads the column. The owner runs this locally: in a cluster, inside ``party.apply``.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd

from accord.crypto.random import Rng
from accord.dp import mechanisms as mech
from accord.dp.accounting import ApproxDPCost, Cost
from accord.dp.budget import Budget
from accord.dp.ledger import Ledger
from accord.errors import InputError


class PrivateTable:
    """DP statistics of a DataFrame the caller owns.

    Parameters
    ----------
    frame:
        The owner's rows (one row per person: the unit of privacy).
    dataset:
        The dataset's name, used in errors, reports and the ledger.
    ledger:
        The dataset's :class:`~accord.dp.ledger.Ledger`; ``None`` enforces nothing.
    rng:
        Noise source (default: a fresh OS-keyed stream).
    party:
        The owning party's name, for error messages.
    job:
        Names the releases in the ledger (a random id by default, so each run charges anew).
    """

    def __init__(self, frame: pd.DataFrame, dataset: str, *, ledger: Ledger | None = None, rng: Rng | None = None,
                 party: str | None = None, job: str | None = None) -> None:
        if not isinstance(frame, pd.DataFrame):
            raise TypeError(f"expected a pandas DataFrame, got {type(frame).__name__}")
        if ledger is not None and ledger.dataset != dataset:
            raise ValueError(f"ledger of {ledger.dataset!r} given for dataset {dataset!r}")
        self._frame = frame
        self.dataset = dataset
        self.ledger = ledger
        self.party = party
        self.job = job or secrets.token_hex(8)
        self._rng = rng or Rng()
        self._count = 0
        self.releases: list[tuple[str, mech.Release]] = []

    def _column(self, name: str) -> pd.Series:
        if name not in self._frame.columns:
            raise InputError(f"dataset {self.dataset!r} has no column {name!r} (columns: {list(self._frame.columns)})",
                             party=self.party, field=name)
        return self._frame[name]

    def _release(self, what: str, costs: Sequence[Cost], compute: Callable[[], mech.Release]) -> mech.Release:
        self._count += 1
        release_id = f"{self.job}/{self._count}:{what}"
        if self.ledger is not None:
            self.ledger.charge(costs, release=release_id, job=self.job)
        result = compute()
        self.releases.append((release_id, result))
        return result

    def count(self, budget: Budget) -> mech.Release:
        """The number of rows."""
        noise = mech.plan_count(budget)
        return self._release("count", [noise.cost], lambda: mech.count(len(self._frame), budget, self._rng))

    def sum(self, column: str, *, bounds: tuple[float, float], budget: Budget,
            grid: float | None = None) -> mech.Release:
        """The sum of ``column`` clamped to ``bounds``, on multiples of ``grid`` (default 1)."""
        lower, upper = _bounds(bounds, column, self.party)
        noise = mech.plan_sum(lower, upper, budget, grid, column=column, party=self.party)
        values = self._numeric(column)
        return self._release(f"sum({column})", [noise.cost], lambda: mech.total(
            values, lower, upper, budget, self._rng, grid, column=column, party=self.party))

    def mean(self, column: str, *, bounds: tuple[float, float], budget: Budget,
             grid: float | None = None) -> mech.Release:
        """Noisy sum over noisy count, half the budget each."""
        lower, upper = _bounds(bounds, column, self.party)
        half = budget.split(2)
        costs = [mech.plan_sum(lower, upper, half, grid, column=column, party=self.party).cost,
                 mech.plan_count(half).cost]
        values = self._numeric(column)
        return self._release(f"mean({column})", costs, lambda: mech.mean(
            values, lower, upper, budget, self._rng, grid, column=column, party=self.party))

    def histogram(self, column: str, *, budget: Budget, domain: Sequence[Any] | None = None) -> mech.Release:
        """Counts per value: over a public ``domain``, or (``domain=None``, needs δ > 0) thresholded."""
        values = mech.categorical_values(self._column(column), column, self.party)
        if domain is not None:
            noise = mech.plan_histogram(budget)
            return self._release(f"histogram({column})", [noise.cost], lambda: mech.histogram(
                values, domain, budget, self._rng, column=column, party=self.party))
        mech.threshold_for(budget)  # refuses δ = 0 before anything is charged
        return self._release(f"histogram({column})", [ApproxDPCost(budget.epsilon, budget.delta)],
                             lambda: mech.open_histogram(values, budget, self._rng, column=column, party=self.party))

    def quantile(self, column: str, q: float, *, bounds: tuple[float, float], budget: Budget,
                 grid: float | None = None) -> mech.Release:
        """The ``q``-quantile of ``column`` among grid points in ``bounds`` (permute-and-flip, ε-DP)."""
        lower, upper = _bounds(bounds, column, self.party)
        if budget.delta:
            raise ValueError("the quantile mechanism is pure ε-DP: pass a Budget with delta=0")
        values = self._numeric(column)
        return self._release(f"quantile({column},{q})", [ApproxDPCost(budget.epsilon, 0.0)], lambda: mech.quantile(
            values, q, lower, upper, budget, self._rng, grid, column=column, party=self.party))

    def _numeric(self, column: str) -> Any:
        """Validated before any charge: a bad column costs no budget."""
        return mech.numeric_values(self._column(column), column, self.party)

def _bounds(bounds: Any, column: str, party: str | None) -> tuple[float, float]:
    if not isinstance(bounds, (tuple, list)) or len(bounds) != 2:
        raise InputError(f"column {column!r}: bounds must be (lower, upper), got {bounds!r}", party=party,
                         field=column)
    return bounds[0], bounds[1]

