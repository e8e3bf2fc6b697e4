"""The `accord` command end to end: demo, certificates, and PSI as two operator processes."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.procs import ROOT, free_ports


def accord(*args, cwd, **kw):
    return subprocess.run([sys.executable, "-m", "accord", *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, timeout=180, **kw)


def start(*args, cwd):
    return subprocess.Popen([sys.executable, "-m", "accord", *map(str, args)], cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def test_demo_prints_count_report_and_outputs(tmp_path):
    out = accord("demo", "--rows", 400, "--out", tmp_path, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert "PSI joined 200 shared customers" in out.stdout
    assert "threat model" in out.stdout and "leakage" in out.stdout
    for name in ("bank_aligned.csv", "partner_aligned.csv"):
        assert str(tmp_path / name) in out.stdout
    a = pd.read_csv(tmp_path / "bank_aligned.csv", dtype=str)
    b = pd.read_csv(tmp_path / "partner_aligned.csv", dtype=str)
    assert a["customer_id"].tolist() == b["customer_id"].tolist() and len(a) == 200


def _cluster(tmp_path: Path) -> Path:
    out = accord("certs", "--party", "bank", "--party", "partner", "--out", tmp_path / "certs",
                 "--cluster", tmp_path / "cluster.yaml", "--base-port", free_ports(1)[0], cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.count("fingerprint sha256:") == 2
    cfg = yaml.safe_load((tmp_path / "cluster.yaml").read_text())
    ports = free_ports(2)
    for party, port in zip(("bank", "partner"), ports):
        cfg["parties"][party]["address"] = f"127.0.0.1:{port}"
    cfg["connect_timeout"] = 3
    cfg["timeout"] = 20
    (tmp_path / "cluster.yaml").write_text(yaml.safe_dump(cfg))
    return tmp_path / "cluster.yaml"


@pytest.mark.parametrize("protocol", ["ecdh", "kkrt", "auto"])
def test_psi_between_two_operator_processes(tmp_path, protocol):
    cluster = _cluster(tmp_path)
    pd.DataFrame({"id": [f"u{i}" for i in range(0, 300)], "x": range(300)}).to_csv(tmp_path / "bank.csv", index=False)
    pd.DataFrame({"id": [f"u{i}" for i in range(250, 400)]}).to_csv(tmp_path / "partner.csv", index=False)
    procs = {p: start("psi", "--cluster", cluster, "--me", p, "--input", tmp_path / f"{p}.csv", "--on", "id",
                      "--output", tmp_path / f"{p}_out.csv", "--report", tmp_path / f"{p}_report.json",
                      "--protocol", protocol, cwd=tmp_path)
             for p in ("bank", "partner")}
    for p, proc in procs.items():
        out, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, err
        assert f"{p}: 50 rows written" in out
        chosen = "rr22" if protocol == "auto" else protocol
        assert f"{p}: PSI protocol {chosen} ({'chosen automatically' if protocol == 'auto' else 'as requested'}" in out
    a = pd.read_csv(tmp_path / "bank_out.csv", dtype=str)
    b = pd.read_csv(tmp_path / "partner_out.csv", dtype=str)
    assert a["id"].tolist() == b["id"].tolist() and sorted(a["id"]) == sorted(f"u{i}" for i in range(250, 300))
    assert f"psi.{chosen}" in (tmp_path / "bank_report.json").read_text()


def test_a_failed_psi_leaves_no_output_and_a_clear_error(tmp_path):
    cluster = _cluster(tmp_path)
    pd.DataFrame({"id": ["a", "b"]}).to_csv(tmp_path / "bank.csv", index=False)
    pd.DataFrame({"id": ["a", None]}).to_csv(tmp_path / "partner.csv", index=False)
    procs = {p: start("psi", "--cluster", cluster, "--me", p, "--input", tmp_path / f"{p}.csv", "--on", "id",
                      "--output", tmp_path / f"{p}_out.csv", cwd=tmp_path) for p in ("bank", "partner")}
    results = {p: (*proc.communicate(timeout=180), proc.returncode) for p, proc in procs.items()}
    assert results["partner"][2] == 3  # InputError
    assert "party 'partner'" in results["partner"][1] and "'id'" in results["partner"][1]
    assert results["bank"][2] != 0 and "partner" in results["bank"][1]
    assert not list(tmp_path.glob("*_out.csv*"))


def test_missing_files_and_bad_config_are_explained(tmp_path):
    out = accord("psi", "--cluster", tmp_path / "nope.yaml", "--me", "bank", "--input", "x.csv", "--on", "id",
                 cwd=tmp_path)
    assert out.returncode == 2 and "cannot read cluster file" in out.stderr
    cluster = _cluster(tmp_path)
    out = accord("psi", "--cluster", cluster, "--me", "carol", "--input", "x.csv", "--on", "id", cwd=tmp_path)
    assert out.returncode == 2 and "'carol' is not in cluster file" in out.stderr


def test_an_output_that_cannot_be_written_stops_both_parties_before_psi(tmp_path):
    cluster = _cluster(tmp_path)
    pd.DataFrame({"id": [f"u{i}" for i in range(300)]}).to_csv(tmp_path / "bank.csv", index=False)
    pd.DataFrame({"id": [f"u{i}" for i in range(250, 400)]}).to_csv(tmp_path / "partner.csv", index=False)
    (tmp_path / "blocked").write_text("a file where the partner's output directory should be")
    outputs = {"bank": tmp_path / "fresh" / "bank_out.csv", "partner": tmp_path / "blocked" / "partner_out.csv"}
    began = time.monotonic()
    procs = {p: start("psi", "--cluster", cluster, "--me", p, "--input", tmp_path / f"{p}.csv", "--on", "id",
                      "--output", outputs[p], cwd=tmp_path) for p in ("bank", "partner")}
    results = {p: (*proc.communicate(timeout=180), proc.returncode) for p, proc in procs.items()}
    assert time.monotonic() - began < 30
    assert results["partner"][2] == 2 and "cannot create output directory" in results["partner"][1]
    assert results["bank"][2] == 5 and "party 'partner' cannot start" in results["bank"][1]
    assert (tmp_path / "fresh").is_dir() and not list((tmp_path / "fresh").iterdir())  # created, left empty


def test_psi_with_this_party_itself_is_refused_at_once(tmp_path):
    cluster = _cluster(tmp_path)
    proc = start("psi", "--cluster", cluster, "--me", "bank", "--with", "bank", "--input", "x.csv", "--on", "id",
                 cwd=tmp_path)
    try:
        _, err = proc.communicate(timeout=30)  # before connecting: no peer is waited for
    finally:
        proc.kill()
    assert proc.returncode == 2 and "--with names this party ('bank') itself" in err
