"""Attestation evidence and the claims a policy reads, with the report-data binding of a key request.

Evidence is what an enclave (or confidential VM) presents: the vendor-signed blob (an SGX or TDX
quote, an SEV-SNP attestation report, or a simulated report) plus the collateral needed to verify it
offline (Intel PCS TCB info, QE identity and CRLs; AMD VCEK and ASK). Verification turns evidence into
:class:`Claims`: the measured identity, security version, debug flag, TCB status and the 64 bytes of
report data the enclave chose. A key broker accepts evidence only if the report data equals
:func:`binding` of its fresh nonce and the enclave's ephemeral public key, so a quote cannot be
replayed for another request or another key.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from accord.errors import EvidenceRejected

SIMULATION_WARNING = "INSECURE SIMULATION"
_BINDING_DOMAIN = b"accord.tee.v1/report-data"


class EvidenceKind(str, Enum):
    """The kinds of evidence accord verifies; ``SIMULATED`` carries no hardware guarantee at all."""

    SGX = "sgx"
    TDX = "tdx"
    SEV_SNP = "sev-snp"
    SIMULATED = "simulated"


@dataclass(frozen=True)
class Evidence:
    """One piece of attestation evidence as it travels from the enclave to a verifier.

    Parameters
    ----------
    kind:
        Which verifier applies.
    blob:
        The quote or report exactly as the hardware (or the simulation backend) produced it.
    collateral:
        Named byte strings the verifier needs (see :mod:`accord.tee.intel` and :mod:`accord.tee.sevsnp`).
    """

    kind: EvidenceKind
    blob: bytes
    collateral: Mapping[str, bytes] = field(default_factory=dict)

    def digest(self) -> str:
        """SHA-256 over kind, blob and collateral: what audit logs record to identify this evidence."""
        h = hashlib.sha256(self.kind.value.encode() + b"\0")
        for part in (self.blob, *(k.encode() + b"=" + v for k, v in sorted(self.collateral.items()))):
            h.update(struct.pack("<Q", len(part)) + part)
        return "sha256:" + h.hexdigest()

    def to_wire(self) -> dict[str, Any]:
        """A codec-ready map."""
        return {"kind": self.kind.value, "blob": self.blob, "collateral": dict(self.collateral)}

    @classmethod
    def from_wire(cls, value: Any, *, party: str | None = None) -> Evidence:
        """Rebuild evidence from :meth:`to_wire` output, refusing anything but the expected shape."""
        if not isinstance(value, dict) or set(value) != {"kind", "blob", "collateral"}:
            raise EvidenceRejected("evidence must be a map of kind, blob and collateral", check="format", party=party)
        kinds = {k.value: k for k in EvidenceKind}
        collateral = value["collateral"]
        if value["kind"] not in kinds or not isinstance(value["blob"], bytes) or not isinstance(collateral, dict) \
                or not all(isinstance(v, bytes) for v in collateral.values()):
            raise EvidenceRejected(f"unknown evidence kind {value['kind']!r} or non-bytes fields", check="format",
                                   party=party)
        return cls(kinds[value["kind"]], value["blob"], collateral)


@dataclass(frozen=True)
class Claims:
    """What verified evidence says about the enclave; read by :mod:`accord.tee.policy`.

    ``measurement`` is MRENCLAVE (SGX), MRTD (TDX), the launch measurement (SEV-SNP) or the digest of
    the runner's code (simulation). ``signer`` is MRSIGNER (SGX) or the ID-key digest (SEV-SNP); TDX has
    none. ``svn`` is the ISV SVN (SGX) or guest SVN (SEV-SNP). ``tcb_status`` and ``advisories`` come
    from Intel's TCB info; SEV-SNP has no status, its TCB components are in ``tcb``. ``extra`` holds
    further registers (RTMRs, SNP policy bits, chip id) as hex.
    """

    kind: EvidenceKind
    measurement: bytes
    report_data: bytes
    debug: bool
    signer: bytes | None = None
    svn: int | None = None
    product_id: int | None = None
    tcb_status: str | None = None
    advisories: tuple[str, ...] = ()
    tcb: Mapping[str, int] = field(default_factory=dict)
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def simulated(self) -> bool:
        """Whether these claims come from the simulation backend (no hardware guarantee)."""
        return self.kind is EvidenceKind.SIMULATED

    def summary(self) -> dict[str, Any]:
        """A JSON-ready description for reports and audit logs (simulation is labelled as such)."""
        out: dict[str, Any] = {
            "kind": self.kind.value, "measurement": self.measurement.hex(), "debug": self.debug,
            "signer": self.signer.hex() if self.signer is not None else None, "svn": self.svn,
            "tcb_status": self.tcb_status, "advisories": list(self.advisories), "tcb": dict(self.tcb),
            "report_data": self.report_data.hex(), **{k: v for k, v in self.extra.items()},
        }
        if self.simulated:
            out["warning"] = SIMULATION_WARNING
        return out


def binding(public_key: bytes, nonces: Mapping[str, bytes], job_digest: str) -> bytes:
    """The 64 report-data bytes that bind an enclave's ephemeral public key to every broker's nonce.

    SHA-512 over a domain tag, the public key, the job digest and each owner's nonce (sorted by owner
    name), each length-prefixed. One piece of evidence thus answers all brokers of a job at once.
    """
    h = hashlib.sha512(_BINDING_DOMAIN)
    parts = [public_key, job_digest.encode()]
    for owner in sorted(nonces):
        parts += [owner.encode(), nonces[owner]]
    for part in parts:
        h.update(struct.pack("<Q", len(part)) + part)
    return h.digest()
