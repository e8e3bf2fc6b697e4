"""Correlations per second and bytes per correlation: silent VOLE and OT beside IKNP, two processes over mTLS.

    python -m benchmarks.correlations [--n 1000000] [--quick] [--json out.json]

Each party runs the setup (base OTs) untimed, then one timed call per kind for ``n`` correlations:

* ``silent-vole``: VOLE over GF(2^128) (:mod:`accord.correlations.silent`, ``field_noise=True``), base
  VOLEs bootstrapped from silent OT; ``silent-vole-iknp``: the same with base VOLEs from IKNP (as RR22);
* ``silent-cot``: correlated OT with 128-bit messages (``field_noise=False``);
* ``iknp-cot``: correlated OT straight from IKNP extension (:mod:`accord.correlations.ot`), the baseline.

Time is the slower party's; bytes are both parties' sent bytes over ``n``; peak memory is each party
process's maximum resident set size (``ru_maxrss``, the whole process, Python and numpy included).
``--json`` writes ``{"<kind>_<n>": {"seconds", "bytes", "rounds", "per_second", "bytes_per_correlation",
"peak_rss_bytes", "peak_rss_bytes_per_party"}}``.
"""

from __future__ import annotations

import time
from typing import Any

from benchmarks.common import memory, options, party_memory, peak_rss_bytes, run_processes, write_json

KINDS = ("silent-vole", "silent-vole-iknp", "silent-cot", "iknp-cot")


def _protocols() -> dict[str, Any]:
    import numpy as np

    from accord.correlations import VOLEReceiver, VOLESender
    from accord.correlations.ot import ExtensionReceiver, ExtensionSender
    from accord.runtime import protocol

    @protocol("bench.silent", threat_model="benchmark", leakage="benchmark: correlations stay local")
    def silent(ctx: Any, n: int, field_noise: bool, bootstrap: bool = True) -> float:
        if ctx.me == "bank":
            sender = VOLESender.setup(ctx, "partner")
            start = time.perf_counter()
            sender.extend(ctx, n, field_noise, bootstrap)
        else:
            receiver = VOLEReceiver.setup(ctx, "bank")
            start = time.perf_counter()
            receiver.extend(ctx, n, field_noise, bootstrap)
        return time.perf_counter() - start

    @protocol("bench.iknp", threat_model="benchmark", leakage="benchmark: correlations stay local")
    def iknp(ctx: Any, n: int, *_: bool) -> float:
        if ctx.me == "bank":
            sender = ExtensionSender.setup(ctx, "partner")
            start = time.perf_counter()
            sender.extend(ctx, n)
        else:
            receiver = ExtensionReceiver.setup(ctx, "bank")
            choices = ctx.rng.uint8(n) & np.uint8(1)
            start = time.perf_counter()
            receiver.extend(ctx, choices)
        return time.perf_counter() - start

    return {"silent-vole": (silent, (True, True)), "silent-vole-iknp": (silent, (True, False)),
            "silent-cot": (silent, (False, True)), "iknp-cot": (iknp, ())}


def party_main(cluster: Any, me: str, args: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for kind in args["kinds"]:
        fn, options = _protocols()[kind]
        result = cluster.run(fn, {p: (args["n"], *options) for p in ("bank", "partner")})[me]
        seconds = result.get()
        costs = cluster.report().runs[-1].costs[me]
        out[kind] = {"seconds": seconds, "bytes_sent": costs.bytes_sent, "rounds": costs.rounds,
                     "peak_rss_bytes": peak_rss_bytes()}
    return out


def main() -> None:
    parser = options(__doc__)  # --quick: 1e5 correlations, for a smoke run
    parser.add_argument("--n", type=int, default=None, help="correlations per call (default 1e6; 1e5 with --quick)")
    parser.add_argument("--kinds", default=",".join(KINDS), help=f"comma-separated subset of {KINDS}")
    args = parser.parse_args()
    n = args.n or (100_000 if args.quick else 1_000_000)
    kinds = [k for k in args.kinds.split(",") if k]
    unknown = set(kinds) - set(KINDS)
    if unknown:
        parser.error(f"unknown kinds {sorted(unknown)}")
    results = run_processes("benchmarks.correlations:party_main", ["bank", "partner"], {"n": n, "kinds": kinds})
    figures = {}
    print(f"{n} correlations per call, two processes over loopback mTLS (setup excluded)")
    print(f"{'kind':>16} {'seconds':>8} {'corr/s':>12} {'bytes/corr':>11} {'peak bank':>10} {'peak partner':>12}")
    for kind in kinds:
        seconds = max(results[p][kind]["seconds"] for p in results)
        nbytes = sum(results[p][kind]["bytes_sent"] for p in results)
        peaks = party_memory({p: results[p][kind] for p in results})
        per_party = peaks["peak_rss_bytes_per_party"]
        print(f"{kind:>16} {seconds:8.3f} {n / seconds:12,.0f} {nbytes / n:11.2f} "
              f"{per_party['bank'] / 2**20:9.0f}M {per_party['partner'] / 2**20:11.0f}M")
        figures[f"{kind}_{n}"] = {"seconds": seconds, "bytes": nbytes,
                                  "rounds": max(results[p][kind]["rounds"] for p in results), "per_second": n / seconds,
                                  "bytes_per_correlation": nbytes / n, **peaks}
    print("peak = the process's maximum resident set so far (it only grows, so later rows include earlier ones); "
          + memory({p: r["peak_rss_bytes"] for p, r in results.items()}))
    write_json(args.json, figures)


if __name__ == "__main__":
    main()
