"""One entry point for every kind of evidence, with the pinned vendor roots and an explicit clock."""

from __future__ import annotations

import logging
from importlib import resources

from accord.errors import EvidenceRejected
from accord.tee import intel, sevsnp
from accord.tee.claims import SIMULATION_WARNING, Claims, Evidence, EvidenceKind
from accord.tee.simulated import parse_simulated

log = logging.getLogger(__name__)


def intel_root() -> bytes:
    """The pinned Intel SGX Root CA (PEM; valid to 2049-12-31), the one root of SGX and TDX quotes."""
    return (resources.files("accord.tee") / "roots" / "intel_sgx_root_ca.pem").read_bytes()


def verify_evidence(evidence: Evidence, *, at: int, intel_root_pem: bytes | None = None,
                    allow_debug: bool = False) -> Claims:
    """Verify ``evidence`` as of unix time ``at`` (never the wall clock implicitly) and return its claims.

    Simulated evidence is parsed, not verified: its claims say ``kind == "simulated"`` and it is the
    policy's job to refuse it. A debug enclave (its memory readable by the host) is refused unless
    ``allow_debug``. Raises :class:`~accord.errors.EvidenceRejected` naming the failed check.
    """
    if evidence.kind in (EvidenceKind.SGX, EvidenceKind.TDX):
        claims = intel.verify_quote(evidence.blob, evidence.collateral, at=at, root_pem=intel_root_pem or intel_root())
    elif evidence.kind is EvidenceKind.SEV_SNP:
        claims = sevsnp.verify_report(evidence.blob, evidence.collateral, at=at)
    else:
        log.warning("%s: evidence %s is simulated and was not verified", SIMULATION_WARNING, evidence.digest())
        claims = parse_simulated(evidence.blob)
    if claims.kind is not evidence.kind:
        raise EvidenceRejected(f"evidence labelled {evidence.kind.value} holds a {claims.kind.value} quote",
                               check="quote-format")
    if claims.debug and not allow_debug:
        raise EvidenceRejected(f"the {claims.kind.value} enclave runs in debug mode: its host can read its memory",
                               check="debug")
    return claims
