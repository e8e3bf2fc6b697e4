"""MPC drivers the integration tests run as separate processes over loopback mTLS (see tests/procs.py)."""

from __future__ import annotations

from typing import Any

import numpy as np

import accord
from accord.mpc.examples.logistic_regression import make_data, train
from tests.protocol.test_logistic_regression import accuracy, train_plain


def _session(cluster: accord.Cluster, engine: str) -> Any:
    if engine == "replicated":
        return cluster.mpc(["bank", "partner", "carol"])
    if engine == "dealer":
        return cluster.mpc(["bank", "partner"], dealer="carol")
    return cluster.mpc(["bank", "partner"], mode=engine)


def inputs(seed: int) -> dict[str, np.ndarray]:
    """Each party's private test data (a party computes only its own)."""
    gen = np.random.default_rng(seed)
    return {"x": gen.uniform(-50, 50, (20, 8)), "y": gen.uniform(-50, 50, (8, 5)), "z": gen.uniform(-50, 50, (20, 8))}


def ops_driver(cluster: accord.Cluster, me: str, args: dict[str, Any]) -> dict[str, Any]:
    """mul, matmul and less-than on data from bank and partner; results revealed to bank."""
    spu = _session(cluster, args["engine"])
    data = inputs(args["seed"]) if me in ("bank", "partner") else {}
    bank, partner = cluster.parties("bank", "partner")
    x = spu.share(bank.put(data.get("x")))
    y = spu.share(partner.put(data.get("y")))
    z = spu.share(partner.put(data.get("z")))
    opened = {name: spu.reveal(v, to="bank") for name, v in (("mul", x * z), ("matmul", x @ y), ("lt", x < z))}
    report = cluster.report().to_dict()["protocols"]
    sent = {name: entry["costs"].get(me, {}).get("bytes_sent", 0) for name, entry in report.items()}
    out: dict[str, Any] = {"sent": sent}
    if me == "bank":
        out.update({name: v.get().tolist() for name, v in opened.items()})
    return out


def lr_driver(cluster: accord.Cluster, me: str, args: dict[str, Any]) -> dict[str, Any]:
    """A small secure logistic regression; bank learns the model and reports both accuracies."""
    spu = _session(cluster, args["engine"])
    x, y = make_data(args["n"], args["d"], seed=args["seed"])
    half = args["d"] // 2
    bank, partner = cluster.parties("bank", "partner")
    features = [bank.put(x[:, :half] if me == "bank" else None), partner.put(x[:, half:] if me == "partner" else None)]
    w, b = train(spu, features, bank.put(y if me == "bank" else None), epochs=args["epochs"], batch=args["batch"])
    weights, bias = spu.reveal(w, to="bank"), spu.reveal(b, to="bank")
    if me != "bank":
        return {}
    pw, pb = train_plain(x, y, epochs=args["epochs"], batch=args["batch"])
    return {"acc": accuracy(x, y, weights.get(), float(bias.get())), "plain": accuracy(x, y, pw, pb)}
