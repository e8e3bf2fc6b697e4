"""The node's decisions: proposals checked against column policies, signed approvals, and peers told.

Every state change happens in one serialised database transaction together with its audit entry
(:class:`~accord.node.store.Store`), so two operators deciding at once are ordered and the second
is told the first already decided. An approval is possible only for a job whose plan breaks none of
this party's column policies; it is signed with the party's key and sent to the peers' nodes.
"""

from __future__ import annotations

import json
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, insert, select, update

from accord.errors import AccordError, ConfigurationError, MalformedMessage, NotApproved
from accord.governance.approval import Approval, check_approval, parse_approval
from accord.governance.signing import Signer, Verifier
from accord.node import datasets as ds
from accord.node import peers, schema
from accord.node.config import NodeConfig
from accord.node.policy import Violation, check_uses
from accord.node.store import Store
from accord.pipeline.job import JobSpec, LocalSettings, load_job
from accord.pipeline.plan import dp_epsilon, plan_job
from accord.pipeline.workloads import WorkloadSpec


class DecisionConflict(ConfigurationError):
    """Another operator decided on the job first."""


@dataclass(frozen=True)
class Job:
    """A proposed job as this node sees it."""

    digest: str
    name: str
    text: str
    proposer: str
    proposed_at: float
    parties: list[str]
    plan: dict[str, Any]
    violations: list[dict[str, str]]


