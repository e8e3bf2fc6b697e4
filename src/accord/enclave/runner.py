"""The enclave job runner: attest once, obtain every owner's data key, then decrypt, join, fit, seal results.

Order matters for the guarantees: the runner first collects a nonce from every broker, produces one
piece of evidence binding its fresh HPKE public key to all nonces and the job digest, and asks every
broker for its key. Only when every owner has released does it decrypt anything; a single refusal
fails the job with the owner and check named, and every dataset stays sealed. Results (metrics and
test-row scores) are sealed under a fresh key wrapped to each named recipient only; the plaintext
job report carries the evidence digest and claims, never data. With the simulation backend every
report and log line says INSECURE SIMULATION.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from accord.enclave.backends import EvidenceSource, backend_for
from accord.enclave.broker import key_context
from accord.enclave.job import OwnerSpec, TeeJob
from accord.enclave.messages import ChallengeRequest, ReleaseRequest, Step, read_reply
from accord.enclave.models import fit_model
from accord.enclave.transport import BrokerClient
from accord.errors import ConfigurationError, InputError, MalformedMessage
from accord.ml.metrics import evaluate
from accord.tee.claims import SIMULATION_WARNING, EvidenceKind, binding
from accord.tee.sealing import new_data_key, open_bytes, seal_bytes
from accord.tee.wrapping import KeyPair, unwrap_key, wrap_key

log = logging.getLogger(__name__)


def result_context(job: str, recipient: str) -> str:
    """The HPKE ``info`` under which a job's result key is wrapped for one recipient."""
    return f"result-key/{job}/{recipient}"


@dataclass
class RunResult:
    """What a finished TEE job leaves behind: its report and where the sealed results are."""

    report: dict[str, Any]
    output: Path


