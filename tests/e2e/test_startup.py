"""Start-up faults between `accord` processes fail within seconds, at every party, naming the cause.

Each cluster file here sets a receive timeout of 90 s: before these checks existed, every one of these
faults waited that long (or forever) and then blamed a silent peer.
"""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import yaml

from accord.net.tls import write_party_certificate
from tests.procs import ROOT, write_cluster

WITHIN = 30.0  # seconds: process start-up on a busy 2-core machine included; the causes show in about 1 s
GRPC_LOG_LINE = re.compile(r"^[IWEF]\d{4} |ssl_transport_security|Handshake failed", re.MULTILINE)


def start(*args, cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "accord", *map(str, args)], cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={"PYTHONPATH": str(ROOT), "PATH": ""})


def finish(procs: dict[str, subprocess.Popen[str]], started: float) -> dict[str, tuple[int, str, float]]:
    """Each process's exit code, stderr and seconds from ``started`` to its exit."""
    out = {}
    for party, proc in procs.items():
        try:
            _, err = proc.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
        out[party] = (proc.returncode, err, time.monotonic() - started)
    return out


def psi(cluster: Path, me: str, tmp_path: Path, *extra: str) -> subprocess.Popen[str]:
    table = tmp_path / f"{me}.csv"
    if not table.exists():
        pd.DataFrame({"id": [f"u{i}" for i in range(20)]}).to_csv(table, index=False)
    return start("psi", "--cluster", cluster, "--me", me, "--input", table, "--on", "id",
                 "--output", tmp_path / f"{me}_out.csv", *extra, cwd=tmp_path)


def test_parties_started_with_different_protocols_fail_at_once_naming_it(tmp_path):
    cluster = write_cluster(tmp_path, ["bank", "partner"], timeout=90)
    started = time.monotonic()
    procs = {"bank": psi(cluster, "bank", tmp_path, "--protocol", "ecdh"),
             "partner": psi(cluster, "partner", tmp_path, "--protocol", "kkrt")}
    for party, (code, err, seconds) in finish(procs, started).items():
        assert code == 2, (party, err)
        assert "protocol 'kkrt' at 'partner', 'ecdh' at 'bank'" in err or \
            "protocol 'ecdh' at 'bank', 'kkrt' at 'partner'" in err, err
        assert seconds < WITHIN, (party, seconds)
    assert not list(tmp_path.glob("*_out.csv*"))


def test_run_with_different_job_files_fails_at_once_naming_the_job_file(tmp_path):
    cluster = write_cluster(tmp_path, ["bank", "partner"], timeout=90)
    job = {"job": "credit", "models": [{"secureboost": {"n_trees": 2}}],
           "parties": {"bank": {"input": "bank.csv", "key": "id", "label": "y", "output": "out/bank"},
                       "partner": {"input": "partner.csv", "key": "id", "output": "out/partner"}}}
    pd.DataFrame({"id": ["a", "b"], "y": [0, 1], "x": [1.0, 2.0]}).to_csv(tmp_path / "bank.csv", index=False)
    pd.DataFrame({"id": ["a", "b"], "z": [1.0, 2.0]}).to_csv(tmp_path / "partner.csv", index=False)
    (tmp_path / "bank.yaml").write_text(yaml.safe_dump(job))
    (tmp_path / "partner.yaml").write_text(yaml.safe_dump({**job, "models": [{"secureboost": {"n_trees": 3}}]}))
    started = time.monotonic()
    procs = {p: start("run", tmp_path / f"{p}.yaml", "--cluster", cluster, "--me", p, cwd=tmp_path)
             for p in ("bank", "partner")}
    for party, (code, err, seconds) in finish(procs, started).items():
        assert code == 2 and "job_file '" in err, (party, err)
        assert seconds < WITHIN, (party, seconds)
    assert not (tmp_path / "out").exists()


def test_a_wrong_certificate_fails_both_parties_within_seconds_without_grpc_log_lines(tmp_path):
    cluster = write_cluster(tmp_path, ["bank", "partner"], timeout=90)
    # Bank's copy of the cluster file lists a certificate for partner that partner does not hold.
    _, impostor = write_party_certificate("partner", tmp_path / "impostor")
    wrong = yaml.safe_load(cluster.read_text())
    wrong["parties"]["partner"]["cert"] = str(impostor)
    (tmp_path / "bank.yaml").write_text(yaml.safe_dump(wrong))
    started = time.monotonic()
    procs = {"bank": psi(tmp_path / "bank.yaml", "bank", tmp_path), "partner": psi(cluster, "partner", tmp_path)}
    results = finish(procs, started)
    code, err, seconds = results["bank"]
    assert code == 7 and "mutual TLS between 'bank' and party 'partner'" in err, err
    assert "presents a certificate issued to 'partner'" in err and "but the cluster file names" in err, err
    code, err, seconds = results["partner"]
    assert code == 7 and "does not accept 'partner''s certificate" in err, err
    for party, (_, err, seconds) in results.items():
        assert seconds < WITHIN, (party, seconds)
        assert not GRPC_LOG_LINE.search(err), err


def test_a_port_held_by_a_plain_tcp_server_is_reported_as_such(tmp_path):
    cluster = write_cluster(tmp_path, ["bank", "partner"], timeout=90)
    port = int(yaml.safe_load(cluster.read_text())["parties"]["partner"]["address"].rsplit(":", 1)[1])
    with socket.create_server(("127.0.0.1", port)) as squatter:
        def serve():
            while True:
                try:
                    conn, _ = squatter.accept()
                except OSError:
                    return
                conn.close()

        threading.Thread(target=serve, daemon=True).start()
        started = time.monotonic()
        code, err, seconds = finish({"bank": psi(cluster, "bank", tmp_path)}, started)["bank"]
    assert code == 6, err
    assert f"127.0.0.1:{port}, where the cluster file says party 'partner' listens, is held by something that is " \
           "not an accord party" in err
    assert seconds < WITHIN and not GRPC_LOG_LINE.search(err)


def test_a_second_process_cannot_take_a_partys_port(tmp_path):
    cluster = write_cluster(tmp_path, ["bank", "partner"], timeout=90)
    port = int(yaml.safe_load(cluster.read_text())["parties"]["bank"]["address"].rsplit(":", 1)[1])
    first = psi(cluster, "bank", tmp_path)  # waits for partner, holding bank's port
    try:
        deadline = time.monotonic() + WITHIN
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)
        started = time.monotonic()
        code, err, seconds = finish({"again": psi(cluster, "bank", tmp_path)}, started)["again"]
        assert code == 2 and "cannot listen on" in err and "address already in use" in err, err
        assert seconds < WITHIN
        assert first.poll() is None  # the first owner keeps running
    finally:
        first.kill()
        first.communicate()

