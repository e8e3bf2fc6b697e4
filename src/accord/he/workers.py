"""Process parallelism for large batches of Paillier arithmetic.

gmpy2 holds the GIL during ordinary multiplications, so batches of encryptions, bucket sums and
dot products run in separate processes. A :class:`WorkerPool` of ``processes`` cores starts
``processes - 1`` spawned workers on first use and gives the calling process one share of the work,
so no core idles while results are collected. Exponentiations with one exponent (decryption,
re-randomisation) do not need it: gmpy2's ``powmod_base_list`` releases the GIL and threads suffice.

Workers receive only data this party created or already holds (its own key material and ciphertext
blobs), pickled by :mod:`concurrent.futures` between its own processes; nothing received from a peer
is unpickled. Workers are started with the ``spawn`` method, which is safe in processes that already
run gRPC threads.

Workers never outlive their job: :meth:`WorkerPool.close` with ``now=True`` (and
:func:`stop_all_pools`, which the ``accord`` command calls when a job fails, is interrupted or is
terminated) kills them without waiting for their tasks, workers ignore the terminal's SIGINT (their
parent decides when they stop), and a worker whose parent died anyway (SIGKILL) exits within a second.

Large byte arguments travel through shared memory, copied by the calling thread before it starts its
own share: the executor's feeder thread needs the GIL for every pipe write, and while the calling
thread computes, a 25 MB argument took 1.8 s to arrive instead of 0.09 s.
"""

from __future__ import annotations

import concurrent.futures
import itertools
import multiprocessing
import multiprocessing.util
import os
import signal
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.shared_memory import SharedMemory
from typing import Any, cast

import numpy as np
from gmpy2 import mpz

from accord.he import _kernels
from accord.he.ou import OUPublicKey
from accord.he.paillier import PaillierPrivateKey, PaillierPublicKey

# Below this many microseconds of estimated work, a batch runs in the calling process only.
PARALLEL_THRESHOLD_US = 50_000
# Byte arguments at least this long go to workers through shared memory.
SHARED_MEMORY_BYTES = 1 << 20
# How often a worker checks that its parent is alive (seconds).
PARENT_POLL_SECONDS = 0.5
# Seconds to wait for a killed worker to be reaped.
KILL_WAIT_SECONDS = 5.0

# Pools of this process that have started workers (a weak set: a collected pool's workers stop with it).
_LIVE: weakref.WeakSet[WorkerPool] = weakref.WeakSet()


@dataclass(frozen=True)
class SharedBlob:
    """A byte string a worker reads from a shared-memory segment the calling process owns."""

    name: str
    size: int

    def read(self) -> bytes:
        """A private copy of the bytes."""
        segment = SharedMemory(name=self.name)
        try:
            return bytes(cast(memoryview, segment.buf)[: self.size])   # None only after close()
        finally:
            segment.close()


def load(data: bytes | SharedBlob) -> bytes:
    """The bytes of a task argument, wherever they travelled."""
    return data.read() if isinstance(data, SharedBlob) else data


class WorkerPool:
    """Cores for ciphertext batches: the calling process plus ``processes - 1`` worker processes.

    Parameters
    ----------
    processes:
        Total cores to use (default: all of them). ``1`` runs everything in the calling process.

    Examples
    --------
    >>> with WorkerPool(1) as pool:
    ...     pool.size
    1
    """

    def __init__(self, processes: int | None = None) -> None:
        size = processes if processes is not None else (os.cpu_count() or 1)
        if size < 1:
            raise ValueError(f"a worker pool needs at least one process, got {size}")
        self.size = size
        self._executor: concurrent.futures.ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def _pool(self) -> concurrent.futures.ProcessPoolExecutor:
        with self._lock:
            if self._executor is None:
                self._executor = concurrent.futures.ProcessPoolExecutor(
                    self.size - 1, mp_context=multiprocessing.get_context("spawn"), initializer=_worker_start,
                    initargs=(os.getpid(),))
                _LIVE.add(self)
                # A process started by multiprocessing joins its children at exit before
                # concurrent.futures stops its executors, so idle workers would keep it waiting forever;
                # finalizers of non-negative priority run before that join, highest first (before the
                # call queue's own finalizer at 10 stops the thread that would deliver the stop signal).
                multiprocessing.util.Finalize(self, self._executor.shutdown, kwargs={"cancel_futures": True},
                                              exitpriority=100)
            return self._executor

    def parts(self, items: int, cost_us: float) -> int:
        """How many shares to split ``items`` units of ``cost_us`` microseconds each into."""
        if self.size == 1 or items < 2 or items * cost_us < PARALLEL_THRESHOLD_US:
            return 1
        return min(self.size, items)

    def run(self, local: Callable[[], Any], fn: Callable[..., Any], calls: Sequence[tuple[Any, ...]]) -> list[Any]:
        """``[local(), *(fn(*args) for args in calls)]``: ``local`` here, the calls in worker processes."""
        if not calls:
            return [local()]
        if self.size == 1:
            return [local(), *(fn(*args) for args in calls)]
        executor = self._pool()
        segments: list[SharedMemory] = []
        try:
            futures = [executor.submit(fn, *(_share(a, segments) for a in args)) for args in calls]
            try:
                first = local()
            except BaseException:
                for future in futures:
                    future.cancel()
                raise
            return [first, *(future.result() for future in futures)]
        finally:
            for segment in segments:
                segment.close()
                segment.unlink()

    def close(self, *, now: bool = False) -> None:
        """Stop the worker processes (they are restarted if the pool is used again).

        With ``now``, kill them at once instead of letting running tasks finish (a failed job's
        results are not wanted).
        """
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is None:
            return
        if not now:
            executor.shutdown(wait=True, cancel_futures=True)
            return
        # ProcessPoolExecutor has no public way to stop busy workers before Python 3.14's terminate_workers().
        processes = list((getattr(executor, "_processes", None) or {}).values())
        executor.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            process.kill()
        for process in processes:
            process.join(KILL_WAIT_SECONDS)

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def stop_all_pools() -> None:
    """Kill the worker processes of every pool in this process (its job failed or was told to stop)."""
    for pool in list(_LIVE):
        pool.close(now=True)


