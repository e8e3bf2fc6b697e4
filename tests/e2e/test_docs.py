"""Documentation that runs: the README's driver example, and the code passes ruff."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import re
import subprocess
import sys

import pytest

from tests.procs import ROOT


def test_readme_driver_example_runs():
    text = (ROOT / "README.md").read_text()
    block = re.search(r"```python\n(.*?)```", text, re.S).group(1)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(block, "README.md", "exec"), {})
    printed = out.getvalue()
    assert "c1" in printed and "c3" in printed and "c9" not in printed
    assert "\n2\n" in printed and "psi.ecdh" in printed


def test_ruff_is_clean():
    if importlib.util.find_spec("ruff") is None:
        pytest.skip("ruff is not installed (it comes with the test extra)")
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "src", "tests", "benchmarks"], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout
