"""ECDH PSI between two OS processes over loopback gRPC with mutual TLS, against a plaintext join."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.procs import run_parties

pytestmark = pytest.mark.slow


def _tables(tmp_path):
    bank = pd.DataFrame({"id": ["1", "2", "3", "3", "5", "8"], "city": ["a", "b", "c", "c", "e", "h"],
                         "x": ["10", "20", "30", "31", "50", "80"]})
    partner = pd.DataFrame({"id": ["3", "1", "1", "9", "5"], "city": ["c", "a", "z", "i", "e"],
                            "y": ["0.3", "0.1", "0.11", "0.9", "0.5"]})
    paths = {"bank": tmp_path / "bank.csv", "partner": tmp_path / "partner.csv"}
    bank.to_csv(paths["bank"], index=False)
    partner.to_csv(paths["partner"], index=False)
    return bank, partner, paths


def test_join_matches_plaintext_join(tmp_path):
    bank, partner, paths = _tables(tmp_path)
    outputs = {p: str(tmp_path / f"{p}_out.csv") for p in paths}
    runs = run_parties(tmp_path, "tests.integration.drivers:psi_driver", ["bank", "partner"],
                       {"inputs": {p: str(v) for p, v in paths.items()}, "outputs": outputs, "on": ["id", "city"]})
    for run in runs.values():
        assert run.returncode == 0, run.stderr
    a = pd.read_csv(outputs["bank"], dtype=str)
    b = pd.read_csv(outputs["partner"], dtype=str)
    assert list(a["id"]) == list(b["id"]) and list(a["city"]) == list(b["city"])
    expected = bank.merge(partner, on=["id", "city"])
    got = pd.concat([a, b[["y"]]], axis=1)
    key = ["id", "city", "x", "y"]
    pd.testing.assert_frame_equal(got[key].sort_values(key).reset_index(drop=True),
                                  expected[key].sort_values(key).reset_index(drop=True))
    assert runs["bank"].result["costs"]["bytes_sent"] > 0
