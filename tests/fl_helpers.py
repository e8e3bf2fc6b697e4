"""Shared pieces of the federated-learning tests: clients with known updates, and a pool that records views."""

from __future__ import annotations

from typing import Any

import numpy as np

from accord.fl.client import ClientApp, NumPyClient
from accord.fl.simulation import SimulatedPool


class FixedUpdateClient(NumPyClient):
    """A client whose fit adds a fixed, known update to the global parameters."""

    def __init__(self, update: np.ndarray, examples: int = 1) -> None:
        self.update, self.examples = update, examples

    def get_parameters(self, config):
        return [np.zeros_like(self.update)]

    def fit(self, parameters, config):
        return [parameters[0] + self.update], self.examples, {}


def updates(n: int, size: int, seed: int = 0, scale: float = 1.0) -> dict[str, np.ndarray]:
    """Deterministic test updates (public test data, not secrets)."""
    gen = np.random.default_rng(seed)
    return {f"c{i:03d}": gen.uniform(-scale, scale, size).astype(np.float32) for i in range(n)}


def fixed_app(ups: dict[str, np.ndarray], examples: dict[str, int] | None = None) -> ClientApp:
    return ClientApp(lambda cid: FixedUpdateClient(ups[cid], (examples or {}).get(cid, 1)))


class RecordingPool(SimulatedPool):
    """A simulated pool that keeps every reply the aggregator receives: the aggregator's view."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.view: list[tuple[str, str, dict[str, Any]]] = []

    def request(self, round_number, stage, bodies, timeout):
        exchange = super().request(round_number, stage, bodies, timeout)
        self.view.extend((stage, client, body) for client, body in exchange.replies.items())
        return exchange
