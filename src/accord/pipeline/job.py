"""Job files: a YAML description of a vertical modelling job that every party runs and approves.

.. code-block:: yaml

    job: credit-risk
    parties:
      bank:    {input: data/bank.csv, key: id, label: default, output: out/bank}
      partner: {input: data/partner.csv, key: id, output: out/partner}
    psi: {protocol: kkrt}                         # ecdh (default) or kkrt (OT-based, much faster on large tables)
    split: {test_fraction: 0.3, seed: 7}          # public, by a hash of the key: same rows at every party
    models:
      - secureboost: {n_trees: 5, max_depth: 4, learning_rate: 0.3}
      - logistic_regression: {epochs: 5, batch_size: 256, learning_rate: 1.0, l2: 0.001, mpc: {mode: ot}}
    evaluate: {threshold: 0.5, plots: true}
    score:                                        # `accord score`: new rows, same columns
      bank: {input: data/bank_new.csv, output: out/bank/scores.csv}
      partner: {input: data/partner_new.csv}
    security: {key_bits: 2048}

Relative paths resolve against the job file's directory. Every party must hold the same job file
(the runner compares a digest of it before training).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from accord.errors import ConfigurationError

MODEL_KINDS = ("secureboost", "logistic_regression")


@dataclass(frozen=True)
class PartySpec:
    """One party's part of a job."""

    name: str
    input: Path
    key: list[str]
    output: Path
    label: str | None = None


@dataclass(frozen=True)
class JobSpec:
    """A parsed, validated job file."""

    name: str
    parties: dict[str, PartySpec]
    test_fraction: float
    seed: int
    models: list[tuple[str, dict[str, Any]]]
    threshold: float
    plots: bool
    score: dict[str, dict[str, Path]]
    key_bits: int
    digest: str
    source: Path
    psi_protocol: str = "ecdh"

    @property
    def label_party(self) -> str:
        """The party holding the label."""
        return next(p.name for p in self.parties.values() if p.label)

    @property
    def dealers(self) -> list[str]:
        """Third parties the models' MPC settings name as dealers (they hold no data)."""
        names = [dict(params.get("mpc") or {}).get("dealer") for _, params in self.models]
        return sorted({n for n in names if n})

    @property
    def participants(self) -> list[str]:
        """Every party that runs the job: the data holders and any dealer."""
        return [*self.parties, *self.dealers]


def load_job(path: str | os.PathLike[str]) -> JobSpec:
    """Read and validate a job file; errors name the field and what was expected."""
    source = Path(path)
    try:
        text = source.read_text()
        raw = yaml.safe_load(text)
    except OSError as exc:
        raise ConfigurationError(f"cannot read job file {source}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigurationError(f"job file {source} is not valid YAML: {exc}") from None
    where = f"job file {source}"
    if not isinstance(raw, dict):
        raise ConfigurationError(f"{where} must be a map")
    unknown = set(raw) - {"job", "parties", "psi", "split", "models", "evaluate", "score", "security"}
    if unknown:
        raise ConfigurationError(f"{where}: unknown fields {sorted(unknown)}")
    base = source.parent
    parties = raw.get("parties")
    if not isinstance(parties, dict) or len(parties) != 2:
        raise ConfigurationError(f"{where}: 'parties' must map exactly two party names (the label holder and its "
                                 "partner) to their inputs")
    specs = {str(n): _party(str(n), e, base, where) for n, e in parties.items()}
    labelled = [p.name for p in specs.values() if p.label]
    if len(labelled) != 1:
        raise ConfigurationError(f"{where}: exactly one party must name a 'label' column, got {labelled}")
    psi = raw.get("psi", {}) or {}
    if not isinstance(psi, dict) or set(psi) - {"protocol"} or psi.get("protocol", "ecdh") not in ("ecdh", "kkrt"):
        raise ConfigurationError(f"{where}: 'psi' takes only protocol: ecdh or kkrt, got {psi!r}")
    split = raw.get("split", {}) or {}
    fraction = split.get("test_fraction", 0.3)
    if not isinstance(fraction, (int, float)) or not 0 < fraction < 1:
        raise ConfigurationError(f"{where}: split.test_fraction must be between 0 and 1, got {fraction!r}")
    models = []
    for entry in raw.get("models", []) or []:
        if not isinstance(entry, dict) or len(entry) != 1 or next(iter(entry)) not in MODEL_KINDS:
            raise ConfigurationError(f"{where}: each entry of 'models' must be one of {MODEL_KINDS} with its "
                                     f"parameters, got {entry!r}")
        kind, params = next(iter(entry.items()))
        models.append((kind, dict(params or {})))
    if not models:
        raise ConfigurationError(f"{where}: 'models' lists nothing to train")
    for _, params in models:
        dealer = dict(params.get("mpc") or {}).get("dealer")
        if dealer is not None and dealer in specs:
            raise ConfigurationError(f"{where}: the dealer {dealer!r} must be a third party, not a data holder")
    evaluate = raw.get("evaluate", {}) or {}
    score = {}
    for name, entry in (raw.get("score", {}) or {}).items():
        if name not in specs or not isinstance(entry, dict) or "input" not in entry:
            raise ConfigurationError(f"{where}: score.{name} must name a party of the job and its 'input'")
        score[name] = {k: (base / v).resolve() for k, v in entry.items() if k in ("input", "output")}
    security = raw.get("security", {}) or {}
    return JobSpec(
        name=str(raw.get("job", source.stem)), parties=specs, test_fraction=float(fraction),
        seed=int(split.get("seed", 0)), models=models, threshold=float(evaluate.get("threshold", 0.5)),
        plots=bool(evaluate.get("plots", True)), score=score, key_bits=int(security.get("key_bits", 2048)),
        psi_protocol=str(psi.get("protocol", "ecdh")),
        digest=hashlib.sha256(text.encode()).hexdigest()[:16], source=source,
    )


def _party(name: str, entry: Any, base: Path, where: str) -> PartySpec:
    if not isinstance(entry, dict) or "input" not in entry or "key" not in entry:
        raise ConfigurationError(f"{where}: party {name!r} needs 'input' and 'key'")
    unknown = set(entry) - {"input", "key", "label", "output"}
    if unknown:
        raise ConfigurationError(f"{where}: party {name!r} has unknown fields {sorted(unknown)}")
    key = entry["key"]
    keys = [key] if isinstance(key, str) else list(key)
    return PartySpec(name, (base / entry["input"]).resolve(), keys,
                     (base / entry.get("output", f"out/{name}")).resolve(), entry.get("label"))