def _worker_start(parent: int) -> None:
    """In each worker: leave SIGINT to the parent, and exit if the parent dies without stopping us."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_exit_with_parent, args=(parent,), name="accord-parent-watch", daemon=True).start()


def _exit_with_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(PARENT_POLL_SECONDS)
    os._exit(1)


def _share(arg: Any, segments: list[SharedMemory]) -> Any:
    if not isinstance(arg, bytes) or len(arg) < SHARED_MEMORY_BYTES:
        return arg
    segment = SharedMemory(create=True, size=len(arg))
    segments.append(segment)
    cast(memoryview, segment.buf)[: len(arg)] = arg
    return SharedBlob(segment.name, len(arg))


def split(count: int, parts: int, first_weight: float = 1.0) -> list[slice]:
    """``parts`` contiguous slices covering ``range(count)``; the first gets ``first_weight`` times a share.

    The calling process takes the first slice; a worker's share also pays for moving its data, so for
    cheap per-item work the caller should take more than an equal share.
    """
    weights = np.array([first_weight] + [1.0] * (parts - 1))
    bounds = np.concatenate([[0], np.cumsum(weights) / weights.sum() * count]).round().astype(int)
    return [slice(int(a), int(b)) for a, b in itertools.pairwise(bounds)]


# ------------------------------------------------------------------------------------ tasks
# Key material rebuilt from plain data (a key's ``spec()``), cached per worker so fixed-base tables are built once.
_KEYS: dict[tuple[Any, ...], Any] = {}


def _key(spec: tuple[Any, ...]) -> Any:
    key = _KEYS.get(spec)
    if key is None:
        if len(_KEYS) > 8:
            _KEYS.clear()
        kind, *numbers = spec
        if kind == "paillier":
            key = PaillierPublicKey(*numbers)
        elif kind == "paillier-private":
            p, q, hs = numbers
            key = PaillierPrivateKey(p, q, PaillierPublicKey(mpz(p) * q, hs))
        elif kind == "ou":
            key = OUPublicKey(*numbers)
        else:
            raise ValueError(f"unknown key kind {kind!r}")
        _KEYS[spec] = key
    return key


def encrypt_task(spec: tuple[Any, ...], values: list[int], exponents: list[bytes], width: int) -> bytes:
    """Encrypt ``values`` with the given randomness exponents under the key described by ``spec``."""
    return _kernels.to_blob(_key(spec).encrypt_with(values, exponents), width)


def rerandomizers_task(spec: tuple[Any, ...], exponents: list[bytes], width: int) -> bytes:
    """Full-length re-randomisers of an Okamoto-Uchiyama key (see :meth:`OUPublicKey.rerandomizers_with`)."""
    return _kernels.to_blob(_key(spec).rerandomizers_with(exponents), width)


def group_products_task(blob: bytes | SharedBlob, width: int, group_ids: np.ndarray, n_groups: int,
                        modulus: int) -> bytes:
    """Bucket products of one share of the ciphertexts, for every column of ``group_ids``."""
    values = _kernels.from_blob(load(blob), width)
    return _kernels.to_blob(_kernels.group_products_columns(values, group_ids, n_groups, mpz(modulus)), width)


def multi_exps_task(blob: bytes | SharedBlob, width: int, exponents: np.ndarray, modulus: int) -> bytes:
    """Multi-exponentiations of the same bases with each column of ``exponents``."""
    values = _kernels.from_blob(load(blob), width)
    return _kernels.to_blob(_kernels.multi_exps(values, exponents, mpz(modulus)), width)


def scalar_powers_task(blob: bytes | SharedBlob, width: int, exponents: list[int], modulus: int) -> bytes:
    """Elementwise powers with signed exponents."""
    values = _kernels.from_blob(load(blob), width)
    return _kernels.to_blob(_kernels.scalar_powers(values, exponents, mpz(modulus)), width)


def shift_pack_task(blob: bytes | SharedBlob, width: int, shift_bits: int, group: int, modulus: int) -> bytes:
    """Shift-and-add runs of packed ciphertexts (see :func:`accord.he._kernels.shift_pack`)."""
    values = _kernels.from_blob(load(blob), width)
    return _kernels.to_blob(_kernels.shift_pack(values, shift_bits, group, mpz(modulus)), width)


def invert_task(blob: bytes | SharedBlob, width: int, modulus: int) -> bytes:
    """Elementwise modular inverses (ciphertext negation)."""
    values = _kernels.from_blob(load(blob), width)
    return _kernels.to_blob(_kernels.invert_all(values, mpz(modulus)), width)
