"""Joint debt across lenders: each applicant's total outstanding amount over N lenders, revealed to the asker only.

The asking lender A holds applicant ids; lenders L_1..L_N hold (account id, outstanding amount). Design:

1. A places its distinct ids in a cuckoo table once, under a fingerprint key and seed it sends to every
   lender, so bin ``j`` holds the same applicant in every lookup;
2. with every lender, :mod:`accord.pir.shared_lookup` gives A and L_i additive shares (mod 2^64) of
   ``amount_i(applicant in bin j)`` (0 when L_i has no such account), per bin; A runs every lookup's OPRF
   before it finishes any, so the lenders build their tables at the same time and no lender waits for the
   others' lookups (its waits stay within the cluster's timeout however many lenders there are);
3. the lenders mask their share vectors with pairwise zero-sum masks (each pair of lenders agrees a
   fresh PRG seed, added by one and subtracted by the other) and send them to A, which adds them to its
   own shares: per bin the total over all lenders, and nothing per lender.

Why not Paillier under A's key: a lender would have to find the applicant's row without learning who it
is, which costs a homomorphic operation per account per query; and an OPRF lookup of the lender's table
(as in :mod:`accord.pir.protocol`) would show A which lenders hold an account. Secret shares from the
OPPRF keep both hidden, at the price of tables linear in the lender's number of accounts per batch.

What each party learns: A, the total per applicant (not which lenders contributed; with one lender
colluding with A, the others' masked shares still hide each other's amounts as long as two lenders do
not collude with A); each lender, the number of applicants asked, the number of lenders, A's cuckoo
seed and the fingerprint key; nothing about who was asked or what the others hold.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
import pandas as pd

from accord.crypto.random import Rng
from accord.errors import ConfigurationError, InputError, MalformedMessage
from accord.pir import shared_lookup
from accord.psi.join import KeySet, check_kinds, encode_keys, group_keys
from accord.psi.kkrt import cuckoo, oprf
from accord.runtime.context import Context
from accord.runtime.report import protocol

THREAT_MODEL = (
    "semi-honest (passive) adversaries; the asker and N >= 2 lenders, no trusted third party; each lookup as in "
    "PSI-sum (KKRT OPRF, table OPPRF, Beaver triples from IKNP OT); the per-lender amounts stay hidden from the "
    "asker unless it colludes with all lenders but one"
)
LEAKAGE = (
    "the asker learns each applicant's total over all lenders; each lender learns the number of distinct applicants "
    "asked, the number of lenders, the key-column types and the asker's cuckoo seed and fingerprint key; nothing "
    "about who was asked, whether they hold an account elsewhere, or any amount"
)
NONCE_BYTES = 16
_WORD = np.uint64


@protocol("pir.joint-debt", threat_model=THREAT_MODEL, leakage=LEAKAGE)
def joint_debt(ctx: Context, asker: str, table: pd.DataFrame, on: Sequence[str],
               amount: str | None = None) -> pd.DataFrame | None:
    """At the asker: its distinct applicants (key columns ``on``) with ``total_debt``; ``None`` at lenders."""
    lenders = [p for p in ctx.parties if p != asker]
    if asker not in ctx.parties or len(lenders) < 2:
        raise ConfigurationError(f"a joint-debt query needs the asker and at least 2 lenders, got {list(ctx.parties)}")
    kinds, raw = encode_keys(table, on, party=ctx.me)
    keyset = group_keys(kinds, raw)
    if ctx.me == asker:
        return _ask(ctx, lenders, table, on, kinds, keyset)
    if amount is None or amount not in table.columns or not pd.api.types.is_integer_dtype(table[amount]):
        raise InputError(f"the amount column {amount!r} must exist and hold integers (e.g. cents)", party=ctx.me,
                         field=str(amount))
    amounts = np.zeros(len(keyset.keys), dtype=np.int64)
    key_of_row = np.empty(len(table), dtype=np.int64)
    key_of_row[keyset.rows] = np.repeat(np.arange(len(keyset.keys)), keyset.counts)
    np.add.at(amounts, key_of_row, table[amount].to_numpy(dtype=np.int64))  # several accounts of one person add up
    _lend(ctx, asker, lenders, on, kinds, keyset.keys, amounts.astype(_WORD))
    return None


def _ask(ctx: Context, lenders: list[str], table: pd.DataFrame, on: Sequence[str], kinds: tuple[str, ...],
         keyset: KeySet) -> pd.DataFrame:
    keys = keyset.keys
    nonce = ctx.rng.bytes(NONCE_BYTES)
    fps = oprf.fingerprints(keys, hashlib.sha256(b"accord-joint-debt-fingerprint|" + nonce).digest()[:16])
    with ctx.timed("cuckoo"):
        placed = cuckoo.build(fps, ctx.rng)
    ctx.send_all({"kinds": list(kinds), "n": len(keys), "seed": placed.seed, "nonce": nonce,
                  "lenders": lenders}, "schema")
    replies = ctx.recv_all("schema")
    totals = np.zeros(placed.bins, dtype=_WORD)
    for lender in lenders:
        reply = replies[lender]
        if (not isinstance(reply, dict) or set(reply) != {"kinds", "n", "nonce"} or not isinstance(reply["n"], int)
                or not 1 <= reply["n"] <= 1 << 32 or not isinstance(reply["nonce"], bytes)
                or len(reply["nonce"]) != NONCE_BYTES or not isinstance(reply["kinds"], list)):
            raise MalformedMessage(f"party {lender!r} sent a malformed joint-debt schema", party=lender,
                                   step=f"{ctx.path}/schema")
        check_kinds(kinds, reply["kinds"], on, me=ctx.me, peer=lender)
    # Every lookup's OPRF first, then each lender's table: the lenders build their tables at the same time.
    subs = {lender: ctx.sub(f"lookup-{lender}", parties=[ctx.me, lender]) for lender in lenders}
    pending = {lender: shared_lookup.start(subs[lender], placed, fps, _code(nonce, replies[lender]["nonce"]))
               for lender in lenders}
    for lender in lenders:
        totals += shared_lookup.finish(subs[lender], pending[lender], replies[lender]["n"]).value
    for lender, masked in ctx.recv_all("masked", timeout=ctx.timeout).items():
        if not isinstance(masked, np.ndarray) or masked.dtype != _WORD or masked.shape != (placed.bins,):
            raise MalformedMessage(f"party {lender!r} sent malformed masked shares", party=lender,
                                   step=f"{ctx.path}/masked")
        totals += masked
    rows = keyset.rows[keyset.starts]
    out = table[list(on)].iloc[rows].reset_index(drop=True)
    out["total_debt"] = totals[placed.slot].view(np.int64)
    return out


def _lend(ctx: Context, asker: str, lenders: list[str], on: Sequence[str], kinds: tuple[str, ...],
          keys: list[bytes], amounts: np.ndarray) -> None:
    schema = ctx.recv(asker, "schema")
    step = f"{ctx.path}/schema"
    if (not isinstance(schema, dict) or set(schema) != {"kinds", "n", "seed", "nonce", "lenders"}
            or not isinstance(schema["n"], int) or not 1 <= schema["n"] <= 1 << 32
            or not isinstance(schema["seed"], bytes) or len(schema["seed"]) != cuckoo.SEED_BYTES
            or not isinstance(schema["nonce"], bytes) or len(schema["nonce"]) != NONCE_BYTES
            or schema["lenders"] != lenders or not isinstance(schema["kinds"], list)):
        raise MalformedMessage(f"party {asker!r} sent a malformed joint-debt schema", party=asker, step=step)
    nonce = ctx.rng.bytes(NONCE_BYTES)
    ctx.send(asker, {"kinds": list(kinds), "n": len(keys), "nonce": nonce}, "schema")
    check_kinds(kinds, schema["kinds"], on, me=ctx.me, peer=asker)
    fps = oprf.fingerprints(keys, hashlib.sha256(b"accord-joint-debt-fingerprint|" + schema["nonce"]).digest()[:16])
    bins = cuckoo.bin_count(schema["n"])
    sub = ctx.sub(f"lookup-{ctx.me}", parties=[asker, ctx.me])
    share = shared_lookup.hold(sub, fps, amounts, _code(schema["nonce"], nonce), schema["seed"], bins).value
    ctx.send(asker, share + _zero_sum_mask(ctx, lenders, bins), "masked")


def _code(asker_nonce: bytes, lender_nonce: bytes) -> oprf.Code:
    return oprf.Code(hashlib.sha256(b"accord-joint-debt-code|" + asker_nonce + lender_nonce).digest())


def _zero_sum_mask(ctx: Context, lenders: list[str], size: int) -> np.ndarray:
    """This lender's mask: over all lenders the masks add up to zero mod 2^64 (pairwise PRG seeds)."""
    me = lenders.index(ctx.me)
    seeds = {}
    for other in lenders[me + 1:]:
        seeds[other] = ctx.rng.bytes(32)
        ctx.send(other, seeds[other], "mask-seed")
    for other in lenders[:me]:
        got = ctx.recv(other, "mask-seed")
        if not isinstance(got, bytes) or len(got) != 32:
            raise MalformedMessage(f"party {other!r} sent a malformed mask seed", party=other,
                                   step=f"{ctx.path}/mask-seed")
        seeds[other] = got
    mask = np.zeros(size, dtype=_WORD)
    for other, seed in seeds.items():
        stream = Rng(seed=seed).uint64(size)
        if lenders.index(other) > me:
            mask += stream
        else:
            mask -= stream
    return mask
