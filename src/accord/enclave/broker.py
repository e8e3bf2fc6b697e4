"""The key broker at each data owner: releases a dataset's key only to attested enclaves its policy allows.

State directory layout (created by ``accord tee seal``)::

    policy.yaml              the owner's policy (see accord.tee.policy)
    keys/<dataset>.key       32-byte data keys, mode 0600; they never leave except HPKE-wrapped
    audit.jsonl              hash-chained log of every release and refusal

Flow per request: the runner asks for a challenge (a fresh 32-byte nonce, single use, valid for
``nonce_ttl`` seconds); the enclave then presents evidence whose report data equals
:func:`accord.tee.binding` of its ephemeral public key, the job digest and every broker's nonce; the
broker verifies the evidence at its clock, checks the binding and its policy, and wraps the data key
to the public key with HPKE under a context naming owner, dataset and job. Every release and refusal
is written to the audit log with the evidence digest; a refusal tells the runner which check failed.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from accord.crypto.random import Rng
from accord.enclave.messages import ChallengeRequest, ReleaseRequest, Step, refusal, reply
from accord.errors import AttestationError, ConfigurationError, EvidenceRejected, MalformedMessage, PolicyRefused
from accord.tee.audit import AuditLog
from accord.tee.claims import SIMULATION_WARNING, binding
from accord.tee.policy import Policy, load_policy
from accord.tee.verify import verify_evidence
from accord.tee.wrapping import wrap_key

log = logging.getLogger(__name__)


def key_context(owner: str, dataset: str, job: str) -> str:
    """The HPKE ``info`` under which a data key is wrapped for one job (the runner must use the same)."""
    return f"data-key/{owner}/{dataset}/{job}"


def read_data_key(state: Path, dataset: str) -> bytes:
    """The data key of ``dataset`` from the owner's state directory."""
    path = state / "keys" / f"{dataset}.key"
    try:
        key = path.read_bytes()
    except OSError as exc:
        raise ConfigurationError(f"cannot read data key {path}: {exc.strerror}") from None
    if len(key) != 32:
        raise ConfigurationError(f"data key {path} must hold 32 bytes")
    return key


class KeyBroker:
    """One owner's broker logic (transport-free, so tests can call it directly).

    Parameters
    ----------
    state:
        The owner's state directory.
    clock:
        Returns the current unix time; evidence, nonces and the policy are checked against it.
    nonce_ttl:
        Seconds a challenge stays valid (default 300).
    """

    def __init__(self, state: str | os.PathLike[str], *, clock: Callable[[], float] = time.time,
                 nonce_ttl: float = 300.0, rng: Rng | None = None) -> None:
        self.state = Path(state)
        self.owner = self.policy.owner
        self.audit = AuditLog(self.state / "audit.jsonl")
        self.clock, self.nonce_ttl, self._rng = clock, nonce_ttl, rng or Rng()
        self._nonces: dict[bytes, tuple[str, str, float]] = {}
        self._lock = threading.Lock()

    @property
    def policy(self) -> Policy:
        """The owner's policy, read afresh for every decision so an edit takes effect at once."""
        return load_policy(self.state / "policy.yaml")

    def challenge(self, request: ChallengeRequest) -> bytes:
        """A fresh nonce for ``request`` (single use, expires after ``nonce_ttl``)."""
        now = self.clock()
        nonce = self._rng.bytes(32)
        with self._lock:
            self._nonces = {n: v for n, v in self._nonces.items() if v[2] > now}
            self._nonces[nonce] = (request.job, request.dataset, now + self.nonce_ttl)
        return nonce

    def release(self, request: ReleaseRequest, peer: str = "runner") -> bytes:
        """The wrapped data key, or :class:`AttestationError` naming the failed check (both are audited)."""
        now = self.clock()
        digest = request.evidence.digest()
        fields = {"time": int(now), "dataset": request.dataset, "job": request.job, "evidence": digest,
                  "evidence_kind": request.evidence.kind.value, "recipients": sorted(request.recipients)}
        try:
            nonce = request.nonces.get(self.owner)
            with self._lock:
                issued = self._nonces.pop(nonce, None) if nonce is not None else None
            if issued is None or issued[2] <= now or issued[:2] != (request.job, request.dataset):
                raise EvidenceRejected("the request does not carry a live nonce issued by this broker for this job "
                                       "and dataset (replayed, expired or unknown)", check="nonce", party=self.owner)
            claims = verify_evidence(request.evidence, at=int(now))
            if claims.report_data != binding(request.public_key, request.nonces, request.job):
                raise EvidenceRejected("report data does not bind the presented public key, nonces and job",
                                       check="report-data", party=self.owner)
            policy = self.policy
            if policy.owner != self.owner:
                raise PolicyRefused(f"the policy now names owner {policy.owner!r}", check="owner", party=self.owner)
            policy.check(claims, dataset=request.dataset, job_digest=request.job,
                              recipients=request.recipients, at=int(now))
        except AttestationError as exc:
            self.audit.append("refusal", **fields, check=exc.check, reason=str(exc))
            log.warning("%s refused a key for %s to %s: %s", self.owner, request.dataset, peer, exc)
            raise
        wrapped = wrap_key(read_data_key(self.state, request.dataset), request.public_key,
                           key_context(self.owner, request.dataset, request.job))
        self.audit.append("release", **fields, claims=claims.summary())
        label = f" ({SIMULATION_WARNING})" if claims.simulated else ""
        log.warning("%s released the key of %s for job %s%s", self.owner, request.dataset, request.job[:12], label)
        return wrapped

    def handlers(self) -> dict[Step, Callable[[bytes], bytes]]:
        """Byte-level handlers for :class:`~accord.enclave.transport.BrokerServer`."""
        def challenge(data: bytes) -> bytes:
            return self._answer(lambda: self.challenge(ChallengeRequest.from_wire(data, "runner")))

        def release(data: bytes) -> bytes:
            return self._answer(lambda: self.release(ReleaseRequest.from_wire(data, "runner")))

        return {Step.CHALLENGE: challenge, Step.RELEASE: release}

    @staticmethod
    def _answer(fn: Callable[[], bytes]) -> bytes:
        try:
            return reply(fn())
        except AttestationError as exc:
            return refusal(exc)
        except MalformedMessage as exc:
            return refusal(EvidenceRejected(str(exc), check="format"))

