"""Labeled PSI with secret-shared output: per key asked, additive shares of "held?" and of the held value.

Circuit-PSI style (Pinkas, Schneider, Tkachenko and Yanai, EUROCRYPT 2019) with KKRT's OPRF and the
table-based OPPRF of Kolesnikov, Matania, Pinkas, Rosulek and Trieu (CCS 2017), as in
:mod:`accord.psi.cardinality`, extended to carry a value:

1. the asker (A) cuckoo-hashes its keys into ``m`` bins under a seed the holder (H) learns, and obtains
   KKRT's OPRF value ``F_j(x)`` for the key in each bin ``j``; H evaluates ``F_j(y)`` for each of its keys
   ``y`` in each of its three candidate bins;
2. each OPRF value is expanded with fixed-key AES (a correlation-robust hash) into a slot key and two
   masks; per bin H draws secrets ``r_j`` and ``s_j`` and sends two tables: at ``y``'s slot,
   ``r_j XOR mask1`` and ``(v_y + s_j) XOR mask2``, every other slot random;
3. A reads its slot: ``t_j = r_j`` and ``w_j = v + s_j`` exactly when its key is one of H's keys, random
   words otherwise (A holds one OPRF value per bin and can decode nothing else);
4. ``t_j XOR r_j`` is an XOR sharing of a word that is zero exactly on a match: a tree of 6 ANDs (GF(2)
   Beaver triples from IKNP OT) and a daBit conversion give additive shares of the match bit ``b_j``;
   ``(w_j, -s_j)`` share ``v`` or garbage, and one Beaver product gives shares of ``b_j * v``.

Neither party sees a match bit or a value: every message is an OT message, a table of masked words or
an opened Beaver mask. Cost for ``n`` holder keys and ``m`` asker keys: KKRT's OPRF on ``1.3 m`` bins,
``3 n`` PRF evaluations at H, two tables of ``bins * T`` words (``T`` the power of two at least twice the
largest bin load, about ``3 n / bins`` plus a tail bound), 86 bits of AND triples, a daBit and an
arithmetic triple per bin. About 16 rounds.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from typing import cast

import numpy as np
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from accord.correlations.ot import ExtensionReceiver, ExtensionSender
from accord.errors import MalformedMessage
from accord.mpc.preprocessing.base import Roles
from accord.mpc.preprocessing.ot_provider import OTProvider
from accord.mpc.protocols.arithmetic import mul
from accord.mpc.protocols.binary import and_bits, b2a
from accord.psi.cardinality import max_load
from accord.psi.kkrt import cuckoo, oprf
from accord.runtime.context import Context

_WORD = np.uint64
_EXPAND_KEY = hashlib.sha256(b"accord-shared-lookup-expand").digest()[:16]


@dataclass(frozen=True)
class Shares:
    """One party's additive shares (mod 2^64), one per bin: of the match bit and of ``match * value``."""

    match: np.ndarray
    value: np.ndarray


def table_size(holder_keys: int, bins: int) -> int:
    """Slots per bin: the power of two at least twice the bin-load bound (statistical parameter 40)."""
    return 1 << max(1, math.ceil(math.log2(2 * max_load(cuckoo.HASHES * holder_keys, bins))))


