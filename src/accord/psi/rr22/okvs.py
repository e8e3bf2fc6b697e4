"""RR22's oblivious key-value store: three sparse positions and 64 dense bits per key, solved by peeling.

Raghuraman and Rindal, "Blazing Fast PSI from Improved OKVS and Subfield VOLE", CCS 2022, Sec. 2-3.
A key ``k`` has a row ``row(k)``: ones at three positions (one in each third of ``m'`` sparse columns,
so they are distinct) followed by 64 pseudo-random bits over :data:`DENSE` dense columns. Encoding
finds ``P`` in GF(2^128)^(m' + 64) with ``<row(k_i), P> = v_i`` for all keys; decoding any key is
that inner product, three look-ups plus the dense part. Both are linear in ``P``, which is what the
PSI needs.

Encoding (RR22 Fig. 1, triangulation by peeling): repeatedly take every sparse column that only one
remaining row touches and make it that row's pivot; rows peeled in the same round never touch each
other's pivots, so a round is a handful of numpy operations over all its rows. Rows left over (the
2-core of the hypergraph, RR22's gap ``g``) touch only non-pivot columns, which are set to zero, so
they constrain the dense part alone: ``g`` equations in 64 unknowns, solved by Gaussian elimination.
Back-substitution then runs the rounds in reverse, each row setting its pivot to ``v_i`` minus the rest
of its row.

Parameters (RR22 Sec. 3.2). The sparse part has ``m' = e n`` columns, with ``e`` from RR22's
fitted bound for weight 3: the probability that peeling leaves a gap is at most ``2^-lambda`` when
``lambda <= (e - 1.223) * 2^(0.55 log2 n + 2.331) - 9.2`` (eqs. 2-3 at ``w = 3``), solved for
``lambda = 40`` and evaluated at ``n >= 64`` (the range of their fit starts there; smaller sets get
the columns of 64 keys, which only lowers the failure probability). Small gaps, which RR22 observe
to dominate, are absorbed by the dense columns: ``g <= 24`` random dense rows have full rank except
with probability ``2^(g - 64) <= 2^-40``. If encoding fails anyway the caller draws a new seed.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import numpy as np
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from accord.errors import UnsupportedError

STAT_BITS = 40
DENSE = 64
MAX_GAP = DENSE - STAT_BITS
SEED_BYTES = 16
_FIT_MIN_KEYS = 64


def expansion(n: int, stat_bits: int = STAT_BITS) -> float:
    """RR22's sparse-column factor ``e`` for ``n`` keys at failure probability ``2^-stat_bits`` (``w = 3``)."""
    slope = 2 ** (0.55 * math.log2(max(n, _FIT_MIN_KEYS)) + 2.331)
    return 1.223 + (stat_bits + 9.2) / slope


@dataclass(frozen=True)
class Shape:
    """Sizes of one OKVS: ``sparse`` columns (a multiple of 3) and :data:`DENSE` dense ones."""

    keys: int
    sparse: int

    @property
    def size(self) -> int:
        """Length of the encoding ``P``: sparse plus dense columns."""
        return self.sparse + DENSE


def shape(n: int) -> Shape:
    """The OKVS shape for ``n`` keys (up to about 1.7 billion: columns are indexed with 32-bit integers)."""
    keys = max(n, _FIT_MIN_KEYS)
    third = math.ceil(expansion(keys) * keys / 3)
    if 3 * third >= 2**31:
        raise UnsupportedError(f"an OKVS for {n} keys needs {3 * third} columns, more than the 2^31 this "
                               "implementation indexes; split the keys into buckets")
    return Shape(n, 3 * third)


@dataclass(frozen=True)
class Rows:
    """Each key's row: three sparse ``positions`` (``(n, 3)`` int64) and ``dense`` bits (``(n,)`` uint64)."""

    positions: np.ndarray
    dense: np.ndarray


def rows(fingerprints: np.ndarray, seed: bytes, okvs: Shape) -> Rows:
    """The rows of keys given by their 16-byte fingerprints, under the OKVS seed (AES as a PRF)."""
    n = len(fingerprints)
    data = np.ascontiguousarray(fingerprints, dtype=np.uint8).tobytes()
    blocks = []
    for label in (b"positions", b"dense"):
        key = hashlib.sha256(b"accord-rr22-okvs|" + label + b"|" + seed).digest()[:16]
        # ECB is AES used as a keyed pseudo-random function on distinct 16-byte inputs, not as encryption.
        enc = Cipher(algorithms.AES(key), modes.ECB()).encryptor()  # noqa: S305
        blocks.append(np.frombuffer(enc.update(data), dtype=np.uint8).reshape(n, 16))
    third = okvs.sparse // 3
    words = blocks[0].view("<u4")[:, :3].astype(np.int64)
    positions = ((words * third) >> 32) + np.arange(3, dtype=np.int64) * third
    return Rows(positions, blocks[1].view("<u8")[:, 0].astype(np.uint64))


def _records(table: np.ndarray) -> np.ndarray:
    """An ``(m, 2)`` uint64 array as ``m`` 16-byte records (numpy gathers records much faster than rows)."""
    return table.view("V16").reshape(len(table))


