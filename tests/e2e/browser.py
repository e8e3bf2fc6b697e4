"""Debian's Chromium driven by Playwright for Python (Playwright's own browser download is not reachable).

Tests that need the browser call :func:`chromium`; it skips with the reason when chromium is not
installed locally, and fails in CI (``CI`` set), where `.ci/run` installs it. Screenshots go to
``test-artifacts/<test>/`` in the repository (git-ignored), so a CI run keeps them.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.procs import ROOT

ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]


@contextmanager
def chromium() -> Iterator[Any]:
    """A launched headless Chromium (Playwright ``Browser``)."""
    executable = shutil.which("chromium")
    if executable is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is missing in CI: .ci/run must apt-get install it")
        pytest.skip("Debian's chromium is not installed here (apt-get install -y chromium); CI installs it")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("playwright is missing: install the test extra (pip install -e '.[test]')")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


def artifacts(name: str) -> Path:
    """A fresh directory for one test's screenshots under ``test-artifacts/``."""
    path = ROOT / "test-artifacts" / re.sub(r"[^A-Za-z0-9_.-]", "_", name)
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path
