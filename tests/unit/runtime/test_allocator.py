"""The malloc settings are applied once per process and can be turned off."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

from accord.runtime import allocator

_PROBE = "from accord.runtime import allocator; print(allocator.tune(), allocator.tune())"


def _probe(**env: str) -> str:
    out = subprocess.run([sys.executable, "-c", _PROBE], env={**os.environ, **env}, capture_output=True, text=True,
                         check=True, timeout=60)
    return out.stdout.strip()


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the settings are glibc mallopt parameters")
def test_applied_on_glibc_and_idempotent() -> None:
    assert _probe(ACCORD_MALLOC="") == "True True"


def test_opt_out_keeps_the_c_library_settings() -> None:
    assert _probe(ACCORD_MALLOC="default") == "False False"


def test_tune_returns_the_same_answer_in_process() -> None:
    assert allocator.tune() is allocator.tune()