class Node:
    """One party's node: configuration, signing key, database and peers."""

    def __init__(self, config: NodeConfig) -> None:
        self.config = config
        self.party = config.party
        self.signer = Signer.from_file(config.party, config.key_path)
        self.verifiers = {n: Verifier.from_certificate(n, p.cert_pem) for n, p in config.cluster.parties.items()}
        config.state.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.store = Store(config.database, self.signer)

    # ---------------------------------------------------------------------------- proposals
    def spec(self, text: str, workdir: Path | None = None) -> JobSpec | WorkloadSpec:
        """The job file ``text`` parsed for this party (errors name the field)."""
        with tempfile.TemporaryDirectory(prefix="accord-node-") as tmp:
            path = Path(workdir or tmp) / "job.yaml"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            return load_job(path, local=LocalSettings(out_dir=path.parent))

    def check(self, conn: Connection, spec: JobSpec | WorkloadSpec) -> tuple[dict[str, Any], list[Violation]]:
        """The job's plan and every use of this party's columns that its policies forbid."""
        if self.party not in spec.participants:
            raise ConfigurationError(f"job {spec.name!r} does not name party {self.party!r}; it names "
                                     f"{spec.participants}")
        if self.party not in spec.parties:  # a dealer holds no data: no column is used
            return plan_job(spec).to_dict(), []
        name = ds.dataset_of(spec.parties[self.party])
        try:
            dataset = ds.get(conn, name)
        except ConfigurationError:
            plan = plan_job(spec)
            return plan.to_dict(), [Violation(name, "", "(no dataset registered)", "psi",
                                              f"reads dataset {name!r}, which is not registered at this node")]
        plan = plan_job(spec, {self.party: list(dataset.columns)})
        peers_ = [p for p in spec.participants if p != self.party]
        return plan.to_dict(), check_uses(dataset.policy, name, list(dataset.columns), plan.uses(self.party), peers_,
                                          dp_epsilon(spec, self.party))

    def propose(self, text: str, actor: str, proposer: str | None = None) -> Job:
        """Record a job (proposed here by ``actor``, or received from ``proposer``'s node)."""
        spec = self.spec(text)
        with self.store.write() as conn:
            existing = self._job(conn, spec.sha256)
            if existing is None:
                conn.execute(insert(schema.jobs).values(
                    digest=spec.sha256, name=spec.name, text=text, proposer=proposer or self.party,
                    proposed_at=time.time(), parties=json.dumps(spec.participants), plan="{}", violations="[]"))
            job, violations = self._recheck(conn, spec)
            self.store.audit(conn, "proposal" if existing is None else "proposal repeated", job=spec.name,
                             digest=spec.sha256, proposer=proposer or self.party, actor=actor,
                             violations=[str(v) for v in violations])
            self._auto_approve(conn, job, violations)
        return job

    def recheck(self, digest: str) -> Job | None:
        """The job with its policy check redone against the policies in force now (and stored)."""
        with self.store.write() as conn:
            job = self._job(conn, digest)
            return self._recheck(conn, self.spec(job.text))[0] if job is not None else None

    def _recheck(self, conn: Connection, spec: JobSpec | WorkloadSpec) -> tuple[Job, list[Violation]]:
        """Check a stored job against the policies in force now, and store the result."""
        plan, violations = self.check(conn, spec)
        conn.execute(update(schema.jobs).where(schema.jobs.c.digest == spec.sha256).values(
            plan=json.dumps(plan), violations=json.dumps([v.to_dict() for v in violations])))
        job = self._job(conn, spec.sha256)
        if job is None:
            raise ConfigurationError(f"no job with digest {spec.sha256[:16]}... at this node")
        return job, violations

    def _auto_approve(self, conn: Connection, job: Job, violations: list[Violation]) -> None:
        days = self.config.auto_same_digest_days
        if days is None or violations or self._valid_approval(conn, job.digest) is not None:
            return
        earlier = conn.execute(select(schema.decisions).where(
            schema.decisions.c.digest == job.digest, schema.decisions.c.party == self.party,
            schema.decisions.c.decision == "approve", schema.decisions.c.at > time.time() - days * 86400)
            .order_by(schema.decisions.c.at.desc())).mappings().first()
        if earlier is not None:
            self._approve(conn, job, f"auto: same job file approved by {earlier['actor']} within {days:g} days")

    # ---------------------------------------------------------------------------- decisions
    def decide(self, digest: str, actor: str, approve: bool, reason: str = "") -> dict[str, Any]:
        """Approve or reject a job as ``actor``; returns the decision (sent to the peers by the caller)."""
        if approve:
            self.recheck(digest)  # kept even when the approval below is refused
        with self.store.write() as conn:
            job = self._job(conn, digest)
            if job is None:
                raise ConfigurationError(f"no job with digest {digest[:16]}... was proposed to this node")
            current = self._latest(conn, digest, self.party)
            if current is not None and (current["decision"] == "reject" or self._valid_approval(conn, digest)):
                raise DecisionConflict(f"job {job.name!r} was already {current['decision']}d by {current['actor']} "
                                       f"at {time.strftime('%H:%M:%S', time.localtime(current['at']))}")
            if approve:
                job, violations = self._recheck(conn, self.spec(job.text))  # the policies may have changed
                if violations:
                    raise ConfigurationError(f"job {job.name!r} breaks this party's column policies and cannot be "
                                             "approved: " + "; ".join(map(str, violations)))
                return self._approve(conn, job, actor)
            conn.execute(insert(schema.decisions).values(digest=digest, party=self.party, decision="reject",
                                                         actor=actor, at=time.time(), reason=reason))
            self.store.audit(conn, "rejection", job=job.name, digest=digest, actor=actor, reason=reason)
            return {"party": self.party, "digest": digest, "decision": "reject", "reason": reason, "actor": actor}

    def _approve(self, conn: Connection, job: Job, actor: str) -> dict[str, Any]:
        now = time.time()
        approval = Approval(self.party, job.name, job.digest, self.config.cluster.digest(), ("run",), actor, now,
                            now + self.config.approval_days * 86400, self.store.audit_head(conn)).signed(self.signer)
        conn.execute(insert(schema.decisions).values(digest=job.digest, party=self.party, decision="approve",
                                                     actor=actor, at=now, approval=approval.to_wire().decode()))
        self.store.audit(conn, "approval", job=job.name, digest=job.digest, actor=actor,
                         expires_at=approval.expires_at)
        return {"party": self.party, "digest": job.digest, "decision": "approve", "actor": actor,
                "approval": approval.to_wire().decode()}

    def record_peer_decision(self, sender: str, body: dict[str, Any]) -> None:
        """Store a peer's decision after checking it (an approval must be the peer's valid signed one)."""
        digest, decision = str(body.get("digest", "")), body.get("decision")
        with self.store.write() as conn:
            job = self._job(conn, digest)
            if job is None or sender not in job.parties or decision not in ("approve", "reject"):
                raise MalformedMessage(f"party {sender!r} decided on a job this node does not know for it",
                                       party=sender, step="decision")
            token, anchor = None, None
            if decision == "approve":
                approval = check_approval(parse_approval(str(body.get("approval", "")), sender),
                                          self.verifiers[sender], job=job.name, digest=digest,
                                          cluster=self.config.cluster.digest(), command="run")
                token, anchor = approval.to_wire().decode(), list(approval.audit_head)
            conn.execute(insert(schema.decisions).values(digest=digest, party=sender, decision=decision,
                                                         actor=str(body.get("actor", ""))[:200], at=time.time(),
                                                         approval=token, reason=str(body.get("reason", ""))[:2000]))
            self.store.audit(conn, f"peer {'approval' if token else 'rejection'}", job=job.name, digest=digest,
                             party=sender, peer_audit_head=anchor)

    # ---------------------------------------------------------------------------- queries
    def _job(self, conn: Connection, digest: str) -> Job | None:
        row = conn.execute(select(schema.jobs).where(schema.jobs.c.digest == digest)).mappings().first()
        if row is None:
            return None
        return Job(row["digest"], row["name"], row["text"], row["proposer"], row["proposed_at"],
                   json.loads(row["parties"]), json.loads(row["plan"]), json.loads(row["violations"]))

    def job(self, digest: str) -> Job | None:
        """The job with this digest, if proposed here."""
        with self.store.read() as conn:
            return self._job(conn, digest)

    def jobs(self) -> list[Job]:
        """Every job, newest first."""
        with self.store.read() as conn:
            digests = conn.execute(select(schema.jobs.c.digest).order_by(schema.jobs.c.proposed_at.desc())).scalars()
            return [j for d in list(digests) if (j := self._job(conn, d)) is not None]

    def _latest(self, conn: Connection, digest: str, party: str) -> Any:
        return conn.execute(select(schema.decisions).where(
            schema.decisions.c.digest == digest, schema.decisions.c.party == party)
            .order_by(schema.decisions.c.id.desc())).mappings().first()

    def _valid_approval(self, conn: Connection, digest: str, party: str | None = None) -> Approval | None:
        party = party or self.party
        row = self._latest(conn, digest, party)
        if row is None or row["decision"] != "approve" or not row["approval"]:
            return None
        job = self._job(conn, digest)
        try:
            return check_approval(parse_approval(row["approval"], party), self.verifiers[party], job=job.name if job
                                  else "", digest=digest, cluster=self.config.cluster.digest(), command="run")
        except NotApproved:
            return None

    def decisions(self, digest: str) -> dict[str, dict[str, Any]]:
        """Each party's latest decision on a job, with whether an approval is still valid."""
        with self.store.read() as conn:
            job = self._job(conn, digest)
            out = {}
            for party in job.parties if job else []:
                row = self._latest(conn, digest, party)
                if row is not None:
                    out[party] = {**dict(row), "valid": self._valid_approval(conn, digest, party) is not None}
            return out

    def approvals(self, digest: str) -> dict[str, Approval]:
        """The valid approvals of every party of a job (raises :class:`NotApproved` naming a missing one)."""
        with self.store.read() as conn:
            job = self._job(conn, digest)
            if job is None:
                raise ConfigurationError(f"no job with digest {digest[:16]}... at this node")
            found = {p: self._valid_approval(conn, digest, p) for p in job.parties}
        missing = [p for p, a in found.items() if a is None]
        if missing:
            raise NotApproved(f"job {job.name!r} lacks a valid approval from {', '.join(missing)}")
        return {p: a for p, a in found.items() if a is not None}

    def tell_peers(self, kind: str, body: dict[str, Any], parties: list[str]) -> dict[str, str]:
        """Send a signed message to the nodes of ``parties``; returns each failure's reason."""
        message = peers.seal_message(self.signer, kind, body)
        failures = {}
        for party in parties:
            if party == self.party:
                continue
            url = self.config.peers.get(party)
            if url is None:
                failures[party] = "no node URL for this party in the node configuration"
                continue
            try:
                peers.send(url, self.config.cluster.parties[party].cert_pem, f"/peer/{kind}", message)
            except AccordError as exc:
                failures[party] = str(exc)
        return failures

    def accept_message(self, raw: Any, kind: str) -> tuple[str, dict[str, Any]]:
        """Check a peer node's message and remember its nonce (a replayed message is refused)."""
        sender, nonce, body = peers.open_message(raw, kind, {n: v for n, v in self.verifiers.items()
                                                             if n != self.party})
        with self.store.write() as conn:
            if conn.execute(select(schema.peer_nonces.c.nonce).where(schema.peer_nonces.c.nonce == nonce)).first():
                raise MalformedMessage(f"party {sender!r}'s {kind} message was already received (replayed)",
                                       party=sender, step=kind)
            conn.execute(insert(schema.peer_nonces).values(nonce=nonce, at=time.time()))
        return sender, body
