"""Small numpy models shipped with accord for horizontal learning: softmax regression and a one-layer MLP.

Parameters are lists of float32 arrays (what travels in fit instructions). Training is plain
mini-batch SGD, with the FedProx proximal term mu/2 * ||w - w_global||^2 when ``proximal_mu > 0``
(Li et al., MLSys 2020). Batch order and weight initialisation draw from an :class:`~accord.crypto.random.Rng`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from accord.crypto.random import Rng
from accord.fl.client import NumPyClient
from accord.fl.messages import Config
from accord.fl.secagg.quantize import uniform01


def _softmax_xent(logits: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean cross-entropy and its gradient with respect to the logits."""
    z = logits - logits.max(axis=1, keepdims=True)
    p = np.exp(z)
    p /= p.sum(axis=1, keepdims=True)
    n = len(y)
    loss = float(-np.log(np.maximum(p[np.arange(n), y], 1e-12)).mean())
    p[np.arange(n), y] -= 1.0
    return loss, p / n


@dataclass(frozen=True)
class SoftmaxRegression:
    """Multinomial logistic regression: parameters ``[W (features x classes), b (classes)]``."""

    features: int
    classes: int

    def initial(self, rng: Rng | None = None) -> list[np.ndarray]:
        return [np.zeros((self.features, self.classes), np.float32), np.zeros(self.classes, np.float32)]

    def logits(self, params: list[np.ndarray], x: np.ndarray) -> np.ndarray:
        return x @ params[0] + params[1]

    def loss_and_grads(self, params: list[np.ndarray], x: np.ndarray, y: np.ndarray) -> tuple[float, list[np.ndarray]]:
        loss, dz = _softmax_xent(self.logits(params, x), y)
        return loss, [x.T @ dz, dz.sum(axis=0)]


@dataclass(frozen=True)
class MLP:
    """One hidden ReLU layer: parameters ``[W1, b1, W2, b2]``, He-initialised from the CSPRNG."""

    features: int
    hidden: int
    classes: int

    def initial(self, rng: Rng | None = None) -> list[np.ndarray]:
        rng = rng or Rng()

        def normal(shape: tuple[int, int]) -> np.ndarray:  # Box-Muller from CSPRNG uniforms
            n = shape[0] * shape[1]
            u1, u2 = 1.0 - uniform01(rng, n), uniform01(rng, n)
            z = np.sqrt(-2.0 * np.log(u1)) * np.cos(2 * np.pi * u2)
            return (z * np.sqrt(2.0 / shape[0])).reshape(shape).astype(np.float32)

        return [normal((self.features, self.hidden)), np.zeros(self.hidden, np.float32),
                normal((self.hidden, self.classes)), np.zeros(self.classes, np.float32)]

    def logits(self, params: list[np.ndarray], x: np.ndarray) -> np.ndarray:
        h = np.maximum(x @ params[0] + params[1], 0.0)
        return h @ params[2] + params[3]

    def loss_and_grads(self, params: list[np.ndarray], x: np.ndarray, y: np.ndarray) -> tuple[float, list[np.ndarray]]:
        pre = x @ params[0] + params[1]
        h = np.maximum(pre, 0.0)
        loss, dz = _softmax_xent(h @ params[2] + params[3], y)
        dh = (dz @ params[2].T) * (pre > 0)
        return loss, [x.T @ dh, dh.sum(axis=0), h.T @ dz, dz.sum(axis=0)]


Model = SoftmaxRegression | MLP


def train(model: Model, params: list[np.ndarray], x: np.ndarray, y: np.ndarray, *, epochs: int = 1,
          lr: float = 0.1, batch_size: int = 32, proximal_mu: float = 0.0, rng: Rng | None = None) -> list[np.ndarray]:
    """Mini-batch SGD from ``params``; returns new arrays (the inputs are not modified)."""
    rng = rng or Rng()
    anchor = [p.copy() for p in params]
    w = [p.astype(np.float32, copy=True) for p in params]
    for _ in range(epochs):
        order = rng.permutation(len(y))
        for start in range(0, len(y), batch_size):
            rows = order[start:start + batch_size]
            _, grads = model.loss_and_grads(w, x[rows], y[rows])
            for p, g, a in zip(w, grads, anchor):
                if proximal_mu:
                    g = g + proximal_mu * (p - a)
                p -= (lr * g).astype(np.float32)
    return w


def evaluate(model: Model, params: list[np.ndarray], x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """``(mean cross-entropy, accuracy)`` of ``params`` on ``(x, y)``."""
    logits = model.logits(params, x)
    loss, _ = _softmax_xent(logits, y)
    return loss, float((logits.argmax(axis=1) == y).mean())


class ModelClient(NumPyClient):
    """A :class:`NumPyClient` over one of the models above and the client's own rows.

    Fit reads ``epochs``, ``lr``, ``batch_size`` and ``proximal_mu`` from the round's config.
    """

    def __init__(self, model: Model, x: np.ndarray, y: np.ndarray, x_test: np.ndarray | None = None,
                 y_test: np.ndarray | None = None, rng: Rng | None = None) -> None:
        self.model, self.x, self.y = model, x, y
        self.x_test, self.y_test = (x, y) if x_test is None or y_test is None else (x_test, y_test)
        self.rng = rng or Rng()

    def get_parameters(self, config: Config) -> list[np.ndarray]:
        return self.model.initial(self.rng)

    def fit(self, parameters: list[np.ndarray], config: Config) -> tuple[list[np.ndarray], int, dict[str, float]]:
        new = train(self.model, parameters, self.x, self.y, epochs=int(config.get("epochs", 1)),
                    lr=float(config.get("lr", 0.1)), batch_size=int(config.get("batch_size", 32)),
                    proximal_mu=float(config.get("proximal_mu", 0.0)), rng=self.rng)
        return new, len(self.y), {}

    def evaluate(self, parameters: list[np.ndarray], config: Config) -> tuple[float, int, dict[str, float]]:
        loss, accuracy = evaluate(self.model, parameters, self.x_test, self.y_test)
        return loss, len(self.y_test), {"accuracy": accuracy}
