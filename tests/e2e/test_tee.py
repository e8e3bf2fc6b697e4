"""Two data owners' key brokers as separate processes plus the enclave runner (simulation backend).

Acceptance of issue 15: the runner obtains keys only after verification; a policy mismatch leaves
the data sealed and fails the job with a clear message; simulated evidence is refused unless the
policy allows it. Results open only for the named recipient.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from accord.enclave import EnclaveRunner, load_tee_job, open_results
from accord.errors import PolicyRefused
from accord.tee.audit import verify_log
from tests.procs import ROOT, free_ports
from tests.tee_setup import OWNERS, prepare, write_policy

pytest.importorskip("pyhpke")
pytestmark = pytest.mark.slow


def _start_broker(tmp: Path, owner: str, port: int) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen(
        [sys.executable, "-m", "accord", "tee", "broker", "--state", str(tmp / "state" / owner),
         "--cert", str(tmp / "certs" / f"{owner}.crt"), "--key", str(tmp / "certs" / f"{owner}.key"),
         "--trust", str(tmp / "certs" / "runner.crt"), "--listen", f"127.0.0.1:{port}"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + 30
    line = proc.stdout.readline()
    if "listening" not in line or time.monotonic() > deadline:
        proc.kill()
        raise AssertionError(f"broker {owner} did not start: {line} {proc.stderr.read()}")
    return proc


@pytest.fixture
def brokers(tmp_path):
    ports = dict(zip(OWNERS, free_ports(len(OWNERS))))
    job, states = prepare(tmp_path, ports)
    procs = {owner: _start_broker(tmp_path, owner, port) for owner, port in ports.items()}
    yield tmp_path, job, states
    for proc in procs.values():
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _bank_private(tmp: Path) -> bytes:
    return bytes.fromhex((tmp / "keys" / "bank-results.key").read_text())


def test_two_owner_job_releases_keys_only_to_allowed_evidence(brokers):
    tmp, job_file, states = brokers
    job = load_tee_job(job_file)

    result = EnclaveRunner(job, timeout=20).run()
    assert "INSECURE SIMULATION" in result.report["warning"]
    results = open_results(result.output, "bank", _bank_private(tmp))
    assert results["rows"] > 1500
    assert 0.6 < results["metrics"]["logistic_regression"]["auc"] < 0.9
    assert not (result.output / "keys" / "partner.wrapped").exists()  # partner is no recipient
    for owner in OWNERS:
        entries = verify_log(states[owner] / "audit.jsonl")
        assert [e["event"] for e in entries] == ["release"]
        assert entries[0]["evidence"] == result.report["evidence"]["digest"]
        assert entries[0]["warning"] == "INSECURE SIMULATION"

    # The partner's policy stops allowing simulation: the job fails naming owner and check, and writes nothing.
    digest, recipients = job.digest, {"bank": (tmp / "keys" / "bank-results.pub").read_text().strip()}
    write_policy(states["partner"], "partner", "telco", digest, recipients, allow_simulation=False)
    job = load_tee_job(job_file)
    out = tmp / "out"
    for path in out.rglob("*"):
        if path.is_file():
            path.unlink()
    with pytest.raises(PolicyRefused) as info:
        EnclaveRunner(job, timeout=20).run()
    assert info.value.check == "simulation" and info.value.party == "partner"
    assert "INSECURE SIMULATION" in str(info.value)
    assert not any(p.is_file() for p in out.rglob("*"))
    refusal = verify_log(states["partner"] / "audit.jsonl")[-1]
    assert (refusal["event"], refusal["check"]) == ("refusal", "simulation")

    # A wrong measurement is refused by name as well.
    write_policy(states["partner"], "partner", "telco", digest, recipients, measurement="ab" * 48)
    with pytest.raises(PolicyRefused) as info:
        EnclaveRunner(job, timeout=20).run()
    assert info.value.check == "measurement" and info.value.party == "partner"
    assert not any(p.is_file() for p in out.rglob("*"))
