"""Differentially private PSI cardinality: the intersection size is noised before anyone sees it.

An ECDH or KKRT count tells the party that matches the exact size. Here the size stays secret-shared
until the parties' noise is in it (circuit-PSI style; Pinkas, Schneider, Tkachenko and Yanai,
EUROCRYPT 2019, with the table-based OPPRF of Kolesnikov, Matania, Pinkas, Rosulek and Trieu, CCS 2017):

1. both exchange a schema (key kinds, distinct-key counts, mode, the budget, a nonce); each data owner
   checks, then charges, its own privacy ledger before its keys are touched;
2. the party with fewer keys (R) cuckoo-hashes its keys into ``m`` bins and obtains KKRT's OPRF value
   ``F_j(x)`` for the key in each bin ``j`` (:mod:`accord.psi.kkrt`); the other (S) evaluates
   ``F_j(y)`` for each of its keys in each of its three candidate bins;
3. S draws a secret ``r_j`` per bin and sends a table per bin: a random odd multiplier ``a_j`` that
   places S's values of the bin in distinct slots of a ``T``-slot row, slot ``pos(F_j(y))`` holding
   ``r_j XOR mask(F_j(y))`` and every other slot random. R reads its slot and unmasks: ``t_j = r_j``
   exactly when its key in bin ``j`` is one of S's keys, and a pseudo-random value otherwise (R holds
   one PRF value per bin, so it can decode nothing else);
4. ``t_j XOR r_j`` is thus an XOR sharing of a word that is zero exactly on matches: a tree of 6 ANDs
   on shared bits (GF(2) Beaver triples from IKNP OT) gives a shared match bit per bin, converted to
   Z_2^64 with daBits and summed locally: an additive sharing of the intersection size;
5. each party adds its own noise draw (discrete Laplace for ε-DP, discrete Gaussian for (ε, δ)) to its
   share and sends the sum to the receivers, who add the shares: ``|X ∩ Y| + z_R + z_S``.

DP guarantee: the count has sensitivity 1 when one key is added to or removed from either party's
table. Each computing party's noise alone is calibrated to the budget, so the release is DP against
each party (which knows only its own draw; the other draw protects the count) and against anyone who
sees only the result. A party that withholds its noise learns nothing more: the other party's draw
still protects the count against it; it can bias the result, as any semi-honest deviation can. The
price of not trusting either party with the exact count is one extra noise draw: the error's variance
is twice the central mechanism's.

Cost for ``n_R, n_S`` keys, ``m ~ 1.3 n_R`` bins and ``L`` the bound on S's bin loads: KKRT's OPRF, S's
tables (``m * T * 8`` bytes, ``T`` the power of two at least ``2 L``), and 86 bits of AND triples and
one daBit per bin. Rounds: about 14.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from typing import cast

import numpy as np
import pandas as pd

from accord.correlations.ot import ExtensionReceiver, ExtensionSender
from accord.dp.budget import Budget
from accord.dp.ledger import Ledger
from accord.dp.mechanisms import noise_for
from accord.errors import ConfigurationError, MalformedMessage
from accord.mpc.preprocessing.base import Roles
from accord.mpc.preprocessing.ot_provider import OTProvider
from accord.mpc.protocols.binary import all_ones, b2a
from accord.psi._delivery import check_call, open_psi
from accord.psi.kkrt import cuckoo, oprf
from accord.runtime.charging import charge_together
from accord.runtime.context import Context
from accord.runtime.report import protocol

THREAT_MODEL = (
    "semi-honest (passive) adversaries; 2 parties, no trusted third party; KKRT's OPRF (CDH for the base OTs in the "
    "random-oracle model, AES as a PRF, fixed-key AES as an ideal permutation) and GF(2) Beaver triples from IKNP "
    "OT extension; statistical parameter 40 for cuckoo hashing and bin loads; the differential-privacy guarantee "
    "holds against each party even if the other withholds its noise"
)
LEAKAGE = (
    "both parties learn both parties' numbers of distinct keys and the type of each key column; the party with "
    "more keys learns the other's cuckoo-hash seed (uniform but for the keys fitting); the receivers learn the "
    "intersection size plus two independent noise draws, one chosen by each party, each calibrated to the "
    "budget: differentially private (sensitivity 1) towards each party and towards every reader of the result; "
    "neither party ever sees the exact size"
)
MODES = ("count",)
_WORD = np.uint64


@protocol("psi.cardinality-dp", threat_model=THREAT_MODEL, leakage=LEAKAGE)
def dp_cardinality(ctx: Context, table: pd.DataFrame, on: Sequence[str], receivers: Sequence[str], budget: Budget,
                   ledger: Ledger | None = None, dataset: str = "") -> dict[str, object] | None:
    """Release ``|keys(mine) ∩ keys(theirs)|`` with DP noise to ``receivers``; see the module docstring.

    Returns, at a receiver, ``{"count": noisy size, "mechanism": ..., "spent": ε after the charge or None}``;
    at a non-receiver ``{"count": None, ...}``.
    """
    receivers = check_call(ctx, "DP cardinality", "count", MODES, receivers)
    peer = ctx.peers[0]
    opened = open_psi(ctx, table, on, "count", receivers, epsilon=budget.epsilon, delta=budget.delta)
    theirs, sizes = opened.theirs, opened.sizes
    if (theirs["epsilon"], theirs["delta"]) != (budget.epsilon, budget.delta):
        raise ConfigurationError(f"party {ctx.me!r} releases the count with ε={budget.epsilon:g}, δ={budget.delta:g} "
                                 f"but party {peer!r} with ε={theirs['epsilon']:g}, δ={theirs['delta']:g}")
    noise = noise_for(budget, 1)
    spent = charge_together(ctx, ledger, noise.cost, f"{ctx.session}/{ctx.path}")

    receiver = min(ctx.parties, key=lambda p: sizes[p])  # the cuckoo side: fewer keys, fewer bins
    session = opened.session
    code = oprf.Code(hashlib.sha256(b"accord-psi-ca-code-seed|" + session).digest())
    with ctx.timed("fingerprints"):
        key = hashlib.sha256(b"accord-psi-ca-fingerprint|" + session).digest()[:16]
        fps = oprf.fingerprints(opened.keyset.keys, key)
    if ctx.me == receiver:
        share = _receive(ctx, fps, code, sizes[peer])
    else:
        share = _send(ctx, fps, code, cuckoo.bin_count(sizes[peer]))
    share += noise.sample(ctx.rng, 1).astype(_WORD)
    for target in receivers:
        if target != ctx.me:
            ctx.send(target, share, "open")
    result: dict[str, object] = {"count": None, "mechanism": noise.describe(), "spent": spent}
    if ctx.me in receivers:
        got = ctx.recv(peer, "open")
        if not isinstance(got, np.ndarray) or got.dtype != _WORD or got.shape != (1,):
            raise MalformedMessage(f"party {peer!r} sent a malformed count share", party=peer,
                                   step=f"{ctx.path}/open")
        result["count"] = int((share + got).view(np.int64)[0])
    return result


def max_load(balls: int, bins: int, stat_bits: int = cuckoo.STAT_BITS) -> int:
    """The smallest ``L`` with P(some bin gets more than ``L`` of ``balls`` random balls) <= 2**-stat_bits.

    Union bound over bins on the binomial tail, summed in log space.
    """
    p = 1.0 / bins
    target = -stat_bits * math.log(2) - math.log(bins)

    def log_tail(k: int) -> float:  # log P(Binomial(balls, p) >= k)
        terms = [math.lgamma(balls + 1) - math.lgamma(j + 1) - math.lgamma(balls - j + 1) + j * math.log(p)
                 + (balls - j) * math.log1p(-p) for j in range(k, min(balls, k + 400) + 1)]
        top = max(terms)
        return top + math.log(sum(math.exp(t - top) for t in terms))

    load = max(1, math.ceil(balls / bins))
    while load < balls and log_tail(load + 1) > target:
        load += 1
    return load


def _table_size(load: int) -> int:
    return 1 << max(1, math.ceil(math.log2(2 * load)))


def _slots(keys: np.ndarray, mult: np.ndarray, size: int) -> np.ndarray:
    """Multiplicative hashing of 64-bit keys into ``size`` (a power of two) slots under per-bin multipliers."""
    with np.errstate(over="ignore"):
        return ((keys * mult) >> _WORD(64 - int(math.log2(size)))).astype(np.int64)


def _split(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A 16-byte PRF value as (mask, slot key): two independent 64-bit words."""
    words = np.ascontiguousarray(values).view(_WORD).reshape(len(values), 2)
    return words[:, 0].copy(), words[:, 1].copy()


def _receive(ctx: Context, fps: np.ndarray, code: oprf.Code, n_sender: int) -> np.ndarray:
    """R: OPRF values for every bin, decode S's tables, then the shared zero test."""
    peer = ctx.peers[0]
    with ctx.timed("cuckoo"):
        placed = cuckoo.build(fps, ctx.rng)
    ctx.send(peer, placed.seed, "seed")
    m = placed.bins
    ot = ExtensionReceiver.setup(ctx, peer, width=oprf.CODE_BITS)
    rows = ctx.rng.uint8((m, oprf.CODE_BYTES))  # empty bins keep random rows: KKRT's dummy inputs
    oprf.receiver_rows(rows, fps, placed.slot, placed.function, code)
    with ctx.timed("ot-extension"):
        t, _ = ot.extend_rows(ctx, rows)
    with ctx.timed("oprf"):
        values = oprf.prf(t, np.arange(m), 16)
    mask, key = _split(values)
    load = max_load(cuckoo.HASHES * n_sender, m)
    size = _table_size(load)
    got = ctx.recv(peer, "tables", timeout=ctx.timeout + n_sender / 20_000)
    if not isinstance(got, dict) or set(got) != {"mult", "table"}:
        raise MalformedMessage(f"party {peer!r} sent malformed OPPRF tables", party=peer, step=f"{ctx.path}/tables")
    mult, tables = got["mult"], got["table"]
    if (not isinstance(mult, np.ndarray) or mult.dtype != _WORD or mult.shape != (m,)
            or not isinstance(tables, np.ndarray) or tables.dtype != _WORD or tables.shape != (m, size)):
        raise MalformedMessage(f"party {peer!r} sent OPPRF tables of the wrong shape", party=peer,
                               step=f"{ctx.path}/tables")
    decoded = tables[np.arange(m), _slots(key, mult, size)] ^ mask
    return _zero_count(ctx, ~decoded)


def _send(ctx: Context, fps: np.ndarray, code: oprf.Code, bins: int) -> np.ndarray:
    """S: OPRF values of its keys in their three bins, the per-bin tables, then the shared zero test."""
    peer = ctx.peers[0]
    seed = ctx.recv(peer, "seed")
    if not isinstance(seed, bytes) or len(seed) != cuckoo.SEED_BYTES:
        raise MalformedMessage(f"party {peer!r} sent a malformed cuckoo-hash seed", party=peer,
                               step=f"{ctx.path}/seed")
    ot = ExtensionSender.setup(ctx, peer, width=oprf.CODE_BITS)
    candidates = cuckoo.candidate_bins(fps, seed, bins)
    with ctx.timed("ot-extension"):
        q, _ = ot.extend(ctx, bins)
    values = np.empty((cuckoo.HASHES * len(fps), 16), dtype=np.uint8)
    with ctx.timed("oprf"):
        oprf.sender_values(values, np.arange(values.shape[0]), candidates, fps, q, 0, ot.s, code)
    with ctx.timed("tables"):
        secret, mult, tables = _tables(ctx, candidates.reshape(-1), values, bins, len(fps))
    ctx.send(peer, {"mult": mult, "table": tables}, "tables")
    return _zero_count(ctx, secret)


def _tables(ctx: Context, bins_of: np.ndarray, values: np.ndarray, bins: int,
            n_keys: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-bin secrets ``r``, multipliers and tables (slot of each value holds ``r ^ mask``)."""
    mask, key = _split(values)
    load = max_load(cuckoo.HASHES * n_keys, bins)
    if np.bincount(bins_of, minlength=bins).max() > load:  # probability below 2**-40
        raise MalformedMessage("a bin received more keys than its public bound; rerun the job", party=ctx.me,
                               step=f"{ctx.path}/tables")
    size = _table_size(load)
    secret = ctx.rng.uint64(bins)
    mult = ctx.rng.uint64(bins) | _WORD(1)
    while True:  # redraw the multiplier of every bin whose values collide in its row
        cell = bins_of * size + _slots(key, mult[bins_of], size)
        order = np.argsort(cell, kind="stable")
        sorted_cells = cell[order]
        clash = np.unique(bins_of[order][1:][sorted_cells[1:] == sorted_cells[:-1]])
        if not clash.size:
            break
        mult[clash] = ctx.rng.uint64(clash.size) | _WORD(1)
    tables = ctx.rng.uint64((bins, size))
    tables[bins_of, _slots(key, mult[bins_of], size)] = secret[bins_of] ^ mask
    return secret, mult, tables


def _zero_count(ctx: Context, word: np.ndarray) -> np.ndarray:
    """Additive share of the number of all-ones words among the XOR-shared ``word`` (one per bin)."""
    first, second = ctx.parties
    sub = ctx.sub("mpc")
    prov = OTProvider.setup(sub, Roles(first, second, ctx.me))
    with ctx.timed("zero-test"):
        # Both parties hold shares here (the protocols return None only at a dealer, and this one has none).
        ones = cast(np.ndarray, all_ones(sub, prov, word.shape, word.astype(_WORD)))
        bits = cast(np.ndarray, b2a(sub, prov, word.shape, ones))
    return np.array([bits.sum(dtype=_WORD)], dtype=_WORD)
