"""Documentation that runs: the README's driver example, and the code passes ruff."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import re
import subprocess
import sys

import pytest

from accord.errors import NotLocalError
from tests.procs import ROOT, run_parties


def readme_block() -> str:
    return re.search(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S).group(1)


def test_readme_driver_example_runs():
    block = readme_block()
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(block, "README.md", "exec"), {})
    printed = out.getvalue()
    assert "c1" in printed and "c3" in printed and "c9" not in printed
    assert "\n2\n" in printed and "psi.ecdh" in printed


def readme_in_production(cluster, me, args):
    """The README's driver as one party runs it in production: the same code, a connected cluster."""
    code = readme_block().replace('accord.Cluster.simulate(["bank", "partner"])', "connected")
    namespace = {"connected": contextlib.nullcontext(cluster)}
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            exec(compile(code, "README.md", "exec"), namespace)
        outcome = "ran to the end"
    except Exception as exc:
        outcome = f"{type(exc).__name__}: {exc}"
    reads = {}
    for name in ("a2", "b2"):
        try:
            reads[name] = sorted(namespace[name].to_pandas()["id"])
        except NotLocalError as exc:
            reads[name] = f"NotLocalError: {exc}"
        except Exception as exc:
            reads[name] = type(exc).__name__
    return {"snippet": outcome, "reads": reads}


def test_readme_driver_in_production_reads_only_its_own_tables(tmp_path):
    runs = run_parties(tmp_path, "tests.e2e.test_docs:readme_in_production", ["bank", "partner"], timeout=120)
    for party, other in (("bank", "partner"), ("partner", "bank")):
        run = runs[party]
        assert run.returncode == 0, run.stderr
        # The README's join of both tables stops where it reads the other party's table, as documented.
        assert run.result["snippet"].startswith("NotLocalError: this value lives at party " + repr(other))
        mine, theirs = ("a2", "b2") if party == "bank" else ("b2", "a2")
        assert run.result["reads"][mine] == ["c1", "c3"]
        assert run.result["reads"][theirs].startswith(f"NotLocalError: this value lives at party {other!r}")


def test_ruff_is_clean():
    if importlib.util.find_spec("ruff") is None:
        pytest.skip("ruff is not installed (it comes with the test extra)")
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "src", "tests", "benchmarks"], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout
