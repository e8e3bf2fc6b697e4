"""The wire messages of bucketed PSI's handshake, each validated on receipt (the per-bucket PSIs have their own)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

import numpy as np

from accord.errors import MalformedMessage

NONCE_BYTES = 16
DIGEST_BYTES = 32
MAX_BUCKETS = 4096
MAX_WORKERS = 256
MAX_RETRIES = 16


class Tag(str, Enum):
    """Message tags, in the order they are sent."""

    HELLO = "hello"    # the call, a bucket-count proposal, a commitment to a nonce, any stored run
    REVEAL = "reveal"  # the committed nonce (only when a fresh bucket key is drawn)
    READY = "ready"    # which buckets hold rows at this party, once spilled
    ROUND = "round"    # after each round of buckets on workers: the ones completed here (``round<n>``)


@dataclass(frozen=True)
class Hello:
    """The first message: what this party runs, and the run it could resume."""

    mode: str
    protocol: str
    receivers: list[str]
    buckets: int          # buckets this party asks for (from its row count and memory bound)
    commit: bytes         # SHA-256 commitment to this party's nonce for the bucket key
    resume: bytes         # digest of the stored run this party could resume, or b""
    done: np.ndarray      # int64 buckets this party completed in that stored run
    workers: int          # buckets this party can run at once (both run the smaller number)
    remote: bool = False  # this party runs buckets on workers (pool or Ray) even with one: so do both

    def to_wire(self) -> dict[str, Any]:
        return {"mode": self.mode, "protocol": self.protocol, "receivers": self.receivers, "buckets": self.buckets,
                "commit": self.commit, "resume": self.resume, "done": self.done, "workers": self.workers,
                "remote": self.remote}

    @classmethod
    def from_wire(cls, value: object, peer: str, step: str) -> Hello:
        def bad(what: str) -> MalformedMessage:
            return MalformedMessage(f"party {peer!r} sent a malformed bucketed-PSI hello: {what}", party=peer,
                                    step=step)

        if not isinstance(value, dict):
            raise bad("not a map")
        if not all(isinstance(value.get(k), str) for k in ("mode", "protocol")):
            raise bad("mode and protocol must be strings")
        receivers = value.get("receivers")
        if not isinstance(receivers, list) or not all(isinstance(r, str) for r in receivers):
            raise bad("receivers must be a list of names")
        buckets = value.get("buckets")
        if not isinstance(buckets, int) or isinstance(buckets, bool) or not 1 <= buckets <= MAX_BUCKETS:
            raise bad(f"the bucket count must be an integer in [1, {MAX_BUCKETS}]")
        commit, resume = value.get("commit"), value.get("resume")
        if not isinstance(commit, bytes) or len(commit) != DIGEST_BYTES:
            raise bad(f"the commitment must be {DIGEST_BYTES} bytes")
        if not isinstance(resume, bytes) or len(resume) not in (0, DIGEST_BYTES):
            raise bad(f"the resume digest must be empty or {DIGEST_BYTES} bytes")
        done = value.get("done")
        if (not isinstance(done, np.ndarray) or done.dtype != np.int64 or done.ndim != 1
                or (len(done) and (done.min() < 0 or done.max() >= MAX_BUCKETS))
                or len(np.unique(done)) != len(done)):
            raise bad("completed buckets must be distinct int64 bucket numbers")
        workers = value.get("workers")
        if not isinstance(workers, int) or isinstance(workers, bool) or not 1 <= workers <= MAX_WORKERS:
            raise bad(f"the worker count must be an integer in [1, {MAX_WORKERS}]")
        remote = value.get("remote")
        if not isinstance(remote, bool):
            raise bad("remote must be a boolean")
        return cls(value["mode"], value["protocol"], receivers, buckets, commit, resume, done, workers, remote)


def check_nonce(value: object, peer: str, step: str) -> bytes:
    """The peer's revealed nonce: ``NONCE_BYTES`` bytes."""
    if not isinstance(value, bytes) or len(value) != NONCE_BYTES:
        raise MalformedMessage(f"party {peer!r} revealed a malformed nonce", party=peer, step=step)
    return value


def check_ready(value: object, buckets: int, peer: str, step: str) -> np.ndarray:
    """The peer's non-empty buckets: a ``(buckets,)`` boolean vector sent as uint8 zeros and ones."""
    if (not isinstance(value, np.ndarray) or value.dtype != np.uint8 or value.shape != (buckets,)
            or (buckets and value.max() > 1)):
        raise MalformedMessage(f"party {peer!r} sent a malformed list of non-empty buckets (expected {buckets} "
                               "zeros and ones)", party=peer, step=step)
    return value.astype(bool)


def check_round(value: object, buckets: set[int], peer: str, step: str) -> set[int]:
    """The buckets the peer completed in a round on its workers: distinct int64 numbers among ``buckets``."""
    if (not isinstance(value, np.ndarray) or value.dtype != np.int64 or value.ndim != 1
            or len(np.unique(value)) != len(value) or not set(value.tolist()) <= buckets):
        raise MalformedMessage(f"party {peer!r} sent a malformed list of completed buckets (distinct buckets of "
                               "this round expected)", party=peer, step=step)
    return set(value.tolist())
