"""Shared plumbing for benchmarks: options, party processes over loopback mTLS, figures and peak memory.

Every benchmark runs as a module from the repository root (``python -m benchmarks.psi``) and takes
``--quick`` (a smoke size that finishes in seconds; tests/e2e/test_benchmarks.py runs every benchmark
so) and ``--json FILE``, which writes ``{"<workload>": {"seconds": s, "bytes": b, "rounds": r,
"peak_rss_bytes": m, ...}}``; each benchmark's docstring lists its workloads and extra keys. Peak
memory is ``ru_maxrss``: for runs over loopback, the largest party process's, with every party's in
``peak_rss_bytes_per_party``; in simulation, the whole process's (every party together).

Multi-process runs use accord's launcher (:mod:`accord.runtime.launcher`): :func:`run_processes` starts
one process per party running a ``module:function`` target, ``fn(cluster, me, args)``, which returns a
JSON object of figures.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from accord.runtime import Context, allocator, protocol
from accord.runtime.launcher import peak_rss_bytes, run_parties

ROOT = Path(__file__).resolve().parent.parent

__all__ = ["ROOT", "human_bytes", "memory", "options", "party_memory", "peak_rss_bytes", "run_processes",
           "write_json"]


def options(doc: str) -> argparse.ArgumentParser:
    """An argument parser with ``--quick`` and ``--json``; also applies accord's allocator settings.

    A benchmark's process is accord's own, so the settings go in before any work starts threads
    (see :mod:`accord.runtime.allocator`).
    """
    allocator.tune()
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smoke-test sizes that run in seconds")
    parser.add_argument("--json", default=None, help="write the figures to this file")
    return parser


def run_processes(target: str, parties: list[str], args: dict[str, Any], timeout: float = 3600,
                  settings: dict[str, Any] | None = None) -> dict[str, Any]:
    """Run ``target`` once per party as separate processes; each party's result gains ``peak_rss_bytes``.

    ``settings`` are added to the cluster file (e.g. ``max_message`` for a benchmark of huge messages).
    """
    with tempfile.TemporaryDirectory(prefix="accord-bench-") as tmp:
        runs = run_parties(Path(tmp), target, parties, args, timeout=timeout, job="bench", pythonpath=[ROOT], cwd=ROOT,
                           cluster_settings={"timeout": 600, "connect_timeout": 30, **(settings or {})})
    failed = {p: r for p, r in runs.items() if r.returncode != 0}
    if failed:
        raise SystemExit("\n".join(f"party {p} failed with exit code {r.returncode}: {r.result or ''}\n"
                                   f"{r.stderr[-3000:]}" for p, r in failed.items()))
    return {p: {**r.result, "peak_rss_bytes": r.peak_rss_bytes} for p, r in runs.items()}


@protocol("bench.barrier", threat_model="none: a timing barrier", leakage="nothing")
def _barrier(ctx: Context) -> None:
    ctx.exchange(None, "ready", timeout=14_400)


def barrier(cluster: Any) -> None:
    """Wait until every party reaches this point (so that a timer starts together at all parties)."""
    cluster.run(_barrier, {p: () for p in cluster.names})


def write_json(path: str | None, figures: dict[str, dict[str, Any]]) -> None:
    """Write the figures as JSON if ``--json`` was given."""
    if path:
        Path(path).write_text(json.dumps(figures, indent=1))
        print(f"figures written to {path}")


def human_bytes(n: float) -> str:
    """Bytes in MiB with two decimals."""
    return f"{n / 2**20:.2f} MiB"


def memory(peaks: Mapping[str, int | None]) -> str:
    """``peak memory: bank 310 MiB, partner 295 MiB`` for a map of names to peak resident bytes."""
    return "peak memory: " + ", ".join(f"{name} {(peak or 0) / 2**20:.0f} MiB" for name, peak in peaks.items())


def party_memory(results: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """``peak_rss_bytes`` (the largest party's) and ``peak_rss_bytes_per_party`` from :func:`run_processes` results."""
    per_party = {party: r["peak_rss_bytes"] for party, r in results.items()}
    return {"peak_rss_bytes": max(per_party.values()), "peak_rss_bytes_per_party": per_party}
