"""MPC benchmarks: 2PC (trusted dealer) and 3PC (replicated), in simulation and as processes over loopback mTLS.

``overhead`` times a multiplication of one element (the fixed cost of an SPMD run with two rounds).
The other workloads match SecretFlow SPU's anchor script (/work/shared/anchors/bench_spu_sim.py): fixed-point
mul, less-than and sigmoid/exp on 1e6 elements, a 1000x1000 matmul and the logistic regression
(10 epochs, 10000 x 100, batch 1000). Each figure is the median over ``--reps`` runs of one operation
(sharing the inputs and revealing the output are not timed, as in SPU's ``run_s``); bytes are the sum
sent by all parties, dealer included, and rounds the most any party needed.

    python benchmarks/mpc.py                        # everything, simulation and loopback
    python benchmarks/mpc.py --engines 2pc --modes sim --workloads mul,lt --json out.json
"""

from __future__ import annotations

import os

# Every simulated party is a thread and every loopback party a process, all computing at once on the
# same cores; one BLAS thread per party avoids oversubscription (set the variable to override).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
# As the accord command does: gRPC's C core reads this once, at import; accord reports link failures itself.
os.environ.setdefault("GRPC_VERBOSITY", "NONE")

import argparse
import functools
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import yaml

import accord
from accord.mpc import approximations as ap
from accord.mpc.examples.logistic_regression import accuracy, make_data, train, train_plain

WORKLOADS = ("overhead", "mul", "lt", "matmul", "sigmoid", "exp", "lr")
PARTIES = {"2pc": ["bank", "partner", "carol"], "3pc": ["bank", "partner", "carol"], "2pc-ot": ["bank", "partner"]}


def session(cluster: accord.Cluster, engine: str) -> Any:
    """The MPC session an engine name stands for."""
    if engine == "3pc":
        return cluster.mpc(["bank", "partner", "carol"])
    if engine == "2pc-ot":
        return cluster.mpc(["bank", "partner"], mode="ot")
    return cluster.mpc(["bank", "partner"], dealer="carol")


def _inputs(workload: str, n: int, mm: int) -> tuple[Any, ...]:
    gen = np.random.default_rng(0)   # public benchmark data, not secret randomness
    if workload == "matmul":
        return gen.uniform(-1, 1, (mm, mm)), gen.uniform(-1, 1, (mm, mm))
    if workload == "lr":
        return make_data(10000, 100, seed=0)
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


def run_workloads(cluster: accord.Cluster, engine: str, workloads: list[str], reps: int, n: int, mm: int,
                  me: str | None = None) -> dict[str, Any]:
    """Run each workload ``reps`` times; returns this process's view (times, and costs of hosted parties)."""
    spu = session(cluster, engine)
    bank, partner = cluster.parties("bank", "partner")
    hosted = set(cluster.hosted)
    out: dict[str, Any] = {}
    for workload in workloads:
        u, v = _inputs(workload, n, mm)
        if workload == "lr":
            half = u.shape[1] // 2
            feats = [bank.put(u[:, :half] if "bank" in hosted else None),
                     partner.put(u[:, half:] if "partner" in hosted else None)]
            labels = bank.put(v if "bank" in hosted else None)
            run = functools.partial(train, spu, feats, labels)
        else:
            x = spu.share(bank.put(u if "bank" in hosted else None))
            y = spu.share(partner.put(v if "partner" in hosted else None))
            run = functools.partial(spu.run, OPS[workload], x, y, name=workload)
        seconds, costs = [], []
        for _ in range(reps):
            start = time.perf_counter()
            result = run()
            seconds.append(time.perf_counter() - start)
            record = cluster.report().runs[-1]
            costs.append({p: c.to_dict() for p, c in record.costs.items()})
        entry: dict[str, Any] = {"seconds": statistics.median(seconds), "all_seconds": seconds, "costs": costs[-1],
                                 "count": len(u)}
        if workload == "lr":
            w, b = spu.reveal(result[0], to="bank"), spu.reveal(result[1], to="bank")
            if "bank" in hosted:
                pw, pb = train_plain(u, v)
                entry["accuracy"] = accuracy(u, v, w.get(), float(b.get()))
                entry["accuracy_plain"] = accuracy(u, v, pw, pb)
        out[workload] = entry
    return out


