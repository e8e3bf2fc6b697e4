"""PSI between two processes over loopback mTLS: seconds, bytes sent per party, rounds, peak memory.

    python -m benchmarks.psi --n 100000 [--protocol ecdh|kkrt|rr22] [--overlap 0.5] [--threads T] [--json out.json]
    python -m benchmarks.psi --quick                 # 2,000 ids per party, a smoke run

Each party holds ``n`` distinct string ids; ``overlap`` of them are shared; both receive the join
(``accord.psi.align``). Time is measured inside each process from the start of ``align`` to its end
(process start-up and the mTLS handshake excluded); the figure reported is the slower party's, with a
breakdown of the slower party's time by phase. ``--json`` writes ``{"psi_<protocol>_<n>": {"seconds",
"bytes", "rounds", "peak_rss_bytes", "bytes_per_party", "peak_rss_bytes_per_party", "intersection"}}``
(peak memory is each party's ``ru_maxrss``). Compare with SecretFlow's ECDH / KKRT / RR22 PSI run by
``../shared/anchors/bench_psi.py`` (beside this repository) on the same machine.
"""

from __future__ import annotations

import time
from typing import Any

import pandas as pd

from benchmarks.common import human_bytes, memory, options, party_memory, run_processes, write_json


def party_main(cluster: Any, me: str, args: dict[str, Any]) -> dict[str, Any]:
    import accord

    n, shared = args["n"], int(args["n"] * args["overlap"])
    start_id = 0 if me == "bank" else n - shared
    table = pd.DataFrame({"id": [f"id{i:010d}" for i in range(start_id, start_id + n)]})
    tables = {p: cluster.party(p).put(table) if p == me else cluster.party(p).remote_table()
              for p in ("bank", "partner")}
    options = {"threads": args["threads"]} if args["protocol"] == "ecdh" else {}
    start = time.perf_counter()
    out = dict(zip(("bank", "partner"), accord.psi.align(tables["bank"], tables["partner"], on="id",
                                                         protocol=args["protocol"], **options)))[me]
    seconds = time.perf_counter() - start
    run = cluster.report().runs[-1]
    costs = run.costs[me]
    phases = {op: round(c[me].seconds, 3) for op, c in run.ops.items() if me in c and c[me].seconds}
    return {"seconds": seconds, "rows": len(out.get()), "bytes_sent": costs.bytes_sent,
            "bytes_received": costs.bytes_received, "rounds": costs.rounds, "phases": phases}


def main() -> None:
    parser = options(__doc__)
    parser.add_argument("--n", type=int, default=None, help="distinct ids per party (default 100000, quick 2000)")
    parser.add_argument("--overlap", type=float, default=0.5, help="fraction of ids both hold")
    parser.add_argument("--protocol", choices=("ecdh", "kkrt", "rr22"), default="ecdh",
                        help="PSI protocol (default ecdh)")
    parser.add_argument("--threads", type=int, default=None, help="ECDH curve threads per party (default: all cores)")
    args = parser.parse_args()
    args.n = args.n or (2000 if args.quick else 100_000)
    if args.protocol != "ecdh" and args.threads is not None:
        parser.error(f"--threads sets ECDH's curve threads; {args.protocol} does not use it")
    results = run_processes("benchmarks.psi:party_main", ["bank", "partner"],
                            {"n": args.n, "overlap": args.overlap, "threads": args.threads,
                             "protocol": args.protocol})
    expected = int(args.n * args.overlap)
    for party, r in results.items():
        if r["rows"] != expected:
            raise SystemExit(f"{party} got {r['rows']} rows, expected {expected}")
        print(f"{party:>8}: {r['seconds']:.2f} s, sent {human_bytes(r['bytes_sent'])}, {r['rounds']} rounds; "
              f"phases {r['phases']}")
    print(memory({p: r["peak_rss_bytes"] for p, r in results.items()}))
    seconds = max(r["seconds"] for r in results.values())
    print(f"{args.protocol.upper()} PSI {args.n} x {args.n} ({expected} shared), two processes over loopback mTLS: "
          f"{seconds:.2f} s")
    write_json(args.json, {f"psi_{args.protocol}_{args.n}": {
        "seconds": seconds, "bytes": sum(r["bytes_sent"] for r in results.values()),
        "rounds": max(r["rounds"] for r in results.values()),
        "bytes_per_party": {p: r["bytes_sent"] for p, r in results.items()},
        **party_memory(results), "intersection": expected}})


if __name__ == "__main__":
    main()
