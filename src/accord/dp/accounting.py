"""Privacy costs as immutable records, composed by Google's dp-accounting (PLD and RDP accountants).

Every release records a :class:`Cost`: which mechanism ran with which noise and sensitivity. Costs are
data (they go into the budget ledger as JSON and into job reports); turning a sequence of them into an
(ε, δ) guarantee is the accountant's job, and accord does not write that mathematics itself: it builds
dp-accounting's privacy-loss distributions (Meiser-Mohammadi 2018, Koskela et al. 2020; pessimistic
discretisation, so the figure is an upper bound) and, where every cost has one, its Rényi-DP events
(Mironov 2017; discrete Gaussian and discrete Laplace enter as zero-concentrated DP, Bun-Steinke 2016,
Canonne-Kamath-Steinke 2020). :func:`epsilon` reports the smallest of the valid bounds, including basic
composition, which is exact for pure ε-DP at δ = 0.

The neighbouring relation is add-or-remove one record (one row of the owner's table), dp-accounting's
default. dp-accounting is an optional dependency (``pip install 'accord[dp]'``).
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

from accord.errors import UnsupportedError

_DISCRETISATION = 1e-4  # dp-accounting's default value_discretization_interval
# Rényi orders for the RDP accountant: a dense geometric grid from 1.01 to 10^5 (dp-accounting's default list
# is sparse above 20, which costs up to 5 % of ε for the small ρ of strong privacy).
_ORDERS = tuple(float(f"{1.01 * (1e5 / 1.01) ** (i / 999):.6g}") for i in range(1000))


@dataclass(frozen=True)
class Cost:
    """Base of every privacy cost record; subclasses are frozen, JSON-serialisable dataclasses."""

    kind: ClassVar[str] = ""

    def pure(self) -> tuple[float, float] | None:
        """``(ε, δ)`` of this one release on its own, when it has a closed form (else ``None``)."""
        return None

    def to_json(self) -> str:
        """The record as JSON (what the ledger stores)."""
        return json.dumps({"kind": self.kind, **asdict(self)}, sort_keys=True)

    def describe(self) -> str:
        """One line for reports."""
        fields = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in asdict(self).items())
        return f"{self.kind}({fields})"


@dataclass(frozen=True)
class DiscreteLaplaceCost(Cost):
    """Discrete Laplace noise of ``scale`` (P(x) ∝ exp(-|x|/scale)) on a query of L1 ``sensitivity``: ε-DP."""

    kind: ClassVar[str] = "discrete_laplace"
    scale: float
    sensitivity: int = 1

    def pure(self) -> tuple[float, float]:
        return self.sensitivity / self.scale, 0.0


@dataclass(frozen=True)
class DiscreteGaussianCost(Cost):
    """Discrete Gaussian noise with parameter ``sigma`` on a query of L2 ``sensitivity``."""

    kind: ClassVar[str] = "discrete_gaussian"
    sigma: float
    sensitivity: int = 1


@dataclass(frozen=True)
class SubsampledGaussianCost(Cost):
    """``steps`` rounds of the Gaussian mechanism on Poisson-subsampled records (DP-SGD, DP-FedAvg)."""

    kind: ClassVar[str] = "subsampled_gaussian"
    sampling_probability: float
    noise_multiplier: float
    steps: int = 1


@dataclass(frozen=True)
class ApproxDPCost(Cost):
    """A mechanism known only to be (ε, δ)-DP (for instance a thresholded histogram)."""

    kind: ClassVar[str] = "approx_dp"
    epsilon: float
    delta: float

    def pure(self) -> tuple[float, float]:
        return self.epsilon, self.delta


_KINDS: dict[str, type[Cost]] = {c.kind: c for c in (DiscreteLaplaceCost, DiscreteGaussianCost,
                                                       SubsampledGaussianCost, ApproxDPCost)}


def cost_from_json(text: str) -> Cost:
    """The inverse of :meth:`Cost.to_json` (``ValueError`` on anything else)."""
    raw = json.loads(text)
    if not isinstance(raw, dict) or raw.get("kind") not in _KINDS:
        raise ValueError(f"not a privacy cost record: {text[:80]!r}")
    kind = _KINDS[raw.pop("kind")]
    return kind(**raw)


# ---------------------------------------------------------------------------------- composition
def _dp_accounting() -> Any:
    try:
        import dp_accounting
    except ImportError:
        raise UnsupportedError("privacy accounting needs dp-accounting: pip install 'accord[dp]'") from None
    return dp_accounting


# dp-accounting builds the PLD of a discrete mechanism over the noise's integer support; past these scales
# that takes seconds per cost, so such costs are composed by the RDP accountant (a looser, valid bound).
_PLD_MAX_LAPLACE_SCALE = 20_000.0
_PLD_MAX_GAUSSIAN_SIGMA = 2_000.0


def _has_cheap_pld(cost: Cost) -> bool:
    if isinstance(cost, DiscreteLaplaceCost):
        return cost.scale <= _PLD_MAX_LAPLACE_SCALE
    if isinstance(cost, DiscreteGaussianCost):
        return cost.sigma <= _PLD_MAX_GAUSSIAN_SIGMA
    return True


@functools.lru_cache(maxsize=512)
def _pld(cost: Cost) -> Any:
    from dp_accounting.pld import common
    from dp_accounting.pld import privacy_loss_distribution as pld

    if isinstance(cost, DiscreteLaplaceCost):
        return pld.from_discrete_laplace_mechanism(1.0 / cost.scale, sensitivity=cost.sensitivity,
                                                   value_discretization_interval=_DISCRETISATION)
    if isinstance(cost, DiscreteGaussianCost):
        return pld.from_discrete_gaussian_mechanism(cost.sigma, sensitivity=cost.sensitivity,
                                                    value_discretization_interval=_DISCRETISATION)
    if isinstance(cost, SubsampledGaussianCost):
        single = pld.from_gaussian_mechanism(cost.noise_multiplier, sampling_prob=cost.sampling_probability,
                                             value_discretization_interval=_DISCRETISATION)
        return single.self_compose(cost.steps) if cost.steps > 1 else single
    if isinstance(cost, ApproxDPCost):
        return pld.from_privacy_parameters(common.DifferentialPrivacyParameters(cost.epsilon, cost.delta),
                                           value_discretization_interval=_DISCRETISATION)
    raise TypeError(f"no privacy-loss distribution for {cost!r}")


def _rdp_event(cost: Cost) -> Any | None:
    dpa = _dp_accounting()
    if isinstance(cost, DiscreteLaplaceCost):  # pure ε-DP implies (ε²/2)-zCDP (Bun-Steinke 2016, Prop. 1.4)
        eps = cost.pure()[0]
        return dpa.ZCDpEvent(rho=eps * eps / 2)
    if isinstance(cost, DiscreteGaussianCost):  # (Δ²/2σ²)-zCDP (Canonne-Kamath-Steinke 2020, Thm. 4)
        return dpa.ZCDpEvent(rho=cost.sensitivity ** 2 / (2 * cost.sigma ** 2))
    if isinstance(cost, SubsampledGaussianCost):
        step = dpa.PoissonSampledDpEvent(cost.sampling_probability, dpa.GaussianDpEvent(cost.noise_multiplier))
        return dpa.SelfComposedDpEvent(step, cost.steps)
    return None  # (ε, δ) records have no Rényi curve


def epsilon(costs: Sequence[Cost], delta: float) -> float:
    """The smallest ε for which the composition of ``costs`` is (ε, ``delta``)-DP, by any valid accountant.

    Takes the minimum of the PLD accountant's bound, the RDP accountant's (when every cost has a Rényi
    curve and ``delta > 0``) and basic composition (when every cost is (ε_i, δ_i)-DP on its own and
    ``sum δ_i <= delta``). Each is an upper bound, so the minimum is too.
    """
    check_delta(delta)
    if not costs:
        return 0.0
    bounds = []
    closed = [p for p in (c.pure() for c in costs) if p is not None]
    if len(closed) == len(costs) and sum(d for _, d in closed) <= delta:
        bounds.append(sum(e for e, _ in closed))
    _dp_accounting()
    if all(_has_cheap_pld(c) for c in costs):
        composed = _pld(costs[0])
        for cost in costs[1:]:
            composed = composed.compose(_pld(cost))
        bounds.append(composed.get_epsilon_for_delta(delta))
    events = [_rdp_event(c) for c in costs]
    if delta > 0 and all(e is not None for e in events):
        from dp_accounting import rdp

        accountant = rdp.RdpAccountant(orders=_ORDERS)
        for event in events:
            accountant.compose(event)
        bounds.append(accountant.get_epsilon(delta))
    if not bounds:  # only reachable for (ε, δ) records beside large-scale noise at a δ below their sum
        return math.inf
    return max(0.0, min(bounds))


@functools.lru_cache(maxsize=256)
def gaussian_sigma(epsilon_target: float, delta: float, sensitivity: int = 1) -> float:
    """The smallest discrete-Gaussian σ (to 0.001 %) whose single release is (ε, δ)-DP at ``sensitivity``.

    Calibration costs a few dozen accountant calls, so results are cached per (ε, δ, sensitivity).
    """
    if not 0 < delta < 1:
        raise ValueError(f"a Gaussian release needs 0 < delta < 1, got {delta}")
    lo, hi = 0.1 * sensitivity, 1.0 * sensitivity
    while epsilon([DiscreteGaussianCost(hi, sensitivity)], delta) > epsilon_target:
        lo, hi = hi, hi * 2
        if hi > 1e12 * sensitivity:
            raise ValueError(f"no σ gives ε={epsilon_target} at δ={delta}")
    while hi / lo > 1.00001:
        mid = math.sqrt(lo * hi)
        if epsilon([DiscreteGaussianCost(mid, sensitivity)], delta) > epsilon_target:
            lo = mid
        else:
            hi = mid
    return hi


def check_delta(delta: float) -> None:
    """Refuse δ outside [0, 1)."""
    if not isinstance(delta, (int, float)) or isinstance(delta, bool) or not 0 <= delta < 1:
        raise ValueError(f"delta must be in [0, 1), got {delta!r}")
