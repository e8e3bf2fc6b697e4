"""The runtime: clusters of parties, party-owned values, SPMD protocol contexts and job reports."""

from typing import TYPE_CHECKING

from accord._lazy import exports

if TYPE_CHECKING:
    from accord.runtime.cluster import Cluster, Party, PartyObject, PartyTable
    from accord.runtime.context import Context
    from accord.runtime.report import JobReport, ProtocolSpec, protocol

__all__ = ["Cluster", "Context", "JobReport", "Party", "PartyObject", "PartyTable", "ProtocolSpec", "protocol"]
__getattr__, __dir__ = exports(__name__, {
    "accord.runtime.cluster": ["Cluster", "Party", "PartyObject", "PartyTable"],
    "accord.runtime.context": ["Context"],
    "accord.runtime.report": ["JobReport", "ProtocolSpec", "protocol"],
})
