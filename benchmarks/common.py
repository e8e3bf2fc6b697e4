"""Shared plumbing for benchmarks: run one function per party as separate processes over loopback mTLS.

A benchmark script calls :func:`run_processes` with a ``module:function`` target; each party process
connects with :meth:`accord.Cluster.connect` and calls ``fn(cluster, me, args)``, which returns a JSON
object of figures. Results are printed as a table and, with ``--json FILE``, written as
``{"<workload>": {"seconds": s, "bytes": b, "rounds": r, ...}}``.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
PREFIX = "BENCH-RESULT:"


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def run_processes(target: str, parties: list[str], args: dict[str, Any], timeout: float = 3600,
                  settings: dict[str, Any] | None = None) -> dict[str, Any]:
    """Run ``target`` once per party as separate processes; return each party's result object.

    ``settings`` are added to the cluster file (e.g. ``max_message`` for a benchmark of huge messages).
    """
    from accord.net.tls import write_party_certificate

    with tempfile.TemporaryDirectory(prefix="accord-bench-") as tmp:
        entries = {}
        for party, port in zip(parties, _free_ports(len(parties))):
            key, cert = write_party_certificate(party, Path(tmp) / "certs")
            entries[party] = {"address": f"127.0.0.1:{port}", "cert": str(cert), "key": str(key)}
        cluster = Path(tmp) / "cluster.yaml"
        cluster.write_text(yaml.safe_dump({"parties": entries, "timeout": 600, "connect_timeout": 30,
                                           **(settings or {})}))
        env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
        env.setdefault("GRPC_VERBOSITY", "NONE")  # as the accord command does: no gRPC-internal log lines
        procs = {p: subprocess.Popen([sys.executable, "-m", "benchmarks.common", str(cluster), p, target,
                                      json.dumps(args)], stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT)
                 for p in parties}
        results = {}
        deadline = time.monotonic() + timeout
        for party, proc in procs.items():
            out, _ = proc.communicate(timeout=max(1.0, deadline - time.monotonic()))
            if proc.returncode != 0:
                raise SystemExit(f"party {party} failed with exit code {proc.returncode}")
            results[party] = next(json.loads(line[len(PREFIX):]) for line in out.splitlines()
                                  if line.startswith(PREFIX))
        return results


def write_json(path: str | None, figures: dict[str, dict[str, Any]]) -> None:
    """Write the figures as JSON if ``--json`` was given."""
    if path:
        Path(path).write_text(json.dumps(figures, indent=2))
        print(f"figures written to {path}")


def human_bytes(n: float) -> str:
    """Bytes in MiB with two decimals."""
    return f"{n / 2**20:.2f} MiB"


def _worker() -> int:
    import importlib

    import accord

    cluster_path, party, target, raw = sys.argv[1:5]
    module, name = target.split(":")
    fn = getattr(importlib.import_module(module), name)
    with accord.Cluster.connect(cluster_path, me=party, job="bench") as cluster:
        result = fn(cluster, party, json.loads(raw))
    print(PREFIX + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(_worker())
