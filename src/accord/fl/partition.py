"""Horizontal partitions of one data set among clients: IID, Dirichlet label skew, shards, and table rows.

Each partitioner returns one array of row indices per client (views into the shared data set, so a
simulation of many clients holds the data once). Shuffles draw from an :class:`~accord.crypto.random.Rng`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from accord.crypto.random import Rng
from accord.fl.secagg.quantize import uniform01


def iid(rng: Rng, n_rows: int, clients: int) -> list[np.ndarray]:
    """Rows shuffled and dealt into ``clients`` parts of equal size (within one row)."""
    _check(n_rows, clients)
    return [np.sort(part) for part in np.array_split(rng.permutation(n_rows), clients)]


def _gamma(rng: Rng, alpha: float, size: int) -> np.ndarray:
    """Gamma(alpha, 1) variates by Marsaglia-Tsang (with the alpha < 1 boost), from CSPRNG uniforms."""
    boost = alpha < 1
    a = alpha + 1 if boost else alpha
    d = a - 1 / 3
    c = 1 / np.sqrt(9 * d)
    out = np.empty(size)
    todo = np.arange(size)
    while todo.size:
        u1, u2 = 1.0 - uniform01(rng, todo.size), uniform01(rng, todo.size)
        z = np.sqrt(-2 * np.log(u1)) * np.cos(2 * np.pi * u2)
        v = (1 + c * z) ** 3
        u = 1.0 - uniform01(rng, todo.size)
        ok = (v > 0) & (np.log(u) < 0.5 * z * z + d - d * np.where(v > 0, v, 1) + d * np.log(np.where(v > 0, v, 1)))
        out[todo[ok]] = d * v[ok]
        todo = todo[~ok]
    if boost:
        out *= (1.0 - uniform01(rng, size)) ** (1 / alpha)
    return out


def dirichlet(rng: Rng, labels: np.ndarray, clients: int, alpha: float, min_rows: int = 10) -> list[np.ndarray]:
    """Label skew: each class is split among clients in Dirichlet(alpha) proportions (Hsu et al. 2019).

    Smaller ``alpha`` gives more skew. Redraws until every client holds at least ``min_rows`` rows.
    """
    _check(len(labels), clients)
    if not alpha > 0:
        raise ValueError(f"alpha must be positive, got {alpha}")
    for _ in range(100):
        parts: list[list[np.ndarray]] = [[] for _ in range(clients)]
        for cls in np.unique(labels):
            rows = np.flatnonzero(labels == cls)
            rows = rows[rng.permutation(len(rows))]
            share = _gamma(rng, alpha, clients)
            cuts = (np.cumsum(share / share.sum())[:-1] * len(rows)).astype(int)
            for i, piece in enumerate(np.split(rows, cuts)):
                parts[i].append(piece)
        out = [np.sort(np.concatenate(p)) for p in parts]
        if min(len(p) for p in out) >= min_rows:
            return out
    raise ValueError(f"Dirichlet({alpha}) over {clients} clients keeps leaving a client with < {min_rows} rows")


def shards(rng: Rng, labels: np.ndarray, clients: int, shards_per_client: int = 2) -> list[np.ndarray]:
    """Sort rows by label, cut into ``clients * shards_per_client`` shards, deal shards at random (McMahan 2017)."""
    _check(len(labels), clients * shards_per_client)
    order = np.argsort(labels, kind="stable")
    pieces = np.array_split(order, clients * shards_per_client)
    deal = rng.permutation(len(pieces))
    return [np.sort(np.concatenate([pieces[j] for j in deal[i::clients]])) for i in range(clients)]


def split_rows(rng: Rng, table: pd.DataFrame, clients: int) -> list[pd.DataFrame]:
    """A table's rows dealt IID among ``clients`` (a horizontal split: same columns, different rows)."""
    return [table.iloc[rows].reset_index(drop=True) for rows in iid(rng, len(table), clients)]


def _check(n_rows: int, parts: int) -> None:
    if parts < 1 or n_rows < parts:
        raise ValueError(f"cannot split {n_rows} rows into {parts} parts")
