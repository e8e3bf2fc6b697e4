"""The KKRT PSI driver: who plays which role, which messages go where, what each party returns.

KKRT16 (Kolesnikov, Kumaresan, Rosulek and Trieu, "Efficient Batched Oblivious PRF with Applications to
Private Set Intersection", CCS 2016), Sec. 4: the OPRF receiver R cuckoo-hashes its distinct keys into
bins (:mod:`accord.psi.kkrt.cuckoo`), obtains one OPRF value per bin (:mod:`accord.psi.kkrt.oprf`), and
the OPRF sender S sends, in a secret random order, the values of each of its keys in each of the key's
three candidate bins; R finds which of its keys S holds.

Messages, for ``n_R`` and ``n_S`` distinct keys, ``m ~ 1.3 n_R`` bins and ``l = ceil((40 + log2 n_R +
log2 n_S) / 8)`` bytes per value:

1. both: a schema (key-column kinds, distinct-key counts, mode, receivers, a 16-byte nonce);
2. R: the cuckoo seed (16 bytes) and the base-OT point ``A``; S: 512 base-OT points (16 KiB);
3. R: the OT-extension matrix, ``64 m`` bytes, in batches of ``BATCH_BINS`` bins that S processes as
   they arrive;
4. S: its values, ``3 l n_S`` bytes, in the order of a secret random permutation;
5. if S also receives, R sends the matching positions (8 bytes each) in increasing order, and in join
   mode both send each matching key's row count (:mod:`accord.psi._delivery`).

Rounds (flights): R 3, S 3; when both receive, R 4 and S 3 (4 in join mode). Time is linear: S
evaluates three PRFs per key (24 AES blocks), R one per key (8 blocks) plus 128 bytes of AES-CTR per
bin, the OT extension transposes 512 x ``m`` bit matrices (twice at R, once at S), and R looks its
values up in a hash index; 512 base OTs (Ed25519, about 0.1 s) are the fixed cost.

Security: semi-honest, two parties, no third party. When one party receives, it is R. When both
receive, R is the party with fewer distinct keys (the one whose keys are cuckoo-hashed and whose bins
cost 64 bytes each), which both know from the schema.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
import pandas as pd

from accord.correlations.ot import ExtensionReceiver, ExtensionSender
from accord.errors import MalformedMessage
from accord.psi._delivery import check_call, finish_receiver, finish_sender, open_psi
from accord.psi.join import KeySet
from accord.psi.kkrt import cuckoo, oprf
from accord.runtime.context import Context
from accord.runtime.report import protocol

THREAT_MODEL = (
    "semi-honest (passive) adversaries; 2 parties, no trusted third party; secure under CDH in the random-oracle "
    "model (Chou-Orlandi base OTs over Ed25519), AES as a pseudo-random function (OT-extension expansion, the "
    "pseudo-random code, cuckoo hash functions) and fixed-key AES as an ideal permutation (the OPRF hash); "
    "statistical parameter 40 for cuckoo hashing and for false matches"
)
LEAKAGE = (
    "both parties learn both parties' numbers of distinct keys and the type of each key column; the OPRF "
    "sender also learns the receiver's cuckoo-hash seed, which is uniform except that the receiver's keys fit "
    "under it (within statistical distance 2^-40 of uniform), and the number of bins, a public function of the "
    "receiver's number of keys; the OPRF receiver (the only result receiver, or the party with fewer distinct "
    "keys when both receive) learns which of its keys the other party holds (the intersection); when both "
    "receive, the other party learns which of its keys are shared, and the join's row order follows that "
    "party's secret random permutation, independent of both input orders; in join mode each receiver also "
    "learns, for every matching key, how many rows the other party holds with it; a key the sender lacks is "
    "reported as shared with probability at most 2^-40"
)
MODES = ("join", "semi")
# Bins per OT-extension batch (8 MiB of matrix): the sender works on one batch while the receiver
# computes the next, and no buffer grows with the set size.
BATCH_BINS = 1 << 17


@protocol("psi.kkrt", threat_model=THREAT_MODEL, leakage=LEAKAGE)
def kkrt_psi(
    ctx: Context,
    table: pd.DataFrame,
    on: Sequence[str],
    receivers: Sequence[str],
    mode: str = "join",
) -> pd.DataFrame | int | None:
    """Run KKRT PSI between the two parties of ``ctx`` on the key columns ``on`` of ``table``.

    Parameters
    ----------
    table:
        This party's rows.
    on:
        This party's key columns (several columns form one composite key).
    receivers:
        Parties that receive the result (one or both).
    mode:
        ``"join"``: both receivers get their rows of the inner join, in an order both share (requires
        both to receive); ``"semi"``: each receiver gets its own rows whose key matches, in table
        order. There is no count-only mode: the OPRF receiver always learns which of its keys match,
        which is more than a count (use :func:`accord.psi.ecdh.ecdh_psi` for that).

    Returns
    -------
    The receiver's result, or ``None`` at a party that receives nothing.
    """
    receivers = check_call(ctx, "KKRT", mode, MODES, receivers)
    peer = ctx.peers[0]
    opened = open_psi(ctx, table, on, mode, receivers)
    keyset, sizes = opened.keyset, opened.sizes
    receiver = _oprf_receiver(ctx.parties, receivers, sizes)
    sender = peer if receiver == ctx.me else ctx.me
    # Both nonces fix the fingerprint key and the code after both inputs are fixed: neither party chooses them.
    session = opened.session
    code = oprf.Code(hashlib.sha256(b"accord-kkrt-code-seed|" + session).digest())
    nbytes = oprf.value_bytes(sizes[receiver], sizes[sender])
    with ctx.timed("fingerprints"):
        fps = oprf.fingerprints(keyset.keys, hashlib.sha256(b"accord-kkrt-fingerprint|" + session).digest()[:16])
    if ctx.me == receiver:
        return _receive(ctx, table, keyset, mode, receivers, fps, code, nbytes, sizes[sender])
    return _send(ctx, table, keyset, mode, receivers, fps, code, nbytes, cuckoo.bin_count(sizes[receiver]))


def _oprf_receiver(parties: Sequence[str], receivers: list[str], sizes: dict[str, int]) -> str:
    """The single result receiver, or with two the party with fewer distinct keys (ties: the first party)."""
    if len(receivers) == 1:
        return receivers[0]
    return min(parties, key=lambda p: sizes[p])


def _receive(ctx: Context, table: pd.DataFrame, keyset: KeySet, mode: str, receivers: list[str],
             fps: np.ndarray, code: oprf.Code, nbytes: int, n_sender: int) -> pd.DataFrame | int:
    peer = ctx.peers[0]
    with ctx.timed("cuckoo"):
        placed = cuckoo.build(fps, ctx.rng)
    ctx.send(peer, placed.seed, "seed")
    ot = ExtensionReceiver.setup(ctx, peer, width=oprf.CODE_BITS)
    mine = np.empty((len(fps), nbytes), dtype=np.uint8)
    for start, keys in _batches(placed.slot, placed.bins):
        stop = min(placed.bins, start + BATCH_BINS)
        slot = placed.slot[keys]
        with ctx.timed("codewords"):
            rows = ctx.rng.uint8((stop - start, oprf.CODE_BYTES))
            oprf.receiver_rows(rows, fps[keys], slot - start, placed.function[keys], code)
        with ctx.timed("ot-extension"):
            t, _ = ot.extend_rows(ctx, rows)
        with ctx.timed("oprf"):
            mine[keys] = oprf.receiver_values(t, slot - start, slot, nbytes)
        ctx.progress("OT extension", stop, placed.bins)
    theirs = ctx.recv(peer, "values", timeout=_slow(ctx, n_sender))
    if (not isinstance(theirs, np.ndarray) or theirs.dtype != np.uint8
            or theirs.shape != (n_sender, cuckoo.HASHES, nbytes)):
        raise MalformedMessage(f"party {peer!r} sent OPRF values that are not a ({n_sender}, {cuckoo.HASHES}, "
                               f"{nbytes}) byte array", party=peer, step=f"{ctx.path}/values")
    with ctx.timed("match"):
        mine_idx, theirs_idx = oprf.match(mine, placed.function, theirs)
    return finish_receiver(ctx, table, keyset, mode, receivers, mine_idx, theirs_idx)


def _send(ctx: Context, table: pd.DataFrame, keyset: KeySet, mode: str, receivers: list[str],
          fps: np.ndarray, code: oprf.Code, nbytes: int, bins: int) -> pd.DataFrame | int | None:
    peer = ctx.peers[0]
    seed = ctx.recv(peer, "seed")
    if not isinstance(seed, bytes) or len(seed) != cuckoo.SEED_BYTES:
        raise MalformedMessage(f"party {peer!r} sent a malformed cuckoo-hash seed", party=peer,
                               step=f"{ctx.path}/seed")
    ot = ExtensionSender.setup(ctx, peer, width=oprf.CODE_BITS)
    order = ctx.rng.permutation(len(fps))
    with ctx.timed("cuckoo"):
        fps = fps[order]
        candidates = cuckoo.candidate_bins(fps, seed, bins)
    values = np.empty((cuckoo.HASHES * len(fps), nbytes), dtype=np.uint8)
    # Each batch of the receiver's OT matrix is processed as it arrives, while the receiver builds the next.
    for start, pairs in _batches(candidates.reshape(-1), bins):
        with ctx.timed("ot-extension"):
            q, _ = ot.extend(ctx, min(bins, start + BATCH_BINS) - start)
        with ctx.timed("oprf"):
            oprf.sender_values(values, pairs, candidates, fps, q, start, ot.s, code)
    ctx.send(peer, values.reshape(len(fps), cuckoo.HASHES, nbytes), "values")
    if ctx.me not in receivers:
        return None
    return finish_sender(ctx, table, keyset, mode, order)


def _batches(bins: np.ndarray, total: int) -> list[tuple[int, np.ndarray]]:
    """``(first bin, indices)`` per OT batch of ``BATCH_BINS`` bins: the indices of ``bins`` that fall in it."""
    count = -(-total // BATCH_BINS)
    batch = (bins // BATCH_BINS).astype(np.int16 if count < 2**15 else np.int64)
    # A stable sort of 16-bit values is a radix sort: linear, and each batch's indices stay in order.
    order = np.argsort(batch, kind="stable")
    bounds = np.searchsorted(batch[order], np.arange(count + 1))
    return [(k * BATCH_BINS, order[bounds[k] : bounds[k + 1]]) for k in range(count)]


def _slow(ctx: Context, n: int) -> float:
    """Receive timeout for a step that waits on the peer processing ``n`` keys (>= 50k/s, <= a day)."""
    return ctx.timeout + min(n / 50_000, 86_400.0)
