"""Where a party's bucket jobs run: a local process pool, or the party's Ray cluster (``accord[ray]``).

Both executors do the same thing behind one small interface: run the jobs in the order given, at most
``workers`` at a time, and report each job's outcome (its traffic counters, or the exception that ended
it) as it ends; once ``stop()`` is true they start no further job (those are not reported). Scheduling
across machines, worker start-up and placement are the engine's (``concurrent.futures`` or Ray), not
accord's; retrying a failed bucket needs the peer's agreement, so it is done by the caller
(:mod:`accord.psi.bucket.pool`), and both engines' own retries stay off.
"""

from __future__ import annotations

import logging
import multiprocessing
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Protocol, TypeVar

from accord.errors import ConfigurationError
from accord.psi.bucket import local_ray

_log = logging.getLogger("accord.psi")
J = TypeVar("J")
LOCAL = "local"  # ``ray_address="local"``: start a Ray instance on this machine for the job
WAIT_SECONDS = 1.0  # how often a wait for Ray tasks looks whether a local instance is still up


class Executor(Protocol):
    """Runs jobs of one function at most ``workers`` at a time, in order, yielding ``(job, outcome)``."""

    def run(self, fn: Callable[[J], Any], jobs: Sequence[J], stop: Callable[[], bool]) -> Iterator[tuple[J, Any]]:
        ...

    def close(self) -> None: ...


def executor(workers: int, ray_address: str | None) -> Executor:
    """The party's executor: its Ray cluster at ``ray_address`` (``"local"``: start one here), else a process pool."""
    return RayExecutor(workers, ray_address) if ray_address else PoolExecutor(workers)


class PoolExecutor:
    """Spawned worker processes on this machine (no worker inherits the party process's gRPC threads).

    A worker killed mid-job breaks a ``ProcessPoolExecutor``: every job it holds fails and its other
    workers are stopped. The next :meth:`run` starts a fresh pool.
    """

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None

    def run(self, fn: Callable[[J], Any], jobs: Sequence[J], stop: Callable[[], bool]) -> Iterator[tuple[J, Any]]:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"))
        futures: dict[Future[Any], J] = {self._pool.submit(fn, job): job for job in jobs}
        pending = set(futures)
        while pending:
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                if future.cancelled():
                    continue
                error = future.exception()
                if isinstance(error, BrokenProcessPool):
                    self._pool = None  # already shut down by concurrent.futures; the next run starts another
                yield futures[future], error if error is not None else future.result()
                if stop():
                    for waiting in pending:
                        waiting.cancel()  # only those not started yet; running ones are waited for

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


class RayExecutor:
    """Ray tasks on the party's cluster: one task per job, at most ``workers`` submitted at a time.

    Connects to the cluster at ``address`` (``"auto"``, ``"ray://host:10001"``, ``"host:6379"``), or starts
    a local instance of ``workers`` CPUs for ``"local"`` in a process of its own
    (:mod:`accord.psi.bucket.local_ray`); an already initialised Ray is used as it is.
    Tasks have ``max_retries=0``: a task whose worker dies fails, and the bucket is retried with the peer.
    """

    def __init__(self, workers: int, address: str) -> None:
        if address == LOCAL:
            local_ray.prepare_driver()
        try:
            import ray
        except ImportError:
            raise ConfigurationError("ray_address needs Ray: pip install 'accord[ray]'") from None
        self.workers = workers
        self._ray = ray
        self._local: local_ray.LocalRay | None = None
        self._started = not ray.is_initialized()
        if self._started:
            if address == LOCAL:
                self._local = local_ray.LocalRay(workers)
            options: dict[str, Any] = self._local.driver_options() if self._local else {"address": address}
            try:
                ray.init(log_to_driver=False, **options)
            except BaseException:
                if self._local is not None:
                    self._local.stop()
                raise
        self._inflight: list[Any] = []

    def run(self, fn: Callable[[J], Any], jobs: Sequence[J], stop: Callable[[], bool]) -> Iterator[tuple[J, Any]]:
        ray = self._ray
        task = ray.remote(num_cpus=1, max_retries=0)(fn)
        waiting = list(jobs)
        of: dict[Any, J] = {}
        while waiting or of:
            while waiting and len(of) < self.workers and not stop():
                job = waiting.pop(0)
                of[task.remote(job)] = job
            if not of:
                break  # stopped
            self._inflight = list(of)
            ready: list[Any] = []
            while not ready:
                ready, _ = ray.wait(list(of), num_returns=1, timeout=WAIT_SECONDS)
                if not ready and self._local is not None and not self._local.running():
                    # else Ray's driver waits a minute for the lost GCS, then ends this whole process
                    raise ConfigurationError(f"this job's local Ray instance stopped:\n{self._local.log_tail()}")
            (ref,) = ready
            job = of.pop(ref)
            try:
                outcome = ray.get(ref)
            except Exception as exc:  # a task's error, or its worker's death (ray.exceptions.*)
                outcome = exc
            yield job, outcome
        self._inflight = []

    def close(self) -> None:
        for ref in self._inflight:
            try:
                self._ray.cancel(ref, force=True)
            except Exception as exc:  # already finished, or its worker already gone
                _log.debug("cancelling a Ray task: %s", exc)
        self._inflight = []
        if self._started:
            self._ray.shutdown()
        if self._local is not None:
            self._local.stop()
