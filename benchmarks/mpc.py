"""MPC benchmarks: 2PC (trusted dealer) and 3PC (replicated), in simulation and as processes over loopback mTLS.

``overhead`` times a multiplication of one element (the fixed cost of an SPMD run with two rounds).
The other workloads match SecretFlow SPU's anchor script (``../shared/anchors/bench_spu_sim.py``, beside
this repository): fixed-point mul, less-than and sigmoid/exp on 1e6 elements, a 1000x1000 matmul and
the logistic regression (10 epochs, 10000 x 100, batch 1000). Each figure is the median over ``--reps``
runs of one operation (sharing the inputs and revealing the output are not timed, as in SPU's
``run_s``); bytes are the sum sent by all parties, dealer included, and rounds the most any party needed.

    python -m benchmarks.mpc                        # everything, simulation and loopback
    python -m benchmarks.mpc --engines 2pc --modes sim --workloads mul,lt --json out.json
    python -m benchmarks.mpc --quick                # 1e4 elements, 64x64 matmul, a small LR: a smoke run

``--json`` writes ``{"<engine>/<mode>/<workload>": {"seconds", "bytes", "rounds", "bytes_by_party",
"peak_rss_bytes", ...}}``, plus ``peak_rss_bytes_per_party`` over loopback, ``dealer_bytes_fraction``
for 2pc, ``accuracy`` and ``accuracy_plain`` for lr, ``triples_per_second`` and ``bytes_per_triple``
for triples. In simulation the peak memory is the process's so far (all parties, earlier workloads).
"""

from __future__ import annotations

import os

# Every simulated party is a thread and every loopback party a process, all computing at once on the
# same cores; one BLAS thread per party avoids oversubscription (set the variable to override).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
# As the accord command does: gRPC's C core reads this once, at import; accord reports link failures itself.
os.environ.setdefault("GRPC_VERBOSITY", "NONE")

import functools
import statistics
import time
from typing import Any

import numpy as np

import accord
from accord.mpc import approximations as ap
from accord.mpc.examples.logistic_regression import accuracy, make_data, train, train_plain
from benchmarks.common import memory, options, party_memory, peak_rss_bytes, run_processes, write_json

WORKLOADS = ("overhead", "mul", "lt", "matmul", "sigmoid", "exp", "lr")
PARTIES = {"2pc": ["bank", "partner", "carol"], "3pc": ["bank", "partner", "carol"], "2pc-ot": ["bank", "partner"]}
FULL = {"n": 1_000_000, "mm": 1000, "reps": 3, "lr": {"rows": 10000, "features": 100, "epochs": 10, "batch": 1000}}
QUICK = {"n": 10_000, "mm": 64, "reps": 1, "lr": {"rows": 1000, "features": 10, "epochs": 2, "batch": 100}}


def session(cluster: accord.Cluster, engine: str) -> Any:
    """The MPC session an engine name stands for."""
    if engine == "3pc":
        return cluster.mpc(["bank", "partner", "carol"])
    if engine == "2pc-ot":
        return cluster.mpc(["bank", "partner"], mode="ot")
    return cluster.mpc(["bank", "partner"], dealer="carol")


