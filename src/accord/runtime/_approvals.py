"""Approvals in the start-up handshake: check our own before starting, send it, check every peer's.

A party refuses to start a job its node has not approved (:func:`approval_exchange` raises before
the server starts), and refuses each peer whose hello does not carry that peer's valid signed
approval of the same job file, cluster and command (a replayed approval of an older job file fails
on the digest it binds).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from accord.errors import NotApproved
from accord.governance.approval import Approval, ApprovalGate, check_approval, parse_approval
from accord.governance.signing import Verifier

if TYPE_CHECKING:
    from accord.runtime.config import ClusterConfig


def approval_exchange(gate: ApprovalGate, cfg: ClusterConfig, me: str, job: str
                      ) -> tuple[dict[str, bytes], Callable[[str, dict[str, Any]], None]]:
    """The hello field carrying our approval, and the check of each peer's hello."""
    cluster = cfg.digest()

    def verify(party: str, approval: Approval | None) -> Approval:
        return check_approval(approval, Verifier.from_certificate(party, cfg.parties[party].cert_pem), job=job,
                              digest=gate.digest, cluster=cluster, command=gate.command)

    mine = verify(me, gate.mine)   # this party's node must have approved exactly this job

    def check(peer: str, hello: dict[str, Any]) -> None:
        blob = hello.get("approval")
        if not isinstance(blob, bytes):
            raise NotApproved(f"party {peer!r} presented no approval of job {job!r}: its node has not approved it")
        verify(peer, parse_approval(blob, peer))

    return {"approval": mine.to_wire()}, check
