"""PyTorch modules as federated clients (skipped when the optional torch extra is absent)."""

from __future__ import annotations

import numpy as np
import pytest

from accord.crypto.random import Rng
from accord.fl.client import ClientApp
from accord.fl.secagg.server import SecAggParams
from accord.fl.server import Aggregator
from accord.fl.simulation import SimulatedPool
from accord.fl.strategy import FedAvg

torch = pytest.importorskip("torch")
from accord.fl.torch_client import TorchClient, get_parameters, set_parameters  # noqa: E402


def blobs(n, seed):
    gen = np.random.default_rng(seed)
    y = gen.integers(0, 2, n)
    return (gen.normal(size=(n, 4)) + 2.0 * y[:, None]).astype(np.float32), y


def test_parameters_round_trip():
    module = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))
    params = [p + 1 for p in get_parameters(module)]
    set_parameters(module, params)
    assert all(np.array_equal(a, b) for a, b in zip(get_parameters(module), params))


def test_a_torch_model_trains_federated_with_secure_aggregation():
    torch.manual_seed(0)
    data = {f"c{i}": blobs(200, i) for i in range(3)}
    app = ClientApp(lambda cid: TorchClient(torch.nn.Linear(4, 2), *data[cid], rng=Rng(cid.encode())))
    init = get_parameters(torch.nn.Linear(4, 2))
    strategy = FedAvg(config={"epochs": 2, "lr": 0.2, "batch_size": 64})
    agg = Aggregator(SimulatedPool(app, list(data)), strategy, init, rounds=4,
                     secure=SecAggParams(clip=4.0, max_weight=1000), rng=Rng(b"t"))
    agg.run()
    x, y = blobs(500, 9)
    module = torch.nn.Linear(4, 2)
    set_parameters(module, agg.params)
    accuracy = float((module(torch.as_tensor(x)).argmax(dim=1).numpy() == y).mean())
    assert accuracy > 0.9
