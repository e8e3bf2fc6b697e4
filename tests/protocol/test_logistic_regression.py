"""The secure logistic regression of the issue (10 epochs, 10000 x 100, features split, labels at one party)."""

from __future__ import annotations

import numpy as np
import pytest

from accord.mpc.examples.logistic_regression import make_data, train
from tests.mpc_sessions import mpc_session


def train_plain(x, y, *, epochs=10, batch=1000, lr=0.5):
    """Float64 reference: mini-batch gradient descent on the logistic loss, full batches only, bias as a weight."""
    z = np.column_stack([x, np.ones(len(x))])
    w = np.zeros(z.shape[1])
    for _ in range(epochs):
        for start in range(0, len(y) - batch + 1, batch):
            zb, yb = z[start:start + batch], y[start:start + batch]
            w = w - lr * zb.T @ (1 / (1 + np.exp(-zb @ w)) - yb) / batch
    return w[:-1], float(w[-1])


def accuracy(x, y, w, b):
    """Share of rows whose predicted class (score above 0) is the label."""
    return float(np.mean(((x @ w + b) > 0) == (y == 1)))


@pytest.mark.parametrize("engine", ["dealer", "replicated"])
def test_matches_plaintext_accuracy(engine):
    x, y = make_data(10000, 100, seed=3)
    with mpc_session(engine) as (cluster, spu):
        a, b = cluster.parties("a", "b")
        w, bias = train(spu, [a.put(x[:, :40]), b.put(x[:, 40:])], a.put(y))
        weights = spu.reveal(w, to="a").get()
        offset = float(spu.reveal(bias, to="a").get())
    plain_w, plain_b = train_plain(x, y)
    assert abs(accuracy(x, y, weights, offset) - accuracy(x, y, plain_w, plain_b)) <= 0.005
    assert np.max(np.abs(weights - plain_w)) <= 1e-2


def test_matches_plaintext_accuracy_without_a_third_party():
    """The dealer-free (OT) mode on a smaller problem; benchmarks/mpc.py reports the full-size figure."""
    x, y = make_data(600, 8, seed=4)
    with mpc_session("ot") as (cluster, spu):
        a, b = cluster.parties("a", "b")
        w, bias = train(spu, [a.put(x[:, :4]), b.put(x[:, 4:])], a.put(y), epochs=2, batch=200)
        weights = spu.reveal(w, to="a").get()
        offset = float(spu.reveal(bias, to="a").get())
    plain_w, plain_b = train_plain(x, y, epochs=2, batch=200)
    assert abs(accuracy(x, y, weights, offset) - accuracy(x, y, plain_w, plain_b)) <= 0.005
    assert np.max(np.abs(weights - plain_w)) <= 1e-2
