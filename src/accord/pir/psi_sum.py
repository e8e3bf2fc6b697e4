"""PSI with associated sums: how many keys two parties share, and the total of one party's values over them.

The marketing measurement of Private Join and Compute (Ion et al., EuroS&P 2020) without its leak:
there, the party that matches blinded ids learns the exact intersection size, so that count could not
be released with differential privacy. Here the match bit and the matched value of every bin stay
secret-shared (:mod:`accord.pir.shared_lookup`): each party sums its shares locally, optionally adds
its own noise draw, and sends the sums to the receivers only.

Roles: the *ids* party asks (cuckoo side, e.g. the platform with its ad viewers); the *values* party
holds the values (e.g. the advertiser's purchases; several rows of a key are summed first). Values are
integers (e.g. cents), summed modulo 2^64 and read as signed 64-bit.

DP (``budget``): the two releases split the budget evenly; the count has sensitivity 1 and the sum
``bound`` (each key's total is clamped to ``[0, bound]`` first). Each party's draw alone is calibrated,
so the release is DP towards each party, as in :mod:`accord.psi.cardinality`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import cast

import numpy as np
import pandas as pd

from accord.dp.budget import Budget
from accord.dp.ledger import Ledger
from accord.dp.mechanisms import noise_for
from accord.errors import ConfigurationError, InputError, MalformedMessage
from accord.pir import shared_lookup
from accord.psi.join import KeySet, check_kinds, encode_keys, group_keys
from accord.psi.kkrt import cuckoo, oprf
from accord.runtime.charging import charge_together
from accord.runtime.context import Context
from accord.runtime.report import protocol

THREAT_MODEL = (
    "semi-honest (passive) adversaries; 2 parties, no trusted third party; KKRT's OPRF, fixed-key AES as a random "
    "permutation, GF(2) and Z_2^64 Beaver triples from IKNP OT; statistical parameter 40 for cuckoo hashing and bin "
    "loads"
)
LEAKAGE = (
    "both parties learn both numbers of distinct keys, the key-column types, whether DP noise is added and its "
    "parameters; the ids party's cuckoo seed reaches the values party; the receivers learn the intersection size "
    "and the sum of the values party's values over it (each plus both parties' noise draws with DP), nothing per "
    "key; a party that does not receive learns nothing else"
)
NONCE_BYTES = 16
_WORD = np.uint64


@protocol("pir.intersection-sum", threat_model=THREAT_MODEL, leakage=LEAKAGE)
def intersection_sum(ctx: Context, table: pd.DataFrame, on: Sequence[str], value: str | None, holder: str,
                     receivers: Sequence[str], budget: Budget | None = None, bound: int | None = None,
                     ledger: Ledger | None = None) -> dict[str, object] | None:
    """Release ``{"count", "sum"}`` to ``receivers``; ``holder`` owns the values (column ``value`` of its table).

    With a ``budget``, each party's ``ledger`` (if given) is checked at both parties, then charged, before
    any key is touched.
    """
    if len(ctx.parties) != 2 or holder not in ctx.parties:
        raise ConfigurationError(f"PSI-sum runs between two parties, one holding values; got {list(ctx.parties)}")
    receivers = [p for p in ctx.parties if p in receivers]
    if not receivers:
        raise ConfigurationError(f"receivers must name {list(ctx.parties)}")
    if budget is not None and (not isinstance(bound, int) or isinstance(bound, bool) or bound < 1):
        raise ConfigurationError("a DP sum needs `bound`, a positive integer bound on each key's total")
    peer = ctx.peers[0]
    kinds, raw = encode_keys(table, on, party=ctx.me)
    keyset = group_keys(kinds, raw)
    totals = _totals(table, keyset, value, bound if budget is not None else None, ctx.me) if ctx.me == holder else None
    dp = [] if budget is None else [budget.epsilon, budget.delta, bound]
    schema = {"kinds": list(kinds), "n": len(keyset.keys), "holder": holder, "receivers": receivers, "dp": dp,
              "nonce": ctx.rng.bytes(NONCE_BYTES)}
    theirs = ctx.exchange(schema, "schema")[peer]
    _check_schema(theirs, schema, ctx, peer)
    check_kinds(kinds, theirs["kinds"], on, me=ctx.me, peer=peer)
    noises = [] if budget is None or bound is None else [noise_for(budget.split(2), 1),
                                                          noise_for(budget.split(2), bound)]
    if noises:
        charge_together(ctx, ledger, [n.cost for n in noises], f"{ctx.session}/{ctx.path}")
    nonces = {ctx.me: schema["nonce"], peer: theirs["nonce"]}
    session = b"".join(nonces[p] for p in ctx.parties)
    code = oprf.Code(hashlib.sha256(b"accord-psi-sum-code|" + session).digest())
    with ctx.timed("fingerprints"):
        fps = oprf.fingerprints(keyset.keys, hashlib.sha256(b"accord-psi-sum-fingerprint|" + session).digest()[:16])
    if ctx.me == holder:
        seed = ctx.recv(peer, "seed")
        if not isinstance(seed, bytes) or len(seed) != cuckoo.SEED_BYTES:
            raise MalformedMessage(f"party {peer!r} sent a malformed cuckoo seed", party=peer, step=f"{ctx.path}/seed")
        shares = shared_lookup.hold(ctx, fps, cast(np.ndarray, totals), code, seed, cuckoo.bin_count(theirs["n"]))
    else:
        with ctx.timed("cuckoo"):
            placed = cuckoo.build(fps, ctx.rng)
        ctx.send(peer, placed.seed, "seed")
        shares = shared_lookup.ask(ctx, placed, fps, code, theirs["n"])
    mine = np.array([shares.match.sum(dtype=_WORD), shares.value.sum(dtype=_WORD)], dtype=_WORD)
    noise = "none"
    if noises:
        count_noise, sum_noise = noises
        mine += np.concatenate([count_noise.sample(ctx.rng, 1), sum_noise.sample(ctx.rng, 1)]).astype(_WORD)
        noise = f"count: {count_noise.describe()}; sum: {sum_noise.describe()} (one draw per party each)"
    if peer in receivers:
        ctx.send(peer, mine, "open")
    if ctx.me not in receivers:
        return None
    got = ctx.recv(peer, "open")
    if not isinstance(got, np.ndarray) or got.dtype != _WORD or got.shape != (2,):
        raise MalformedMessage(f"party {peer!r} sent malformed result shares", party=peer, step=f"{ctx.path}/open")
    count, total = (mine + got).view(np.int64).tolist()
    return {"count": count, "sum": total, "noise": noise}


def _totals(table: pd.DataFrame, keyset: KeySet, value: str | None, clamp: int | None, party: str) -> np.ndarray:
    """Each distinct key's total of the integer column ``value`` (clamped to ``[0, clamp]`` for DP)."""
    if value is None or value not in table.columns:
        raise InputError(f"the values column {value!r} is missing", party=party, field=str(value))
    column = table[value]
    if not pd.api.types.is_integer_dtype(column):
        raise InputError(f"column {value!r} must hold integers (e.g. amounts in cents), not {column.dtype}",
                         party=party, field=value)
    key_of_row = np.empty(len(column), dtype=np.int64)
    key_of_row[keyset.rows] = np.repeat(np.arange(len(keyset.counts)), keyset.counts)
    totals = np.zeros(len(keyset.counts), dtype=np.int64)
    np.add.at(totals, key_of_row, column.to_numpy(dtype=np.int64))
    if clamp is not None:
        totals = np.clip(totals, 0, clamp)
    return totals.astype(_WORD)




def _check_schema(theirs: object, mine: dict[str, object], ctx: Context, peer: str) -> None:
    step = f"{ctx.path}/schema"
    if (not isinstance(theirs, dict) or set(theirs) != set(mine) or not isinstance(theirs["kinds"], list)
            or not isinstance(theirs["n"], int) or not 1 <= theirs["n"] <= 1 << 32
            or not isinstance(theirs["nonce"], bytes) or len(theirs["nonce"]) != NONCE_BYTES):
        raise MalformedMessage(f"party {peer!r} sent a malformed PSI-sum schema", party=peer, step=step)
    for field in ("holder", "receivers", "dp"):
        if theirs[field] != mine[field]:
            raise ConfigurationError(f"party {ctx.me!r} runs PSI-sum with {field}={mine[field]!r} but party {peer!r} "
                                     f"with {theirs[field]!r}: both must call it alike")