def _gather(table: np.ndarray, index: np.ndarray) -> np.ndarray:
    return _records(table)[index].view(np.uint64).reshape(-1, 2)


def dense_products(bits: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """``sum_j bit_j(bits[i]) columns[j]`` for every ``i``: 8 look-ups in byte tables of XOR combinations."""
    tables = np.zeros((8, 256, 2), dtype=np.uint64)
    for bit in range(8):
        size = 1 << bit
        tables[:, size : 2 * size] = tables[:, :size] ^ columns[bit::8][:, None, :]
    data = np.ascontiguousarray(bits, dtype="<u8").view(np.uint8).reshape(-1, 8)
    out = _gather(tables[0], data[:, 0])
    for j in range(1, 8):
        out ^= _gather(tables[j], data[:, j])
    return out


def decode(encoding: np.ndarray, key_rows: Rows) -> np.ndarray:
    """``<row(k), encoding>`` for every key: ``(n, 2)`` uint64."""
    sparse = len(encoding) - DENSE
    out = dense_products(key_rows.dense, encoding[sparse:])
    for j in range(3):
        out ^= _gather(encoding, key_rows.positions[:, j])
    return out


def _peel(positions: np.ndarray, sparse: int) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """Peeling rounds: ``(rows per round, pivot column per row, rows left in the 2-core)``."""
    n = len(positions)
    # 32-bit indices and counters: numpy's scatter updates (ufunc.at) run about twice as fast on them.
    positions = positions.astype(np.int32)
    flat = positions.reshape(-1)
    degree = np.bincount(flat, minlength=sparse).astype(np.int32)
    # The XOR of the remaining rows touching each column: when one row is left, it names that row.
    owner = np.zeros(sparse, dtype=np.int32)
    np.bitwise_xor.at(owner, flat, np.repeat(np.arange(n, dtype=np.int32), 3))
    pivot = np.full(n, -1, dtype=np.int64)
    # Scratch stamps for de-duplicating without sorting: of the entries naming one row (or column),
    # the one whose index is still stamped there after a scatter is kept.
    row_stamp = np.empty(n, dtype=np.int32)
    column_stamp = np.empty(sparse, dtype=np.int32)
    rounds = []
    frontier = np.flatnonzero(degree == 1)
    while len(frontier):
        owners = owner[frontier]
        count = np.arange(len(owners), dtype=np.int32)
        row_stamp[owners] = count
        keep = row_stamp[owners] == count
        peeled = owners[keep]
        pivot[peeled] = frontier[keep]
        rounds.append(peeled)
        touched = positions[peeled].reshape(-1)
        np.subtract.at(degree, touched, np.int32(1))
        np.bitwise_xor.at(owner, touched, np.repeat(peeled, 3))
        touched = touched[degree[touched] == 1]
        count = np.arange(len(touched), dtype=np.int32)
        column_stamp[touched] = count
        frontier = touched[column_stamp[touched] == count]
    return [r.astype(np.int64) for r in rounds], pivot, np.flatnonzero(pivot < 0)


def _solve_dense(bits: np.ndarray, values: np.ndarray) -> np.ndarray | None:
    """A solution ``D`` (``(64, 2)``) of ``sum_j bit_j(bits[i]) D_j = values[i]``, or ``None`` if there is none."""
    rows = [(int(b), int(v[0]) | (int(v[1]) << 64)) for b, v in zip(bits, values)]
    pivots: list[tuple[int, int, int]] = []  # (pivot bit, row bits, row value), reduced
    for b, v in rows:
        for p, pb, pv in pivots:
            if (b >> p) & 1:
                b, v = b ^ pb, v ^ pv
        if b == 0:
            if v:
                return None
            continue
        p = b.bit_length() - 1
        pivots = [(q, qb ^ b, qv ^ v) if (qb >> p) & 1 else (q, qb, qv) for q, qb, qv in pivots]
        pivots.append((p, b, v))
    solution = np.zeros((DENSE, 2), dtype=np.uint64)
    for p, _, v in pivots:  # fully reduced: each pivot's other bits are free columns, set to zero
        solution[p] = (v & (2**64 - 1), v >> 64)
    return solution


def encode(key_rows: Rows, values: np.ndarray, okvs: Shape) -> np.ndarray | None:
    """``P`` (``(size, 2)`` uint64) with ``decode(P, key_rows) == values``, or ``None`` if this seed fails."""
    rounds, pivot, core = _peel(key_rows.positions, okvs.sparse)
    encoding = np.zeros((okvs.size, 2), dtype=np.uint64)
    targets = values
    if len(core):
        if len(core) > MAX_GAP:
            return None
        solution = _solve_dense(key_rows.dense[core], values[core])
        if solution is None:
            return None
        encoding[okvs.sparse :] = solution
        targets = values ^ dense_products(key_rows.dense, solution)
    records = _records(encoding)
    for peeled in reversed(rounds):
        at = key_rows.positions[peeled]
        # The pivot's own entry is still zero, so XORing all three entries leaves out the pivot.
        acc = targets[peeled] ^ _gather(encoding, at[:, 0])
        acc ^= _gather(encoding, at[:, 1])
        acc ^= _gather(encoding, at[:, 2])
        records[pivot[peeled]] = acc.view("V16").reshape(len(peeled))
    return encoding
