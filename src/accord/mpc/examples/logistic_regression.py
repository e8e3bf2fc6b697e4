"""Secure logistic regression on vertically split data: features at two parties, labels at one.

Both parties secret-share their feature columns and the label holder its labels; mini-batch gradient
descent then runs entirely on shares (forward pass, sigmoid, gradient, update) and only the trained
weights are revealed, to the parties named by the caller. :func:`train_plain` is the float64
reference with the same hyperparameters (the SPU benchmark's: 10 epochs, batch 1000, step 0.5).

>>> import numpy as np, accord
>>> from accord.mpc.examples.logistic_regression import make_data, train, accuracy
>>> X, y = make_data(400, 6, seed=1)
>>> with accord.Cluster.simulate(["bank", "partner", "carol"]) as cluster:
...     bank, partner = cluster.parties("bank", "partner")
...     spu = cluster.mpc(["bank", "partner"], dealer="carol")
...     w, b = train(spu, [bank.put(X[:, :3]), partner.put(X[:, 3:])], bank.put(y), epochs=3, batch=100)
...     model = spu.reveal(spu.run(lambda w, b: (w, b), w, b)[0], to="bank").get()
>>> model.shape
(6,)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from accord.math.fixed import encode
from accord.mpc.approximations import sigmoid
from accord.mpc.session import MPC, SecretArray
from accord.mpc.tensor import Shared, concatenate
from accord.runtime.cluster import PartyObject


def train(spu: MPC, features: Sequence[PartyObject], labels: PartyObject, *, epochs: int = 10, batch: int = 1000,
          lr: float = 0.5) -> tuple[SecretArray, SecretArray]:
    """Train on shares; returns secret weights (d,) and bias ().

    ``features`` are party-owned 2-D float arrays with the same rows in the same order (align them
    with PSI first); ``labels`` is a party-owned 0/1 vector. The whole loop runs as one SPMD step.
    """
    shared = [spu.share(f) for f in features]
    y = spu.share(labels, kind="fixed")

    def loop(*arrays: Shared) -> tuple[Shared, Shared]:
        *parts, target = arrays
        m = target.m
        n = target.shape[0]
        # A public column of ones makes the bias the last weight: one product and one update per step.
        ones = Shared(m, m.engine.public(encode(np.ones((n, 1)), m.frac)), (n, 1), "fixed")
        x = concatenate([*parts, ones], axis=1)
        d = x.shape[1]
        w = Shared(m, m.engine.public(np.zeros(d, dtype=np.uint64)), (d,), "fixed")
        # Every epoch visits the same batches: slice and transpose them once (local copies).
        blocks = [(x[s:s + batch], target[s:s + batch]) for s in range(0, n - batch + 1, batch)]
        batches = [(xb, xb.T, yb) for xb, yb in blocks]
        for _ in range(epochs):
            for xb, xbt, yb in batches:
                g = sigmoid(xb @ w) - yb
                w = w - (xbt @ g) * (lr / batch)
        return w[:-1], w[-1]

    return spu.run(loop, *shared, y, name="logistic_regression")


def train_plain(x: np.ndarray, y: np.ndarray, *, epochs: int = 10, batch: int = 1000,
                lr: float = 0.5) -> tuple[np.ndarray, float]:
    """The same mini-batch gradient descent in float64."""
    n, d = x.shape
    w = np.zeros(d)
    b = 0.0
    for _ in range(epochs):
        for start in range(0, n - batch + 1, batch):
            xb, yb = x[start:start + batch], y[start:start + batch]
            g = 1.0 / (1.0 + np.exp(-(xb @ w + b))) - yb
            w = w - lr * (xb.T @ g) / batch
            b = b - lr * g.sum() / batch
    return w, float(b)


def accuracy(x: np.ndarray, y: np.ndarray, w: np.ndarray, b: float) -> float:
    """Share of rows whose predicted class matches the label."""
    return float(np.mean(((x @ w + b) > 0) == (y > 0.5)))


def make_data(n: int, d: int, *, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Synthetic, non-secret benchmark data: Gaussian features, labels from a noisy linear model.

    This mirrors the SPU benchmark's generator; it is for tests and benchmarks only.
    """
    gen = np.random.default_rng(seed)
    x = gen.normal(0.0, 1.0, (n, d))
    w = gen.normal(0.0, 1.0, d) / np.sqrt(d)
    y = (x @ w + 0.1 * gen.normal(0.0, 1.0, n) > 0).astype(np.float64)
    return x, y
