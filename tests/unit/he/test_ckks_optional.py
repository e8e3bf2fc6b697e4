"""Without TenSEAL installed, CKKS fails with a clear UnsupportedError (simulated by hiding the module)."""

from __future__ import annotations

import sys

import pytest

from accord.errors import UnsupportedError
from accord.he.ckks import CKKS


def test_missing_tenseal_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "tenseal", None)
    with pytest.raises(UnsupportedError, match=r"accord\[ckks\]"):
        CKKS.generate()
