"""Stopping a party mid-training (SIGTERM, SIGINT): both parties exit promptly and leave nothing behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.procs import ROOT, write_cluster

JOB = {
    "job": "signals",
    "parties": {"bank": {"input": "bank.csv", "key": "id", "label": "default", "output": "out/bank"},
                "partner": {"input": "partner.csv", "key": "id", "output": "out/partner"}},
    # Long enough to be stopped mid-way; two cores each, so the label holder starts a worker process.
    "models": [{"secureboost": {"n_trees": 30, "max_depth": 4, "allow_insecure_key_size": True, "workers": 2}}],
    "evaluate": {"plots": False},
    "security": {"key_bits": 1024},
}


def live_group(pgid: int) -> list[tuple[int, str]]:
    """Processes of a process group that are still running (zombies hold nothing and are left out)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        state, _ppid, group = stat.rsplit(")", 1)[1].split()[:3]
        if int(group) == pgid and state != "Z":
            found.append((int(entry.name), cmdline))
    return found


def wait_until(condition, timeout: float, step: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return condition()


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads process groups from /proc")
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_mid_training_stops_both_parties_and_leaves_nothing(tmp_path, signum):
    from examples.make_credit_data import generate

    bank, partner = generate(n_shared=2000, n_extra=40, seed=5)
    bank.to_csv(tmp_path / "bank.csv", index=False)
    partner.to_csv(tmp_path / "partner.csv", index=False)
    (tmp_path / "job.yaml").write_text(yaml.safe_dump(JOB))
    cluster = write_cluster(tmp_path, ["bank", "partner"], timeout=60, connect_timeout=5)
    # Output goes to files: a leftover worker would hold a pipe open, and reading it would hang.
    procs = {p: subprocess.Popen([sys.executable, "-m", "accord", "run", "job.yaml", "--cluster", cluster, "--me", p],
                                 cwd=tmp_path, stdout=(tmp_path / f"{p}.out").open("w"),
                                 stderr=(tmp_path / f"{p}.err").open("w"), env={"PYTHONPATH": str(ROOT), "PATH": ""},
                                 start_new_session=True)
             for p in ("bank", "partner")}
    victim, peer = procs["bank"], procs["partner"]
    try:
        # Prepare: wait until the label holder trains with a worker process and stages its outputs.
        started = wait_until(lambda: victim.poll() is not None
                             or any("spawn_main" in cmd for _, cmd in live_group(victim.pid)), timeout=120)
        assert started and victim.poll() is None, (tmp_path / "bank.err").read_text()
        assert list((tmp_path / "out").glob(".bank.partial-*"))
        # Execute
        victim.send_signal(signum)
        stopped = time.monotonic()
        victim.wait(timeout=20)
        victim_seconds = time.monotonic() - stopped
        peer.wait(timeout=30)
        peer_seconds = time.monotonic() - stopped
        leftovers = {p: wait_until(lambda pid=proc.pid: not live_group(pid), timeout=5) or live_group(proc.pid)
                     for p, proc in procs.items()}
    finally:
        for proc in procs.values():  # a failing run must not leave processes behind either
            for pid, _ in live_group(proc.pid):
                os.kill(pid, signal.SIGKILL)
    victim_err, peer_err = ((tmp_path / f"{p}.err").read_text() for p in ("bank", "partner"))
    # Assert: prompt exits with the documented codes, no process left in either party's group, no output.
    assert victim.returncode == 128 + signum, victim_err
    assert victim_seconds < 10, victim_err
    assert peer.returncode == 5 and "'bank'" in peer_err, peer_err
    assert peer_seconds < 8, peer_err
    assert leftovers == {"bank": True, "partner": True}
    assert not [p for p in (tmp_path / "out").rglob("*") if p.is_file() or p.name.startswith(".")]
