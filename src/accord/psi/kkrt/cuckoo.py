"""Cuckoo hashing for KKRT PSI: each receiver key in one of its three candidate bins, no stash.

The receiver places its distinct keys so that every bin holds at most one (Pagh and Rodler 2004, with
three hash functions as in KKRT16, Sec. 4, and Pinkas, Schneider, Weinert and Wieder, EUROCRYPT 2018).
Without a stash the table needs ``e * n`` bins; ``e`` follows the experimentally fitted failure bound
for three hash functions used by cryptoTools' ``CuckooIndex::selectParams`` (libOTe, libPSI, and
SecretFlow's KKRT): ``lambda = 240 e - log2(n) - 256`` for ``n >= 512`` and per-size lines below that,
so a random seed fails with probability at most ``2**-lambda``. We take ``lambda = 40``
(``e = 1.27`` at ``n = 512``, ``1.30`` at ``10**5``, ``1.32`` at ``10**6``).

On failure the receiver draws a new seed and hashes again: no key is ever dropped. The sender sees
only the final seed, which is uniform conditioned on the receiver's keys fitting, i.e. within
statistical distance ``2**-40`` of a uniform seed.

Placement is vectorised in rounds instead of one key at a time: every homeless key writes itself
into its current candidate bin at once; where several write the same bin one wins, and the losers
and the keys they displaced move on to their next hash function (cycling 0, 1, 2) in the next round.
A round costs a few numpy passes over the keys still homeless, which shrink geometrically.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import numpy as np
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from accord.crypto.random import Rng

HASHES = 3
STAT_BITS = 40
SEED_BYTES = 16
# Failure-bound lines lambda = slope * e + intercept for n < 512 (index floor(log2 n)), from cryptoTools.
_SMALL = ((5.5, 6.35), (5.5, 6.35), (5.5, 6.35), (8.5, -0.07), (13.4, -6.74), (21.9, -16.1), (57.8, -62.6),
          (100.0, -113.0), (142.0, -158.0))
# A round moves every homeless key once; chains of displacements this long mean the seed has failed.
_MAX_ROUNDS = 2_000
_ATTEMPTS = 32


@dataclass(frozen=True)
class CuckooTable:
    """Where the receiver's keys sit.

    Attributes
    ----------
    seed:
        The public seed of the three hash functions (sent to the sender).
    bins:
        Number of bins.
    slot:
        Bin of each key (``int64``, all distinct).
    function:
        Index (0, 1 or 2) of the hash function that maps each key to its bin (``int8``).
    """

    seed: bytes
    bins: int
    slot: np.ndarray
    function: np.ndarray


def bin_count(n: int, stat_bits: int = STAT_BITS) -> int:
    """Bins for ``n`` keys so that a random seed fails with probability at most ``2**-stat_bits``."""
    if n < 1:
        raise ValueError(f"need at least one key, got {n}")
    log_n = math.floor(math.log2(n))
    if log_n < len(_SMALL):
        slope, intercept = _SMALL[log_n]
        expansion = (stat_bits - intercept) / slope
    else:
        expansion = (stat_bits + 256 + math.log2(n)) / 240
    return math.ceil(expansion * n)


def candidate_bins(fingerprints: np.ndarray, seed: bytes, bins: int) -> np.ndarray:
    """The three candidate bins of each key: ``(n, 3)`` int64 in ``[0, bins)``.

    Hash function ``i`` is AES-128 under a key derived from ``(seed, i)`` applied to the key's 16-byte
    fingerprint, its first 64 bits reduced modulo ``bins`` (bias below ``bins / 2**64``).
    """
    n = len(fingerprints)
    data = np.ascontiguousarray(fingerprints, dtype=np.uint8).tobytes()
    out = np.empty((n, HASHES), dtype=np.int64)
    for i in range(HASHES):
        key = hashlib.sha256(b"accord-kkrt-cuckoo|" + seed + bytes([i])).digest()[:16]
        # ECB is AES used as a keyed pseudo-random function on distinct 16-byte inputs, not as encryption.
        enc = Cipher(algorithms.AES(key), modes.ECB()).encryptor()  # noqa: S305
        words = np.frombuffer(enc.update(data), dtype="<u8").reshape(n, 2)[:, 0]
        out[:, i] = (words % np.uint64(bins)).astype(np.int64)
    return out


def place(candidates: np.ndarray, bins: int, max_rounds: int = _MAX_ROUNDS) -> tuple[np.ndarray, np.ndarray] | None:
    """Put every key in one of its candidate bins, one key per bin; ``None`` if that does not succeed.

    Returns ``(slot, function)``: each key's bin and the index of the candidate it took.
    """
    n = len(candidates)
    table = np.full(bins, -1, dtype=np.int64)
    function = np.zeros(n, dtype=np.int8)
    homeless = np.arange(n, dtype=np.int64)
    for _ in range(max_rounds):
        if not len(homeless):
            slot = candidates[np.arange(n), function]
            return slot, function
        target = candidates[homeless, function[homeless]]
        previous = table[target]
        table[target] = homeless
        # Several keys may write one bin in a round; whichever write landed wins it.
        won = table[target] == homeless
        displaced = previous[won]
        homeless = np.concatenate((homeless[~won], displaced[displaced >= 0]))
        function[homeless] = (function[homeless] + 1) % HASHES
    return None


def hash_with_seed(fingerprints: np.ndarray, seed: bytes, bins: int) -> CuckooTable | None:
    """The table for one given seed, or ``None`` if the keys do not fit (the explicit-input twin of :func:`build`)."""
    placed = place(candidate_bins(fingerprints, seed, bins), bins)
    if placed is None:
        return None
    return CuckooTable(seed, bins, placed[0], placed[1])


def build(fingerprints: np.ndarray, rng: Rng, bins: int | None = None, attempts: int = _ATTEMPTS) -> CuckooTable:
    """Cuckoo-hash the keys with fresh random seeds until they fit (default bins: :func:`bin_count`).

    With the default table size each seed fails with probability at most ``2**-40``, so a second
    attempt is already rare; ``attempts`` failures in a row mean the table is too small.
    """
    bins = bin_count(len(fingerprints)) if bins is None else bins
    if bins < len(fingerprints):
        raise ValueError(f"{len(fingerprints)} keys cannot fit in {bins} bins of one key each")
    for _ in range(attempts):
        table = hash_with_seed(fingerprints, rng.bytes(SEED_BYTES), bins)
        if table is not None:
            return table
    raise ValueError(f"cuckoo hashing of {len(fingerprints)} keys into {bins} bins failed with {attempts} seeds; "
                     "the table is too small for three hash functions without a stash")
