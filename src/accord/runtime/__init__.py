"""The runtime: clusters of parties, party-owned values, SPMD protocol contexts and job reports."""

from accord.runtime.cluster import Cluster, Party, PartyObject, PartyTable
from accord.runtime.context import Context
from accord.runtime.report import JobReport, ProtocolSpec, protocol

__all__ = ["Cluster", "Context", "JobReport", "Party", "PartyObject", "PartyTable", "ProtocolSpec", "protocol"]
