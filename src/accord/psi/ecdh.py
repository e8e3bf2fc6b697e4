"""Two-party ECDH private set intersection (DH-PSI) over Curve25519.

Protocol (Meadows 1986; Huberman, Franklin and Hogg 1999), with receiver R and sender S holding
distinct keys X and Y, H the RFC 9380 random-oracle hash onto Curve25519 and fresh secret scalars
a (at R) and b (at S); exponentiation is X25519 with clamped scalars, which also clears the
cofactor (see :mod:`accord.crypto.curve25519`):

1. both exchange key-column types and set sizes (a tiny round that catches mismatched schemas);
2. R sends ``H(x)^a`` for its keys in its order; S sends ``H(y)^b`` in a random order;
3. S returns ``(H(x)^a)^b`` in R's order (in a random order in count mode), truncated to 128 bits;
   R computes ``(H(y)^b)^a`` and matches: R learns which of its keys are shared and nothing about
   S's other keys, which stay masked by the secret b (DDH);
4. if S also receives the result, R sends the positions of S's matching items in S's shuffled list
   (and, in join mode, both send each matching key's row count) in increasing position: the order of
   S's secret random permutation, which is independent of both input orders and which S already
   knows, so neither learns the other's row order. (Not in the order of the double-blinded values:
   S computed R's values in R's row order and could link each match to R's row index.)

Cost: each party hashes its own keys once and performs one X25519 per own key and one per peer key;
bytes sent are 32 per key of R, 32 + 16 per key of S's and R's sets respectively, plus the result
indices. Rounds: 3 (4 when both receive).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import pandas as pd

from accord.crypto import curve25519
from accord.errors import CryptoError, MalformedMessage
from accord.psi._delivery import check_call, check_schema, finish_receiver, finish_sender
from accord.psi._matching import equal_rows, one_to_one
from accord.psi.join import check_kinds, encode_keys, group_keys
from accord.runtime.context import Context
from accord.runtime.report import protocol

THREAT_MODEL = (
    "semi-honest (passive) adversaries; 2 parties, no trusted third party; secure under the decisional "
    "Diffie-Hellman assumption in Curve25519's prime-order subgroup with the hash modelled as a random oracle"
)
LEAKAGE = (
    "both parties learn both parties' numbers of distinct keys and the type of each key column; the result "
    "receivers learn which of their rows match a key of the other party (the intersection); when both receive, "
    "the matches reach the sender and the join's rows come in the order of the sender's secret random "
    "permutation, independent of both input orders; in join mode each receiver also learns, for every matching "
    "key, how many rows the other party holds with it; in count mode the receivers learn only the number of "
    "matching distinct keys"
)
DST = b"accord-psi-v1-with-curve25519_XMD:SHA-512_ELL2_RO_"
MODES = ("join", "semi", "count")
_TRUNC = 16
_BLOCK = 8192


@protocol("psi.ecdh", threat_model=THREAT_MODEL, leakage=LEAKAGE)
def ecdh_psi(
    ctx: Context,
    table: pd.DataFrame,
    on: Sequence[str],
    receivers: Sequence[str],
    mode: str = "join",
    threads: int | None = None,
) -> pd.DataFrame | int | None:
    """Run DH-PSI between the two parties of ``ctx`` on the key columns ``on`` of ``table``.

    Parameters
    ----------
    table:
        This party's rows.
    on:
        This party's key columns (several columns form one composite key).
    receivers:
        Parties that receive the result (one or both).
    mode:
        ``"join"``: every receiver gets its rows of the inner join, in an order shared by both
        (requires both to receive); ``"semi"``: each receiver gets its own rows whose key matches,
        in table order; ``"count"``: receivers get the number of matching distinct keys.
    threads:
        Threads for the curve arithmetic (default: all cores).

    Returns
    -------
    The receiver's result, or ``None`` at a party that receives nothing.
    """
    receivers = check_call(ctx, "ECDH", mode, MODES, receivers)
    threads = threads or os.cpu_count() or 1
    peer = ctx.peers[0]
    receiver = receivers[0]
    is_receiver = ctx.me == receiver

    kinds, raw_keys = encode_keys(table, on, party=ctx.me)
    keyset = group_keys(kinds, raw_keys)
    n = len(keyset.keys)
    schema = {"kinds": list(kinds), "n": n, "mode": mode, "receivers": receivers}
    theirs = check_schema(ctx.exchange(schema, "schema")[peer], schema, peer, ctx)
    check_kinds(kinds, theirs["kinds"], on, me=ctx.me, peer=peer)
    n_peer = theirs["n"]

    secret = ctx.rng.bytes(curve25519.SCALAR_BYTES)
    blinded = _blind(ctx, secret, _hash(ctx, keyset.keys), threads, "blinding own keys")
    if is_receiver:
        ctx.send(peer, blinded, "blinded")
        theirs_blinded = _points(ctx.recv(peer, "blinded", timeout=_slow(ctx, n_peer)), n_peer, peer, ctx,
                                 "blinded")
        theirs_twice = _blind_peer(ctx, secret, theirs_blinded, threads)[:, :_TRUNC]
        mine_twice = _trunc_rows(ctx.recv(peer, "double", timeout=_slow(ctx, n)), n, peer, ctx)
        mine_idx, theirs_idx = _match(mine_twice, theirs_twice)
        return finish_receiver(ctx, table, keyset, mode, receivers, mine_idx, theirs_idx)

    order = ctx.rng.permutation(n)
    ctx.send(peer, blinded[order], "blinded")
    theirs_blinded = _points(ctx.recv(peer, "blinded", timeout=_slow(ctx, n_peer)), n_peer, peer, ctx, "blinded")
    twice = _blind_peer(ctx, secret, theirs_blinded, threads)[:, :_TRUNC]
    if mode == "count":
        twice = twice[ctx.rng.permutation(n_peer)]
    ctx.send(peer, np.ascontiguousarray(twice), "double")
    if ctx.me not in receivers:
        return None
    return finish_sender(ctx, table, keyset, mode, order)


def _slow(ctx: Context, n: int) -> float:
    """Receive timeout for a step that waits on the peer hashing and blinding ``n`` keys (>= 5k/s, <= a day)."""
    return ctx.timeout + min(n / 5_000, 86_400.0)


def _hash(ctx: Context, keys: list[bytes]) -> np.ndarray:
    out = np.empty((len(keys), curve25519.POINT_BYTES), dtype=np.uint8)
    for start in range(0, len(keys), _BLOCK):
        stop = min(start + _BLOCK, len(keys))
        out[start:stop] = curve25519.hash_to_curve(keys[start:stop], DST)
        ctx.progress("hashing keys to the curve", stop, len(keys))
    return out


def _blind(ctx: Context, secret: bytes, points: np.ndarray, threads: int, step: str) -> np.ndarray:
    out = np.empty_like(points)
    block = _BLOCK * max(1, threads)
    for start in range(0, len(points), block):
        stop = min(start + block, len(points))
        out[start:stop] = curve25519.scalarmult(secret, points[start:stop], threads=threads)
        ctx.progress(step, stop, len(points))
    return out


def _blind_peer(ctx: Context, secret: bytes, points: np.ndarray, threads: int) -> np.ndarray:
    """Blind the peer's points; a low-order point (which an honest peer never sends) aborts naming the peer."""
    try:
        return _blind(ctx, secret, points, threads, "blinding peer keys")
    except CryptoError as exc:
        peer = ctx.peers[0]
        raise MalformedMessage(f"party {peer!r} sent an invalid curve point: {exc}", party=peer,
                               step=f"{ctx.path}/blinded") from None


def _points(value: object, n: int, peer: str, ctx: Context, step: str) -> np.ndarray:
    if not isinstance(value, np.ndarray) or value.dtype != np.uint8 or value.shape != (n, curve25519.POINT_BYTES):
        raise MalformedMessage(f"party {peer!r} sent {step} points that are not a ({n}, 32) byte array",
                               party=peer, step=f"{ctx.path}/{step}")
    return value


def _trunc_rows(value: object, n: int, peer: str, ctx: Context) -> np.ndarray:
    if not isinstance(value, np.ndarray) or value.dtype != np.uint8 or value.shape != (n, _TRUNC):
        raise MalformedMessage(f"party {peer!r} sent double-blinded values that are not a ({n}, {_TRUNC}) "
                               "byte array", party=peer, step=f"{ctx.path}/double")
    return value


def _match(mine_twice: np.ndarray, theirs_twice: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions ``(i, j)`` with ``mine_twice[i] == theirs_twice[j]``, in increasing ``j``.

    ``j`` indexes the list the sender sent in the order of its secret random permutation. Ordering by the
    double-blinded values instead would give the receiver's row order away: the sender computed them.
    """
    return one_to_one(*equal_rows(mine_twice, theirs_twice))
