"""Bucketed PSI at scale between two processes: time per 10^6 keys, peak memory per party, disk used.

    python -m benchmarks.psi_scale --n 10000000 [--memory-mib 1024] [--buckets B] [--protocol rr22] [--json out.json]
    python -m benchmarks.psi_scale --quick          # 20,000 ids per party in 4 buckets, a smoke run
    python -m benchmarks.psi_scale --n 10000000 --skip-unbucketed   # only the bucketed run
    python -m benchmarks.psi_scale --n 1000000 --workers 2          # 2 buckets at once per party
    python -m benchmarks.psi_scale --n 1000000 --workers 2 --backend ray --skip-unbucketed  # on Ray

Each party holds ``n`` distinct string ids (half shared) in a Parquet file with one payload column,
written beforehand in chunks by this process. Two runs, each in fresh party processes over loopback
mTLS: ``bucketed`` (``accord.psi.join_files``: Parquet in, buckets spilled to the party's state
directory, Parquet out) and ``unbucketed`` (read the Parquet file with pandas, ``accord.psi.align``,
write Parquet). Time is measured inside each party from its first read to its last write; the figure
is the slower party's. ``--json`` writes ``{"psi_scale_<run>_<n>": {"seconds", "seconds_per_million",
"bytes", "rounds", "peak_rss_bytes", "peak_rss_bytes_per_party", "disk_bytes", "buckets", "intersection"}}``
(``disk_bytes``: the largest party's peak state on disk; 0 for the unbucketed run; ``buckets`` 1 there),
and ``"workers"`` (buckets run at once per party), ``"backend"`` and ``"seconds_per_bucket"`` (wall time
times workers over buckets: one worker's time per bucket) for the bucketed run. ``--backend ray`` runs
the buckets as Ray tasks on a local Ray instance per party (``ray_address="local"``, ``accord[ray]``;
its run is named ``bucketed_ray``); ``pool`` on each party's process pool (or in its own process
with one worker). Peak RSS is the party processes' own, not their workers'.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from benchmarks.common import human_bytes, memory, options, party_memory, run_processes, write_json

PARTIES = ["bank", "partner"]
CHUNK = 1_000_000


def write_ids(path: Path, start: int, n: int) -> None:
    """``n`` ids ``id<start>...`` and a float column, written a million rows at a time."""
    schema = pa.schema([("id", pa.string()), ("v", pa.float64())])
    with pq.ParquetWriter(path, schema) as writer:
        for lo in range(start, start + n, CHUNK):
            ids = np.char.add("id", np.arange(lo, min(lo + CHUNK, start + n)).astype("U12"))
            writer.write_table(pa.table({"id": pa.array(ids), "v": pa.array(np.ones(len(ids)))}, schema=schema))


def party_main(cluster: Any, me: str, args: dict[str, Any]) -> dict[str, Any]:
    import pandas as pd

    import accord

    start = time.perf_counter()
    if args["run"] == "bucketed":
        inputs = {p: args["inputs"][p] if p == me else None for p in PARTIES}
        outputs = {p: args["outputs"][p] if p == me else None for p in PARTIES}
        summary = accord.psi.join_files(cluster, inputs, outputs, "id", run="bench", protocol=args["protocol"],
                                        memory=args["memory"], buckets=args["buckets"],
                                        state_dir=args["state_dirs"][me], workers=args["workers"],
                                        ray_address="local" if args["backend"] == "ray" else None)[me].get()
        rows, disk, buckets = summary["rows"], summary["disk_bytes"], summary["buckets"]
    else:
        tables = {p: cluster.party(p).put(pd.read_parquet(args["inputs"][p])) if p == me
                  else cluster.party(p).remote_table() for p in PARTIES}
        out = dict(zip(PARTIES, accord.psi.align(tables["bank"], tables["partner"], on="id",
                                                 protocol=args["protocol"])))[me].get()
        out.to_parquet(args["outputs"][me])
        rows, disk, buckets = len(out), 0, 1
    seconds = time.perf_counter() - start
    costs = cluster.report().runs[-1].costs[me]
    return {"seconds": seconds, "rows": rows, "disk_bytes": disk, "buckets": buckets, "bytes_sent": costs.bytes_sent,
            "rounds": costs.rounds}


def main() -> None:
    parser = options(__doc__)
    parser.add_argument("--n", type=int, default=None, help="ids per party (default 10^7, quick 20000)")
    parser.add_argument("--memory-mib", type=int, default=1024, help="memory bound per bucket in MiB (default 1024)")
    parser.add_argument("--buckets", type=int, default=None, help="bucket count (default: from --memory-mib)")
    parser.add_argument("--protocol", choices=("rr22", "kkrt", "ecdh"), default="rr22", help="PSI (default rr22)")
    parser.add_argument("--workers", type=int, default=1, help="buckets run at once per party (default 1)")
    parser.add_argument("--backend", choices=("pool", "ray"), default="pool",
                        help="where buckets run: the party's process pool, or a local Ray instance per party")
    parser.add_argument("--skip-unbucketed", action="store_true", help="only the bucketed run")
    args = parser.parse_args()
    n = args.n or (20_000 if args.quick else 10_000_000)
    buckets = args.buckets or (4 if args.quick else None)
    figures: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="accord-psi-scale-") as tmp:
        root = Path(tmp)
        inputs = {p: root / f"{p}.parquet" for p in PARTIES}
        write_ids(inputs["bank"], 0, n)
        write_ids(inputs["partner"], n // 2, n)
        for run in ("bucketed",) if args.skip_unbucketed else ("bucketed", "unbucketed"):
            results = run_processes("benchmarks.psi_scale:party_main", PARTIES, {
                "run": run, "protocol": args.protocol, "workers": args.workers, "backend": args.backend,
                "memory": args.memory_mib << 20,
                "buckets": buckets,
                "inputs": {p: str(v) for p, v in inputs.items()},
                "outputs": {p: str(root / f"{p}-{run}.parquet") for p in PARTIES},
                "state_dirs": {p: str(root / f"state-{p}") for p in PARTIES}}, timeout=4 * 3600)
            for party, r in results.items():
                if r["rows"] != n - n // 2:
                    raise SystemExit(f"{run}: {party} got {r['rows']} rows, expected {n - n // 2}")
            seconds = max(r["seconds"] for r in results.values())
            disk = max(r["disk_bytes"] for r in results.values())
            name = f"{run}_ray" if run == "bucketed" and args.backend == "ray" else run
            per_bucket = seconds * args.workers / results["bank"]["buckets"]
            print(f"{name:>10}: {args.protocol.upper()} {n} x {n} in {results['bank']['buckets']} bucket(s): "
                  f"{seconds:.1f} s ({seconds / n * 1e6:.2f} s per 10^6 keys, {per_bucket:.1f} s per bucket), "
                  f"disk {human_bytes(disk)}; "
                  + memory({p: r["peak_rss_bytes"] for p, r in results.items()}))
            figures[f"psi_scale_{name}_{n}"] = {
                "seconds": seconds, "seconds_per_million": seconds / n * 1e6,
                "bytes": sum(r["bytes_sent"] for r in results.values()),
                "rounds": max(r["rounds"] for r in results.values()), **party_memory(results),
                "disk_bytes": disk, "buckets": results["bank"]["buckets"], "intersection": n - n // 2,
                **({"workers": args.workers, "backend": args.backend, "seconds_per_bucket": per_bucket}
                   if run == "bucketed" else {})}
    write_json(args.json, figures)


if __name__ == "__main__":
    main()
