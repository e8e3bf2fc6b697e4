"""Shared pieces of the federated-learning tests: clients whose updates the tests know."""

from __future__ import annotations

import numpy as np

from accord.fl.client import ClientApp, NumPyClient


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
