"""What every two-party PSI does around its core: agree on the run, then hand out the result.

The PSI protocols (:mod:`accord.psi.ecdh`, :mod:`accord.psi.kkrt`) differ in how the receiver finds
out which distinct keys match. Before that, both parties exchange a small schema (key-column kinds,
numbers of distinct keys, mode and receivers) so mismatched calls fail with a clear error; after it,
the receiver holds pairs ``(own key index, position in the sender's secretly permuted list)`` in an
order that depends on neither party's input order, and this module turns them into each party's
result: its matching rows (``"semi"``), its rows of the inner join in an order both share
(``"join"``, using :func:`accord.psi.join.expand_rows`), or the number of matches (``"count"``).

Messages after the core (1 flight from the receiver, 1 back in join mode): the sender's positions
(8 bytes per match) when the sender also receives, and in join mode each matching key's row count
both ways (8 bytes per match each).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from accord.errors import ConfigurationError, InputError, MalformedMessage
from accord.psi.join import KeySet, check_kinds, encode_keys, expand_rows, group_keys, output_bound
from accord.runtime.context import Context

MAX_KEYS = 1 << 32  # distinct keys per party; a peer claiming more is refused
NONCE_BYTES = 16
MAX_JOIN_ROWS = 1 << 28  # rows of one party's join result (duplicate keys multiply)


def check_call(ctx: Context, name: str, mode: str, modes: Sequence[str], receivers: Sequence[str]) -> list[str]:
    """Validate a PSI call's arguments; returns the receivers in the parties' order."""
    if len(ctx.parties) != 2:
        raise ConfigurationError(f"{name} PSI runs between 2 parties, got {list(ctx.parties)}")
    if mode not in modes:
        raise ValueError(f"{name} PSI modes are {tuple(modes)}, got {mode!r}")
    ordered = [p for p in ctx.parties if p in receivers]
    if not ordered:
        raise ValueError(f"receivers must name at least one of {list(ctx.parties)}")
    if mode == "join" and len(ordered) != 2:
        raise ValueError("join mode gives both parties their rows of the join: both must receive")
    return ordered


def check_schema(theirs: object, mine: Mapping[str, Any], peer: str, ctx: Context) -> dict[str, Any]:
    """Validate the peer's schema message and check it runs the same call as ``mine``.

    Both carry ``kinds`` (list of str), ``n`` (distinct keys, >= 1), ``mode`` and ``receivers``; any
    other entry of ``mine`` must be present in ``theirs`` with the same type. ``mode`` and
    ``receivers`` must be equal at both parties: otherwise the call itself differs, which is a
    :class:`ConfigurationError`, not a misbehaving peer.
    """
    step = f"{ctx.path}/schema"
    if (not isinstance(theirs, dict) or not isinstance(theirs.get("kinds"), list)
            or not all(isinstance(k, str) for k in theirs["kinds"])
            or not isinstance(theirs.get("n"), int) or isinstance(theirs.get("n"), bool)
            or not 1 <= theirs["n"] <= MAX_KEYS
            or any(not isinstance(theirs.get(key), type(value)) for key, value in mine.items())):
        raise MalformedMessage(f"party {peer!r} sent a malformed PSI schema", party=peer, step=step)
    if theirs["mode"] != mine["mode"] or theirs["receivers"] != mine["receivers"]:
        raise ConfigurationError(
            f"party {ctx.me!r} runs PSI in mode {mine['mode']!r} with result to {mine['receivers']}, but party "
            f"{peer!r} runs mode {theirs['mode']!r} with result to {theirs['receivers']}: both must call it alike")
    return theirs


@dataclass(frozen=True)
class Opening:
    """What both parties of a two-party PSI know after the schema round (see :func:`open_psi`)."""

    keyset: KeySet
    sizes: dict[str, int]    # distinct keys per party
    session: bytes           # both nonces, in the parties' order: keys the run's hashes, chosen by neither
    theirs: dict[str, Any]   # the peer's schema message


def open_psi(ctx: Context, table: pd.DataFrame, on: Sequence[str], mode: str, receivers: list[str],
             **extra: Any) -> Opening:
    """Encode this party's keys and exchange the schema with a fresh nonce from each party.

    ``extra`` entries join the schema and must be present, with the same type, in the peer's (compare
    their values where both must agree). Key-column kinds are checked against the peer's.
    """
    peer = ctx.peers[0]
    kinds, raw_keys = encode_keys(table, on, party=ctx.me)
    keyset = group_keys(kinds, raw_keys)
    schema = {"kinds": list(kinds), "n": len(keyset.keys), "mode": mode, "receivers": receivers,
              "nonce": ctx.rng.bytes(NONCE_BYTES), **extra}
    theirs = check_schema(ctx.exchange(schema, "schema")[peer], schema, peer, ctx)
    if len(theirs["nonce"]) != NONCE_BYTES:
        raise MalformedMessage(f"party {peer!r} sent a malformed PSI schema", party=peer, step=f"{ctx.path}/schema")
    check_kinds(kinds, theirs["kinds"], on, me=ctx.me, peer=peer)
    nonces = {ctx.me: schema["nonce"], peer: theirs["nonce"]}
    return Opening(keyset, {ctx.me: len(keyset.keys), peer: theirs["n"]},
                   b"".join(bytes(nonces[p]) for p in ctx.parties), theirs)


def finish_receiver(ctx: Context, table: pd.DataFrame, keyset: KeySet, mode: str, receivers: Sequence[str],
                    mine_idx: np.ndarray, theirs_idx: np.ndarray) -> pd.DataFrame | int:
    """The receiver's result from its matches, sending the sender its share when it also receives.

    ``mine_idx[k]`` (own distinct-key index) matches ``theirs_idx[k]`` (position in the sender's
    permuted list); pairs come in the order the join's rows will have at both parties.
    """
    peer = ctx.peers[0]
    both = len(receivers) == 2
    if mode == "count":
        if both:
            ctx.send(peer, len(mine_idx), "result")
        return len(mine_idx)
    if mode == "semi":
        if both:
            ctx.send(peer, theirs_idx, "result")
        return semi_rows(table, keyset, mine_idx)
    ctx.send(peer, {"positions": theirs_idx, "counts": keyset.counts[mine_idx]}, "result")
    peer_counts = check_counts(ctx.recv(peer, "counts"), len(mine_idx), peer, ctx)
    return table.iloc[join_rows(ctx, keyset, mine_idx, peer_counts)].reset_index(drop=True)


def finish_sender(ctx: Context, table: pd.DataFrame, keyset: KeySet, mode: str,
                  order: np.ndarray) -> pd.DataFrame | int:
    """The sender's result: ``order[j]`` is the distinct key at position ``j`` of the list it sent."""
    peer = ctx.peers[0]
    n = len(keyset.keys)
    result = ctx.recv(peer, "result")
    if mode == "count":
        if not isinstance(result, int) or isinstance(result, bool) or not 0 <= result <= n:
            raise MalformedMessage(f"party {peer!r} sent an invalid intersection size", party=peer,
                                   step=f"{ctx.path}/result")
        return result
    positions = result if mode == "semi" else (result.get("positions") if isinstance(result, dict) else None)
    if (not isinstance(positions, np.ndarray) or positions.dtype != np.int64 or positions.ndim != 1
            or (len(positions) and (positions.min() < 0 or positions.max() >= n))
            or len(np.unique(positions)) != len(positions)):
        raise MalformedMessage(f"party {peer!r} sent invalid intersection positions", party=peer,
                               step=f"{ctx.path}/result")
    matched = order[positions]
    if mode == "semi":
        return semi_rows(table, keyset, matched)
    peer_counts = check_counts(result.get("counts"), len(matched), peer, ctx)
    ctx.send(peer, keyset.counts[matched], "counts")
    return table.iloc[join_rows(ctx, keyset, matched, peer_counts)].reset_index(drop=True)


