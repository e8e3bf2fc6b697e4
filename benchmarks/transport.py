"""The gRPC/mTLS link between two processes: throughput of one huge message, latency of small ones.

    python -m benchmarks.transport --gib 3 [--pings 1000] [--json out.json]
    python -m benchmarks.transport --quick           # 16 MiB and 50 pings, a smoke run

Sends one ``--gib`` GiB numpy array from bank to partner (streamed in 4 MiB frames, so gRPC's frame
limit does not apply), checks it arrived intact, then measures ping-pong round trips of small messages.
A message above the default limit of 2 GiB needs the receiver's consent: the cluster file this
benchmark writes raises ``max_message`` and ``max_buffered`` to fit it.
``--json`` writes ``{"bulk_<gib>gib": {...}, "ping_pong": {...}}``, each with ``seconds`` (ping_pong:
per round trip), ``bytes``, ``rounds``, ``peak_rss_bytes`` and ``peak_rss_bytes_per_party``; the bulk
entry adds ``mib_per_s``.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from accord.runtime import Context, protocol
from benchmarks.common import memory, options, party_memory, run_processes, write_json


@protocol("bench.bulk", threat_model="benchmark", leakage="the array goes to the peer")
def bulk(ctx: Context, nbytes: int) -> dict[str, Any]:
    if ctx.me == "bank":
        data = np.arange(nbytes // 8, dtype=np.uint64)
        start = time.perf_counter()
        ctx.send("partner", data, "bulk")
        ok = ctx.recv("partner", "ack", timeout=3600)
        return {"seconds": time.perf_counter() - start, "ok": ok}
    start = time.perf_counter()
    data = ctx.recv("bank", "bulk", timeout=3600)
    intact = bool(data.shape == (nbytes // 8,) and data[0] == 0 and int(data[-1]) == nbytes // 8 - 1
                  and int(data[:: 1 << 20].sum()) == int(np.arange(0, nbytes // 8, 1 << 20).sum()))
    ctx.send("bank", intact, "ack")
    return {"seconds": time.perf_counter() - start, "ok": intact}


@protocol("bench.ping", threat_model="benchmark", leakage="none")
def ping(ctx: Context, count: int) -> dict[str, Any]:
    peer = ctx.peers[0]
    start = time.perf_counter()
    for i in range(count):
        if ctx.me == "bank":
            ctx.send(peer, i, "ping")
            ctx.recv(peer, "pong")
        else:
            ctx.send(peer, ctx.recv(peer, "ping"), "pong")
    return {"seconds": time.perf_counter() - start}


def party_main(cluster: Any, me: str, args: dict[str, Any]) -> dict[str, Any]:
    nbytes = int(args["gib"] * (1 << 30)) // 8 * 8
    result = cluster.run(bulk, {"bank": (nbytes,), "partner": (nbytes,)})[me].get()
    pings = cluster.run(ping, {"bank": (args["pings"],), "partner": (args["pings"],)})[me].get()
    costs = cluster.report().runs[0].costs[me]
    return {"bulk_seconds": result["seconds"], "ok": result["ok"], "bytes_sent": costs.bytes_sent,
            "ping_seconds": pings["seconds"]}


def main() -> None:
    parser = options(__doc__)
    parser.add_argument("--gib", type=float, default=None, help="size of the single message in GiB (default 3)")
    parser.add_argument("--pings", type=int, default=None, help="ping-pong round trips (default 1000)")
    args = parser.parse_args()
    args.gib = args.gib or (1 / 64 if args.quick else 3.0)
    args.pings = args.pings or (50 if args.quick else 1000)
    fits = int(args.gib * (1 << 30)) + (1 << 20)  # the array plus its codec header, with room to spare
    results = run_processes("benchmarks.transport:party_main", ["bank", "partner"],
                            {"gib": args.gib, "pings": args.pings},
                            settings={"max_message": max(fits, 2 << 30), "max_buffered": max(fits, 4 << 30)})
    bank, partner = results["bank"], results["partner"]
    if not (bank["ok"] and partner["ok"]):
        raise SystemExit("the array did not arrive intact")
    nbytes = bank["bytes_sent"]
    seconds = bank["bulk_seconds"]
    rtt = partner["ping_seconds"] / args.pings
    print(f"one {nbytes / 2**30:.2f} GiB message over loopback mTLS: {seconds:.1f} s "
          f"({nbytes / seconds / 2**20:.0f} MiB/s), arrived intact")
    print(f"small-message round trip: {rtt * 1e3:.2f} ms ({args.pings} ping-pongs)")
    print(memory({p: r["peak_rss_bytes"] for p, r in results.items()}))
    write_json(args.json, {
        f"bulk_{args.gib:g}gib": {"seconds": seconds, "bytes": nbytes, "rounds": 1,
                                  "mib_per_s": nbytes / seconds / 2**20, **party_memory(results)},
        "ping_pong": {"seconds": rtt, "bytes": 2 * args.pings * 12, "rounds": 2 * args.pings, **party_memory(results)},
    })


if __name__ == "__main__":
    main()
