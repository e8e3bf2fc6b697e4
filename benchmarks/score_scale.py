"""Scoring at scale between two processes: rows per second and peak memory per party, batched and not.

    python -m benchmarks.score_scale --n 1000000 [--memory-mib 1024] [--batch-rows R] [--json out.json]
    python -m benchmarks.score_scale --quick        # 20,000 rows per party in batches of 5,000, a smoke run
    python -m benchmarks.score_scale --n 10000000 --skip-unbatched   # only the batched run
    python -m benchmarks.score_scale --model secureboost            # one model only

A job of the credit-risk example (SecureBoost, 5 trees of depth 3, and secure LR with OT) is trained
once in simulation on 2,200 rows; its saved models then score ``n`` new rows per party (90% of the
ids shared; the bank holds the PAY_* and BILL_AMT* columns, the partner the other features), written
beforehand as Parquet in chunks by tiling the training rows under new ids. Two runs, each in fresh
party processes over loopback mTLS: ``batched`` (``accord score --memory``:
:func:`accord.pipeline.streaming.score_streamed`, bucketed PSI then batch by batch) and ``unbatched``
(:func:`accord.pipeline.score_job`: the whole table in memory). Time is measured inside each party
from reading its input to the scores file being in place; the figure is the slower party's.
``--json`` writes ``{"score_scale_<run>_<n>": {"seconds", "rows_per_second", "bytes", "rounds",
"peak_rss_bytes", "peak_rss_bytes_per_party", "scored", "batch_rows"}}`` (``batch_rows``: 0 unbatched).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from accord.pipeline.streaming import batch_rows
from benchmarks.common import memory, options, party_memory, run_processes, write_json

PARTIES = ["bank", "partner"]
CHUNK = 1_000_000
JOB = {
    "job": "score-scale",
    "parties": {"bank": {"input": "bank.csv", "key": "id", "label": "default", "output": "out/bank"},
                "partner": {"input": "partner.csv", "key": "id", "output": "out/partner"}},
    "split": {"test_fraction": 0.2, "seed": 1},
    "models": [{"secureboost": {"n_trees": 5, "max_depth": 3, "allow_insecure_key_size": True, "workers": 1}},
               {"logistic_regression": {"epochs": 2, "batch_size": 256, "mpc": {"mode": "ot"}}}],
    "evaluate": {"plots": False},
    "score": {"bank": {"input": "bank_new.parquet", "output": "out/bank/scores.parquet"},
              "partner": {"input": "partner_new.parquet"}},
    "security": {"key_bits": 1024},  # training only: scoring uses no Paillier key
}


def train(root: Path) -> Path:
    """The job file, trained in simulation (its models in ``out/<party>/models``)."""
    from examples.make_credit_data import generate

    import accord
    from accord.pipeline import load_job, train_job

    bank, partner = generate(n_shared=2000, n_extra=100, seed=5)
    bank.to_csv(root / "bank.csv", index=False)
    partner.to_csv(root / "partner.csv", index=False)
    job = root / "job.yaml"
    job.write_text(yaml.safe_dump(JOB))
    spec = load_job(job)
    with accord.Cluster.simulate(spec.participants, job=spec.name) as cluster:
        train_job(cluster, spec)
    return job


def write_rows(template: Path, path: Path, start: int, n: int) -> None:
    """``n`` rows with ids ``S<start>...``: the training rows' features, tiled, in chunks of a million."""
    import pandas as pd

    rows = pd.read_csv(template).drop(columns=["id", "default"], errors="ignore")
    table = pa.Table.from_pandas(rows, preserve_index=False)
    schema = pa.schema([("id", pa.string()), *zip(table.column_names, table.schema.types)])
    with pq.ParquetWriter(path, schema) as writer:
        for lo in range(start, start + n, CHUNK):
            index = np.arange(lo, min(lo + CHUNK, start + n))
            ids = pa.array(np.char.add("S", index.astype("U12")))
            writer.write_table(pa.Table.from_arrays([ids, *table.take(index % len(rows)).columns], schema=schema))


def party_main(cluster: Any, me: str, args: dict[str, Any]) -> dict[str, Any]:
    from accord.pipeline import load_job, score_job
    from accord.pipeline.job import LocalSettings
    from accord.pipeline.streaming import score_streamed

    spec = load_job(args["job"], me=me, local=LocalSettings(state_dir=Path(args["state_dirs"][me])))
    start = time.perf_counter()
    if args["run"] == "batched":
        scored = score_streamed(cluster, spec, args["models"], args["memory"], batch=args["batch"])
    else:
        scored = score_job(cluster, spec, args["models"])
    seconds = time.perf_counter() - start
    sent = sum(run.costs[me].bytes_sent for run in cluster.report().runs if me in run.costs)
    rounds = sum(run.costs[me].rounds for run in cluster.report().runs if me in run.costs)
    return {"seconds": seconds, "scored": scored, "bytes_sent": sent, "rounds": rounds}


def main() -> None:
    parser = options(__doc__)
    parser.add_argument("--n", type=int, default=None, help="new rows per party (default 10^6, quick 20000)")
    parser.add_argument("--memory-mib", type=int, default=1024, help="memory bound per party in MiB (default 1024)")
    parser.add_argument("--batch-rows", type=int, default=None, help="rows per batch (default: from --memory-mib)")
    parser.add_argument("--model", action="append", default=None, choices=("secureboost", "logistic_regression"),
                        help="score with this model only (repeat for both; default both)")
    parser.add_argument("--skip-unbatched", action="store_true", help="only the batched run")
    args = parser.parse_args()
    n = args.n or (20_000 if args.quick else 1_000_000)
    batch = args.batch_rows or (5_000 if args.quick else None)
    shared = n - n // 10
    figures: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="accord-score-scale-") as tmp:
        root = Path(tmp)
        job = train(root)
        write_rows(root / "bank.csv", root / "bank_new.parquet", 0, n)
        write_rows(root / "partner.csv", root / "partner_new.parquet", n - shared, n)
        for run in ("batched",) if args.skip_unbatched else ("batched", "unbatched"):
            results = run_processes("benchmarks.score_scale:party_main", PARTIES, {
                "run": run, "job": str(job), "models": args.model, "memory": args.memory_mib << 20, "batch": batch,
                "state_dirs": {p: str(root / f"state-{p}") for p in PARTIES}}, timeout=4 * 3600)
            if results["bank"]["scored"] != shared:
                raise SystemExit(f"{run}: the bank scored {results['bank']['scored']} rows, expected {shared}")
            seconds = max(r["seconds"] for r in results.values())
            rows = (batch or batch_rows(args.memory_mib << 20)) if run == "batched" else 0
            models = ", ".join(args.model or ["both models"])
            models = ", ".join(args.model or ["both models"])
            print(f"{run:>10}: scored {shared} of {n} rows ({models}) in {seconds:.1f} s ({shared / seconds:,.0f} "
                  f"rows/s, batches of {rows or shared} rows); "
                  + memory({p: r["peak_rss_bytes"] for p, r in results.items()}))
            figures[f"score_scale_{run}_{n}"] = {
                "seconds": seconds, "rows_per_second": shared / seconds,
                "bytes": sum(r["bytes_sent"] for r in results.values()),
                "rounds": max(r["rounds"] for r in results.values()), **party_memory(results),
                "scored": shared, "batch_rows": rows}
    write_json(args.json, figures)


if __name__ == "__main__":
    main()
