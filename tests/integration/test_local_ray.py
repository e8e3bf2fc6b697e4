"""A job's local Ray instance: on loopback, started outside the party's process, gone with the job or the party."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from accord.errors import ConfigurationError
from accord.psi.bucket import local_ray
from tests.integration.test_psi_bucketed_retry import _descendants, _ray_or_skip

pytestmark = pytest.mark.slow

# A party's process: start an instance, report its process tree, then wait to be killed.
PARTY = """
import time
from accord.psi.bucket.local_ray import LocalRay
ray = LocalRay(1)
print(ray.address, ray.temp, flush=True)
time.sleep(600)
"""

# A party whose local instance dies under a running task: the wait ends with an error, not Ray's own exit
# of the whole process a minute later.
LOST_PARTY = """
import os, signal, threading, time
from accord.errors import ConfigurationError
from accord.psi.bucket.executors import RayExecutor
def nap(seconds):
    time.sleep(seconds)
pool = RayExecutor(1, "local")
threading.Timer(5, os.kill, (pool._local._proc.pid, signal.SIGKILL)).start()
start = time.monotonic()
try:
    list(pool.run(nap, [120], stop=lambda: False))
except ConfigurationError as exc:
    print("STOPPED", round(time.monotonic() - start), exc, flush=True)
pool.close()
"""


def _alive(pids: list[int]) -> list[int]:
    """The pids still running (zombies count as gone)."""
    def running(pid: int) -> bool:
        try:
            return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
        except (OSError, IndexError):
            return False
    return [p for p in pids if running(p)]


def _wait_gone(pids: list[int], seconds: float) -> list[int]:
    deadline = time.monotonic() + seconds
    while _alive(pids) and time.monotonic() < deadline:
        time.sleep(0.2)
    return _alive(pids)


def test_an_instance_on_loopback_stops_with_no_process_left():
    _ray_or_skip()
    others = set(_descendants(os.getpid()))  # e.g. worker pools of earlier tests in this process
    ray = local_ray.LocalRay(1)
    try:
        assert ray.address.startswith("127.0.0.1:"), ray.address
        tree = [p for p in _descendants(os.getpid()) if p not in others]
        assert any(b"gcs_server" in Path(f"/proc/{p}/cmdline").read_bytes() for p in _alive(tree)), tree
    finally:
        ray.stop()
    assert _wait_gone(tree, 30) == []
    assert not ray.temp.exists()


def test_the_instance_dies_with_a_killed_party():
    # The party is SIGKILLed (no clean-up runs): the kernel's parent-death signal ends `ray start`, and
    # with it Ray's own processes.
    _ray_or_skip()
    party = subprocess.Popen([sys.executable, "-c", PARTY], stdout=subprocess.PIPE, text=True)
    try:
        line = party.stdout.readline() if party.stdout else ""
        assert line.startswith("127.0.0.1:"), line
        tree = _descendants(party.pid)
        assert len(_alive(tree)) >= 3, tree  # ray start, the GCS, the raylet, ...
    finally:
        party.kill()
        party.wait()
    assert _wait_gone(tree, 60) == []


def test_losing_the_instance_mid_task_ends_the_wait_with_an_error():
    _ray_or_skip()
    run = subprocess.run([sys.executable, "-c", LOST_PARTY], capture_output=True, text=True, timeout=120, check=False)
    assert "STOPPED" in run.stdout and "local Ray instance stopped" in run.stdout, run.stderr[-3000:]
    assert int(run.stdout.split()[1]) < 30, run.stdout  # seconds from start to the error


def test_a_failed_start_names_the_cause_and_leaves_nothing(monkeypatch):
    _ray_or_skip()
    monkeypatch.setattr(local_ray, "OBJECT_STORE", 1)  # far below Ray's minimum: `ray start` refuses
    others = set(_alive(_descendants(os.getpid())))
    temps = set(Path(tempfile.gettempdir()).glob("accord-ray-*"))
    with pytest.raises(ConfigurationError, match="did not start") as failed:
        local_ray.LocalRay(1)
    assert "object_store_memory" in str(failed.value).lower() or "object store" in str(failed.value).lower()
    assert set(_alive(_descendants(os.getpid()))) <= others
    assert set(Path(tempfile.gettempdir()).glob("accord-ray-*")) <= temps  # its directory is removed


def test_the_token_file_is_made_once_and_private(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    local_ray._ensure_token()
    token = tmp_path / ".ray" / "auth_token"
    first = token.read_text()
    assert len(bytes.fromhex(first)) == 32
    assert stat.S_IMODE(token.stat().st_mode) == 0o600
    local_ray._ensure_token()  # a second party starting: the same token
    assert token.read_text() == first
    assert [p.name for p in token.parent.iterdir()] == ["auth_token"]  # no staged file left


def test_a_simulation_cannot_run_buckets_on_ray():
    import pandas as pd

    import accord

    tables = {p: pd.DataFrame({"id": ["a", "b"]}) for p in ("bank", "partner")}
    with accord.Cluster.simulate(["bank", "partner"]) as cluster, \
            pytest.raises(ConfigurationError, match="process of its own"):
        accord.psi.join_files(cluster, tables, {"bank": None, "partner": None}, "id", run="r", ray_address="local")