def _inputs(workload: str, sizes: dict[str, Any]) -> tuple[Any, ...]:
    gen = np.random.default_rng(0)   # public benchmark data, not secret randomness
    n, mm = sizes["n"], sizes["mm"]
    if workload == "matmul":
        return gen.uniform(-1, 1, (mm, mm)), gen.uniform(-1, 1, (mm, mm))
    if workload == "lr":
        return make_data(sizes["lr"]["rows"], sizes["lr"]["features"], seed=0)
    if workload == "triples":
        return gen.uniform(-4, 4, n // 10), gen.uniform(-4, 4, n // 10)
    if workload == "overhead":
        return gen.uniform(-4, 4, 1), gen.uniform(-4, 4, 1)
    return gen.uniform(-4, 4, n), gen.uniform(-4, 4, n)


def _triples(a: Any, b: Any) -> Any:
    """Offline phase only: ``a.size`` elementwise Beaver triples from the session's provider."""
    a.m.engine.provider.triples(a.m.sub("triples"), a.shape)
    return a


OPS = {
    "overhead": lambda a, b: a * b,
    "triples": _triples,
    "mul": lambda a, b: a * b,
    "lt": lambda a, b: a < b,
    "matmul": lambda a, b: a @ b,
    "sigmoid": lambda a, b: ap.sigmoid(a),
    "exp": lambda a, b: ap.exp(a),
}


def run_workloads(cluster: accord.Cluster, engine: str, workloads: list[str], sizes: dict[str, Any]) -> dict[str, Any]:
    """Run each workload ``reps`` times; returns this process's view (times, and costs of hosted parties)."""
    spu = session(cluster, engine)
    bank, partner = cluster.parties("bank", "partner")
    hosted = set(cluster.hosted)
    lr = sizes["lr"]
    out: dict[str, Any] = {}
    for workload in workloads:
        u, v = _inputs(workload, sizes)
        if workload == "lr":
            half = u.shape[1] // 2
            feats = [bank.put(u[:, :half] if "bank" in hosted else None),
                     partner.put(u[:, half:] if "partner" in hosted else None)]
            labels = bank.put(v if "bank" in hosted else None)
            run = functools.partial(train, spu, feats, labels, epochs=lr["epochs"], batch=lr["batch"])
        else:
            x = spu.share(bank.put(u if "bank" in hosted else None))
            y = spu.share(partner.put(v if "partner" in hosted else None))
            run = functools.partial(spu.run, OPS[workload], x, y, name=workload)
        seconds, costs = [], []
        for _ in range(sizes["reps"]):
            start = time.perf_counter()
            result = run()
            seconds.append(time.perf_counter() - start)
            record = cluster.report().runs[-1]
            costs.append({p: c.to_dict() for p, c in record.costs.items()})
        entry: dict[str, Any] = {"seconds": statistics.median(seconds), "costs": costs[-1], "count": len(u)}
        if workload == "lr":
            w, b = spu.reveal(result[0], to="bank"), spu.reveal(result[1], to="bank")
            if "bank" in hosted:
                pw, pb = train_plain(u, v, epochs=lr["epochs"], batch=lr["batch"])
                entry["accuracy"] = accuracy(u, v, w.get(), float(b.get()))
                entry["accuracy_plain"] = accuracy(u, v, pw, pb)
        entry["peak_rss_bytes"] = peak_rss_bytes()
        out[workload] = entry
    return out


def summarise(views: dict[str, dict[str, Any]], dealer: str | None) -> dict[str, Any]:
    """Merge per-process views: slowest party's time, total bytes, most rounds, peak memory."""
    merged: dict[str, Any] = {}
    first = next(iter(views.values()))
    for workload in first:
        costs: dict[str, Any] = {}
        for view in views.values():
            costs.update(view[workload]["costs"])
        total = sum(c["bytes_sent"] for c in costs.values())
        entry = {
            "seconds": max(view[workload]["seconds"] for view in views.values()),
            "bytes": total,
            "rounds": max(c["rounds"] for c in costs.values()),
            "bytes_by_party": {p: c["bytes_sent"] for p, c in costs.items()},
        }
        if len(views) > 1:
            entry.update(party_memory({p: view[workload] for p, view in views.items()}))
        else:
            entry["peak_rss_bytes"] = first[workload]["peak_rss_bytes"]
        if workload == "triples":
            count = first[workload]["count"]
            entry["triples_per_second"] = count / entry["seconds"]
            entry["bytes_per_triple"] = total / count
        if dealer and dealer in costs:
            entry["dealer_bytes_fraction"] = costs[dealer]["bytes_sent"] / max(1, total - costs[dealer]["bytes_sent"])
        for view in views.values():
            for key in ("accuracy", "accuracy_plain"):
                if key in view[workload]:
                    entry[key] = view[workload][key]
        merged[workload] = entry
    return merged


def simulate(engine: str, workloads: list[str], sizes: dict[str, Any]) -> dict[str, Any]:
    """All parties in this process."""
    with accord.Cluster.simulate(PARTIES[engine], job=f"bench-{engine}", timeout=600) as cluster:
        view = run_workloads(cluster, engine, workloads, sizes)
    return summarise({"all": view}, "carol" if engine == "2pc" else None)


def party_main(cluster: accord.Cluster, me: str, args: dict[str, Any]) -> dict[str, Any]:
    """One party process of a loopback run (the launcher's target)."""
    return run_workloads(cluster, args["engine"], args["workloads"], args["sizes"])


def loopback(engine: str, workloads: list[str], sizes: dict[str, Any]) -> dict[str, Any]:
    """One process per party, gRPC with mutual TLS on 127.0.0.1."""
    views = run_processes("benchmarks.mpc:party_main", PARTIES[engine],
                          {"engine": engine, "workloads": workloads, "sizes": sizes})
    # Each workload's entry has its process's peak when it ended; drop the launcher's peak at exit.
    return summarise({p: {w: e for w, e in view.items() if w != "peak_rss_bytes"} for p, view in views.items()},
                     "carol" if engine == "2pc" else None)


def main() -> None:
    parser = options(__doc__)
    parser.add_argument("--engines", default="2pc,3pc", help="comma-separated: 2pc (dealer), 3pc, 2pc-ot (no third "
                        "party; try --workloads triples,mul,lr)")
    parser.add_argument("--modes", default="sim,loopback", help="comma-separated: sim, loopback")
    parser.add_argument("--workloads", default=",".join(WORKLOADS))
    parser.add_argument("--reps", type=int, default=None, help="runs per workload (median reported; default 3)")
    parser.add_argument("--n", type=int, default=None, help="elements for elementwise workloads (default 1e6)")
    parser.add_argument("--mm", type=int, default=None, help="matmul side (default 1000)")
    args = parser.parse_args()
    sizes = dict(QUICK if args.quick else FULL)
    sizes.update({k: getattr(args, k) for k in ("reps", "n", "mm") if getattr(args, k) is not None})
    results: dict[str, Any] = {}
    for mode in args.modes.split(","):
        for engine in args.engines.split(","):
            runner = simulate if mode == "sim" else loopback
            figures = runner(engine, args.workloads.split(","), sizes)
            for workload, entry in figures.items():
                key = f"{engine}/{mode}/{workload}"
                results[key] = entry
                extra = "".join(f" {k}={v:.4g}" for k, v in entry.items()
                                if k in ("dealer_bytes_fraction", "accuracy", "accuracy_plain", "triples_per_second",
                                         "bytes_per_triple"))
                peaks = entry.get("peak_rss_bytes_per_party", {"process": entry["peak_rss_bytes"]})
                print(f"{key:<24} {entry['seconds']:9.4f} s {entry['bytes'] / 1e6:10.1f} MB "
                      f"{entry['rounds']:6d} rounds{extra}; {memory(peaks)}", flush=True)
    write_json(args.json, results)


if __name__ == "__main__":
    main()
