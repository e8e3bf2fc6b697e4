"""Labeled PSI with secret-shared output: per key asked, additive shares of "held?" and of the held value.

Circuit-PSI style (Pinkas, Schneider, Tkachenko and Yanai, EUROCRYPT 2019) with KKRT's OPRF and the
OPPRF of Kolesnikov, Matania, Pinkas, Rosulek and Trieu (CCS 2017) programmed through an OKVS
(Pinkas, Rosulek, Trieu and Yanai, EUROCRYPT 2020) instead of per-bin tables, so that it stays linear
when one set is much larger than the other (a per-bin table must hold a bin's whole load without
collisions, hopeless at thousands of keys per bin), and extended to carry a value:

1. the asker (A) cuckoo-hashes its keys into ``m`` bins under a seed the holder (H) learns, and obtains
   KKRT's OPRF value ``F_j(x)`` for the key in each bin ``j``; H evaluates ``F_j(y)`` for each of its keys
   ``y`` in each of its three candidate bins;
2. each OPRF value is expanded with fixed-key AES (a correlation-robust hash) into three hash words and
   two masks; per bin H draws secrets ``r_j`` and ``s_j`` and encodes, for each of its ``3 n`` (key,
   bin) pairs, the pair of words ``r_j XOR mask1`` and ``(v_y + s_j) XOR mask2`` into one oblivious
   key-value store (:mod:`accord.pir.okvs`, ``1.23 * 3 n`` cells of 16 bytes);
3. A decodes at its OPRF value of each bin: ``t_j = r_j`` and ``w_j = v + s_j`` exactly when its key is
   one of H's keys, random words otherwise (A holds one OPRF value per bin and can decode nothing else);
4. ``t_j XOR r_j`` is an XOR sharing of a word that is zero exactly on a match: a tree of 6 ANDs (GF(2)
   Beaver triples from IKNP OT) and a daBit conversion give additive shares of the match bit ``b_j``;
   ``(w_j, -s_j)`` share ``v`` or garbage, and a multiplexer on the XOR-shared ``b_j`` (two correlated
   OTs, CrypTFlow2's) gives shares of ``b_j * v``.

Neither party sees a match bit or a value: every message is an OT message, a table of masked words or
an opened Beaver mask. Cost for ``n`` holder keys and ``m`` asker keys: KKRT's OPRF on about ``1.3 m``
bins, ``3 n`` PRF evaluations at H, an OKVS of ``59 n`` bytes, 86 bits of AND triples, a daBit and two
correlated OTs per bin. About 16 rounds.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import cast

import numpy as np
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from accord.correlations.ot import ExtensionReceiver, ExtensionSender
from accord.errors import MalformedMessage
from accord.mpc.preprocessing.base import Roles
from accord.mpc.preprocessing.ot_provider import OTProvider
from accord.mpc.protocols.binary import all_ones, b2a
from accord.pir import okvs
from accord.psi.kkrt import cuckoo, oprf
from accord.runtime.context import Context

_WORD = np.uint64
CHUNK_BINS = 1 << 16
_EXPAND_KEYS = [hashlib.sha256(b"accord-shared-lookup-expand|" + bytes((i,))).digest()[:16] for i in (1, 2)]


@dataclass(frozen=True)
class Shares:
    """One party's additive shares (mod 2^64), one per bin: of the match bit and of ``match * value``."""

    match: np.ndarray
    value: np.ndarray


