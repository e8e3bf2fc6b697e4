"""Exact matching of PSI values (pseudo-random byte strings of at most 16 bytes), vectorised.

Both PSI protocols end with the receiver comparing its values with the sender's: ECDH its
double-blinded points, KKRT its OPRF values. Values are split into two 64-bit words; the first word
is looked up in a hash index and the second compared, so matching costs a few numpy passes instead
of a Python loop per key.

The result comes in increasing sender position. The sender sends its values in the order of its own
secret random permutation, so this order is independent of both parties' input orders and tells the
sender nothing when it receives the positions. (An order derived from the compared values would not
do: the ECDH sender can recompute every double-blinded value of the receiver, in the receiver's row
order, and would read the receiver's row order off the order of the matches.)
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def equal_rows(mine: np.ndarray, theirs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All pairs ``(i, j)`` with ``mine[i] == theirs[j]`` on all bytes (rows of at most 16 bytes)."""
    mine_hi, mine_lo = _words(mine)
    hi, lo = _words(theirs)
    found_mine, found_theirs = _equal_words(hi, mine_hi)
    hit = lo[found_theirs] == mine_lo[found_mine]
    return found_mine[hit], found_theirs[hit]


def one_to_one(mine_idx: np.ndarray, theirs_idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Keep one pair per own index and per sender position, in increasing sender position.

    Two equal values on one side arise only by a false positive of negligible probability or from a
    peer that misbehaves; dropping the extra pairs keeps the result well formed either way.
    """
    mine_idx, first = np.unique(mine_idx, return_index=True)
    theirs_idx = theirs_idx[first]
    theirs_idx, first = np.unique(theirs_idx, return_index=True)
    return mine_idx[first], theirs_idx


def _equal_words(haystack: np.ndarray, needles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All pairs ``(needle index, haystack index)`` of equal 64-bit words."""
    index = pd.Index(haystack)
    if index.is_unique:
        found = index.get_indexer(needles)
        hit = np.flatnonzero(found >= 0)
        return hit, found[hit].astype(np.int64)
    # Two sender values share their first 64 bits (probability about n**2 / 2**65): list every candidate.
    order = np.argsort(haystack, kind="stable")
    ordered = haystack[order]
    left = np.searchsorted(ordered, needles, side="left")
    counts = np.searchsorted(ordered, needles, side="right") - left
    total = int(counts.sum())
    within = np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts)
    return np.repeat(np.arange(len(needles)), counts), order[np.repeat(left, counts) + within]


def _words(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Values of up to 16 bytes as two big-endian 64-bit words (zero-padded)."""
    padded = np.zeros((len(values), 16), dtype=np.uint8)
    padded[:, : values.shape[1]] = values
    words = padded.view(">u8").astype(np.uint64)
    return words[:, 0], words[:, 1]
