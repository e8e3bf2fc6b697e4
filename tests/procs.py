"""The tests' view of accord's local launcher (:mod:`accord.runtime.launcher`), rooted at this repository.

``run_parties(tmp_path, "tests.integration.drivers:psi_driver", ["bank", "partner"], args)`` writes fresh
certificates and a cluster file with free loopback ports in ``tmp_path``, starts one process per party
(with the repository on ``PYTHONPATH`` so ``tests.*`` targets import), and returns each party's
:class:`PartyRun` (exit code, decoded result, output). The target is ``fn(cluster, me, args) ->
JSON-serialisable``; it runs inside ``Cluster.connect(cluster.yaml, me=me)``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from accord.runtime.launcher import PartyProcesses, PartyRun, free_ports
from accord.runtime.launcher import run_parties as _run_parties
from accord.runtime.launcher import write_loopback_cluster as write_cluster

ROOT = Path(__file__).resolve().parent.parent

__all__ = ["ROOT", "PartyRun", "free_ports", "run_parties", "start_parties", "write_cluster"]


def run_parties(tmp_path: Path, target: str, parties: list[str], args: dict[str, Any] | None = None,
                timeout: float = 240.0, grace: float = 10.0, **settings: Any) -> dict[str, PartyRun]:
    """Run ``target`` at every party of a fresh loopback cluster in ``tmp_path`` and wait for all of them.

    ``settings`` go into the cluster file (``connect_timeout=3``); ``timeout`` is how long to wait.
    """
    return _run_parties(tmp_path, target, parties, args, timeout=timeout, grace=grace, job="test", pythonpath=[ROOT],
                        cwd=ROOT, cluster_settings=settings)


def start_parties(cluster: Path, target: str, parties: list[str], args: dict[str, Any]) -> PartyProcesses:
    """Start the parties without waiting (to watch or kill one mid-run); use in a ``with`` block."""
    return PartyProcesses(cluster, target, parties, args, job="test", pythonpath=[ROOT], cwd=ROOT)
