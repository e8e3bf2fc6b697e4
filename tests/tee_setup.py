"""Shared setup for TEE tests: owners' certificates, sealed datasets, policies, a job file."""

from __future__ import annotations

from pathlib import Path

import yaml

from accord.enclave.backends import code_measurement
from accord.enclave.owner import seal_dataset, write_recipient_keys
from accord.net.tls import write_party_certificate

DATA = Path(__file__).resolve().parent.parent / "examples" / "data"
OWNERS = {"bank": ("loans", "bank.csv", "default"), "partner": ("telco", "partner.csv", None)}


def write_policy(state: Path, owner: str, dataset: str, job_digest: str, recipients: dict[str, str], *,
                 allow_simulation: bool = True, measurement: str | None = None, expires: str = "2099-01-01T00:00:00Z"):
    policy = {"owner": owner, "datasets": [dataset], "expires": expires, "allow_simulation": allow_simulation,
              "enclaves": [{"kind": "simulated", "measurement": measurement or code_measurement().hex()}],
              "jobs": [job_digest], "recipients": recipients}
    (state / "policy.yaml").write_text(yaml.safe_dump(policy))


def prepare(tmp: Path, ports: dict[str, int]) -> tuple[Path, dict[str, Path]]:
    """Certificates, sealed data, recipient keys, a job file and permissive policies; returns (job, states)."""
    for party in (*OWNERS, "runner"):
        write_party_certificate(party, tmp / "certs")
    _, bank_pub = write_recipient_keys(tmp / "keys" / "bank-results")
    states = {}
    owners = {}
    for owner, (dataset, csv, label) in OWNERS.items():
        states[owner] = tmp / "state" / owner
        seal_dataset(states[owner], owner, dataset, DATA / csv, tmp / "sealed" / f"{owner}.sealed", chunk_size=4096)
        owners[owner] = {"broker": f"127.0.0.1:{ports[owner]}", "cert": f"certs/{owner}.crt", "dataset": dataset,
                         "sealed": f"sealed/{owner}.sealed", "key": "id", **({"label": label} if label else {})}
    job = tmp / "job.yaml"
    job.write_text(yaml.safe_dump({
        "job": "credit-risk-tee", "backend": "simulated",
        "runner": {"cert": "certs/runner.crt", "key": "certs/runner.key"}, "owners": owners,
        "split": {"test_fraction": 0.3, "seed": 7}, "models": [{"logistic_regression": {"l2": 1.0}}],
        "recipients": {"bank": "keys/bank-results.pub"}, "output": "out"}))
    from accord.enclave import load_tee_job

    digest = load_tee_job(job).digest
    recipients = {"bank": bank_pub.read_text().strip()}
    for owner, (dataset, _, _) in OWNERS.items():
        write_policy(states[owner], owner, dataset, digest, recipients)
    return job, states