def check_counts(value: object, n: int, peer: str, ctx: Context) -> np.ndarray:
    """The peer's row count per matching key: ``n`` positive int64 values, or :class:`MalformedMessage`."""
    if (not isinstance(value, np.ndarray) or value.dtype != np.int64 or value.shape != (n,)
            or (n and (value.min() < 1 or value.max() > MAX_JOIN_ROWS))):
        raise MalformedMessage(f"party {peer!r} sent invalid row counts", party=peer, step=f"{ctx.path}/counts")
    return value


def join_rows(ctx: Context, keyset: KeySet, matched: np.ndarray, peer_counts: np.ndarray) -> np.ndarray:
    """Row positions of the inner join, refusing joins that duplicate keys would blow up."""
    total = output_bound(keyset.counts[matched], peer_counts)
    if total > MAX_JOIN_ROWS:
        raise InputError(f"the inner join would have {total} rows because keys repeat on both sides; deduplicate "
                         "the keys or use mode 'semi'", party=ctx.me)
    return expand_rows(keyset, matched, peer_counts, outer=ctx.me == ctx.parties[0])


def semi_rows(table: pd.DataFrame, keyset: KeySet, matched: np.ndarray) -> pd.DataFrame:
    """The rows of ``table`` whose distinct key is in ``matched``, in table order."""
    counts = keyset.counts[matched]
    # Row positions of each matched key's block: its start, then consecutive offsets inside the block.
    offsets = np.arange(int(counts.sum()), dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts)
    rows = np.sort(keyset.rows[np.repeat(keyset.starts[matched], counts) + offsets])
    return table.iloc[rows].reset_index(drop=True)
