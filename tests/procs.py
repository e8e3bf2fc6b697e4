"""Run a driver function as separate OS processes, one per party, over loopback gRPC with mutual TLS.

``run_parties(tmp_path, "tests.integration.drivers:psi_driver", ["bank", "partner"], args)`` writes
fresh certificates and a cluster file with free loopback ports, starts one ``python -m tests.procs``
process per party, and returns each party's :class:`PartyRun` (exit code, decoded result, stderr).
The target is ``fn(cluster, me, args) -> JSON-serialisable``; it runs inside
``Cluster.connect(cluster.yaml, me=me)``.
"""

from __future__ import annotations

import importlib
import json
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
RESULT_PREFIX = "ACCORD-RESULT:"


@dataclass
class PartyRun:
    party: str
    returncode: int
    result: Any
    stdout: str
    stderr: str


def free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def write_cluster(directory: Path, parties: list[str], **settings: Any) -> Path:
    from accord.net.tls import write_party_certificate

    ports = free_ports(len(parties))
    entries = {}
    for party, port in zip(parties, ports):
        key, cert = write_party_certificate(party, directory / "certs")
        entries[party] = {"address": f"127.0.0.1:{port}", "cert": str(cert), "key": str(key)}
    path = directory / "cluster.yaml"
    path.write_text(yaml.safe_dump({"parties": entries, **settings}))
    return path


def start_party(cluster: Path, party: str, target: str, args: dict[str, Any]) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.setdefault("GRPC_VERBOSITY", "NONE")  # as the accord command does: accord reports gRPC's failures itself
    return subprocess.Popen(
        [sys.executable, "-m", "tests.procs", str(cluster), party, target, json.dumps(args)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=str(ROOT),
    )


def collect(party: str, proc: subprocess.Popen[str], timeout: float) -> PartyRun:
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        err += f"\n[test harness] party {party} killed after {timeout} s"
    result = None
    for line in out.splitlines():
        if line.startswith(RESULT_PREFIX):
            result = json.loads(line[len(RESULT_PREFIX):])
    return PartyRun(party, proc.returncode, result, out, err)


def run_parties(tmp_path: Path, target: str, parties: list[str], args: dict[str, Any] | None = None,
                timeout: float = 240.0, **settings: Any) -> dict[str, PartyRun]:
    cluster = write_cluster(tmp_path, parties, **settings)
    procs = {p: start_party(cluster, p, target, dict(args or {})) for p in parties}
    deadline = time.monotonic() + timeout
    return {p: collect(p, proc, max(1.0, deadline - time.monotonic())) for p, proc in procs.items()}


def _main() -> int:
    cluster_path, party, target, raw_args = sys.argv[1:5]
    module_name, fn_name = target.split(":")
    fn = getattr(importlib.import_module(module_name), fn_name)
    args = json.loads(raw_args)

    import accord
    from accord.errors import AccordError

    try:
        with accord.Cluster.connect(cluster_path, me=party, job=args.get("job", "test"),
                                    timeout=args.get("timeout")) as cluster:
            result = fn(cluster, party, args)
    except AccordError as exc:
        print(f"{RESULT_PREFIX}{json.dumps({'error': type(exc).__name__, 'message': str(exc)})}", flush=True)
        return exc.exit_code
    print(f"{RESULT_PREFIX}{json.dumps(result)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(_main())
