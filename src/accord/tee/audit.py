"""The TEE key brokers' audit log: the shared hash chain (:mod:`accord.governance.chain`), labelled for simulation.

Every release and refusal is one entry in ``audit.jsonl`` in the owner's state directory; an entry
about simulated evidence carries the simulation warning, so no reader mistakes it for a real enclave.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from accord.governance.chain import GENESIS, verify_log
from accord.governance.chain import AuditLog as ChainLog
from accord.tee.claims import SIMULATION_WARNING

__all__ = ["GENESIS", "AuditLog", "verify_log"]


class AuditLog(ChainLog):
    """A broker's log: entries on simulated evidence say so."""

    def _extra(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        return {"warning": SIMULATION_WARNING} if fields.get("evidence_kind") == "simulated" else {}
