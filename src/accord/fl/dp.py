"""DP-FedAvg with distributed discrete Gaussian noise added by the clients before masking.

McMahan, Ramage, Talwar and Zhang (ICLR 2018) for user-level DP-FedAvg; Kairouz, Liu and Steinke
(ICML 2021) for the distributed discrete Gaussian under secure aggregation. Each round:

1. the aggregator samples every client independently with probability ``q`` (Poisson sampling, which
   is what the accountant assumes);
2. each sampled client clips its update to L2 norm ``C``, scales it by ``1 / granularity``, rounds each
   coordinate stochastically to an integer, and adds discrete Gaussian noise of variance
   ``sigma_i^2 = (z * Delta)^2 / min_honest`` (exact sampler of :mod:`accord.dp.samplers`), where
   ``Delta = C / granularity + sqrt(d)`` bounds the L2 norm of the rounded update;
3. SecAgg+ reveals only the sum, which carries the noise of every honest surviving client;
4. the aggregator divides by the expected number of clients ``q * N`` (fixed denominator).

Guarantee: if at least ``min_honest`` sampled clients are honest and complete the collect stage, the
released sum carries noise of variance at least ``(z * Delta)^2``; the sum of ``m`` discrete Gaussians
is within ``tau`` of a discrete Gaussian of the summed variance (Kairouz et al., Thm. 4.5/Prop. 14),
and accord refuses parameters with ``tau > 1e-10``. Each round is then accounted as the Poisson-subsampled
Gaussian mechanism with noise multiplier ``z`` (dp-accounting's PLD and RDP accountants, through
:func:`accord.dp.accounting.epsilon`), and every client charges the whole plan to its dataset's ledger
before its first round. Clients that drop or collude (they know their own noise) lower the noise
below the plan: with ``m < min_honest`` honest survivors the effective multiplier is
``z * sqrt(m / min_honest)``, and the stated ε no longer holds; the round records ``m`` so the report
shows it. The privacy unit is one client (all of its rows).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from accord.crypto.random import Rng
from accord.dp.accounting import SubsampledGaussianCost, epsilon
from accord.dp.ledger import Ledger
from accord.dp.samplers import discrete_gaussian
from accord.errors import ConfigurationError
from accord.fl.messages import JoinIns
from accord.fl.secagg.quantize import uniform01

_TAU_LIMIT = 1e-10


@dataclass(frozen=True)
class NoiseSpec:
    """What each client needs to clip, round and noise its update (sent in the SecAgg setup)."""

    l2_clip: float
    granularity: float
    noise_multiplier: float
    min_honest: int

    def to_wire(self) -> dict[str, Any]:
        return {"l2_clip": self.l2_clip, "granularity": self.granularity, "noise_multiplier": self.noise_multiplier,
                "min_honest": self.min_honest}

    def sensitivity(self, dim: int) -> float:
        """Delta: the L2 norm bound of a clipped, scaled and rounded update, in integer units."""
        return self.l2_clip / self.granularity + math.sqrt(dim)

    def client_variance(self, dim: int) -> Fraction:
        """sigma_i^2 of each client's discrete Gaussian, rounded up to a dyadic rational."""
        total = (self.noise_multiplier * self.sensitivity(dim)) ** 2
        return Fraction(math.ceil(total / self.min_honest * 1024), 1024)


