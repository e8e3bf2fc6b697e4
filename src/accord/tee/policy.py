"""A data owner's key-release policy: which enclaves, which jobs, which result recipients, until when.

.. code-block:: yaml

    owner: bank
    datasets: [loans]                       # the sealed datasets this policy governs
    expires: 2030-01-01T00:00:00Z           # no release after this instant
    allow_simulation: false                 # true only for trials: simulated evidence proves nothing
    enclaves:                               # any one entry must match the verified claims
      - kind: sgx                           # sgx | tdx | sev-snp | simulated
        measurement: 33d8...                # MRENCLAVE / MRTD / SNP launch measurement / simulated code digest
        signer: 815f...                     # optional: MRSIGNER (SGX) or ID-key digest (SNP)
        min_svn: 0                          # optional: ISV SVN (SGX) or guest SVN (SNP)
        accepted_tcb: [UpToDate, SWHardeningNeeded]   # Intel TCB statuses (default: UpToDate only)
        min_tcb: {snp: 5, microcode: 68}    # optional: SEV-SNP TCB component minimums
        rtmrs: [..., ..., ..., ...]         # optional: TDX runtime measurement registers (hex)
    jobs: [9f2c...]                         # SHA-256 digests of the job files the owner approved
    recipients: {bank: 5b1e...}             # who may receive results: name -> X25519 public key (hex)

:meth:`Policy.check` raises :class:`~accord.errors.PolicyRefused` naming the failed check.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml

from accord.errors import ConfigurationError, PolicyRefused
from accord.tee.claims import SIMULATION_WARNING, Claims, EvidenceKind

_KINDS = {k.value: k for k in EvidenceKind}


@dataclass(frozen=True)
class EnclaveIdentity:
    """One acceptable enclave: its kind, measurement and optional signer, SVN and TCB requirements."""

    kind: EvidenceKind
    measurement: bytes
    signer: bytes | None = None
    min_svn: int | None = None
    accepted_tcb: tuple[str, ...] = ("UpToDate",)
    min_tcb: Mapping[str, int] = field(default_factory=dict)
    rtmrs: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Policy:
    """A parsed, validated policy (see the module docstring for the file format)."""

    owner: str
    datasets: tuple[str, ...]
    expires: int
    enclaves: tuple[EnclaveIdentity, ...]
    jobs: tuple[str, ...]
    recipients: Mapping[str, bytes]
    allow_simulation: bool = False

    def check(self, claims: Claims, *, dataset: str, job_digest: str, recipients: Mapping[str, bytes], at: int) -> None:
        """Refuse unless verified ``claims`` and the request satisfy this policy at unix time ``at``."""
        def refuse(check: str, message: str) -> PolicyRefused:
            return PolicyRefused(message, check=check, party=self.owner)

        if at >= self.expires:
            raise refuse("expiry", f"the policy expired at {_iso(self.expires)}")
        if dataset not in self.datasets:
            raise refuse("dataset", f"dataset {dataset!r} is not governed by this policy")
        if claims.simulated and not self.allow_simulation:
            raise refuse("simulation", f"{SIMULATION_WARNING}: the evidence is simulated and the policy does not "
                                       "set allow_simulation")
        if job_digest not in self.jobs:
            raise refuse("job", f"job digest {job_digest} is not among the approved jobs")
        for name, key in recipients.items():
            if self.recipients.get(name) != key:
                raise refuse("recipients", f"result recipient {name!r} (or its public key) is not allowed")
        candidates = [e for e in self.enclaves if e.kind is claims.kind]
        if not candidates:
            raise refuse("kind", f"no {claims.kind.value} enclave is allowed")
        matching = [e for e in candidates if e.measurement == claims.measurement]
        if not matching:
            raise refuse("measurement", f"measurement {claims.measurement.hex()} is not an allowed "
                                        f"{claims.kind.value} measurement")
        failures = [_mismatch(e, claims) for e in matching]
        if all(failures):
            check, message = next(f for f in failures if f)
            raise refuse(check, message)


def _mismatch(identity: EnclaveIdentity, claims: Claims) -> tuple[str, str] | None:
    """The first requirement of ``identity`` that ``claims`` miss, or ``None``."""
    if identity.signer is not None and claims.signer != identity.signer:
        return "signer", f"signer {claims.signer.hex() if claims.signer else None} is not the allowed signer"
    if identity.min_svn is not None and (claims.svn is None or claims.svn < identity.min_svn):
        return "svn", f"security version {claims.svn} is below the minimum {identity.min_svn}"
    if claims.kind in (EvidenceKind.SGX, EvidenceKind.TDX) and claims.tcb_status not in identity.accepted_tcb:
        return "tcb-status", (f"TCB status {claims.tcb_status} (advisories {', '.join(claims.advisories) or 'none'}) "
                              f"is not among {list(identity.accepted_tcb)}")
    for name, minimum in identity.min_tcb.items():
        if claims.tcb.get(name, -1) < minimum:
            return "tcb", f"TCB component {name} = {claims.tcb.get(name)} is below {minimum}"
    if identity.rtmrs is not None and [claims.extra.get(f"rtmr{i}") for i in range(4)] != list(identity.rtmrs):
        return "rtmr", "the TDX runtime measurement registers differ from the allowed ones"
    return None


def _iso(at: int) -> str:
    return datetime.fromtimestamp(at, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _hex(value: Any, where: str, size: int | None = None) -> bytes:
    try:
        raw = bytes.fromhex(str(value))
    except ValueError:
        raise ConfigurationError(f"{where} must be hex, got {value!r}") from None
    if size is not None and len(raw) != size:
        raise ConfigurationError(f"{where} must be {size} bytes, got {len(raw)}")
    return raw


def _timestamp(value: Any, where: str) -> int:
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        return int(moment.timestamp())
    try:
        return int(datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp())
    except ValueError:
        raise ConfigurationError(f"{where} must be an ISO 8601 time such as 2030-01-01T00:00:00Z") from None


def parse_policy(raw: Any, where: str) -> Policy:
    """Validate a policy mapping; errors name the field."""
    if not isinstance(raw, dict):
        raise ConfigurationError(f"{where} must be a map")
    unknown = set(raw) - {"owner", "datasets", "expires", "allow_simulation", "enclaves", "jobs", "recipients"}
    missing = {"owner", "datasets", "expires", "enclaves", "jobs"} - set(raw)
    if unknown or missing:
        raise ConfigurationError(f"{where}: unknown fields {sorted(unknown)}, missing fields {sorted(missing)}")
    enclaves = []
    for i, entry in enumerate(raw["enclaves"] or []):
        at = f"{where}: enclaves[{i}]"
        if not isinstance(entry, dict) or entry.get("kind") not in _KINDS or "measurement" not in entry:
            raise ConfigurationError(f"{at} needs kind (one of {sorted(_KINDS)}) and measurement")
        extra = set(entry) - {"kind", "measurement", "signer", "min_svn", "accepted_tcb", "min_tcb", "rtmrs"}
        if extra:
            raise ConfigurationError(f"{at}: unknown fields {sorted(extra)}")
        enclaves.append(EnclaveIdentity(
            _KINDS[entry["kind"]], _hex(entry["measurement"], f"{at}.measurement"),
            _hex(entry["signer"], f"{at}.signer") if entry.get("signer") is not None else None,
            int(entry["min_svn"]) if entry.get("min_svn") is not None else None,
            tuple(str(s) for s in entry.get("accepted_tcb", ["UpToDate"])),
            {str(k): int(v) for k, v in (entry.get("min_tcb") or {}).items()},
            tuple(str(r).lower() for r in entry["rtmrs"]) if entry.get("rtmrs") is not None else None))
    if not enclaves:
        raise ConfigurationError(f"{where}: 'enclaves' lists no acceptable enclave")
    recipients = {str(n): _hex(k, f"{where}: recipients.{n}", 32) for n, k in (raw.get("recipients") or {}).items()}
    return Policy(owner=str(raw["owner"]), datasets=tuple(str(d) for d in raw["datasets"]),
                  expires=_timestamp(raw["expires"], f"{where}: expires"), enclaves=tuple(enclaves),
                  jobs=tuple(str(j).lower() for j in raw["jobs"] or []), recipients=recipients,
                  allow_simulation=raw.get("allow_simulation", False) is True)


def load_policy(path: str | os.PathLike[str]) -> Policy:
    """Read and validate a policy file."""
    source = Path(path)
    try:
        raw = yaml.safe_load(source.read_text())
    except OSError as exc:
        raise ConfigurationError(f"cannot read policy file {source}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigurationError(f"policy file {source} is not valid YAML: {exc}") from None
    return parse_policy(raw, f"policy file {source}")
