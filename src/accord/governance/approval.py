"""Signed job approvals: a party's statement that its node approved one exact job file for one cluster.

An approval names the party, the job, the SHA-256 of the job file's text, the cluster-file digest,
the commands it covers (``run``, ``score``), who approved it and when, an optional expiry, and the
head of the party's audit log just before the approval was recorded (an anchor peers keep, so a log
later cut short is caught). It is signed with the party's key (the key of its mTLS certificate), so a
peer checks it against the certificate in the cluster file. Because it binds the job file's digest,
an approval of last month's job file does not start this month's edited one.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from accord.errors import CryptoError, NotApproved
from accord.governance.signing import Signer, Verifier

FORMAT = "accord-approval-1"
PURPOSE = "job-approval"
COMMANDS = ("run", "score")


@dataclass(frozen=True)
class Approval:
    """One party's signed approval of one job file (see the module docstring)."""

    party: str
    job: str
    digest: str
    cluster: str
    commands: tuple[str, ...]
    approver: str
    approved_at: float
    expires_at: float | None = None
    audit_head: tuple[int, str] = (-1, "")
    signature: str = field(default="", compare=False)

    def _body(self) -> bytes:
        body = {k: v for k, v in asdict(self).items() if k != "signature"}
        body["commands"], body["audit_head"] = list(self.commands), list(self.audit_head)
        return json.dumps({"format": FORMAT, **body}, sort_keys=True, separators=(",", ":")).encode()

    def signed(self, signer: Signer) -> Approval:
        """This approval signed by ``signer`` (who must be its party)."""
        if signer.party != self.party:
            raise ValueError(f"party {signer.party!r} cannot sign an approval of party {self.party!r}")
        return Approval(**{**asdict(self), "commands": self.commands, "audit_head": self.audit_head,
                           "signature": signer.sign(PURPOSE, self._body())})

    def to_wire(self) -> bytes:
        """The signed approval as JSON bytes (for the handshake, files and peer nodes)."""
        return json.dumps({**json.loads(self._body()), "signature": self.signature}, sort_keys=True).encode()

    def to_dict(self) -> dict[str, Any]:
        """Plain data for display."""
        return json.loads(self.to_wire())


def parse_approval(data: bytes | str, party: str) -> Approval:
    """An approval said to come from ``party``, checked for shape (not yet for its signature)."""
    try:
        raw = json.loads(data)
        if not isinstance(raw, dict) or raw.pop("format", None) != FORMAT:
            raise ValueError("not an accord approval")
        head = raw.pop("audit_head", [-1, ""])
        approval = Approval(commands=tuple(str(c) for c in raw.pop("commands")),
                            audit_head=(int(head[0]), str(head[1])), **raw)
        fields_ok = all(isinstance(getattr(approval, n), str) for n in ("party", "job", "digest", "cluster",
                                                                          "approver", "signature"))
        times_ok = isinstance(approval.approved_at, (int, float)) and (
            approval.expires_at is None or isinstance(approval.expires_at, (int, float)))
        if not (fields_ok and times_ok):
            raise ValueError("fields of the wrong type")
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        raise NotApproved(f"party {party!r} presented a malformed approval ({exc})") from None
    return approval


def check_approval(approval: Approval | None, verifier: Verifier, *, job: str, digest: str, cluster: str,
                   command: str, now: float | None = None) -> Approval:
    """Return ``approval`` if it is ``verifier``'s party's valid approval of exactly this job; else
    raise :class:`NotApproved` saying what differs."""
    who = verifier.party
    if approval is None:
        raise NotApproved(f"party {who!r} has no approval of job {job!r} (job file sha256 {digest[:16]}...) from "
                          "its node: approve it in the node's console, or run the job from the node")
    if approval.party != who:
        raise NotApproved(f"party {who!r} presented an approval made by {approval.party!r}")
    try:
        verifier.verify(PURPOSE, approval._body(), approval.signature)
    except CryptoError:
        raise NotApproved(f"party {who!r} presented an approval whose signature does not verify with its "
                          "certificate in the cluster file") from None
    if approval.digest != digest:
        raise NotApproved(f"party {who!r} approved job file sha256 {approval.digest[:16]}..., but this job file is "
                          f"sha256 {digest[:16]}...: an approval of another version of the job does not start "
                          "this one")
    if approval.job != job:
        raise NotApproved(f"party {who!r} approved job {approval.job!r}, not {job!r}")
    if approval.cluster != cluster:
        raise NotApproved(f"party {who!r} approved the job for cluster {approval.cluster}, not for this cluster "
                          f"file ({cluster})")
    if command not in approval.commands:
        raise NotApproved(f"party {who!r} approved {list(approval.commands)} of job {job!r}, not {command!r}")
    moment = time.time() if now is None else now
    if approval.expires_at is not None and moment > approval.expires_at:
        raise NotApproved(f"party {who!r}'s approval of job {job!r} expired at "
                          f"{time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime(approval.expires_at))} UTC")
    return approval


@dataclass(frozen=True)
class ApprovalGate:
    """What a party brings to the start-up handshake: its own approval and what it must approve.

    ``digest`` is the SHA-256 of the job file's text (every party must hold the same file), and
    ``command`` the use being started (``run`` or ``score``).
    """

    mine: Approval | None
    digest: str
    command: str
