"""The wire vocabulary of secure SQL's own steps, each message checked on receipt.

Four small exchanges sit between the PSI and MPC protocols: unit counts (:class:`Step.SIZES`), the
positions that re-index a party's rows after a later join (:class:`Step.REINDEX`), a public group
partition (:class:`Step.GROUPS`) and one-time-padded group keys for the receiver (:class:`Step.KEYS`).
A message that fails its check raises :class:`~accord.errors.MalformedMessage` naming the peer and step.
"""

from __future__ import annotations

import enum
from typing import Any

import numpy as np

from accord.errors import MalformedMessage

MAX_ROWS = 1 << 31


class Step(enum.Enum):
    """Message tags."""

    SIZES = "sizes"
    REINDEX = "reindex"
    GROUPS = "groups"
    KEYS = "keys"


def _bad(peer: str, step: Step, what: str) -> MalformedMessage:
    return MalformedMessage(f"party {peer!r} sent {what}", party=peer, step=f"sql/{step.value}")


def size(value: Any, peer: str, step: Step) -> int:
    """A row or unit count."""
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < MAX_ROWS:
        raise _bad(peer, step, "an invalid row count")
    return value


def positions(value: Any, peer: str, bound: int) -> np.ndarray:
    """Row positions into the receiver's current table (``0 <= p < bound``)."""
    if (not isinstance(value, np.ndarray) or value.dtype != np.int64 or value.ndim != 1
            or (len(value) and (value.min() < 0 or value.max() >= bound))):
        raise _bad(peer, Step.REINDEX, "invalid row positions")
    return value


def codes(value: Any, peer: str, rows: int) -> np.ndarray:
    """Group ids of the joined rows: ``rows`` values, dense in ``0..k-1``."""
    if (not isinstance(value, np.ndarray) or value.dtype != np.int64 or value.shape != (rows,)
            or (rows and (value.min() < 0 or value.max() >= rows))):
        raise _bad(peer, Step.GROUPS, "invalid group ids")
    return value


def masked_keys(value: Any, peer: str, shape: tuple[int, int]) -> np.ndarray:
    """Padded group-key texts: a ``uint64`` matrix of the agreed shape."""
    if (not isinstance(value, np.ndarray) or value.dtype != np.uint64 or value.shape != shape
            or (value.size and int(value.max()) >= PAD_MODULUS)):
        raise _bad(peer, Step.KEYS, f"padded group keys that are not a uint64 array of shape {shape} below 2^32")
    return value


CHUNK = 4                 # bytes per padded element: one-time pads work modulo 2^32
PAD_MODULUS = 1 << (8 * CHUNK)


def pack_texts(texts: list[bytes | None], width: int) -> np.ndarray:
    """Texts as rows of 4-byte chunks (an int below 2^32 each), with a leading 1 for present and 0 for NULL."""
    out = np.zeros((len(texts), width), dtype=np.uint64)
    for i, text in enumerate(texts):
        data = b"" if text is None else b"\x01" + text
        for j in range(0, len(data), CHUNK):
            piece = data[j:j + CHUNK]
            out[i, j // CHUNK] = int.from_bytes(piece, "big") << (8 * (CHUNK - len(piece)))
    return out


def unpack_text(row: np.ndarray) -> bytes | None:
    """The inverse of :func:`pack_texts` for one row."""
    data = b"".join(int(v).to_bytes(CHUNK, "big") for v in row).rstrip(b"\x00")
    return None if not data else data[1:]


def width_for(texts: list[bytes | None]) -> int:
    """Chunks needed for the longest text (plus its marker byte)."""
    return max(1, max(((len(t) + CHUNK) // CHUNK for t in texts if t is not None), default=1))
