"""The node: approvals per second, audit-log appends and verifications per second, console latency.

    python -m benchmarks.node [--quick] [--json out.json]

Approvals: a job proposed and approved at one node (plan, policy check, signed approval, audit
entries; SQLite). Audit log: signed appends, one transaction each, then a full verification (chain
and every ECDSA P-256 signature) of a log of 10^5 entries (10^4 with ``--quick``). Console: `accord
node serve` as its own process over TLS on loopback; 50 logged-in sessions (10 with ``--quick``) each
load the home, job and audit pages a bounded number of times at once; latency percentiles per page.

JSON workloads (each with ``seconds``, ``bytes``, ``rounds`` and ``peak_rss_bytes``, see
benchmarks/common.py): ``approvals`` (``per_second``), ``audit`` (``appends_per_second``, ``entries``,
``verify_seconds``, ``verifications_per_second``) and ``console`` (``sessions``, ``requests``,
``errors``, ``requests_per_second``, and ``p50_ms``/``p95_ms``/``max_ms`` per page). Approvals and
the audit log run in this process without network traffic (``bytes`` and ``rounds`` are 0); the
console's ``bytes`` are the pages served, its ``rounds`` the requests, and its peak memory the node
process's.
"""

from __future__ import annotations

import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from benchmarks.common import memory, options, peak_rss_bytes, write_json


def _deployment(root: Path) -> Any:
    from tests.node_setup import deploy

    return deploy(root)


def approvals(node: Any, count: int) -> dict[str, float]:
    """Jobs proposed and approved per second at one node."""
    from tests.node_setup import job_text

    texts = [job_text(features=True).replace("seed: 1", f"seed: {i + 100}") for i in range(count)]
    start = time.perf_counter()
    for text in texts:
        job = node.propose(text, "bench")
        node.decide(job.digest, "bench", approve=True)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "bytes": 0, "rounds": 0, "per_second": count / seconds}


def audit_rates(node: Any, appends: int, total: int) -> dict[str, float]:
    """Signed appends per second (a transaction each), then a full verification of ``total`` entries."""
    store = node.store
    start = time.perf_counter()
    for i in range(appends):
        with store.write() as conn:
            store.audit(conn, "bench", n=i)
    append_rate = appends / (time.perf_counter() - start)
    with store.write() as conn:  # fill the rest in large transactions
        for i in range(total - len(store.audit_entries())):
            store.audit(conn, "bench", n=i)
    start = time.perf_counter()
    entries = store.verify_audit()
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "bytes": 0, "rounds": 0, "appends_per_second": append_rate, "entries": len(entries),
            "verify_seconds": seconds, "verifications_per_second": len(entries) / seconds}


def console_latency(deployment: Any, sessions: int, rounds: int) -> dict[str, Any]:
    """Page latencies with ``sessions`` operators loading pages at once (loopback only, bounded)."""
    from tests.node_setup import Console, job_text, start_node, stop_node

    url = deployment.urls["bank"]
    proc = start_node(deployment.configs["bank"], url, deployment.root / "bank-bench.log")
    try:
        first = Console(url, "bank-op")
        _, _, where = first.post("/jobs", {"text": job_text(features=True)})
        pages = {"home": "/", "job": where.removeprefix(url), "audit": "/audit"}
        consoles = [first, *(Console(url, "bank-op") for _ in range(sessions - 1))]
        times: dict[str, list[float]] = {name: [] for name in pages}
        errors: list[str] = []
        served = [0]
        lock = threading.Lock()

        def browse(console: Any) -> None:
            for _ in range(rounds):
                for name, path in pages.items():
                    start = time.perf_counter()
                    status, page, _ = console.get(path)
                    elapsed = time.perf_counter() - start
                    with lock:
                        served[0] += len(page.encode())
                        (times[name] if status == 200 else errors).append(elapsed if status == 200 else str(status))

        threads = [threading.Thread(target=browse, args=(c,)) for c in consoles]
        start = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join(300)
        wall = time.perf_counter() - start
        peak = _peak_of(proc.pid)
    finally:
        stop_node(proc)
    requests = sum(map(len, times.values()))
    out: dict[str, Any] = {"seconds": wall, "bytes": served[0], "rounds": requests + len(errors),
                           "peak_rss_bytes": peak, "sessions": sessions, "requests": requests, "errors": len(errors),
                           "requests_per_second": requests / wall}
    for name, values in times.items():
        ordered = sorted(values)
        out[name] = {"p50_ms": 1000 * statistics.median(ordered), "p95_ms": 1000 * ordered[int(0.95 * len(ordered))],
                     "max_ms": 1000 * ordered[-1]}
    return out


def _peak_of(pid: int) -> int:
    """A live process's peak resident memory (Linux ``VmHWM``; 0 where /proc is missing)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    return next((int(line.split()[1]) * 1024 for line in status.splitlines() if line.startswith("VmHWM:")), 0)


def main() -> None:
    args = options(__doc__).parse_args()
    from accord.node.config import load_node_config
    from accord.node.service import Node

    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="accord-bench-node-") as tmp:
        deployment = _deployment(Path(tmp))
        node = Node(load_node_config(deployment.configs["partner"]))
        figures["approvals"] = approvals(node, 20 if args.quick else 100)
        print(f"approvals (propose, check policies, sign, audit): {figures['approvals']['per_second']:.1f} per second")
        audit = audit_rates(node, 200 if args.quick else 2000, 10_000 if args.quick else 100_000)
        print(f"audit log: {audit['appends_per_second']:.0f} signed appends per second (one transaction each); "
              f"{audit['entries']:,} entries verified in {audit['verify_seconds']:.1f} s "
              f"({audit['verifications_per_second']:,.0f} per second)")
        figures["audit"] = audit
        node.store.close()
        figures["approvals"]["peak_rss_bytes"] = figures["audit"]["peak_rss_bytes"] = peak_rss_bytes()
        console = console_latency(deployment, 10 if args.quick else 50, 3 if args.quick else 5)
        print(f"console, {console['sessions']} sessions at once: {console['requests']} pages, "
              f"{console['requests_per_second']:.0f} per second, {console['errors']} errors")
        for name in ("home", "job", "audit"):
            page = console[name]
            print(f"  {name:>5}: p50 {page['p50_ms']:.0f} ms, p95 {page['p95_ms']:.0f} ms, max {page['max_ms']:.0f} ms")
        figures["console"] = console
    print(memory({"benchmark process": figures["audit"]["peak_rss_bytes"], "node": console["peak_rss_bytes"]}))
    write_json(args.json, figures)


if __name__ == "__main__":
    main()
