"""GGM trees for punctured PRFs: the sender expands whole trees, the receiver all leaves but one per tree.

Goldreich, Goldwasser and Micali's tree PRF, used as a puncturable PRF for single-point correlations
(Boyle, Couteau, Gilboa, Ishai, Kohl and Scholl, CCS 2019, Sec. 4; Yang, Weng, Lan, Zhang and Wang,
"Ferret", CCS 2020, Fig. 4). A node ``s`` has children ``G0(s) = pi0(s) ^ s`` and ``G1(s) = pi1(s) ^ s``
with ``pi0, pi1`` AES-128 under two fixed public keys, a PRG in the ideal-permutation model (Guo,
Katz, Wang and Yu, S&P 2020, as in Ferret and libOTe).

Layout: a level of ``t`` trees is one ``(k, t, 2)`` uint64 array (node, tree, word). The children of
node ``i`` are ``i`` (side 0) and ``i + k`` (side 1), so the next level is ``G0(level)`` followed by
``G1(level)``: two AES-ECB calls over contiguous memory, written in place. Leaf ``j`` of a tree is
therefore reached by taking side ``bit l of j`` at level ``l`` (least significant bit first).

For each level the sender also computes the XOR of each side's children. The receiver, who should
learn every leaf but the one at its secret point ``alpha``, obtains by oblivious transfer the sum of
the side *not* on its path; with the nodes it already knows that sum yields the off-path child,
level after level (Ferret, Fig. 4).
"""

from __future__ import annotations

import hashlib

import numpy as np
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

_KEYS = tuple(hashlib.sha256(b"accord-ggm-prg|" + bytes([side])).digest()[:16] for side in (0, 1))


def _children(level: np.ndarray) -> np.ndarray:
    """``(k, t, 2)`` nodes -> ``(2 k, t, 2)`` children (side 0 first, then side 1)."""
    k, t, _ = level.shape
    words = 2 * k * t
    # Two spare words: OpenSSL's update_into wants 15 bytes of room after its output.
    buf = np.empty(2 * words + 2, dtype=np.uint64)
    data = np.ascontiguousarray(level).data.cast("B")
    for side, key in enumerate(_KEYS):
        # ECB is fixed-key AES used as a public random permutation (a PRG in the ideal-permutation model).
        enc = Cipher(algorithms.AES(key), modes.ECB()).encryptor()  # noqa: S305
        enc.update_into(data, buf[side * words :].data.cast("B"))
    out = buf[: 2 * words].reshape(2, k, t, 2)
    out ^= level[None]
    return out.reshape(2 * k, t, 2)


def expand(roots: np.ndarray, depth: int) -> tuple[np.ndarray, np.ndarray]:
    """The sender's trees: ``(leaves, sums)``.

    ``roots`` is ``(t, 2)``; ``leaves`` is ``(2^depth, t, 2)``; ``sums[l, side]`` is the XOR, per tree,
    of the children on ``side`` at level ``l + 1``: shape ``(depth, 2, t, 2)``.
    """
    t = len(roots)
    level = roots.reshape(1, t, 2)
    sums = np.empty((depth, 2, t, 2), dtype=np.uint64)
    for d in range(depth):
        level = _children(level)
        sums[d] = np.bitwise_xor.reduce(level.reshape(2, -1, t, 2), axis=1)
    return level, sums


def path_bits(points: np.ndarray, depth: int) -> np.ndarray:
    """The side taken at each level to reach each point: ``(depth, t)`` uint8, bit ``l`` of the point."""
    shifts = np.arange(depth, dtype=np.int64)
    return ((points[None, :] >> shifts[:, None]) & 1).astype(np.uint8)


def punctured(points: np.ndarray, depth: int, off_path: np.ndarray) -> np.ndarray:
    """The receiver's leaves ``(2^depth, t, 2)``: every leaf except leaf ``points[j]`` of tree ``j``, which is zero.

    ``off_path[l]`` is, per tree, the sum of the level-``l + 1`` children on the side opposite to the
    path (``(depth, t, 2)``), as obtained by OT.
    """
    t = len(points)
    trees = np.arange(t)
    bits = path_bits(points, depth)
    level = np.zeros((1, t, 2), dtype=np.uint64)
    node = np.zeros(t, dtype=np.int64)  # the path node: unknown, kept zero
    for d in range(depth):
        k = level.shape[0]
        level = _children(level)
        level[node, trees] = 0
        level[node + k, trees] = 0
        side = 1 - bits[d].astype(np.int64)
        sums = np.bitwise_xor.reduce(level.reshape(2, k, t, 2), axis=1)  # (2, t, 2)
        level[node + side * k, trees] = off_path[d] ^ sums[side, trees]
        node = node + bits[d].astype(np.int64) * k
    return level
