"""The process pool gives the same results as one process, and its workers never outlive their job."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from accord.crypto.random import Rng
from accord.he import Paillier, SlotPacking, WorkerPool, workers
from accord.he.workers import split


def test_split_covers_the_range_evenly():
    assert split(10, 3) == [slice(0, 3), slice(3, 7), slice(7, 10)]
    assert split(1, 1) == [slice(0, 1)]
    assert split(10, 2, first_weight=1.5) == [slice(0, 6), slice(6, 10)]


@pytest.mark.parametrize("shared_memory_bytes", [0, 1 << 40], ids=["shared-memory", "pickled"])
def test_pool_results_equal_single_process_results(he, monkeypatch, shared_memory_bytes):
    monkeypatch.setattr(workers, "PARALLEL_THRESHOLD_US", 0)
    monkeypatch.setattr(workers, "SHARED_MEMORY_BYTES", shared_memory_bytes)
    x = np.linspace(-3, 3, 24)
    groups = np.arange(24) % 5
    layout = SlotPacking.for_sums(slots=2, max_abs=4.0, max_terms=64, frac_bits=16)
    results = []
    with WorkerPool(2) as pool:
        for chosen in (WorkerPool(1), pool):
            engine = Paillier(he.public_key, he.private_key, rng=Rng(seed=b"same"), pool=chosen)
            c = engine.encrypt(x)
            packed = engine.encrypt_packed(np.stack([x, -x], axis=1), layout)
            results.append([
                c.values,
                (-c).values,
                (c * np.arange(24)).values,
                c.bucket_sum(groups, 5).values,
                c.bucket_sum(np.stack([groups, 4 - groups], axis=1), 5).values,
                (c @ np.ones((24, 2))).values,
                packed.bucket_sum(groups, 5).compress().values,
                engine.decrypt(c).tolist(),
            ])
    assert results[0] == results[1]
    np.testing.assert_allclose(results[1][-1], x)


def test_pool_size_is_validated():
    with pytest.raises(ValueError, match="at least one"):
        WorkerPool(0)


def _running(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie has exited and holds nothing)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _wait_for_exit(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while _running(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not _running(pid)


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads process states from /proc")
def test_stop_all_pools_kills_busy_workers_without_waiting_for_their_tasks():
    pool = WorkerPool(2)
    _, worker = pool.run(lambda: None, os.getpid, [()])
    errors = []

    def busy() -> None:
        try:
            pool.run(lambda: None, time.sleep, [(60,)])
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=busy)
    thread.start()
    time.sleep(0.5)  # the worker is now sleeping through its task
    workers.stop_all_pools()
    thread.join(10)
    assert not _running(worker) and not thread.is_alive()
    assert errors  # the abandoned task's caller is told, not left waiting


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads process states from /proc")
def test_workers_exit_when_their_parent_is_killed(tmp_path):
    script = ("import os, signal\nfrom accord.he.workers import WorkerPool\n"
              "print(WorkerPool(2).run(lambda: None, os.getpid, [()])[1], flush=True)\n"
              "os.kill(os.getpid(), signal.SIGKILL)\n")
    with (tmp_path / "out").open("w") as out:  # a file: a surviving worker would hold a pipe open
        subprocess.run([sys.executable, "-c", script], stdout=out, stderr=subprocess.DEVNULL, timeout=60)
    worker = int((tmp_path / "out").read_text().split()[0])
    exited = _wait_for_exit(worker, timeout=5)
    if not exited:
        os.kill(worker, signal.SIGKILL)
    assert exited


def test_a_multiprocessing_child_with_a_live_pool_exits(tmp_path):
    # multiprocessing joins a child's children at its exit before concurrent.futures stops executors:
    # without the pool's finalizer the idle workers kept such a child (a benchmark, a job runner) alive.
    script = ("import multiprocessing, sys\n"
              "from accord.he.workers import WorkerPool\n"
              "KEEP = []\n"
              "def child():\n"
              "    KEEP.append(WorkerPool(2))\n"
              "    KEEP[0].run(lambda: None, abs, [(-1,)])\n"
              "if __name__ == '__main__':\n"
              "    p = multiprocessing.get_context('spawn').Process(target=child)\n"
              "    p.start(); p.join(30)\n"
              "    alive = p.is_alive()\n"
              "    if alive:\n"
              "        p.kill()\n"
              "    sys.exit(3 if alive else p.exitcode)\n")
    (tmp_path / "child.py").write_text(script)   # spawn re-imports the main module from its file
    done = subprocess.run([sys.executable, str(tmp_path / "child.py")], capture_output=True, timeout=90)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
