"""The RR22 PSI driver: VOLE plus OKVS, semi-honest (Raghuraman and Rindal, CCS 2022, Fig. 4, "fast" variant).

The OKVS receiver R holds distinct keys X, the sender S keys Y; ``H`` hashes a key to GF(2^128)
(AES under a session key over its fingerprint) and ``H_o`` is the output hash (fixed-key AES
``pi(v) ^ v`` truncated to ``l`` bytes):

1. both: a schema (key-column kinds, distinct-key counts, mode, receivers, a 16-byte nonce);
2. R: a random OKVS seed, sent first so that S can compute its keys' rows and ``Decode(B, y)`` while R
   encodes;
3. silent VOLE of length ``m = 1.23 n_R + 64`` (:mod:`accord.correlations.silent`): S gets
   ``Delta, B``, R gets ``A, C`` with ``C = B + A Delta``;
4. R encodes ``P`` with ``Decode(P, x) = H(x)`` for its keys (:mod:`accord.psi.rr22.okvs`) and sends
   the seed (a fresh one if the first failed, probability below 2^-40) and ``A + P`` (16 bytes per
   column; ``A`` is pseudo-random, so this hides ``P``);
5. S sends, in a secret random order, ``H_o(Decode(B, y) + Delta (Decode(A + P, y) + H(y)))`` for its
   keys: by linearity this is ``H_o(Decode(C, y) + Delta (Decode(P, y) + H(y)))``, which equals
   R's ``H_o(Decode(C, x))`` exactly when ``y = x`` is in X, and is masked by the unknown ``Delta``
   otherwise;
6. delivery as in the other PSIs (:mod:`accord.psi._delivery`).

Bytes: the VOLE (2-4 MB at any size up to a million keys), ``16 m`` from R and ``l n_S`` from S,
``l = ceil((40 + log2 n_R + log2 n_S) / 8)``. Rounds (flights): R 4, S 3 (one more each when both
receive). When both receive, R is the party with fewer distinct keys.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
import pandas as pd
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from accord.correlations import VOLEReceiver, VOLESender
from accord.errors import MalformedMessage
from accord.psi._delivery import check_call, check_schema, finish_receiver, finish_sender
from accord.psi._matching import equal_rows, one_to_one
from accord.psi.join import KeySet, check_kinds, encode_keys, group_keys
from accord.psi.kkrt.oprf import fingerprints, value_bytes
from accord.psi.rr22 import okvs
from accord.runtime.context import Context
from accord.runtime.report import protocol

THREAT_MODEL = (
    "semi-honest (passive) adversaries; 2 parties, no trusted third party; secure under CDH in the random-oracle "
    "model (Chou-Orlandi base OTs), fixed-key AES as an ideal permutation (OT-extension hash, GGM trees, output "
    "hash), AES as a pseudo-random function (key hashing), and dual LPN with regular noise over GF(2^128) for the "
    "expand-accumulate code (128 bits against linear tests at the code's estimated minimum distance); statistical "
    "parameter 40 for OKVS encoding and for false matches"
)
LEAKAGE = (
    "both parties learn both parties' numbers of distinct keys and the type of each key column; the OKVS sender "
    "also learns the receiver's OKVS seed, which is uniform except that the receiver's keys encode under it "
    "(within statistical distance 2^-40 of uniform); the OKVS receiver (the only result receiver, or the party "
    "with fewer distinct keys when both receive) learns which of its keys the other party holds (the "
    "intersection); when both receive, the other party learns which of its keys are shared, and the join's row "
    "order follows that party's secret random permutation, independent of both input orders; in join mode each "
    "receiver also learns, for every matching key, how many rows the other party holds with it; a key the "
    "sender lacks is reported as shared with probability at most 2^-40"
)
MODES = ("join", "semi")
NONCE_BYTES = 16
_OUTPUT_KEY = hashlib.sha256(b"accord-rr22-output-hash").digest()[:16]
_ATTEMPTS = 8
# Base VOLEs from IKNP, not from a silent OT call: 2-4 MB more traffic, 0.1-0.7 CPU-seconds less
# (measured at 1e5 and 1e6 keys), which is what a loopback or LAN run is bound by.
_BOOTSTRAP = False


@protocol("psi.rr22", threat_model=THREAT_MODEL, leakage=LEAKAGE)
def rr22_psi(
    ctx: Context,
    table: pd.DataFrame,
    on: Sequence[str],
    receivers: Sequence[str],
    mode: str = "join",
) -> pd.DataFrame | int | None:
    """Run RR22 PSI between the two parties of ``ctx`` on the key columns ``on`` of ``table``.

    Parameters and results are those of :func:`accord.psi.kkrt.kkrt_psi`: ``mode`` is ``"join"``
    (both receive their rows of the inner join in a shared order) or ``"semi"`` (each receiver gets
    its own matching rows in table order). There is no count-only mode: the OKVS receiver learns
    which of its keys match.
    """
    receivers = check_call(ctx, "RR22", mode, MODES, receivers)
    peer = ctx.peers[0]
    kinds, raw_keys = encode_keys(table, on, party=ctx.me)
    keyset = group_keys(kinds, raw_keys)
    n = len(keyset.keys)
    schema = {"kinds": list(kinds), "n": n, "mode": mode, "receivers": receivers,
              "nonce": ctx.rng.bytes(NONCE_BYTES)}
    theirs = check_schema(ctx.exchange(schema, "schema")[peer], schema, peer, ctx)
    if len(theirs["nonce"]) != NONCE_BYTES:
        raise MalformedMessage(f"party {peer!r} sent a malformed PSI schema", party=peer, step=f"{ctx.path}/schema")
    check_kinds(kinds, theirs["kinds"], on, me=ctx.me, peer=peer)
    sizes = {ctx.me: n, peer: theirs["n"]}
    receiver = receivers[0] if len(receivers) == 1 else min(ctx.parties, key=lambda p: sizes[p])
    sender = peer if receiver == ctx.me else ctx.me
    # Both nonces key the fingerprints and H after both inputs are fixed: neither party chooses them.
    session = b"".join({ctx.me: schema["nonce"], peer: theirs["nonce"]}[p] for p in ctx.parties)
    with ctx.timed("hashing"):
        fps = fingerprints(keyset.keys, hashlib.sha256(b"accord-rr22-fingerprint|" + session).digest()[:16])
        targets = _aes_blocks(fps, hashlib.sha256(b"accord-rr22-value|" + session).digest()[:16])
    nbytes = value_bytes(sizes[receiver], sizes[sender])
    shape = okvs.shape(sizes[receiver])
    if ctx.me == receiver:
        return _receive(ctx, table, keyset, mode, receivers, fps, targets, shape, nbytes, sizes[sender])
    return _send(ctx, table, keyset, mode, receivers, fps, targets, shape, nbytes)


def _aes_blocks(fps: np.ndarray, key: bytes) -> np.ndarray:
    """AES under ``key`` of each 16-byte fingerprint, as ``(n, 2)`` uint64 field elements."""
    # ECB is AES used as a keyed pseudo-random function on distinct 16-byte inputs, not as encryption.
    enc = Cipher(algorithms.AES(key), modes.ECB()).encryptor()  # noqa: S305
    return np.frombuffer(enc.update(np.ascontiguousarray(fps).tobytes()), dtype="<u8").reshape(-1, 2).astype(np.uint64)


def output_hash(values: np.ndarray, nbytes: int) -> np.ndarray:
    """``H_o(v) = pi(v) ^ v`` truncated to ``nbytes``: ``(n, 2)`` uint64 -> ``(n, nbytes)`` uint8."""
    data = np.ascontiguousarray(values, dtype="<u8")
    # ECB is fixed-key AES used as a public random permutation, not as encryption.
    enc = Cipher(algorithms.AES(_OUTPUT_KEY), modes.ECB()).encryptor()  # noqa: S305
    out = np.frombuffer(enc.update(data.tobytes()), dtype="<u8").reshape(-1, 2) ^ data
    return np.ascontiguousarray(out.view(np.uint8).reshape(-1, 16)[:, :nbytes])


def _receive(ctx: Context, table: pd.DataFrame, keyset: KeySet, mode: str, receivers: list[str], fps: np.ndarray,
             targets: np.ndarray, shape: okvs.Shape, nbytes: int, n_sender: int) -> pd.DataFrame | int:
    peer = ctx.peers[0]
    # The seed goes first, so the sender computes its rows and Decode(B, y) while this party encodes.
    seed = ctx.rng.bytes(okvs.SEED_BYTES)
    ctx.send(peer, seed, "seed")
    vole = VOLEReceiver.setup(ctx.sub("vole"), peer)
    with ctx.timed("vole"):
        a, c = vole.extend(ctx.sub("vole"), shape.size, bootstrap=_BOOTSTRAP)
    with ctx.timed("okvs"):
        for _ in range(_ATTEMPTS):
            rows = okvs.rows(fps, seed, shape)
            encoding = okvs.encode(rows, targets, shape)
            if encoding is not None:
                break
            seed = ctx.rng.bytes(okvs.SEED_BYTES)  # fails with probability below 2^-40: the sender redoes its rows
        else:
            raise ValueError(f"OKVS encoding of {len(fps)} keys failed with {_ATTEMPTS} seeds; the failure "
                             "probability per seed should be below 2^-40")
    a ^= encoding
    ctx.send(peer, {"seed": seed, "masked": a}, "okvs")
    with ctx.timed("decode"):
        mine = output_hash(okvs.decode(c, rows), nbytes)
    theirs = ctx.recv(peer, "values", timeout=ctx.timeout + min(n_sender / 100_000, 86_400.0))
    if not isinstance(theirs, np.ndarray) or theirs.dtype != np.uint8 or theirs.shape != (n_sender, nbytes):
        raise MalformedMessage(f"party {peer!r} sent PSI values that are not a ({n_sender}, {nbytes}) byte array",
                               party=peer, step=f"{ctx.path}/values")
    with ctx.timed("match"):
        mine_idx, theirs_idx = one_to_one(*equal_rows(mine, theirs))
    return finish_receiver(ctx, table, keyset, mode, receivers, mine_idx, theirs_idx)


def _send(ctx: Context, table: pd.DataFrame, keyset: KeySet, mode: str, receivers: list[str], fps: np.ndarray,
          targets: np.ndarray, shape: okvs.Shape, nbytes: int) -> pd.DataFrame | int | None:
    peer = ctx.peers[0]
    seed = ctx.recv(peer, "seed")
    if not isinstance(seed, bytes) or len(seed) != okvs.SEED_BYTES:
        raise MalformedMessage(f"party {peer!r} sent a malformed OKVS seed", party=peer, step=f"{ctx.path}/seed")
    vole = VOLESender.setup(ctx.sub("vole"), peer)
    with ctx.timed("vole"):
        b = vole.extend(ctx.sub("vole"), shape.size, bootstrap=_BOOTSTRAP)
    order = ctx.rng.permutation(len(fps))
    fps, targets = fps[order], targets[order]
    with ctx.timed("decode"):
        rows = okvs.rows(fps, seed, shape)
        values = okvs.decode(b, rows)
    got = ctx.recv(peer, "okvs", timeout=ctx.timeout + min(shape.keys / 100_000, 86_400.0))
    if (not isinstance(got, dict) or not isinstance(got.get("seed"), bytes) or len(got["seed"]) != okvs.SEED_BYTES
            or not isinstance(got.get("masked"), np.ndarray) or got["masked"].dtype != np.uint64
            or got["masked"].shape != (shape.size, 2)):
        raise MalformedMessage(f"party {peer!r} sent a malformed OKVS message: expected a {okvs.SEED_BYTES}-byte "
                               f"seed and a ({shape.size}, 2) uint64 array", party=peer, step=f"{ctx.path}/okvs")
    with ctx.timed("decode"):
        if got["seed"] != seed:  # the first seed did not encode the receiver's keys
            rows = okvs.rows(fps, got["seed"], shape)
            values = okvs.decode(b, rows)
        masked = okvs.decode(got["masked"], rows)
        masked ^= targets
        values ^= vole.multiplier.mul(masked)
        ctx.send(peer, output_hash(values, nbytes), "values")
    if ctx.me not in receivers:
        return None
    return finish_sender(ctx, table, keyset, mode, order)