def _expand(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A 16-byte OPRF value as (three hash words, match mask, value mask), by fixed-key AES in MMO mode."""
    raw = np.ascontiguousarray(values)
    words = [raw.view(_WORD).reshape(len(raw), 2)]
    for key in _EXPAND_KEYS:
        # ECB is fixed-key AES as a public random permutation (Matyas-Meyer-Oseas), not encryption.
        enc = Cipher(algorithms.AES(key), modes.ECB()).encryptor()  # noqa: S305
        hashed = np.frombuffer(enc.update(raw.tobytes()), dtype=np.uint8).reshape(raw.shape) ^ raw
        words.append(hashed.view(_WORD).reshape(len(raw), 2))
    hashes = np.stack([words[0][:, 0], words[1][:, 0], words[2][:, 0]], axis=1)
    return hashes, words[0][:, 1].copy(), words[1][:, 1].copy()


@dataclass(frozen=True)
class Pending:
    """The asker's side of one lookup between its OPRF and the holder's table: the expanded OPRF values."""

    hashes: np.ndarray
    mask: np.ndarray
    vmask: np.ndarray


def ask(ctx: Context, placed: cuckoo.CuckooTable, fps: np.ndarray, code: oprf.Code, holder_keys: int) -> Shares:
    """The asker's side, with its keys' fingerprints ``fps`` placed in ``placed`` (seed already shared)."""
    return finish(ctx, start(ctx, placed, fps, code), holder_keys)


def start(ctx: Context, placed: cuckoo.CuckooTable, fps: np.ndarray, code: oprf.Code) -> Pending:
    """The asker's first half: KKRT's OPRF value of each bin. The holder then builds its table alone.

    Joint debt starts the lookups with every lender before it finishes any, so the lenders build their
    tables at the same time and none waits for the others' lookups.
    """
    peer = ctx.peers[0]
    m = placed.bins
    ot = ExtensionReceiver.setup(ctx, peer, width=oprf.CODE_BITS)
    rows = ctx.rng.uint8((m, oprf.CODE_BYTES))  # empty bins keep random rows: KKRT's dummy inputs
    oprf.receiver_rows(rows, fps, placed.slot, placed.function, code)
    with ctx.timed("ot-extension"):
        t, _ = ot.extend_rows(ctx, rows)
    with ctx.timed("oprf"):
        return Pending(*_expand(oprf.prf(t, np.arange(m), 16)))


def finish(ctx: Context, pending: Pending, holder_keys: int) -> Shares:
    """The asker's second half: decode the holder's table at each bin's OPRF value, then the MPC."""
    peer = ctx.peers[0]
    got = ctx.recv(peer, "table", timeout=ctx.timeout + holder_keys / 20_000)
    step = f"{ctx.path}/table"
    size = okvs.size_for(cuckoo.HASHES * holder_keys)
    if not isinstance(got, dict) or set(got) != {"seed", "table"}:
        raise MalformedMessage(f"party {peer!r} sent a malformed key-value table", party=peer, step=step)
    seed, table = got["seed"], got["table"]
    if (not isinstance(seed, np.ndarray) or seed.dtype != _WORD or seed.shape != (3,)
            or not isinstance(table, np.ndarray) or table.dtype != _WORD or table.shape != (size, 2)):
        raise MalformedMessage(f"party {peer!r} sent a key-value table of the wrong shape", party=peer, step=step)
    decoded = okvs.decode(table, pending.hashes, seed)
    return _combine(ctx, ~(decoded[:, 0] ^ pending.mask), decoded[:, 1] ^ pending.vmask)


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
    with ctx.timed("table"):
        hashes, mask, vmask = _expand(prf_values)
        bins_of = candidates.reshape(-1)
        secret, offset = ctx.rng.uint64(bins), ctx.rng.uint64(bins)
        carried = np.stack([secret[bins_of] ^ mask, (np.repeat(values, cuckoo.HASHES) + offset[bins_of]) ^ vmask],
                           axis=1)
        table, table_seed = okvs.encode(hashes, carried, ctx.rng)
    ctx.send(peer, {"seed": table_seed, "table": table}, "table")
    return _combine(ctx, secret, -offset)


def _combine(ctx: Context, word: np.ndarray, carried: np.ndarray) -> Shares:
    """Shares of ``[word0 ^ word1 == all ones]`` per bin, and of that bit times ``carried0 + carried1``.

    Bins go through in chunks of :data:`CHUNK_BINS`, so memory stays flat however many bins there are
    (the correlated randomness of a chunk takes about 10 KB per bin while it is in use).
    """
    first, second = ctx.parties
    sub = ctx.sub("mpc")
    prov = OTProvider.setup(sub, Roles(first, second, ctx.me))
    match, value = np.empty(len(word), dtype=_WORD), np.empty(len(word), dtype=_WORD)
    for start in range(0, len(word), CHUNK_BINS):
        part = slice(start, start + CHUNK_BINS)
        match[part], value[part] = _combine_chunk(sub, prov, word[part].astype(_WORD), carried[part].astype(_WORD))
    return Shares(match=match, value=value)


def _combine_chunk(ctx: Context, prov: OTProvider, x: np.ndarray, carried: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    with ctx.timed("zero-test"):
        # Both parties compute here (no dealer), so the protocols return arrays, not None.
        ones = cast(np.ndarray, all_ones(ctx, prov, x.shape, x))
        bits = cast(np.ndarray, b2a(ctx, prov, x.shape, ones))
        # The match bit is still XOR-shared here: a multiplexer (2 OTs per bin) instead of a Beaver
        # product of its additive shares (a triple: 128 Gilboa OTs per bin).
        product = prov.bit_products(ctx.sub("select"), ones, carried)
    return bits, product
