"""The local launcher leaves nothing behind: a stalled run is killed at its timeout, a failed one soon after."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.procs import run_parties, start_parties, write_cluster

pytestmark = pytest.mark.slow
TARGET = "tests.integration.drivers:stall_driver"


def _gone(pid: int) -> bool:
    """Whether ``pid`` has exited (a zombie waiting for a reaper counts as exited)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    return state in ("Z", "X")


def _eventually_gone(pid: int) -> bool:
    deadline = time.monotonic() + 10
    while not _gone(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    return _gone(pid)


def test_a_stalled_run_is_killed_at_its_timeout_with_its_child_processes(tmp_path):
    cluster = write_cluster(tmp_path, ["bank", "partner"], timeout=60, connect_timeout=10)
    with start_parties(cluster, TARGET, ["bank", "partner"], {}) as procs:
        for party in procs.procs:
            procs.wait_for_output(party, "CHILD", timeout=60)
        children = {p: int(procs.output(p).split("CHILD ")[1].split()[0]) for p in procs.procs}
        runs = procs.wait(timeout=1)
    for party, run in runs.items():
        assert run.returncode < 0 and "killed by the launcher" in run.stderr, run.stderr
        assert run.result is None
    assert all(_eventually_gone(pid) for pid in children.values()), children


def test_a_failed_party_gets_its_peers_killed_after_the_grace_period(tmp_path):
    start = time.monotonic()
    runs = run_parties(tmp_path, TARGET, ["bank", "partner"], {"fail": "bank"}, timeout=200, grace=1,
                       connect_timeout=10)
    assert time.monotonic() - start < 60
    assert runs["bank"].returncode == 1 and "a bug in the driver at bank" in runs["bank"].stderr
    assert runs["partner"].returncode < 0 and "killed by the launcher" in runs["partner"].stderr
    if "CHILD" in runs["partner"].stdout:
        assert _eventually_gone(int(runs["partner"].stdout.split("CHILD ")[1].split()[0]))


def test_results_and_peak_memory_come_back(tmp_path):
    runs = run_parties(tmp_path, "accord.runtime.launcher:hosted_parties", ["bank", "partner"])
    assert {p: (r.returncode, r.result) for p, r in runs.items()} == {"bank": (0, ["bank"]),
                                                                      "partner": (0, ["partner"])}
    assert all(10 << 20 < r.peak_rss_bytes < 4 << 30 for r in runs.values())
