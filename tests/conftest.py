"""Shared fixtures: test vectors and the multi-process harness live in tests/procs.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

VECTORS = Path(__file__).parent / "vectors"


@pytest.fixture
def vectors():
    """Load a published test-vector file by name from tests/vectors/."""
    return lambda name: json.loads((VECTORS / name).read_text())
