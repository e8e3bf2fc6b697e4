"""Every published vector file is loaded by a test and listed in tests/vectors/README.md, and no more."""

from __future__ import annotations

import re
from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent
VECTORS = TESTS / "vectors"


def test_vector_files_readme_and_tests_agree():
    files = {p.name for p in VECTORS.glob("*.json")}
    listed = set(re.findall(r"^\| (\S+\.json) \|", (VECTORS / "README.md").read_text(), re.M))
    loaded = {name for path in TESTS.rglob("test_*.py")
              for name in re.findall(r"""vectors\(["']([\w.]+\.json)["']\)""", path.read_text())}
    assert files, "no vector files found"
    assert files == listed, f"README lists {sorted(listed)}, the folder holds {sorted(files)}"
    assert files == loaded, f"tests load {sorted(loaded)}, the folder holds {sorted(files)}"
