"""Differentially private statistics of a party's own table, computed by the owner.

Each function validates its arguments, clamps and snaps the data to a declared integer grid, adds exact
discrete noise (:mod:`accord.dp.samplers`), and returns a :class:`Release`: the noisy value, what it
cost (:mod:`accord.dp.accounting`) and the noise it carries. Real values never meet floating-point
noise: a value ``v`` is clamped to ``[lower, upper]``, divided by the grid step and rounded to an
integer, integer noise is added, and the result is multiplied back (the idea of Mironov's snapping
mechanism, 2012, with the rounding on the data side so the sensitivity is an exact integer).

Neighbouring tables differ by one added or removed row. ``budget.delta == 0`` gives pure ε-DP with
discrete Laplace noise; ``budget.delta > 0`` gives (ε, δ)-DP with discrete Gaussian noise whose σ the
accountant calibrates. Thresholded histograms and quantiles are ε-DP / (ε, δ)-DP as documented on each.
Callers that enforce a budget charge the cost *before* computing (see :class:`accord.dp.table.PrivateTable`),
so each function also has a ``plan_*`` twin that returns the cost without touching the data.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np
import pandas as pd

from accord.crypto.random import Rng
from accord.dp.accounting import ApproxDPCost, Cost, DiscreteGaussianCost, DiscreteLaplaceCost, gaussian_sigma
from accord.dp.budget import Budget
from accord.dp.samplers import (
    _bernoulli_exp_big,
    discrete_gaussian,
    discrete_laplace,
    gaussian_variance,
    laplace_scale,
    uniform_below,
)
from accord.errors import InputError


@dataclass(frozen=True)
class Release:
    """A differentially private result.

    Attributes
    ----------
    value:
        The noisy statistic (a number, or a dict for histograms).
    cost:
        What the release spent (one :class:`~accord.dp.accounting.Cost`, or several composed).
    mechanism:
        A one-line description (noise distribution and scale).
    std:
        Standard deviation of the noise added to each number (0 for selection mechanisms).
    """

    value: Any
    cost: tuple[Cost, ...]
    mechanism: str
    std: float = 0.0
    notes: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Noise:
    """Additive integer noise for one release: which distribution, its parameter, and its cost."""

    kind: str            # "laplace" or "gaussian"
    parameter: Fraction  # the Laplace scale, or the Gaussian's sigma² (exact rationals)
    cost: Cost

    def sample(self, rng: Rng, size: int) -> np.ndarray:
        """``size`` int64 noise draws."""
        if self.kind == "laplace":
            return discrete_laplace(rng, self.parameter, size)
        return discrete_gaussian(rng, self.parameter, size)

    @property
    def std(self) -> float:
        """Standard deviation of one draw (for error reports)."""
        if self.kind == "laplace":
            r = math.exp(-1 / float(self.parameter))
            return math.sqrt(2 * r) / (1 - r)
        return math.sqrt(float(self.parameter))  # within 1e-9 of the exact value once sigma >= 1

    def describe(self) -> str:
        """For reports: distribution and scale."""
        if self.kind == "laplace":
            return f"discrete Laplace, scale {float(self.parameter):.6g}"
        return f"discrete Gaussian, sigma {math.sqrt(float(self.parameter)):.6g}"


def noise_for(budget: Budget, sensitivity: int) -> Noise:
    """The noise that makes a query of integer ``sensitivity`` (ε)- or (ε, δ)-DP within ``budget``."""
    if not isinstance(budget, Budget):
        raise TypeError(f"expected an accord.dp.Budget, got {type(budget).__name__}")
    if sensitivity < 1:
        raise ValueError(f"sensitivity must be a positive integer, got {sensitivity}")
    if budget.delta == 0:
        scale = laplace_scale(sensitivity, budget.epsilon)
        return Noise("laplace", scale, DiscreteLaplaceCost(sensitivity / budget.epsilon, sensitivity))
    sigma = gaussian_sigma(budget.epsilon, budget.delta, sensitivity)
    return Noise("gaussian", gaussian_variance(sigma), DiscreteGaussianCost(sigma, sensitivity))


# ------------------------------------------------------------------------------------ inputs
def numeric_values(data: Any, column: str, party: str | None) -> np.ndarray:
    """The column as finite float64 values, or an :class:`InputError` counting the bad cells."""
    values = pd.to_numeric(pd.Series(data), errors="coerce").to_numpy(dtype=np.float64)
    bad = int((~np.isfinite(values)).sum())
    if bad:
        raise InputError(f"column {column!r} holds {bad} missing, non-numeric or infinite values; fill or drop them "
                         "before a DP release", party=party, field=column)
    return values


def categorical_values(data: Any, column: str, party: str | None) -> pd.Series:
    """The column as a Series without missing values, or an :class:`InputError`."""
    series = pd.Series(data)
    missing = int(series.isna().sum())
    if missing:
        raise InputError(f"column {column!r} holds {missing} missing values; fill or drop them before a DP "
                         "histogram", party=party, field=column)
    return series


def _grid(lower: float, upper: float, grid: float | None, column: str, party: str | None) -> tuple[int, int, float]:
    for name, bound in (("lower", lower), ("upper", upper)):
        if not isinstance(bound, (int, float)) or isinstance(bound, bool) or not math.isfinite(bound):
            raise InputError(f"column {column!r}: clamping bound {name} must be a finite number, got {bound!r}",
                             party=party, field=column)
    if not lower < upper:
        raise InputError(f"column {column!r}: clamping bounds need lower < upper, got [{lower}, {upper}]",
                         party=party, field=column)
    step = float(grid) if grid is not None else 1.0
    if not step > 0 or not math.isfinite(step):
        raise InputError(f"column {column!r}: grid step must be positive, got {grid!r}", party=party, field=column)
    lo, hi = round(lower / step), round(upper / step)
    if max(abs(lo), abs(hi)) >= 1 << 40:
        raise InputError(f"column {column!r}: bounds [{lower}, {upper}] on grid {step} exceed 2**40 steps; use a "
                         "coarser grid", party=party, field=column)
    return lo, hi, step


def _snap(values: np.ndarray, lo: int, hi: int, step: float) -> np.ndarray:
    """Clamp to the grid's range and round to integer grid units (the data side of snapping)."""
    return np.clip(np.rint(values / step), lo, hi).astype(np.int64)


# ------------------------------------------------------------------------------- mechanisms
def plan_count(budget: Budget) -> Noise:
    """The noise (and cost) of :func:`count`."""
    return noise_for(budget, 1)


def count(rows: int, budget: Budget, rng: Rng) -> Release:
    """The number of rows, with noise for sensitivity 1."""
    noise = plan_count(budget)
    value = int(rows) + int(noise.sample(rng, 1)[0])
    return Release(value, (noise.cost,), noise.describe(), noise.std)


def plan_sum(lower: float, upper: float, budget: Budget, grid: float | None = None, *, column: str = "value",
             party: str | None = None) -> Noise:
    """The noise (and cost) of :func:`total`: sensitivity is the largest clamped magnitude in grid units."""
    lo, hi, _ = _grid(lower, upper, grid, column, party)
    return noise_for(budget, max(abs(lo), abs(hi), 1))


def total(data: Any, lower: float, upper: float, budget: Budget, rng: Rng, grid: float | None = None, *,
          column: str = "value", party: str | None = None) -> Release:
    """The sum of the values clamped to ``[lower, upper]`` and snapped to multiples of ``grid`` (default 1)."""
    lo, hi, step = _grid(lower, upper, grid, column, party)
    noise = plan_sum(lower, upper, budget, grid, column=column, party=party)
    snapped = _snap(numeric_values(data, column, party), lo, hi, step)
    value = (int(snapped.sum()) + int(noise.sample(rng, 1)[0])) * step
    return Release(value, (noise.cost,), f"{noise.describe()} (grid step {step:g})", noise.std * step)


def mean(data: Any, lower: float, upper: float, budget: Budget, rng: Rng, grid: float | None = None, *,
         column: str = "value", party: str | None = None) -> Release:
    """Noisy sum over noisy count, each with half the budget (the count is clamped at 1)."""
    half = budget.split(2)
    s = total(data, lower, upper, half, rng, grid, column=column, party=party)
    n = count(len(np.asarray(data)), half, rng)
    value = min(max(s.value / max(n.value, 1), lower), upper)
    return Release(value, s.cost + n.cost, f"sum: {s.mechanism}; count: {n.mechanism}",
                   notes=("ratio of two noisy releases; error grows as the count shrinks",))


def plan_histogram(budget: Budget) -> Noise:
    """The noise (and cost) of :func:`histogram`: one row changes one bin by one."""
    return noise_for(budget, 1)


def histogram(data: Any, domain: Sequence[Any], budget: Budget, rng: Rng, *, column: str = "value",
              party: str | None = None) -> Release:
    """Noisy counts of each value of a public ``domain`` (values outside it are not counted)."""
    levels = list(domain)
    if not levels or len(set(levels)) != len(levels):
        raise InputError(f"column {column!r}: the histogram domain must be a non-empty list of distinct values",
                         party=party, field=column)
    counts = categorical_values(data, column, party).value_counts()
    exact = np.array([int(counts.get(level, 0)) for level in levels], dtype=np.int64)
    noise = plan_histogram(budget)
    noisy = exact + noise.sample(rng, len(levels))
    return Release(dict(zip(levels, noisy.tolist())), (noise.cost,), noise.describe(), noise.std)


def threshold_for(budget: Budget) -> int:
    """The smallest release threshold τ for which a key held by one row is released with probability <= δ.

    With discrete Laplace noise of parameter a = ε (scale 1/ε), P(Z >= k) = e^(-a k) / (1 + e^(-a)) for
    k >= 1, so P(1 + Z >= τ) <= δ needs τ >= 1 + ln(1 / (δ (1 + e^(-a)))) / a.
    """
    if budget.delta <= 0:
        raise ValueError("a histogram over an unknown domain needs delta > 0 (keys seen only here are released "
                         "with probability at most delta)")
    a = budget.epsilon
    return 1 + math.ceil(math.log(1 / (budget.delta * (1 + math.exp(-a)))) / a)


def open_histogram(data: Any, budget: Budget, rng: Rng, *, column: str = "value",
                   party: str | None = None) -> Release:
    """Noisy counts of the values that occur, releasing only keys whose noisy count reaches a threshold.

    (ε, δ)-DP (Korolova et al. 2009; Wilson et al. 2020): a row changes one key's count by one, and a
    key that exists in only one of two neighbouring tables has count 1 there, so it appears with
    probability at most δ (:func:`threshold_for`). Noise is discrete Laplace with scale 1/ε.
    """
    tau = threshold_for(budget)
    counts = categorical_values(data, column, party).value_counts()
    scale = laplace_scale(1, budget.epsilon)
    noisy = counts.to_numpy(dtype=np.int64) + discrete_laplace(rng, scale, len(counts))
    keep = noisy >= tau
    value = dict(zip(counts.index[keep].tolist(), noisy[keep].tolist()))
    cost = ApproxDPCost(budget.epsilon, budget.delta)
    r = math.exp(-1 / float(scale))
    return Release(value, (cost,), f"discrete Laplace, scale {float(scale):.6g}, threshold {tau}",
                   math.sqrt(2 * r) / (1 - r), notes=(f"keys with noisy count below {tau} are withheld",))


def quantile(data: Any, q: float, lower: float, upper: float, budget: Budget, rng: Rng, grid: float | None = None,
             *, column: str = "value", party: str | None = None) -> Release:
    """The ``q``-quantile among candidates ``lower, lower + grid, ..., upper``, chosen by permute-and-flip.

    McKenna and Sheldon (2020): candidates are visited in a uniformly random order and candidate c is
    accepted with probability exp(ε (u(c) - u*) / 2), where u(c) = -|#{x <= c} - q n| has sensitivity 1
    under adding or removing a row and u* is the best score; ε-DP, never worse than the exponential
    mechanism. Every probability is exp of a rational, drawn exactly.
    """
    if not isinstance(q, (int, float)) or not 0 <= q <= 1:
        raise InputError(f"column {column!r}: quantile q must be in [0, 1], got {q!r}", party=party, field=column)
    if budget.delta:
        raise ValueError("the quantile mechanism is pure ε-DP: pass a Budget with delta=0")
    lo, hi, step = _grid(lower, upper, grid, column, party)
    if hi - lo > 1_000_000:
        raise InputError(f"column {column!r}: {hi - lo + 1} quantile candidates; use a coarser grid (at most 1e6)",
                         party=party, field=column)
    snapped = np.sort(_snap(numeric_values(data, column, party), lo, hi, step))
    candidates = np.arange(lo, hi + 1, dtype=np.int64)
    at_most = np.searchsorted(snapped, candidates, side="right")  # #{x <= c}
    qf = Fraction(q)
    # Scores scaled by q's denominator to stay integral: U(c) = -|den * #{x <= c} - num * n|.
    scores = [-abs(qf.denominator * int(c) - qf.numerator * len(snapped)) for c in at_most.tolist()]
    best = max(scores)
    eps = Fraction(budget.epsilon)
    order = np.argsort(uniform_below(rng, 1 << 63, size=len(candidates)), kind="stable")
    chosen = None
    for start in range(0, len(order), 4096):  # vectorised flips, visited in the random order
        idx = order[start : start + 4096].tolist()
        gamma = [eps * (best - scores[i]) / (2 * qf.denominator) for i in idx]
        flips = _bernoulli_exp_big(rng, [g.numerator for g in gamma], [g.denominator for g in gamma])
        hits = np.flatnonzero(flips)
        if hits.size:
            chosen = idx[int(hits[0])]
            break
    if chosen is None:  # unreachable: the best candidate is accepted with probability 1
        raise RuntimeError("permute-and-flip accepted no candidate")
    cost = ApproxDPCost(budget.epsilon, 0.0)  # ε-DP, with no tighter privacy-loss curve claimed
    return Release(float(candidates[chosen] * step), (cost,), f"permute-and-flip over {len(candidates)} candidates "
                   f"(grid step {step:g})")
