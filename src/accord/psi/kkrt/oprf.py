"""KKRT's batched oblivious PRF, as pure numpy steps: fingerprints, codewords, PRF values, matching.

KKRT16 (Kolesnikov, Kumaresan, Rosulek and Trieu, CCS 2016; ePrint 2016/799), Sec. 3: run IKNP OT
extension with 512 base OTs, where the receiver's choice for OT ``j`` is not a bit but the codeword
``C(r_j)`` of its input. The sender, holding the secret ``s`` and rows ``q_j = t_j ^ (C(r_j) & s)``,
can then evaluate ``F_j(y) = H(j, q_j ^ (C(y) & s))`` on any ``y``; the receiver knows
``F_j(r_j) = H(j, t_j)`` and nothing else, because for ``y != r_j`` the unknown value
``(C(y) ^ C(r_j)) & s`` covers at least 128 secret bits of ``s`` when ``C`` has minimum distance 128.

Choices and why:

* **Fingerprint.** Keys of any length are first compressed to 128 bits with AES-CBC-MAC under a
  session key both parties contribute to (:func:`fingerprints`): vectorised over all keys, where a
  hash function would cost a Python call per key.
* **Pseudo-random code.** ``C(x, i)`` is AES-128 under four keys per hash function ``i``, applied to
  the fingerprint: 512 bits. The keys come from a seed both parties contribute to after their inputs
  are fixed, so codewords are independent random strings. Two of them lie within distance 127 with
  probability ``2**-102.3`` (exact binomial tail), so over the ``3 n_S`` (sender key, bin) pairs the
  receiver never learns a second PRF value except with probability ``3 n_S 2**-102.3``: below
  ``2**-40`` for ``n_S < 2**60``. By the same bound 448 bits (``2**-66.5`` per pair) would do up to
  about ``2**24`` sender keys; 512 bits are four whole AES blocks and leave margin at any size.
* **PRF hash.** ``H(j, v)`` chains fixed-key AES ``pi`` over the four blocks of ``v`` starting from a
  block encoding the bin ``j``: ``z <- pi(z ^ v_b) ^ z ^ v_b``. In the ideal-permutation model every
  unknown input bit feeds the final block, which is unpredictable while ``v`` has 128 unknown bits
  (a per-block XOR of hashes would only guarantee the unknown bits of one block).
* **Truncation.** Values are compared on ``ceil((40 + log2 n_R + log2 n_S) / 8)`` bytes, so a key the
  sender does not hold matches by accident with probability at most ``2**-40`` over the whole run
  (each receiver value is compared with the ``n_S`` sender values of its own hash function).
"""

from __future__ import annotations

import hashlib
import math

import numpy as np
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from accord.errors import UnsupportedError
from accord.psi._matching import equal_rows, one_to_one
from accord.psi.kkrt.cuckoo import HASHES, STAT_BITS

CODE_BITS = 512
CODE_BYTES = CODE_BITS // 8
_BLOCKS = CODE_BYTES // 16
FINGERPRINT_BYTES = 16
_PRF_KEY = hashlib.sha256(b"accord-kkrt-prf-fixed-key").digest()[:16]
_PRF_DOMAIN = int.from_bytes(b"accord-kkrt-prf1", "little") & ((1 << 64) - 1)
# Rows processed per step: about 1 MiB of 64-byte rows, so temporaries stay in cache and are reused.
_STEP = 1 << 14


def value_bytes(n_receiver: int, n_sender: int, stat_bits: int = STAT_BITS) -> int:
    """Bytes of each compared PRF value: false-positive probability ``<= 2**-stat_bits`` for the run."""
    nbytes = math.ceil((stat_bits + math.log2(n_receiver) + math.log2(n_sender)) / 8)
    if nbytes > 16:
        raise UnsupportedError(f"{n_receiver} x {n_sender} keys need PRF values longer than the 128 bits KKRT "
                               f"computes here to keep false matches below 2^-{stat_bits}")
    return nbytes


def fingerprints(keys: list[bytes], key: bytes) -> np.ndarray:
    """128-bit fingerprints of the canonical key bytes under the session key ``key``: ``(n, 16)`` uint8.

    AES-CBC-MAC over ``length (8 bytes) || key bytes || zero padding``: the length prefix makes the
    inputs prefix-free, so CBC-MAC is a PRF (Bellare, Kilian and Rogaway, JCSS 2000) and distinct keys
    collide with probability about ``(n l)**2 / 2**128`` for keys of ``l`` blocks, because ``key`` was
    fixed after both parties' inputs. Keys are grouped by block count and each group is processed
    block by block over all its keys at once.
    """
    n = len(keys)
    lengths = np.fromiter(map(len, keys), dtype=np.int64, count=n)
    blocks = (lengths + 8 + 15) // 16
    objects = np.array(keys, dtype=object) if n else np.empty(0, dtype=object)
    # The ECB steps below are chained by hand into CBC-MAC (a PRF under the session key), not encryption.
    enc = Cipher(algorithms.AES(key), modes.ECB()).encryptor()  # noqa: S305
    out = np.empty((n, FINGERPRINT_BYTES), dtype=np.uint8)
    for count in np.unique(blocks).tolist():
        group = np.flatnonzero(blocks == count)
        data = np.empty((len(group), 16 * count), dtype=np.uint8)
        data[:, :8] = lengths[group].astype("<u8").view(np.uint8).reshape(-1, 8)
        width = 16 * count - 8
        data[:, 8:] = objects[group].astype(f"S{width}").view(np.uint8).reshape(len(group), width)
        state = np.zeros((len(group), 16), dtype=np.uint8)
        buf = np.empty(state.size + 16, dtype=np.uint8)
        for b in range(count):
            state ^= data[:, 16 * b : 16 * b + 16]
            enc.update_into(state.data.cast("B"), buf.data)
            state[...] = buf[: state.size].reshape(state.shape)
        out[group] = state
    return out