def _expand(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A 16-byte OPRF value as (slot key, match mask, value mask): the value's two words and one of MMO(value)."""
    raw = np.ascontiguousarray(values)
    # ECB is fixed-key AES as a public random permutation (Matyas-Meyer-Oseas), not encryption.
    enc = Cipher(algorithms.AES(_EXPAND_KEY), modes.ECB()).encryptor()  # noqa: S305
    hashed = np.frombuffer(enc.update(raw.tobytes()), dtype=np.uint8).reshape(raw.shape) ^ raw
    words = raw.view(_WORD).reshape(len(raw), 2)
    return words[:, 0].copy(), words[:, 1].copy(), hashed.view(_WORD).reshape(len(raw), 2)[:, 0].copy()


def _slots(keys: np.ndarray, mult: np.ndarray, size: int) -> np.ndarray:
    with np.errstate(over="ignore"):
        return ((keys * mult) >> _WORD(64 - int(math.log2(size)))).astype(np.int64)


def ask(ctx: Context, placed: cuckoo.CuckooTable, fps: np.ndarray, code: oprf.Code, holder_keys: int) -> Shares:
    """The asker's side, with its keys' fingerprints ``fps`` placed in ``placed`` (seed already shared)."""
    peer = ctx.peers[0]
    m = placed.bins
    ot = ExtensionReceiver.setup(ctx, peer, width=oprf.CODE_BITS)
    rows = ctx.rng.uint8((m, oprf.CODE_BYTES))  # empty bins keep random rows: KKRT's dummy inputs
    oprf.receiver_rows(rows, fps, placed.slot, placed.function, code)
    with ctx.timed("ot-extension"):
        t, _ = ot.extend_rows(ctx, rows)
    with ctx.timed("oprf"):
        key, mask, vmask = _expand(oprf.prf(t, np.arange(m), 16))
    size = table_size(holder_keys, m)
    got = ctx.recv(peer, "tables", timeout=ctx.timeout + holder_keys / 20_000)
    step = f"{ctx.path}/tables"
    if not isinstance(got, dict) or set(got) != {"mult", "match", "value"}:
        raise MalformedMessage(f"party {peer!r} sent malformed OPPRF tables", party=peer, step=step)
    mult, match, value = got["mult"], got["match"], got["value"]
    if (not isinstance(mult, np.ndarray) or mult.dtype != _WORD or mult.shape != (m,)
            or any(not isinstance(a, np.ndarray) or a.dtype != _WORD or a.shape != (m, size) for a in (match, value))):
        raise MalformedMessage(f"party {peer!r} sent OPPRF tables of the wrong shape", party=peer, step=step)
    slot = _slots(key, mult, size)
    rows_at = np.arange(m)
    decoded = match[rows_at, slot] ^ mask
    carried = value[rows_at, slot] ^ vmask
    return _combine(ctx, ~decoded, carried)


def hold(ctx: Context, fps: np.ndarray, values: np.ndarray, code: oprf.Code, seed: bytes, bins: int) -> Shares:
    """The holder's side: its keys' fingerprints and their ``uint64`` values, the asker's seed and bin count."""
    peer = ctx.peers[0]
    ot = ExtensionSender.setup(ctx, peer, width=oprf.CODE_BITS)
    candidates = cuckoo.candidate_bins(fps, seed, bins)
    with ctx.timed("ot-extension"):
        q, _ = ot.extend(ctx, bins)
    prf_values = np.empty((cuckoo.HASHES * len(fps), 16), dtype=np.uint8)
    with ctx.timed("oprf"):
        oprf.sender_values(prf_values, np.arange(prf_values.shape[0]), candidates, fps, q, 0, ot.s, code)
    with ctx.timed("tables"):
        secret, mask_secret, mult, match, value = _tables(ctx, candidates.reshape(-1), prf_values,
                                                          np.repeat(values, cuckoo.HASHES), bins, len(fps))
    ctx.send(peer, {"mult": mult, "match": match, "value": value}, "tables")
    return _combine(ctx, secret, -mask_secret)


def _tables(ctx: Context, bins_of: np.ndarray, prf_values: np.ndarray, values: np.ndarray, bins: int,
            n_keys: int) -> tuple[np.ndarray, ...]:
    """Per-bin secrets ``r`` and ``s``, multipliers, and the two tables (see the module docstring)."""
    key, mask, vmask = _expand(prf_values)
    if np.bincount(bins_of, minlength=bins).max() > max_load(cuckoo.HASHES * n_keys, bins):
        raise MalformedMessage("a bin received more keys than its public bound (probability 2^-40); rerun the job",
                               party=ctx.me, step=f"{ctx.path}/tables")
    size = table_size(n_keys, bins)
    secret = ctx.rng.uint64(bins)
    offset = ctx.rng.uint64(bins)
    mult = ctx.rng.uint64(bins) | _WORD(1)
    while True:  # redraw the multiplier of every bin whose keys collide in its row
        cell = bins_of * size + _slots(key, mult[bins_of], size)
        order = np.argsort(cell, kind="stable")
        sorted_cells = cell[order]
        clash = np.unique(bins_of[order][1:][sorted_cells[1:] == sorted_cells[:-1]])
        if not clash.size:
            break
        mult[clash] = ctx.rng.uint64(clash.size) | _WORD(1)
    slots = _slots(key, mult[bins_of], size)
    match = ctx.rng.uint64((bins, size))
    match[bins_of, slots] = secret[bins_of] ^ mask
    value = ctx.rng.uint64((bins, size))
    value[bins_of, slots] = (values + offset[bins_of]) ^ vmask
    return secret, offset, mult, match, value


def _combine(ctx: Context, word: np.ndarray, carried: np.ndarray) -> Shares:
    """Shares of ``[word0 ^ word1 == all ones]`` per bin, and of that bit times ``carried0 + carried1``."""
    first, second = ctx.parties
    sub = ctx.sub("mpc")
    prov = OTProvider.setup(sub, Roles(first, second, ctx.me))
    x = word.astype(_WORD)
    width = 64
    with ctx.timed("zero-test"):
        while width > 1:  # AND the upper half of each word into its lower half: 6 levels, one round each
            half = width // 2
            dtype = np.dtype({32: np.uint32, 16: np.uint16}.get(half, np.uint8))
            low = (1 << half) - 1
            hi = (x >> _WORD(half)).astype(dtype)
            lo = (x & _WORD(low)).astype(dtype)
            z = and_bits(sub, prov, x.shape, dtype, hi, lo)
            x = (z & dtype.type(low)).astype(_WORD)
            width = half
        # Both parties compute here (no dealer), so the protocols return arrays, not None.
        bits = cast(np.ndarray, b2a(sub, prov, x.shape, x.astype(np.uint8)))
        product = cast(np.ndarray, mul(sub, prov, x.shape, bits, carried.astype(_WORD)))
    return Shares(match=bits, value=product)
