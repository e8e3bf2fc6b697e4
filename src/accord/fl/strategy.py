"""Server strategies: which clients train each round, with what config, and how the mean update is applied.

The aggregator hands a strategy the example-weighted mean of the clients' updates (deltas from the
global model); FedAvg adds it (McMahan et al. 2017), FedProx does the same and asks clients for a
proximal term (Li et al. 2020), and FedAdam / FedYogi treat it as a pseudo-gradient for an adaptive
server optimiser (Reddi et al., ICLR 2021). Optimiser state is plain arrays so checkpoints can hold it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from accord.crypto.random import Rng
from accord.fl.messages import Config


@dataclass
class FedAvg:
    """Federated averaging.

    Parameters
    ----------
    fraction_fit:
        Share of available clients sampled to train each round (at least ``min_fit_clients``).
    min_fit_clients:
        Fewest clients sampled per round.
    fraction_evaluate:
        Share of available clients asked to evaluate (0 disables federated evaluation).
    server_lr:
        Step applied to the mean update (1.0 is plain FedAvg).
    config:
        Fit config sent to every client (``epochs``, ``lr``, ``batch_size``...).
    """

    fraction_fit: float = 1.0
    min_fit_clients: int = 2
    fraction_evaluate: float = 0.0
    server_lr: float = 1.0
    config: dict[str, Any] = field(default_factory=dict)

    def sample(self, rng: Rng, available: list[str], fraction: float | None = None) -> list[str]:
        """A uniformly random subset of ``available`` (CSPRNG), sorted for stable reports."""
        share = self.fraction_fit if fraction is None else fraction
        count = min(len(available), max(self.min_fit_clients, math.ceil(share * len(available))))
        return sorted(available[i] for i in rng.permutation(len(available))[:count])

    def fit_config(self, round_number: int) -> Config:
        return {**self.config, "round": round_number}

    def apply(self, params: list[np.ndarray], update: list[np.ndarray], round_number: int) -> list[np.ndarray]:
        return [(p + self.server_lr * u).astype(p.dtype) for p, u in zip(params, update)]

    def state(self) -> dict[str, Any]:
        return {}

    def load_state(self, state: dict[str, Any]) -> None:
        """Restore optimiser state from a checkpoint (nothing for FedAvg)."""


@dataclass
class FedProx(FedAvg):
    """FedAvg whose clients add the proximal term ``proximal_mu / 2 * ||w - w_global||^2`` to their loss."""

    proximal_mu: float = 0.01

    def fit_config(self, round_number: int) -> Config:
        return {**super().fit_config(round_number), "proximal_mu": self.proximal_mu}


@dataclass
class FedAdam(FedAvg):
    """Adaptive server optimiser: Adam on the pseudo-gradient (Reddi et al. 2021, Alg. 2)."""

    server_lr: float = 0.01
    beta1: float = 0.9
    beta2: float = 0.99
    tau: float = 1e-3
    _m: list[np.ndarray] = field(default_factory=list, repr=False)
    _v: list[np.ndarray] = field(default_factory=list, repr=False)

    def _second_moment(self, v: np.ndarray, g2: np.ndarray) -> np.ndarray:
        return self.beta2 * v + (1 - self.beta2) * g2

    def apply(self, params: list[np.ndarray], update: list[np.ndarray], round_number: int) -> list[np.ndarray]:
        if not self._m:
            self._m = [np.zeros_like(u, dtype=np.float64) for u in update]
            self._v = [np.full_like(u, self.tau ** 2, dtype=np.float64) for u in update]
        out = []
        for i, (p, u) in enumerate(zip(params, update)):
            self._m[i] = self.beta1 * self._m[i] + (1 - self.beta1) * u
            self._v[i] = self._second_moment(self._v[i], u * u)
            out.append((p + self.server_lr * self._m[i] / (np.sqrt(self._v[i]) + self.tau)).astype(p.dtype))
        return out

    def state(self) -> dict[str, Any]:
        return {"m": list(self._m), "v": list(self._v)}

    def load_state(self, state: dict[str, Any]) -> None:
        self._m, self._v = list(state.get("m", [])), list(state.get("v", []))


@dataclass
class FedYogi(FedAdam):
    """Yogi's additive second moment, which grows more slowly than Adam's (Reddi et al. 2021)."""

    def _second_moment(self, v: np.ndarray, g2: np.ndarray) -> np.ndarray:
        return v - (1 - self.beta2) * g2 * np.sign(v - g2)
