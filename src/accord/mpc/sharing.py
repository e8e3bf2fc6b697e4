"""Splitting and recombining secrets as pure functions: additive 2-of-2 and replicated 2-of-3 over Z_2^64.

Additive: ``x = x0 + x1``. Replicated (Araki et al., CCS 2016; ABY3): ``x = x0 + x1 + x2`` and party
``i`` holds the pair ``(x_i, x_{i+1})`` (here stacked into one array with a leading axis of length 2;
the engine keeps the two arrays apart), so any two parties can reconstruct and any one party sees only uniform values.
"""

from __future__ import annotations

import numpy as np

from accord.crypto.random import Rng
from accord.math.ring import DTYPE


def split_additive(x: np.ndarray, rng: Rng) -> tuple[np.ndarray, np.ndarray]:
    """Two uniformly random shares of ring array ``x``."""
    x = np.asarray(x, dtype=DTYPE)
    r = rng.uint64(x.shape)
    return x - r, r


def split_replicated(x: np.ndarray, rng: Rng) -> list[np.ndarray]:
    """The three parties' pairs ``(x_i, x_{i+1})`` for ring array ``x``."""
    x = np.asarray(x, dtype=DTYPE)
    c0, c1 = rng.uint64(x.shape), rng.uint64(x.shape)
    comps = [c0, c1, x - c0 - c1]
    return [np.stack([comps[i], comps[(i + 1) % 3]]) for i in range(3)]


def recombine_additive(shares: list[np.ndarray]) -> np.ndarray:
    """The secret from all additive shares."""
    out = np.zeros_like(np.asarray(shares[0], dtype=DTYPE))
    for s in shares:
        out = out + s
    return out


def recombine_replicated(pairs: list[np.ndarray]) -> np.ndarray:
    """The secret from the three parties' pairs (uses each component once)."""
    return pairs[0][0] + pairs[1][0] + pairs[2][0]