class EnclaveRunner:
    """Runs one TEE job file with an evidence source (default: the one the job names).

    Parameters
    ----------
    job:
        The parsed job file.
    source:
        Evidence source; default :func:`~accord.enclave.backends.backend_for` of the job's backend.
    timeout:
        Seconds each broker call may take (default 30).
    """

    def __init__(self, job: TeeJob, source: EvidenceSource | None = None, timeout: float = 30.0) -> None:
        self.job, self.timeout = job, timeout
        self.source = source or backend_for(job.backend)
        self.simulated = self.source.kind is EvidenceKind.SIMULATED
        self.bytes_sent = self.bytes_received = 0

    def _say(self, message: str) -> None:
        prefix = f"{SIMULATION_WARNING}: " if self.simulated else ""
        log.warning("%s%s", prefix, message)

    def _clients(self) -> dict[str, BrokerClient]:
        try:
            key_pem, cert_pem = self.job.runner_key.read_bytes(), self.job.runner_cert.read_bytes()
            certs = {name: o.cert.read_bytes() for name, o in self.job.owners.items()}
        except OSError as exc:
            raise ConfigurationError(f"job file {self.job.source}: cannot read {exc.filename}: "
                                     f"{exc.strerror}") from None
        return {name: BrokerClient(name, o.broker, broker_cert=certs[name], key_pem=key_pem, cert_pem=cert_pem,
                                   timeout=self.timeout) for name, o in self.job.owners.items()}

    def _call(self, client: BrokerClient, step: Step, request: bytes) -> Any:
        self.bytes_sent += len(request)
        answer = client.call(step, request)
        self.bytes_received += len(answer)
        return read_reply(answer, client.owner, step)

    def obtain_keys(self) -> tuple[dict[str, bytes], dict[str, Any]]:
        """Attest to every broker and unwrap each owner's data key; raises on the first refusal."""
        pair = KeyPair.generate()
        clients = self._clients()
        try:
            nonces = {}
            for name, owner in self.job.owners.items():
                nonce = self._call(clients[name], Step.CHALLENGE, ChallengeRequest(self.job.digest,
                                                                                   owner.dataset).to_wire())
                if not isinstance(nonce, bytes) or len(nonce) != 32:
                    raise MalformedMessage("challenge must be a 32-byte nonce", party=name, step=Step.CHALLENGE.value)
                nonces[name] = nonce
            evidence = self.source.evidence(binding(pair.public, nonces, self.job.digest))
            self._say(f"job {self.job.name}: presenting {evidence.kind.value} evidence {evidence.digest()}")
            wrapped = {}
            for name, owner in self.job.owners.items():
                request = ReleaseRequest(self.job.digest, owner.dataset, pair.public, nonces, self.job.recipients,
                                         evidence)
                wrapped[name] = self._call(clients[name], Step.RELEASE, request.to_wire())
                if not isinstance(wrapped[name], bytes):
                    raise MalformedMessage("release must be a wrapped key", party=name, step=Step.RELEASE.value)
        finally:
            for client in clients.values():
                client.close()
        keys = {name: unwrap_key(wrapped[name], pair.private, key_context(name, o.dataset, self.job.digest))
                for name, o in self.job.owners.items()}
        return keys, {"kind": evidence.kind.value, "digest": evidence.digest()}

    def run(self) -> RunResult:
        """Run the job; on any failure nothing is written to the output directory."""
        start = time.perf_counter()
        keys, evidence = self.obtain_keys()
        attested = time.perf_counter()
        tables = {name: _decrypt(o, keys[name]) for name, o in self.job.owners.items()}
        results = self._fit(tables)
        report = {"job": self.job.name, "job_digest": self.job.digest, "backend": self.job.backend,
                  "evidence": evidence, "owners": {n: o.dataset for n, o in self.job.owners.items()},
                  "recipients": sorted(self.job.recipients), "rows": results["rows"],
                  "seconds": {"attestation_and_keys": round(attested - start, 4),
                              "total": round(time.perf_counter() - start, 4)},
                  "bytes": {"sent": self.bytes_sent, "received": self.bytes_received},
                  "leakage": "results go only to the named recipients, sealed; brokers learn the evidence, the job "
                             "digest and the recipients' names; the enclave host learns sizes and timing"}
        if self.simulated:
            report["warning"] = f"{SIMULATION_WARNING}: no hardware protected this job; the host could read all data"
        self._write(results, report)
        self._say(f"job {self.job.name} finished; results sealed to {', '.join(sorted(self.job.recipients))}")
        return RunResult(report, self.job.output)

    def _fit(self, tables: dict[str, pd.DataFrame]) -> dict[str, Any]:
        owners = list(self.job.owners.values())
        joined = tables[owners[0].name].rename(columns={owners[0].key: "__key"})
        for owner in owners[1:]:
            joined = joined.merge(tables[owner.name].rename(columns={owner.key: "__key"}), on="__key", how="inner")
        label = self.job.label_owner.label
        if label not in joined.columns:
            raise InputError(f"label column {label!r} is missing", party=self.job.label_owner.name, field=label)
        test = _test_mask(joined["__key"], self.job.seed, self.job.test_fraction)
        features = joined.drop(columns=["__key", label])
        try:
            x, y = features.to_numpy(dtype=float), joined[label].to_numpy(dtype=float)
        except ValueError:
            raise InputError("a joined column is not numeric", party="enclave", field=",".join(features)) from None
        metrics, scores = {}, {"key": joined["__key"][test].tolist()}
        for kind, params in self.job.models:
            predict = fit_model(kind, params, x[~test], y[~test])
            score = predict(x[test])
            metrics[kind] = evaluate(y[test].astype(int), score)
            scores[kind] = [float(s) for s in score]
        return {"rows": len(joined), "metrics": metrics, "scores": scores}

    def _write(self, results: dict[str, Any], report: dict[str, Any]) -> None:
        out = self.job.output
        stage = out.parent / f".{out.name}.partial-{os.getpid()}"
        shutil.rmtree(stage, ignore_errors=True)
        (stage / "keys").mkdir(parents=True)
        try:
            result_key = new_data_key()
            document = json.dumps({"job": self.job.name, "job_digest": self.job.digest, **results}).encode()
            (stage / "results.sealed").write_bytes(seal_bytes(document, result_key, {"job": self.job.digest}))
            for name, public in self.job.recipients.items():
                wrapped = wrap_key(result_key, public, result_context(self.job.digest, name))
                (stage / "keys" / f"{name}.wrapped").write_bytes(wrapped)
            (stage / "report.json").write_text(json.dumps(report, indent=2))
            out.mkdir(parents=True, exist_ok=True)
            for file in sorted(p for p in stage.rglob("*") if p.is_file()):
                (out / file.relative_to(stage)).parent.mkdir(parents=True, exist_ok=True)
                os.replace(file, out / file.relative_to(stage))
        finally:
            shutil.rmtree(stage, ignore_errors=True)


def _decrypt(owner: OwnerSpec, key: bytes) -> pd.DataFrame:
    try:
        sealed = owner.sealed.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read sealed dataset {owner.sealed}: {exc.strerror}", party=owner.name,
                         field="sealed") from None
    metadata, plaintext = open_bytes(sealed, key)
    if metadata.get("owner") != owner.name or metadata.get("dataset") != owner.dataset:
        raise InputError(f"sealed file {owner.sealed} holds {metadata}, not dataset {owner.dataset!r}",
                         party=owner.name, field="sealed")
    table = pd.read_csv(io.BytesIO(plaintext))
    if owner.key not in table.columns:
        raise InputError(f"key column {owner.key!r} is missing", party=owner.name, field=owner.key)
    return table


def _test_mask(keys: pd.Series, seed: int, fraction: float) -> np.ndarray:
    """Public split by a hash of the key (the same rule as accord's vertical pipeline)."""
    limit = int(fraction * 2**32)
    return np.array([int.from_bytes(hashlib.sha256(f"{seed}|{k}".encode()).digest()[:4], "big") < limit
                     for k in keys.astype(str)])


def open_results(output: str | os.PathLike[str], recipient: str, private_key: bytes) -> dict[str, Any]:
    """A recipient opens a job's sealed results with its X25519 private key."""
    out = Path(output)
    report = json.loads((out / "report.json").read_text())
    key = unwrap_key((out / "keys" / f"{recipient}.wrapped").read_bytes(), private_key,
                     result_context(report["job_digest"], recipient))
    return json.loads(open_bytes((out / "results.sealed").read_bytes(), key)[1])