def encode_noisy(rng: Rng, spec: NoiseSpec, update: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Clip, scale, round stochastically and add this client's share of the noise; ring vector with a 1 appended."""
    x = np.asarray(update, dtype=np.float64).reshape(-1)
    norm = float(np.linalg.norm(x))
    if norm > spec.l2_clip:
        x = x * (spec.l2_clip / norm)
    scaled = x / spec.granularity
    low = np.floor(scaled)
    rounded = (low + (uniform01(rng, scaled.size) < scaled - low)).astype(np.int64)
    noisy = rounded + discrete_gaussian(rng, spec.client_variance(x.size), x.size)
    return np.append(noisy, 1).astype(dtype)


def kairouz_tau(sigma2: float, clients: int) -> float:
    """tau = 10 * sum_{k=1}^{m-1} exp(-2 pi^2 sigma^2 k / (k + 1)) (Kairouz, Liu, Steinke 2021)."""
    return 10 * sum(math.exp(-2 * math.pi ** 2 * sigma2 * k / (k + 1)) for k in range(1, clients))


@dataclass
class DPFedAvg:
    """User-level DP-FedAvg settings and accounting.

    Parameters
    ----------
    l2_clip:
        L2 norm bound C of each client's update.
    noise_multiplier:
        z: the total noise has standard deviation z * C (in model units, plus rounding).
    sampling_probability:
        q: each client takes part in a round with this probability (Poisson sampling).
    population:
        N: the number of clients that may be sampled.
    rounds:
        The number of rounds planned (charged to every client's ledger up front).
    delta:
        The δ at which ε is reported.
    min_honest:
        Fewest honest clients assumed to complete each round; the noise is split among this many.
    granularity:
        Rounding step; default C / (100 sqrt(d)) so rounding adds at most 1% to the sensitivity.
    """

    l2_clip: float
    noise_multiplier: float
    sampling_probability: float
    population: int
    rounds: int
    delta: float = 1e-5
    min_honest: int = 2
    granularity: float | None = None

    def __post_init__(self) -> None:
        if not self.l2_clip > 0 or not self.noise_multiplier > 0:
            raise ConfigurationError("DP-FedAvg needs a positive l2_clip and noise_multiplier")
        if not 0 < self.sampling_probability <= 1 or self.population < 1 or self.rounds < 1:
            raise ConfigurationError("DP-FedAvg needs 0 < sampling_probability <= 1, population >= 1, rounds >= 1")
        if self.min_honest < 1:
            raise ConfigurationError("min_honest must be at least 1")

    def spec(self, dim: int) -> NoiseSpec:
        step = self.granularity or self.l2_clip / (100 * math.sqrt(dim))
        spec = NoiseSpec(self.l2_clip, step, self.noise_multiplier, self.min_honest)
        tau = kairouz_tau(float(spec.client_variance(dim)), max(self.min_honest, 2))
        if tau > _TAU_LIMIT:
            raise ConfigurationError(f"each client's noise (sigma^2 = {float(spec.client_variance(dim)):.3g}) is too "
                                     f"small for the distributed discrete Gaussian bound (tau = {tau:.2g}); use a "
                                     "smaller granularity")
        return spec

    def ring_bits(self, dim: int, clients: int) -> int:
        """32 bits if n * (C / step + 1) plus 12 standard deviations of noise fits, else 64."""
        spec = self.spec(dim)
        bound = clients * (spec.l2_clip / spec.granularity + 1) + 12 * math.sqrt(
            float(spec.client_variance(dim)) * clients)
        return 32 if bound < 2 ** 31 else 64

    def cost(self, rounds: int) -> SubsampledGaussianCost:
        """The privacy cost of ``rounds`` rounds (Poisson-subsampled Gaussian, user level)."""
        return SubsampledGaussianCost(self.sampling_probability, self.noise_multiplier, rounds)

    def epsilon(self, rounds: int) -> float:
        """ε at :attr:`delta` after ``rounds`` rounds, from dp-accounting (cached: each call costs seconds)."""
        return _epsilon(self.cost(rounds), self.delta)

    def plan(self, job: str) -> dict[str, Any]:
        """The privacy plan each client charges to its ledger when it joins."""
        return {"job": job, "sampling_probability": self.sampling_probability,
                "noise_multiplier": self.noise_multiplier, "rounds": self.rounds, "delta": self.delta,
                "epsilon": self.epsilon(self.rounds)}

    def declaration(self) -> dict[str, str]:
        return {"protocol": "fl.dp-fedavg",
                "threat_model": f"distributed discrete Gaussian; the stated ε assumes at least {self.min_honest} "
                                "honest clients complete each round",
                "leakage": f"the noisy model updates, (ε={self.epsilon(self.rounds):.3g}, δ={self.delta:g})-DP per "
                           "client over the whole job"}

    def sample(self, rng: Rng, available: list[str]) -> list[str]:
        """Poisson sampling: each client independently with probability q (from the CSPRNG)."""
        keep = uniform01(rng, len(available)) < self.sampling_probability
        return [c for c, k in zip(available, keep) if k]

    def mean(self, noisy_sum: np.ndarray) -> np.ndarray:
        """The fixed-denominator mean update: the noisy sum (in model units) over q * N."""
        return noisy_sum / (self.sampling_probability * self.population)


def ledger_charger(ledger_for: Callable[[str], Ledger]) -> Callable[[str, JoinIns], None]:
    """A ``ClientApp`` ``on_join`` hook: charge the job's whole plan to the client's dataset ledger.

    ``ledger_for(cid)`` opens that client's ledger. A refusal (:class:`~accord.errors.PrivacyBudgetExceeded`)
    becomes an error reply, and the aggregator leaves the client out of the job.
    """

    def charge(cid: str, join: JoinIns) -> None:
        ledger_for(cid).charge(plan_cost(join.privacy), release=f"fl:{join.job}", job=join.job)

    return charge


@functools.lru_cache(maxsize=1024)
def _epsilon(cost: SubsampledGaussianCost, delta: float) -> float:
    return epsilon([cost], delta)


def plan_cost(plan: dict[str, Any]) -> SubsampledGaussianCost:
    """The cost a client charges for a plan it received (see :meth:`DPFedAvg.plan`)."""
    try:
        return SubsampledGaussianCost(float(plan["sampling_probability"]), float(plan["noise_multiplier"]),
                                      int(plan["rounds"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigurationError(f"the aggregator's privacy plan is incomplete: {exc}") from None
