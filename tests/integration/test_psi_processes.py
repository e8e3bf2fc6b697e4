"""ECDH, KKRT and RR22 PSI between two OS processes over loopback gRPC with mutual TLS, against a plaintext join."""

from __future__ import annotations

import re
import time
from pathlib import Path

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


@pytest.mark.parametrize("protocol", ["ecdh", "kkrt", "rr22"])
def test_join_matches_plaintext_join(tmp_path, protocol):
    bank, partner, paths = _tables(tmp_path)
    outputs = {p: str(tmp_path / f"{p}_out.csv") for p in paths}
    runs = run_parties(tmp_path, "tests.integration.drivers:psi_driver", ["bank", "partner"],
                       {"inputs": {p: str(v) for p, v in paths.items()}, "outputs": outputs, "on": ["id", "city"],
                        "protocol": protocol})
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


def _ids(path, start, stop):
    pd.DataFrame({"id": [f"k{i}" for i in range(start, stop)]}).to_csv(path, index=False)


def test_killing_a_party_mid_psi_fails_the_other_cleanly(tmp_path):
    from tests.procs import start_parties, write_cluster

    paths = {"bank": tmp_path / "bank.csv", "partner": tmp_path / "partner.csv"}
    _ids(paths["bank"], 0, 40_000)
    _ids(paths["partner"], 20_000, 60_000)
    outputs = {p: str(tmp_path / f"{p}_out.csv") for p in paths}
    cluster = write_cluster(tmp_path, ["bank", "partner"], timeout=20, connect_timeout=3)
    args = {"inputs": {p: str(v) for p, v in paths.items()}, "outputs": outputs, "on": "id"}
    with start_parties(cluster, "tests.integration.drivers:psi_driver", list(paths), args) as procs:
        procs.wait_for_output("partner", "PSI-START", timeout=120)
        time.sleep(0.5)
        procs.kill("partner")
        start = time.monotonic()
        bank = procs.wait(timeout=60, grace=60)["bank"]
    elapsed = time.monotonic() - start
    assert bank.returncode != 0, bank.stdout
    assert bank.result["error"] == "PeerUnavailable", bank.result   # its port is closed: unreachable, not silent
    assert "partner" in bank.result["message"]
    assert elapsed < 20 + 10  # within the receive timeout (plus process teardown)
    assert not Path(outputs["bank"]).exists() and not Path(outputs["partner"]).exists()
    assert not list(tmp_path.glob("*.part"))


def test_bad_input_at_one_party_fails_both_without_output(tmp_path):
    paths = {"bank": tmp_path / "bank.csv", "partner": tmp_path / "partner.csv"}
    _ids(paths["bank"], 0, 100)
    pd.DataFrame({"customer": ["x"]}).to_csv(paths["partner"], index=False)
    outputs = {p: str(tmp_path / f"{p}_out.csv") for p in paths}
    runs = run_parties(tmp_path, "tests.integration.drivers:psi_driver", ["bank", "partner"],
                       {"inputs": {p: str(v) for p, v in paths.items()}, "outputs": outputs, "on": "id"})
    assert runs["partner"].result["error"] == "InputError"
    assert "party 'partner'" in runs["partner"].result["message"] and "'id'" in runs["partner"].result["message"]
    assert runs["bank"].result["error"] == "PeerAborted"
    assert "InputError" in runs["bank"].result["message"]
    assert not any(Path(o).exists() for o in outputs.values())


def test_semi_join_and_count_to_one_party(tmp_path):
    paths = {"bank": tmp_path / "bank.csv", "partner": tmp_path / "partner.csv"}
    _ids(paths["bank"], 0, 300)
    _ids(paths["partner"], 200, 700)
    outputs = {p: str(tmp_path / f"{p}_out.csv") for p in paths}
    base = {"inputs": {p: str(v) for p, v in paths.items()}, "outputs": outputs, "on": "id"}
    runs = run_parties(tmp_path / "semi", "tests.integration.drivers:psi_driver", ["bank", "partner"],
                       dict(base, mode="semi", to="partner"))
    assert runs["bank"].result == {"received": False}
    assert runs["partner"].result["rows"] == 100
    runs = run_parties(tmp_path / "count", "tests.integration.drivers:psi_driver", ["bank", "partner"],
                       dict(base, mode="count", to=["bank", "partner"]))
    assert runs["bank"].result["count"] == runs["partner"].result["count"] == 100


def test_empty_intersection_between_processes(tmp_path):
    paths = {"bank": tmp_path / "bank.csv", "partner": tmp_path / "partner.csv"}
    _ids(paths["bank"], 0, 50)
    _ids(paths["partner"], 50, 90)
    outputs = {p: str(tmp_path / f"{p}_out.csv") for p in paths}
    runs = run_parties(tmp_path, "tests.integration.drivers:psi_driver", ["bank", "partner"],
                       {"inputs": {p: str(v) for p, v in paths.items()}, "outputs": outputs, "on": "id"})
    assert runs["bank"].result["rows"] == runs["partner"].result["rows"] == 0
    assert pd.read_csv(outputs["bank"]).columns.tolist() == ["id"]


@pytest.mark.parametrize("protocol", ["kkrt", "rr22"])
def test_semi_join_to_one_party(tmp_path, protocol):
    paths = {"bank": tmp_path / "bank.csv", "partner": tmp_path / "partner.csv"}
    _ids(paths["bank"], 0, 3000)
    _ids(paths["partner"], 2000, 7000)
    outputs = {p: str(tmp_path / f"{p}_out.csv") for p in paths}
    runs = run_parties(tmp_path, "tests.integration.drivers:psi_driver", ["bank", "partner"],
                       {"inputs": {p: str(v) for p, v in paths.items()}, "outputs": outputs, "on": "id",
                        "mode": "semi", "to": "bank", "protocol": protocol})
    assert runs["partner"].result == {"received": False}, runs["partner"].stderr
    assert runs["bank"].result["rows"] == 1000
    got = pd.read_csv(outputs["bank"])["id"].tolist()
    assert got == [f"k{i}" for i in range(2000, 3000)]
    assert not Path(outputs["partner"]).exists()


def test_kkrt_reports_of_the_two_processes_describe_the_same_traffic(tmp_path):
    runs = run_parties(tmp_path, "tests.integration.drivers:kkrt_costs_driver", ["bank", "partner"])
    for run in runs.values():
        assert run.returncode == 0, run.stderr
    bank, partner = runs["bank"].result, runs["partner"].result
    assert bank["costs"]["bytes_sent"] == partner["costs"]["bytes_received"] > 0
    assert partner["costs"]["bytes_sent"] == bank["costs"]["bytes_received"] > 0
    assert set(bank["ops"]) >= {"base_ot", "psi.kkrt"}
    for op in set(bank["ops"]) & set(partner["ops"]):
        assert bank["ops"][op]["bytes_sent"] == partner["ops"][op]["bytes_received"], op
        assert partner["ops"][op]["bytes_sent"] == bank["ops"][op]["bytes_received"], op
    # The printed reports: each party's base-OT line gives the figures the other's gives, the other way round.
    lines = {p: re.search(r"op base_ot +(.*)", runs[p].result["text"]).group(1) for p in runs}
    match = re.search(r"bank sent (.+?), received (.+?);", lines["bank"])
    assert match, f"the two reports give different figures for the same base-OT traffic: {lines}"
    assert f"partner sent {match[2]}, received {match[1]};" in lines["partner"], lines