def summarise(views: list[dict[str, Any]], dealer: str | None) -> dict[str, Any]:
    """Merge per-process views: slowest party's time, total bytes, most rounds."""
    merged: dict[str, Any] = {}
    for workload in views[0]:
        costs: dict[str, Any] = {}
        for view in views:
            costs.update(view[workload]["costs"])
        total = sum(c["bytes_sent"] for c in costs.values())
        entry = {
            "seconds": max(view[workload]["seconds"] for view in views),
            "bytes": total,
            "rounds": max(c["rounds"] for c in costs.values()),
            "bytes_by_party": {p: c["bytes_sent"] for p, c in costs.items()},
        }
        if workload == "triples":
            count = views[0][workload]["count"]
            entry["triples_per_second"] = count / entry["seconds"]
            entry["bytes_per_triple"] = total / count
        if dealer and dealer in costs:
            entry["dealer_bytes_fraction"] = costs[dealer]["bytes_sent"] / max(1, total - costs[dealer]["bytes_sent"])
        for view in views:
            for key in ("accuracy", "accuracy_plain"):
                if key in view[workload]:
                    entry[key] = view[workload][key]
        merged[workload] = entry
    return merged


def simulate(engine: str, workloads: list[str], reps: int, n: int, mm: int) -> dict[str, Any]:
    """All parties in this process."""
    with accord.Cluster.simulate(_parties(engine), job=f"bench-{engine}",
                                 timeout=600) as cluster:
        view = run_workloads(cluster, engine, workloads, reps, n, mm)
    return summarise([view], "carol" if engine == "2pc" else None)


def _parties(engine: str) -> list[str]:
    return PARTIES[engine]


def loopback(engine: str, workloads: list[str], reps: int, n: int, mm: int) -> dict[str, Any]:
    """One process per party, gRPC with mutual TLS on 127.0.0.1."""
    from accord.net.tls import write_party_certificate

    parties = _parties(engine)
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        entries = {}
        for party in parties:
            key, cert = write_party_certificate(party, directory / "certs")
            entries[party] = {"address": f"127.0.0.1:{_free_port()}", "cert": str(cert), "key": str(key)}
        config = directory / "cluster.yaml"
        config.write_text(yaml.safe_dump({"parties": entries, "timeout": 600}))
        procs = []
        for party in parties:
            out = directory / f"{party}.json"
            cmd = [sys.executable, __file__, "--party", party, "--cluster", str(config), "--engines", engine,
                   "--workloads", ",".join(workloads), "--reps", str(reps), "--n", str(n), "--mm", str(mm),
                   "--json", str(out)]
            procs.append((out, subprocess.Popen(cmd, env=dict(os.environ))))
        for _, proc in procs:
            if proc.wait(timeout=3600) != 0:
                raise RuntimeError(f"a party process failed (exit {proc.returncode})")
        views = [json.loads(out.read_text()) for out, _ in procs]
    return summarise(views, "carol" if engine == "2pc" else None)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _party_main(args: argparse.Namespace) -> None:
    with accord.Cluster.connect(args.cluster, me=args.party, job="bench-mpc", timeout=600) as cluster:
        view = run_workloads(cluster, args.engines, args.workloads.split(","), args.reps, args.n, args.mm,
                             me=args.party)
    Path(args.json).write_text(json.dumps(view))


def main() -> None:
    ap_ = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap_.add_argument("--engines", default="2pc,3pc", help="comma-separated: 2pc (dealer), 3pc, 2pc-ot (no third "
                     "party; try --workloads triples,mul,lr)")
    ap_.add_argument("--modes", default="sim,loopback", help="comma-separated: sim, loopback")
    ap_.add_argument("--workloads", default=",".join(WORKLOADS))
    ap_.add_argument("--reps", type=int, default=3)
    ap_.add_argument("--n", type=int, default=1_000_000)
    ap_.add_argument("--mm", type=int, default=1000)
    ap_.add_argument("--json", default=None, help="write the figures to this file")
    ap_.add_argument("--party", default=None, help=argparse.SUPPRESS)
    ap_.add_argument("--cluster", default=None, help=argparse.SUPPRESS)
    args = ap_.parse_args()
    if args.party:
        _party_main(args)
        return
    results: dict[str, Any] = {}
    for mode in args.modes.split(","):
        for engine in args.engines.split(","):
            runner = simulate if mode == "sim" else loopback
            figures = runner(engine, args.workloads.split(","), args.reps, args.n, args.mm)
            for workload, entry in figures.items():
                key = f"{engine}/{mode}/{workload}"
                results[key] = entry
                extra = "".join(f" {k}={v:.4g}" for k, v in entry.items()
                                if k in ("dealer_bytes_fraction", "accuracy", "accuracy_plain", "triples_per_second",
                                         "bytes_per_triple"))
                print(f"{key:<24} {entry['seconds']:9.4f} s {entry['bytes'] / 1e6:10.1f} MB "
                      f"{entry['rounds']:6d} rounds{extra}", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
