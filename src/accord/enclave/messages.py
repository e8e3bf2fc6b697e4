"""The key-broker wire vocabulary: typed messages, each validated on receipt.

Every message is one codec-encoded map. Requests come from an enclave runner, replies from a broker.
``from_wire`` checks keys, types and sizes and raises :class:`~accord.errors.MalformedMessage` naming
the peer and the step.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from typing import Any

from accord.errors import AttestationError, EvidenceRejected, MalformedMessage, PolicyRefused
from accord.net import codec
from accord.tee.claims import Evidence

LIMITS = codec.Limits(max_bytes=1 << 20, max_depth=4, max_items=4096, max_int_bytes=16)
_DIGEST = re.compile(r"^[0-9a-f]{64}$")
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


class Step(str, Enum):
    """The two calls of the key-broker service."""

    CHALLENGE = "Challenge"
    RELEASE = "Release"


def decode(data: bytes, peer: str, step: Step, fields: set[str]) -> dict[str, Any]:
    """Decode a map with exactly ``fields`` or raise :class:`MalformedMessage`."""
    try:
        value = codec.decode(data, LIMITS)
    except Exception as exc:
        raise MalformedMessage(f"undecodable {step.value} message: {exc}", party=peer, step=step.value) from None
    if not isinstance(value, dict) or set(value) != fields:
        raise MalformedMessage(f"{step.value} message must hold exactly {sorted(fields)}", party=peer,
                               step=step.value)
    return value


def _check(ok: bool, what: str, peer: str, step: Step) -> None:
    if not ok:
        raise MalformedMessage(f"{step.value} message: {what}", party=peer, step=step.value)


def _names(value: Any, size: int, what: str, peer: str, step: Step) -> dict[str, bytes]:
    _check(isinstance(value, dict) and 0 < len(value) <= 64 and all(
        _NAME.match(k) and isinstance(v, bytes) and len(v) == size for k, v in value.items()),
        f"{what} must map names to {size}-byte strings", peer, step)
    return value


@dataclass(frozen=True)
class ChallengeRequest:
    """A runner asks an owner's broker for a fresh nonce for one job and dataset."""

    job: str
    dataset: str

    def to_wire(self) -> bytes:
        return codec.encode({"job": self.job, "dataset": self.dataset})

    @classmethod
    def from_wire(cls, data: bytes, peer: str) -> ChallengeRequest:
        raw = decode(data, peer, Step.CHALLENGE, {"job", "dataset"})
        _check(isinstance(raw["job"], str) and bool(_DIGEST.match(raw["job"])), "job must be a SHA-256 hex digest",
               peer, Step.CHALLENGE)
        _check(isinstance(raw["dataset"], str) and bool(_NAME.match(raw["dataset"])), "bad dataset name", peer,
               Step.CHALLENGE)
        return cls(raw["job"], raw["dataset"])


@dataclass(frozen=True)
class ReleaseRequest:
    """Evidence binding the enclave's ephemeral key and every broker's nonce, asking for one data key."""

    job: str
    dataset: str
    public_key: bytes
    nonces: dict[str, bytes]
    recipients: dict[str, bytes]
    evidence: Evidence

    def to_wire(self) -> bytes:
        return codec.encode({"job": self.job, "dataset": self.dataset, "public_key": self.public_key,
                             "nonces": self.nonces, "recipients": self.recipients, "evidence": self.evidence.to_wire()})

    @classmethod
    def from_wire(cls, data: bytes, peer: str) -> ReleaseRequest:
        step = Step.RELEASE
        raw = decode(data, peer, step, {"job", "dataset", "public_key", "nonces", "recipients", "evidence"})
        _check(isinstance(raw["job"], str) and bool(_DIGEST.match(raw["job"])), "bad job digest", peer, step)
        _check(isinstance(raw["dataset"], str) and bool(_NAME.match(raw["dataset"])), "bad dataset name", peer, step)
        _check(isinstance(raw["public_key"], bytes) and len(raw["public_key"]) == 32, "public key must be 32 bytes",
               peer, step)
        try:
            evidence = Evidence.from_wire(raw["evidence"], party=peer)
        except EvidenceRejected as exc:
            raise MalformedMessage(str(exc), party=peer, step=step.value) from None
        return cls(raw["job"], raw["dataset"], raw["public_key"], _names(raw["nonces"], 32, "nonces", peer, step),
                   _names(raw["recipients"], 32, "recipients", peer, step), evidence)


def reply(value: Any) -> bytes:
    """A successful reply."""
    return codec.encode({"ok": value, "refused": None})


def refusal(error: AttestationError) -> bytes:
    """A refusal that tells the runner which check failed (the same text goes to the audit log)."""
    return codec.encode({"ok": None, "refused": {"class": type(error).__name__, "check": error.check,
                                                 "message": str(error)}})


def read_reply(data: bytes, peer: str, step: Step) -> Any:
    """The reply's value, or the broker's refusal raised as the matching :class:`AttestationError`."""
    raw = decode(data, peer, step, {"ok", "refused"})
    refused = raw["refused"]
    if refused is None:
        return raw["ok"]
    _check(isinstance(refused, dict) and all(isinstance(refused.get(k), str) for k in ("class", "check", "message")),
           "malformed refusal", peer, step)
    cls = EvidenceRejected if refused["class"] == "EvidenceRejected" else PolicyRefused
    error = cls(refused["message"], check=refused["check"])
    error.party = peer
    raise error