class Code:
    """The pseudo-random code ``C(x, i)``: 512 bits per (fingerprint, hash-function index)."""

    def __init__(self, seed: bytes) -> None:
        self._keys = [[hashlib.sha256(b"accord-kkrt-code|" + seed + bytes([i, b])).digest()[:16]
                       for b in range(_BLOCKS)] for i in range(HASHES)]

    def words(self, fps: np.ndarray, function: int) -> np.ndarray:
        """Codewords of ``fps`` under hash function ``function``: ``(len(fps), 64)`` uint8."""
        data = np.ascontiguousarray(fps).tobytes()
        out = np.empty((len(fps), _BLOCKS, 16), dtype=np.uint8)
        for b, key in enumerate(self._keys[function]):
            # ECB is AES used as a PRF on distinct fingerprints (one key per output block), not as encryption.
            enc = Cipher(algorithms.AES(key), modes.ECB()).encryptor()  # noqa: S305
            out[:, b] = np.frombuffer(enc.update(data), dtype=np.uint8).reshape(len(fps), 16)
        return out.reshape(len(fps), CODE_BYTES)


def prf(rows: np.ndarray, bins: np.ndarray, nbytes: int) -> np.ndarray:
    """``H(bin, row)`` truncated to ``nbytes``: the OPRF output for 64-byte rows in the given bins."""
    n = len(rows)
    # ECB is fixed-key AES used as a public random permutation, not as encryption.
    enc = Cipher(algorithms.AES(_PRF_KEY), modes.ECB()).encryptor()  # noqa: S305
    words = np.ascontiguousarray(rows).view(np.uint64).reshape(n, 2 * _BLOCKS)
    z = np.empty((n, 2), dtype=np.uint64)
    z[:, 0] = bins.astype(np.uint64)
    z[:, 1] = np.uint64(_PRF_DOMAIN)
    buf = np.empty(16 * n + 16, dtype=np.uint8)
    for b in range(_BLOCKS):
        z ^= words[:, 2 * b : 2 * b + 2]
        enc.update_into(z.data.cast("B"), buf.data)
        z ^= buf[: 16 * n].view(np.uint64).reshape(n, 2)
    return np.ascontiguousarray(z.view(np.uint8)[:, :nbytes])


def sender_values(out: np.ndarray, pairs: np.ndarray, candidates: np.ndarray, fps: np.ndarray, q: np.ndarray,
                  first_bin: int, s: np.ndarray, code: Code) -> None:
    """Write the sender's PRF values ``F_{h_i(y)}(y, i)`` for ``pairs`` whose bins hold OT rows ``q``.

    Simple hashing in KKRT's sense: key ``y`` is evaluated in each of its three candidate bins, under
    the codeword tagged with the hash function, so it matches the receiver's value exactly when the
    receiver placed ``y`` with that function. ``pairs`` are flat indices ``3 y + i`` into
    ``candidates.ravel()`` and ``out`` (shape ``(3 n, nbytes)``); their bins lie in
    ``[first_bin, first_bin + len(q))``, the OT batch ``q`` came from.
    """
    flat = candidates.reshape(-1)
    for i in range(HASHES):
        tagged = pairs[pairs % HASHES == i]
        for start in range(0, len(tagged), _STEP):
            part = tagged[start : start + _STEP]
            bins = flat[part]
            rows = code.words(fps[part // HASHES], i)
            rows &= s
            rows ^= q[bins - first_bin]
            out[part] = prf(rows, bins, out.shape[1])


def receiver_rows(rows: np.ndarray, fps: np.ndarray, positions: np.ndarray, function: np.ndarray, code: Code) -> None:
    """Write each key's codeword into its row of ``rows``, the OT choice rows of one batch of bins.

    ``rows`` arrives filled with random dummy rows: empty bins keep them, as KKRT's dummy inputs.
    """
    for i in range(HASHES):
        mine = np.flatnonzero(function == i)
        for start in range(0, len(mine), _STEP):
            part = mine[start : start + _STEP]
            rows[positions[part]] = code.words(fps[part], i)


def receiver_values(t: np.ndarray, positions: np.ndarray, bins: np.ndarray, nbytes: int) -> np.ndarray:
    """The receiver's own PRF values ``H(bin, t_bin)`` for keys at ``positions`` of OT rows ``t``."""
    out = np.empty((len(positions), nbytes), dtype=np.uint8)
    for start in range(0, len(positions), _STEP):
        stop = min(len(positions), start + _STEP)
        out[start:stop] = prf(t[positions[start:stop]], bins[start:stop], nbytes)
    return out


def match(mine: np.ndarray, function: np.ndarray, theirs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pairs ``(own key, sender position)`` with equal values under the same hash function.

    Returned in increasing sender position: the order of the sender's secret random permutation, so
    it reveals neither party's input order. Values are compared exactly on all their bytes; each own
    key and each sender position appears at most once (:mod:`accord.psi._matching`).
    """
    mine_idx, theirs_idx = [], []
    for i in range(HASHES):
        own = np.flatnonzero(function == i)
        found_mine, found_theirs = equal_rows(mine[own], theirs[:, i])
        mine_idx.append(own[found_mine])
        theirs_idx.append(found_theirs)
    return one_to_one(np.concatenate(mine_idx), np.concatenate(theirs_idx))
