"""Trusted execution below the runtime: evidence verification, policies, sealing, key wrapping, audit log.

Hazmat tier: the broker and the enclave runner (:mod:`accord.enclave`) are the documented entry points.
"""

from typing import TYPE_CHECKING

from accord._lazy import exports

if TYPE_CHECKING:
    from accord.tee.claims import SIMULATION_WARNING, Claims, Evidence, EvidenceKind, binding
    from accord.tee.verify import verify_evidence

__all__ = ["SIMULATION_WARNING", "Claims", "Evidence", "EvidenceKind", "binding", "verify_evidence"]
__getattr__, __dir__ = exports(__name__, {
    "accord.tee.claims": ["SIMULATION_WARNING", "Claims", "Evidence", "EvidenceKind", "binding"],
    "accord.tee.verify": ["verify_evidence"],
})
