"""Listing a run's outputs survives a staging directory that vanishes meanwhile (a killed run's clean-up)."""

from __future__ import annotations

import os
import shutil

import pytest

pytest.importorskip("sqlalchemy")

from accord.node import runs


def test_outputs_are_listed_while_a_staging_directory_disappears(tmp_path, monkeypatch):
    out = tmp_path / "out"
    (out / "bank").mkdir(parents=True)
    (out / "bank" / "metrics.json").write_text("{}")
    staging = out / ".bank.partial-1a2b"
    staging.mkdir()
    (staging / "metrics.json").write_text("{}")
    real = os.scandir

    def racing(path=".", *args):   # the runner removes its staging directory just before it is listed
        if not isinstance(path, int) and os.fspath(path) == os.fspath(staging) and staging.exists():
            shutil.rmtree(staging)
        return real(path, *args)

    monkeypatch.setattr(os, "scandir", racing)
    assert runs._glob(out, "metrics.json") == [out / "bank" / "metrics.json"]
