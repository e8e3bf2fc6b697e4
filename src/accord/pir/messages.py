"""Every message keyword PIR puts on the wire, validated on receipt.

Each message is a frozen dataclass with ``to_wire`` (a value the typed codec carries) and ``from_wire``,
which checks shape, type and range and raises :class:`MalformedMessage` naming the peer and the step.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

import numpy as np

from accord.crypto.oprf import PROOF_BYTES
from accord.crypto.ristretto255 import ELEMENT_BYTES
from accord.errors import MalformedMessage

ID_BYTES = 32
MAX_COUNT = 1 << 60


class Tag(str, Enum):
    """Message tags of the PIR protocols."""

    HELLO = "hello"
    OFFER = "offer"
    BLINDED = "blinded"
    EVALUATED = "evaluated"
    SYNC_HELLO = "sync-hello"
    SYNC_OFFER = "sync-offer"
    CHUNK = "chunk"

    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, spec: str) -> str:
        return format(str(self.value), spec)


def _bad(what: str, peer: str, step: str) -> MalformedMessage:
    return MalformedMessage(f"party {peer!r} sent {what}", party=peer, step=step)


def _count(value: object, peer: str, step: str, name: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_COUNT:
        raise _bad(f"an invalid {name}", peer, step)
    return value


def _digest(value: object, peer: str, step: str, *, empty_ok: bool = False) -> bytes:
    if not isinstance(value, bytes) or len(value) not in ((0, ID_BYTES) if empty_ok else (ID_BYTES,)):
        raise _bad("an invalid table id", peer, step)
    return value


def _fields(value: object, names: set[str], peer: str, step: str) -> dict[str, Any]:
    if not isinstance(value, dict) or set(value) != names:
        raise _bad(f"a message without exactly the fields {sorted(names)}", peer, step)
    return value


def _elements(value: object, count: int, peer: str, step: str) -> np.ndarray:
    if not isinstance(value, np.ndarray) or value.dtype != np.uint8 or value.shape != (count, ELEMENT_BYTES):
        raise _bad(f"group elements that are not a ({count}, {ELEMENT_BYTES}) byte array", peer, step)
    return value


@dataclass(frozen=True)
class Hello:
    """Client to server: the table its copy holds, and how many keys it asks about."""

    table_id: bytes
    count: int

    def to_wire(self) -> dict[str, Any]:
        return {"table_id": self.table_id, "count": self.count}

    @classmethod
    def from_wire(cls, value: object, peer: str, step: str) -> Hello:
        d = _fields(value, {"table_id", "count"}, peer, step)
        return cls(_digest(d["table_id"], peer, step), _count(d["count"], peer, step, "query count"))


@dataclass(frozen=True)
class Offer:
    """Server to client: the table it serves, the queries it still answers, and the most per run."""

    table_id: bytes
    remaining: int
    max_batch: int

    def to_wire(self) -> dict[str, Any]:
        return {"table_id": self.table_id, "remaining": self.remaining, "max_batch": self.max_batch}

    @classmethod
    def from_wire(cls, value: object, peer: str, step: str) -> Offer:
        d = _fields(value, {"table_id", "remaining", "max_batch"}, peer, step)
        return cls(_digest(d["table_id"], peer, step), _count(d["remaining"], peer, step, "remaining capacity"),
                   _count(d["max_batch"], peer, step, "batch limit"))


@dataclass(frozen=True)
class Blinded:
    """Client to server: one blinded element per key, ``r_i * HashToGroup(key_i)``."""

    elements: np.ndarray

    def to_wire(self) -> np.ndarray:
        return self.elements

    @classmethod
    def from_wire(cls, value: object, count: int, peer: str, step: str) -> Blinded:
        return cls(_elements(value, count, peer, step))


@dataclass(frozen=True)
class Evaluated:
    """Server to client: ``k * blinded_i`` for each element and one batched VOPRF proof."""

    elements: np.ndarray
    proof: bytes

    def to_wire(self) -> dict[str, Any]:
        return {"elements": self.elements, "proof": self.proof}

    @classmethod
    def from_wire(cls, value: object, count: int, peer: str, step: str) -> Evaluated:
        d = _fields(value, {"elements", "proof"}, peer, step)
        if not isinstance(d["proof"], bytes) or len(d["proof"]) != PROOF_BYTES:
            raise _bad("a malformed proof", peer, step)
        return cls(_elements(d["elements"], count, peer, step), d["proof"])


@dataclass(frozen=True)
class SyncHello:
    """Client to server: the id of the copy it holds (empty if none)."""

    have: bytes

    def to_wire(self) -> bytes:
        return self.have

    @classmethod
    def from_wire(cls, value: object, peer: str, step: str) -> SyncHello:
        return cls(_digest(value, peer, step, empty_ok=True))


@dataclass(frozen=True)
class SyncOffer:
    """Server to client: the id and size of its table, and the largest chunk it sends (0 bytes if current)."""

    table_id: bytes
    size: int
    chunk: int

    def to_wire(self) -> dict[str, Any]:
        return {"table_id": self.table_id, "size": self.size, "chunk": self.chunk}

    @classmethod
    def from_wire(cls, value: object, peer: str, step: str) -> SyncOffer:
        d = _fields(value, {"table_id", "size", "chunk"}, peer, step)
        offer = cls(_digest(d["table_id"], peer, step), _count(d["size"], peer, step, "table size"),
                    _count(d["chunk"], peer, step, "chunk size"))
        if offer.chunk < 1 and offer.size:
            raise _bad("a zero chunk size", peer, step)
        return offer


def chunk_from_wire(value: object, limit: int, peer: str, step: str) -> bytes:
    """One piece of a table: non-empty bytes of at most ``limit``."""
    if not isinstance(value, bytes) or not 0 < len(value) <= limit:
        raise _bad("a table chunk of the wrong size", peer, step)
    return value
