"""TEE job files: which owners' sealed datasets to join, which models to fit, who receives the results.

.. code-block:: yaml

    job: credit-risk-tee
    backend: simulated                  # simulated (INSECURE, no hardware) or gramine-sgx
    runner: {cert: certs/runner.crt, key: certs/runner.key}
    owners:
      bank:    {broker: 127.0.0.1:7001, cert: certs/bank.crt, dataset: loans, sealed: sealed/bank.sealed,
                key: id, label: default}
      partner: {broker: 127.0.0.1:7002, cert: certs/partner.crt, dataset: telco, sealed: sealed/partner.sealed,
                key: id}
    split: {test_fraction: 0.3, seed: 7}
    models:
      - logistic_regression: {l2: 1.0}
      - xgboost: {n_estimators: 5, max_depth: 4, learning_rate: 0.3}   # needs xgboost installed
    recipients: {bank: keys/bank-results.pub}    # X25519 public keys (hex); results are sealed to these only
    output: out/tee

The digest owners approve in their policies is the SHA-256 of this file's bytes
(:attr:`TeeJob.digest`). Relative paths resolve against the file's directory.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from accord.errors import ConfigurationError

BACKENDS = ("simulated", "gramine-sgx")
MODELS = ("logistic_regression", "xgboost")


@dataclass(frozen=True)
class OwnerSpec:
    """One data owner's part of a TEE job."""

    name: str
    broker: str
    cert: Path
    dataset: str
    sealed: Path
    key: str
    label: str | None


@dataclass(frozen=True)
class TeeJob:
    """A parsed, validated TEE job file."""

    name: str
    backend: str
    runner_cert: Path
    runner_key: Path
    owners: dict[str, OwnerSpec]
    test_fraction: float
    seed: int
    models: list[tuple[str, dict[str, Any]]]
    recipients: dict[str, bytes]
    output: Path
    digest: str
    source: Path

    @property
    def label_owner(self) -> OwnerSpec:
        """The owner whose dataset holds the label."""
        return next(o for o in self.owners.values() if o.label)


def _fields(entry: Any, where: str, required: set[str], optional: set[str]) -> dict[str, Any]:
    if not isinstance(entry, dict) or required - set(entry) or set(entry) - required - optional:
        raise ConfigurationError(f"{where} needs {sorted(required)} (optional {sorted(optional)}), got {entry!r}")
    return entry


def load_tee_job(path: str | os.PathLike[str]) -> TeeJob:
    """Read and validate a TEE job file; errors name the field."""
    source = Path(path)
    try:
        data = source.read_bytes()
        raw = yaml.safe_load(data)
    except OSError as exc:
        raise ConfigurationError(f"cannot read job file {source}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigurationError(f"job file {source} is not valid YAML: {exc}") from None
    where = f"job file {source}"
    raw = _fields(raw, where, {"job", "owners", "models", "recipients", "runner"},
                  {"backend", "split", "output"})
    base = source.parent
    backend = raw.get("backend", "simulated")
    if backend not in BACKENDS:
        raise ConfigurationError(f"{where}: backend must be one of {BACKENDS}, got {backend!r}")
    runner = _fields(raw["runner"], f"{where}: runner", {"cert", "key"}, set())
    owners = {}
    for name, entry in (raw["owners"] or {}).items():
        e = _fields(entry, f"{where}: owners.{name}", {"broker", "cert", "dataset", "sealed", "key"}, {"label"})
        owners[str(name)] = OwnerSpec(str(name), str(e["broker"]), base / e["cert"], str(e["dataset"]),
                                      base / e["sealed"], str(e["key"]), e.get("label"))
    if len(owners) < 2 or sum(1 for o in owners.values() if o.label) != 1:
        raise ConfigurationError(f"{where}: 'owners' must list at least two owners, exactly one naming a 'label'")
    models = []
    for entry in raw["models"] or []:
        if not isinstance(entry, dict) or len(entry) != 1 or next(iter(entry)) not in MODELS:
            raise ConfigurationError(f"{where}: each model must be one of {MODELS} with its parameters, got {entry!r}")
        kind, params = next(iter(entry.items()))
        models.append((kind, dict(params or {})))
    if not models:
        raise ConfigurationError(f"{where}: 'models' lists nothing to fit")
    recipients = {}
    for name, key_path in (raw["recipients"] or {}).items():
        try:
            recipients[str(name)] = bytes.fromhex((base / key_path).read_text().strip())
        except (OSError, ValueError):
            raise ConfigurationError(f"{where}: recipients.{name} must name a file holding a hex X25519 public "
                                     "key") from None
        if len(recipients[str(name)]) != 32:
            raise ConfigurationError(f"{where}: recipients.{name} key must be 32 bytes")
    if not recipients:
        raise ConfigurationError(f"{where}: name at least one result recipient")
    split = raw.get("split") or {}
    fraction = split.get("test_fraction", 0.3)
    if not isinstance(fraction, (int, float)) or not 0 < fraction < 1:
        raise ConfigurationError(f"{where}: split.test_fraction must be between 0 and 1")
    return TeeJob(name=str(raw["job"]), backend=backend, runner_cert=base / runner["cert"],
                  runner_key=base / runner["key"], owners=owners, test_fraction=float(fraction),
                  seed=int(split.get("seed", 0)), models=models, recipients=recipients,
                  output=base / raw.get("output", "out/tee"), digest=hashlib.sha256(data).hexdigest(), source=source)
