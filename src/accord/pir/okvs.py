"""An oblivious key-value store: a table of random-looking words from which each key's value is the XOR of 3 cells.

The 3-hash XOR construction of garbled cuckoo tables (Pinkas, Rosulek, Trieu and Yanai, "PSI from
PaXoS", EUROCRYPT 2020; the same hypergraph as Graf and Lemire's XOR filters): ``1.23 n + 32`` cells in
three segments, each key hashing to one cell per segment. Encoding peels the hypergraph (a cell hit by
one remaining key is that key's; remove it, repeat) and assigns cells in reverse peeling order, so that
``T[h0(k)] ^ T[h1(k)] ^ T[h2(k)] = value(k)`` for every key; unassigned cells stay random. When the
values are pseudo-random, as the masked words of :mod:`accord.pir.shared_lookup` are, the table is
uniformly random whatever the keys; decoding any other key gives a random word.

Peeling is vectorised: each round takes every cell hit by exactly one key at once.
"""

from __future__ import annotations

import math

import numpy as np

from accord.crypto.random import Rng
from accord.errors import CryptoError

_WORD = np.uint64
_ATTEMPTS = 16


def size_for(n: int) -> int:
    """Cells for ``n`` keys: three equal segments holding at least ``1.23 n + 32`` cells."""
    return 3 * math.ceil((1.23 * n + 32) / 3)


def positions(words: np.ndarray, seed: np.ndarray, size: int) -> np.ndarray:
    """Each key's three cells, one per segment, from its three hash words ``(n, 3)`` and the table's seed.

    The seed goes through a 64-bit mixer (SplitMix64's finaliser) with the words, so that a fresh seed
    places the keys afresh. XOR with the seed alone kept the keys' top bits' differences, so keys that
    shared a cell kept sharing it under every seed, and a table that could not be built with one seed
    could not be built with any (seen: about 1 joint-debt query in 150 failed).
    """
    segment = size // 3
    mixed = _mix(words ^ seed[None, :]) >> _WORD(32)
    return (mixed * _WORD(segment) >> _WORD(32)).astype(np.int64) + np.arange(3, dtype=np.int64) * segment


def _mix(z: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser (a bijection of 64-bit words whose output bits each depend on every input bit)."""
    z = (z ^ (z >> _WORD(30))) * _WORD(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> _WORD(27))) * _WORD(0x94D049BB133111EB)
    return z ^ (z >> _WORD(31))


def encode(words: np.ndarray, values: np.ndarray, rng: Rng) -> tuple[np.ndarray, np.ndarray]:
    """A table ``(size, w)`` and its seed ``(3,)`` that decode each key's ``(n, 3)`` hash words to its value row."""
    n, width = values.shape
    size = size_for(n)
    for _ in range(_ATTEMPTS):
        seed = rng.uint64(3)
        pos = positions(words, seed, size)
        rounds = _peel(pos, size)
        if rounds is None:
            continue
        table = rng.uint64((size, width))
        for keys, cells in reversed(rounds):
            p = pos[keys]
            acc = values[keys] ^ table[p[:, 0]] ^ table[p[:, 1]] ^ table[p[:, 2]] ^ table[cells]
            table[cells] = acc
        return table, seed
    raise CryptoError(f"the key-value table for {n} keys could not be built with {_ATTEMPTS} seeds (two keys "
                      "with equal hash words?)")


def decode(table: np.ndarray, words: np.ndarray, seed: np.ndarray) -> np.ndarray:
    """The value row each key's hash words decode to (random for keys that were not encoded)."""
    pos = positions(words, seed, len(table))
    return table[pos[:, 0]] ^ table[pos[:, 1]] ^ table[pos[:, 2]]


def _peel(pos: np.ndarray, size: int) -> list[tuple[np.ndarray, np.ndarray]] | None:
    """Rounds of ``(keys, their own cells)`` in peeling order, or ``None`` if a core remains."""
    n = len(pos)
    flat = pos.reshape(-1)
    ids = np.repeat(np.arange(n, dtype=np.int64), 3)
    count = np.bincount(flat, minlength=size).astype(np.int64)
    xor = np.zeros(size, dtype=np.int64)
    np.bitwise_xor.at(xor, flat, ids)
    rounds = []
    left = n
    while left:
        cells = np.flatnonzero(count == 1)
        if not cells.size:
            return None
        keys, first = np.unique(xor[cells], return_index=True)  # a key may be alone in two cells at once
        cells = cells[first]
        rounds.append((keys, cells))
        gone = pos[keys].reshape(-1)
        np.subtract.at(count, gone, 1)
        np.bitwise_xor.at(xor, gone, np.repeat(keys, 3))
        left -= len(keys)
    return rounds
