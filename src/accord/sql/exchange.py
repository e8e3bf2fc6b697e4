"""Secure SQL's own small protocols: unit counts, re-indexing after a join, a public group partition, padded keys.

Each is an SPMD function over a :class:`~accord.runtime.context.Context`, declared with its threat model
and leakage; payloads are checked by :mod:`accord.sql.messages`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from accord.runtime.context import Context
from accord.runtime.report import protocol
from accord.sql import messages
from accord.sql.messages import Step

THREAT_MODEL = "semi-honest parties; messages are checked for type, shape and range"


@protocol("sql.sizes", threat_model=THREAT_MODEL, leakage="every data party learns each data party's number of units")
def exchange_sizes(ctx: Context, rows: int) -> dict[str, int]:
    """Every party's unit count, at every party (one round)."""
    got = ctx.exchange(int(rows), Step.SIZES.value)
    out = {peer: messages.size(value, peer, Step.SIZES) for peer, value in got.items()}
    out[ctx.me] = int(rows)
    return out


@protocol("sql.reindex", threat_model=THREAT_MODEL,
          leakage="the parties already joined learn which of their joined rows survive the new join (positions); "
                  "the others learn its row count")
def reindex(ctx: Context, sender: str, members: Sequence[str], rows: int, kept: np.ndarray | None) -> object:
    """After a PSI join, ``sender`` tells the other ``members`` which rows stay and the rest the join's size.

    Returns the positions (at members) or the new row count (elsewhere).
    """
    if ctx.me == sender:
        positions = np.asarray(kept, dtype=np.int64)
        for peer in ctx.peers:
            ctx.send(peer, positions if peer in members else len(positions), Step.REINDEX.value)
        return positions
    got = ctx.recv(sender, Step.REINDEX.value)
    if ctx.me in members:
        return messages.positions(got, sender, rows)
    return messages.size(got, sender, Step.REINDEX)


@protocol("sql.groups", threat_model=THREAT_MODEL,
          leakage="the computing parties learn which joined rows share a group (ids, not key values)")
def share_partition(ctx: Context, owner: str, rows: int, codes: np.ndarray | None) -> np.ndarray:
    """The group-key owner gives the other computing parties the group id of every joined row."""
    if ctx.me == owner:
        ids = np.asarray(codes, dtype=np.int64)
        ctx.send_all(ids, Step.GROUPS.value)
        return ids
    return messages.codes(ctx.recv(owner, Step.GROUPS.value), owner, rows)


@protocol("sql.keys", threat_model=THREAT_MODEL,
          leakage="the receiver learns the number of candidate groups and the key texts' padded length; the texts "
                  "are one-time padded, and it learns the pads of output groups only")
def send_keys(ctx: Context, owner: str, receiver: str, shape: tuple[int, int],
              padded: np.ndarray | None) -> np.ndarray | None:
    """The group-key owner sends its key texts, padded, to the receiver."""
    if ctx.me == owner:
        ctx.send(receiver, np.asarray(padded, dtype=np.uint64), Step.KEYS.value)
        return None
    return messages.masked_keys(ctx.recv(owner, Step.KEYS.value), owner, tuple(shape))  # type: ignore[arg-type]
