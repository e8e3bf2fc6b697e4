"""Every benchmark runs at its ``--quick`` size and writes the JSON its docstring documents.

The expected keys are written out here, not read from the benchmarks, so renaming a key in a
benchmark (and forgetting its readers) fails this test. Values are checked for sanity only: these
are smoke runs on a shared machine, not measurements.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib.util import find_spec

import pytest

from tests.procs import ROOT

pytestmark = pytest.mark.slow

FIGURES = {"seconds", "bytes", "rounds", "peak_rss_bytes"}
PARTIES = FIGURES | {"peak_rss_bytes_per_party"}
MPC_WORKLOADS = ("overhead", "mul", "lt", "matmul", "sigmoid", "exp", "lr")
HE_WORKLOADS = ("encrypt", "encrypt_public_key", "decrypt", "ct+ct", "ct*scalar", "bucket_sum_1e5_into_100",
                "dot_real_weights_4_columns", "rerandomize", "compress_packed", "decrypt_packed_values")


def _run(tmp_path, module: str, *args: str) -> dict:
    out = tmp_path / f"{module}.json"
    result = subprocess.run([sys.executable, "-m", f"benchmarks.{module}", "--quick", "--json", str(out), *args],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    assert "peak memory:" in result.stdout
    return json.loads(out.read_text())


def _sane(entry: dict, keys: set[str]) -> None:
    assert set(entry) >= keys, sorted(keys - set(entry))
    assert 0 < entry["seconds"] < 300 and entry["bytes"] >= 0 and entry["rounds"] >= 0
    peaks = [entry["peak_rss_bytes"], *entry.get("peak_rss_bytes_per_party", {}).values()]
    assert all(10 << 20 < peak < 16 << 30 for peak in peaks), peaks


def test_psi(tmp_path):
    figures = _run(tmp_path, "psi")
    assert list(figures) == ["psi_ecdh_2000"]
    entry = figures["psi_ecdh_2000"]
    _sane(entry, PARTIES | {"bytes_per_party", "intersection"})
    assert entry["intersection"] == 1000 and entry["rounds"] >= 3
    assert set(entry["bytes_per_party"]) == set(entry["peak_rss_bytes_per_party"]) == {"bank", "partner"}
    assert entry["bytes"] == sum(entry["bytes_per_party"].values()) > 2000 * 32



def test_psi_scale(tmp_path):
    figures = _run(tmp_path, "psi_scale")
    assert set(figures) == {"psi_scale_bucketed_20000", "psi_scale_unbucketed_20000"}
    for name, entry in figures.items():
        _sane(entry, PARTIES | {"seconds_per_million", "disk_bytes", "buckets", "intersection"})
        assert entry["intersection"] == 10_000
        assert entry["seconds_per_million"] == pytest.approx(entry["seconds"] * 50)
    assert figures["psi_scale_bucketed_20000"]["buckets"] == 4
    assert figures["psi_scale_bucketed_20000"]["workers"] == 1
    assert figures["psi_scale_bucketed_20000"]["backend"] == "pool"
    assert figures["psi_scale_bucketed_20000"]["seconds_per_bucket"] == pytest.approx(
        figures["psi_scale_bucketed_20000"]["seconds"] / 4)
    assert figures["psi_scale_bucketed_20000"]["disk_bytes"] > 20_000 * 8  # the spill held every id

def test_score_scale(tmp_path):
    figures = _run(tmp_path, "score_scale")
    assert set(figures) == {"score_scale_batched_20000", "score_scale_unbatched_20000"}
    for entry in figures.values():
        _sane(entry, PARTIES | {"rows_per_second", "scored", "batch_rows"})
        assert entry["scored"] == 18_000
        assert entry["rows_per_second"] == pytest.approx(18_000 / entry["seconds"])
    assert figures["score_scale_batched_20000"]["batch_rows"] == 5_000
    assert figures["score_scale_unbatched_20000"]["batch_rows"] == 0


def test_correlations(tmp_path):
    figures = _run(tmp_path, "correlations")
    kinds = ("silent-vole", "silent-vole-iknp", "silent-cot", "iknp-cot")
    assert set(figures) == {f"{kind}_100000" for kind in kinds}
    for entry in figures.values():
        _sane(entry, PARTIES | {"per_second", "bytes_per_correlation"})
        assert entry["per_second"] > 0 and 0 < entry["bytes_per_correlation"] < 100
        assert set(entry["peak_rss_bytes_per_party"]) == {"bank", "partner"}


def test_transport(tmp_path):
    figures = _run(tmp_path, "transport")
    assert set(figures) == {"bulk_0.015625gib", "ping_pong"}
    bulk, ping = figures["bulk_0.015625gib"], figures["ping_pong"]
    _sane(bulk, PARTIES | {"mib_per_s"})
    _sane(ping, PARTIES)
    assert bulk["bytes"] >= 16 << 20 and bulk["mib_per_s"] > 0 and ping["rounds"] == 100


def test_mpc(tmp_path):
    figures = _run(tmp_path, "mpc")
    expected = {f"{engine}/{mode}/{w}" for engine in ("2pc", "3pc") for mode in ("sim", "loopback")
                for w in MPC_WORKLOADS}
    assert set(figures) == expected
    for key, entry in figures.items():
        engine, mode, workload = key.split("/")
        _sane(entry, (PARTIES if mode == "loopback" else FIGURES) | {"bytes_by_party"})
        assert entry["bytes"] == sum(entry["bytes_by_party"].values()) > 0 and entry["rounds"] >= 1
        if engine == "2pc":
            assert 0 < entry["dealer_bytes_fraction"] < 1
        if workload == "lr":
            assert entry["accuracy"] > 0.9 and abs(entry["accuracy"] - entry["accuracy_plain"]) <= 0.02


def test_dp(tmp_path):
    figures = _run(tmp_path, "dp")
    assert set(figures) == {"throughput", "utility", "joint", "meta"}
    throughput = {f"accord/{kind}/scale={s}" for kind in ("gaussian", "laplace") for s in ("1", "100", "10000")}
    if find_spec("opendp") is not None:
        throughput |= {name.replace("accord/", "opendp/") for name in throughput}
    assert set(figures["throughput"]) == throughput
    assert all(v["samples_per_s"] > 0 and v["n"] == 20_000 for v in figures["throughput"].values())
    assert set(figures["utility"]) == {f"{family}/{query}/eps={eps}" for family in ("laplace", "gaussian")
                                       for query in ("count", "sum_age", "sum_limit_bal", "hist_education")
                                       for eps in ("0.1", "1", "10")}
    assert all(v["mae"] >= 0 and v["reps"] == 20 for v in figures["utility"].values())
    assert set(figures["joint"]) == {f"{release}/{party}" for release in ("dp_count", "dp_histogram")
                                     for party in ("bank", "partner")}
    for entry in figures["joint"].values():
        assert set(entry) >= {"seconds", "bytes_sent", "peak_rss_mib"}
        assert 0 < entry["seconds"] < 300 and entry["bytes_sent"] > 0 and 10 < entry["peak_rss_mib"] < 16 << 10


def test_he(tmp_path):
    figures = _run(tmp_path, "he")
    tags = {"1core", f"{os.cpu_count()}cores"}
    expected = {f"{w}.{tag}" for w in HE_WORKLOADS for tag in tags}
    expected |= {"calibration_free_cores_before", "calibration_free_cores_after",
                 f"two_party_bucket_sum_1000.{os.cpu_count()}cores"}
    if find_spec("phe") is not None:
        expected |= {f"phe_{w}.1core" for w in ("encrypt", "decrypt", "ct+ct", "ct*scalar")}
    assert set(figures) == expected
    for name, entry in figures.items():
        _sane(entry, FIGURES | {"bits"})
        assert entry["bits"] == 1024
        if not name.startswith(("calibration", "two_party")):
            assert entry["ops_per_s"] > 0 and entry["cores"] >= 1
    assert figures[f"two_party_bucket_sum_1000.{os.cpu_count()}cores"]["rounds"] >= 1


def test_he_skips_phe_cleanly_when_it_is_missing(monkeypatch, capsys):
    from benchmarks.he import phe_suite

    monkeypatch.setitem(sys.modules, "phe", None)  # makes `import phe` raise ImportError
    assert phe_suite(1024, {"phe": 4}, 1) == {}
    assert "phe is not installed" in capsys.readouterr().out


def test_credit_risk(tmp_path):
    figures = _run(tmp_path, "credit_risk")
    assert set(figures) == {"synthetic/secureboost", "synthetic/lr-ot", "synthetic/lr-dealer"}
    for key, entry in figures.items():
        _sane(entry, PARTIES | {"auc", "ks", "plaintext_auc", "xgboost_auc", "sklearn_lr_auc", "psi_seconds", "rows",
                                "cpu_seconds", "cpu_seconds_total"})
        assert entry["rows"] == round(2000 / 1.4)
        assert set(entry["cpu_seconds"]) == set(entry["peak_rss_bytes_per_party"])
        assert entry["cpu_seconds_total"] == pytest.approx(sum(entry["cpu_seconds"].values()))
        assert entry["cpu_seconds_total"] > 0
        assert 0.7 < entry["auc"] <= 1 and 0 < entry["ks"] <= 1
        peer = "xgboost" if key.endswith("secureboost") else "sklearn"
        assert (entry["plaintext_auc"] is None) == (find_spec(peer) is None)
    assert set(figures["synthetic/lr-dealer"]["peak_rss_bytes_per_party"]) == {"bank", "partner", "carol"}


def test_credit_risk_simulated(tmp_path):
    figures = _run(tmp_path, "credit_risk", "--mode", "sim", "--models", "secureboost", "--he", "paillier")
    assert list(figures) == ["synthetic/secureboost/sim"]
    entry = figures["synthetic/secureboost/sim"]
    _sane(entry, FIGURES | {"auc", "cpu_seconds", "cpu_seconds_total", "psi_seconds", "rows"})
    assert "peak_rss_bytes_per_party" not in entry and list(entry["cpu_seconds"]) == ["all parties"]
    assert entry["rows"] == round(2000 / 1.4) and 0.7 < entry["auc"] <= 1


def test_tee(tmp_path):
    figures = _run(tmp_path, "tee", "--compare")
    assert set(figures) == {"verify", "tee-simulated-lr", "secureboost", "lr-ot"}
    assert set(figures["verify"]) == {"sgx", "tdx", "sev-snp", "simulated"}
    assert all(rate > 0 for rate in figures["verify"].values())
    job = figures["tee-simulated-lr"]
    assert set(job) >= {"seconds", "attestation_seconds", "bytes", "sealed_bytes", "rows", "auc", "warning",
                        "peak_rss_bytes"}
    assert job["warning"] == "INSECURE SIMULATION" and job["rows"] > 0 and 0.5 < job["auc"] <= 1
    assert 10 << 20 < job["peak_rss_bytes"] < 16 << 30
    for workload in ("secureboost", "lr-ot"):
        assert set(figures[workload]) >= {"seconds", "bytes", "auc", "peak_rss_bytes"}
        assert 0.7 < figures[workload]["auc"] <= 1


def test_fl(tmp_path):
    figures = _run(tmp_path, "fl", "--skip", "flower")
    assert set(figures) == {"secagg_round", "fedavg_round", "mnist_fedavg", "mnist_dp_fedavg", "credit_rows_fedavg"}
    for entry in figures.values():
        _sane(entry, FIGURES)
    secure, plain = figures["secagg_round"], figures["fedavg_round"]
    assert secure["clients"] == 20 and secure["survivors"] == 18 and secure["max_abs_err"] < 1e-4
    assert secure["rounds"] == 4 and secure["bytes"] > plain["bytes"] > 20 * 10_000 * 4
    assert figures["mnist_fedavg"]["federated_accuracy"] > 0.8
    assert figures["mnist_dp_fedavg"]["epsilon"] > 0
    credit = figures["credit_rows_fedavg"]
    assert credit["federated_auc"] > 0.7 and abs(credit["federated_auc"] - credit["central_auc"]) < 0.02


def test_node(tmp_path):
    figures = _run(tmp_path, "node")
    assert set(figures) == {"approvals", "audit", "console"}
    for entry in figures.values():
        _sane(entry, FIGURES)
    assert figures["approvals"]["per_second"] > 0
    audit = figures["audit"]
    assert audit["entries"] == 10_000 and audit["appends_per_second"] > 0 and audit["verify_seconds"] > 0
    console = figures["console"]
    assert console["sessions"] == 10 and console["errors"] == 0 and console["requests"] == 90
    assert console["bytes"] > 0 and console["rounds"] == 90
    assert all(0 < console[page]["p50_ms"] <= console[page]["max_ms"] for page in ("home", "job", "audit"))


def test_pir(tmp_path):
    figures = _run(tmp_path, "pir")
    peer = {"peer_openmined_query1_20000", "peer_openmined_query1000_20000"}   # when openmined.psi is installed
    assert set(figures) - peer == {"pir_build_20000", "pir_sync_20000", "pir_query1_20000", "pir_query1000_20000",
                                   "psi_sum_2000", "joint_debt_3x20000"}
    assert not set(figures) & peer or set(figures) >= peer
    build = figures["pir_build_20000"]
    assert set(build) >= FIGURES | {"security"} and build["bytes"] >= 20_000 * (32 + 8) and build["seconds"] > 0
    for name in ("pir_sync_20000", "pir_query1_20000", "pir_query1000_20000", "psi_sum_2000", "joint_debt_3x20000"):
        _sane(figures[name], PARTIES)
    assert figures["pir_sync_20000"]["bytes"] >= build["bytes"]
    query = figures["pir_query1000_20000"]
    assert query["rounds"] == 2 and query["bytes_sent"] >= 1000 * 32 and query["server_seconds"] > 0
    assert set(figures["joint_debt_3x20000"]["peak_rss_bytes_per_party"]) == {"bank", "lender1", "lender2", "lender3"}


def test_sql(tmp_path):
    figures = _run(tmp_path, "sql")
    assert set(figures) == {f"{q}@10000" for q in ("join-count", "join-groupby-sum", "filtered-avg")}
    for entry in figures.values():
        _sane(entry, FIGURES | {"duckdb_seconds", "pooled_bytes", "ratio", "bytes_ratio", "matches_duckdb"})
        assert entry["matches_duckdb"] is True and entry["bytes"] > 0 and entry["pooled_bytes"] > 0
