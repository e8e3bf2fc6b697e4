"""glibc malloc settings for protocols that allocate and free large arrays many times a second.

An MPC operation on a million elements allocates tens of arrays of 8-24 MB and frees them a few
milliseconds later. With glibc's defaults each thread (each simulated party) allocates from its
own arena, whose heaps hand freed memory back to the kernel, so the next array is faulted in and
zeroed page by page again. Measured on the 3-party sigmoid of 1e6 elements in simulation
(``python -m benchmarks.mpc --engines 3pc --modes sim --workloads sigmoid``): 0.23-0.70 s of system
time per call with the defaults, 0.02-0.10 s with the settings below (docs/operations.md has the figures).

:func:`tune` sets, once per process: one arena for all threads created afterwards (Python's small
objects do not go through malloc, so the shared lock is not contended), heap rather than ``mmap``
for blocks up to 1 GiB, up to 2 GiB of freed heap kept for reuse, and a 64 MiB top pad. The pad
matters when threads started before :func:`tune` (pyarrow's jemalloc thread, for one) already own
arenas that later threads share: glibc unmaps an empty heap of such an arena whenever it is more
than the top pad, whatever the trim threshold. The cost is a resident size that stays near the
job's peak until the process exits.

A library must not change its host process when imported, so nothing here runs at import: accord
calls :func:`tune` where it owns the process or starts a cluster (the ``accord`` command,
``Cluster.simulate`` / ``Cluster.connect``, the launcher's party processes, the benchmarks). Call it
first thing in a driver script to have it in effect before other libraries start threads. Set
``ACCORD_MALLOC=default`` to keep the C library's settings (on other C libraries it does nothing).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import platform
import threading

# mallopt parameter numbers from glibc's <malloc.h>.
_M_TRIM_THRESHOLD = -1
_M_TOP_PAD = -2
_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8
_SETTINGS = ((_M_ARENA_MAX, 1), (_M_MMAP_THRESHOLD, 1 << 30), (_M_TRIM_THRESHOLD, (1 << 31) - 1),
             (_M_TOP_PAD, 64 << 20))

_lock = threading.Lock()
_applied: bool | None = None


def tune() -> bool:
    """Apply the settings (first call only); returns whether they are in effect."""
    global _applied
    with _lock:
        if _applied is None:
            _applied = _apply()
        return _applied


def is_tuned() -> bool:
    """Whether :func:`tune` has changed this process's malloc settings (``False`` before it is called)."""
    return bool(_applied)


def _apply() -> bool:
    if os.environ.get("ACCORD_MALLOC", "").lower() == "default":
        return False
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return all(mallopt(param, value) == 1 for param, value in _SETTINGS)
