"""The malloc settings change nothing at import, are applied where accord owns the process, and can be turned off.

Each case runs in a fresh interpreter and reports two things: whether :func:`allocator.is_tuned` says so,
and what glibc does, independently of accord's own bookkeeping: with the default settings each new
thread that allocates gets an arena of its own; with ``M_ARENA_MAX`` = 1 no new arena appears.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import textwrap

import pytest

from accord.runtime import allocator

GLIBC = platform.libc_ver()[0] == "glibc"

# Counts the arenas that malloc_info(3) lists before and while four new threads each hold a malloc'd block.
_ARENAS = textwrap.dedent("""
    import ctypes, os, re, tempfile, threading

    def _arenas(libc):
        fd, path = tempfile.mkstemp()
        os.close(fd)
        stream = libc.fopen(path.encode(), b"w")
        libc.malloc_info(0, ctypes.c_void_p(stream))
        libc.fclose(ctypes.c_void_p(stream))
        with open(path) as fh:
            text = fh.read()
        os.unlink(path)
        return len(re.findall("<heap nr=", text))

    def new_threads_take_new_arenas():
        libc = ctypes.CDLL("libc.so.6")
        libc.fopen.restype = ctypes.c_void_p
        libc.malloc.restype = ctypes.c_void_p
        before = _arenas(libc)
        holding, release = threading.Barrier(5), threading.Event()
        def hold():
            block = libc.malloc(1 << 16)
            holding.wait()
            release.wait()
            libc.free(ctypes.c_void_p(block))
        threads = [threading.Thread(target=hold) for _ in range(4)]
        for t in threads:
            t.start()
        holding.wait()
        during = _arenas(libc)
        release.set()
        for t in threads:
            t.join()
        return during > before
""")
_REPORT = """
import json, sys
from accord.runtime import allocator
heavy = sorted({name.split(".")[0] for name in sys.modules} & {"pandas", "pyarrow", "gmpy2", "nacl", "grpc", "duckdb",
                                                              "sqlglot"})
print(json.dumps({"heavy": heavy, "tuned": allocator.is_tuned(),
                  "new_arenas": new_threads_take_new_arenas() if GLIBC else None}))
"""


def _probe(setup: str, **env: str) -> dict[str, object]:
    code = f"GLIBC = {GLIBC}\n{_ARENAS}\n{textwrap.dedent(setup)}\n{_REPORT}"
    out = subprocess.run([sys.executable, "-c", code], env={**os.environ, "ACCORD_MALLOC": "", **env},
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("module", ["accord.errors", "accord"])
def test_importing_accord_loads_nothing_heavy_and_leaves_malloc_alone(module):
    report = _probe(f"import {module}")
    assert report == {"heavy": [], "tuned": False, "new_arenas": True if GLIBC else None}


def test_names_still_resolve_on_first_use():
    report = _probe("import accord\nassert accord.Cluster.__name__ == 'Cluster' and accord.psi.align")
    assert "pandas" in report["heavy"] and report["tuned"] is False


@pytest.mark.skipif(not GLIBC, reason="the settings are glibc mallopt parameters")
@pytest.mark.parametrize("setup", [
    "import accord\naccord.Cluster.simulate(['bank', 'partner']).close()",
    # connect() tunes before it reads the cluster file, so a missing file still shows the effect.
    "import accord\ntry:\n    accord.Cluster.connect('missing.yaml', me='bank')\n"
    "except accord.errors.ConfigurationError:\n    pass",
    "import sys, tempfile\nfrom accord.cli.main import main\n"
    "assert main(['certs', '--party', 'bank', '--out', tempfile.mkdtemp()]) == 0",
], ids=["simulate", "connect", "cli"])
def test_starting_a_cluster_or_the_command_applies_the_settings(setup):
    report = _probe(setup)
    assert report["tuned"] is True and report["new_arenas"] is False


def test_opt_out_keeps_the_c_library_settings():
    report = _probe("import accord\naccord.Cluster.simulate(['bank', 'partner']).close()", ACCORD_MALLOC="default")
    assert report["tuned"] is False and report["new_arenas"] is (True if GLIBC else None)


def test_tune_returns_the_same_answer_in_process():
    assert allocator.tune() is allocator.tune()
