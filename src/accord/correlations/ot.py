"""Oblivious transfer: Chou-Orlandi base OT over Ed25519 and IKNP extension to millions of correlated OTs.

Base OT (Chou and Orlandi, "The Simplest Protocol for Oblivious Transfer", LATINCRYPT 2015). The
sender publishes ``A = aG``; for choice ``c`` the receiver sends ``B = bG + cA``; the keys are
``k0 = H(A, B, aB)`` and ``k1 = H(A, B, a(B - A))`` and the receiver computes ``k_c = H(A, B, bA)``.
As recommended after the protocol's analysis (Genc, Iovino and Rial, 2017; Hauck and Loss, 2017),
the hash binds the whole transcript (both points and the OT index) and every received point is
checked to be a canonical point of the prime-order subgroup (libsodium's ``is_valid_point``).
Semi-honest security under CDH in the random-oracle model; 1 round each way.

Extension (Ishai, Kilian, Nissim and Petrank, CRYPTO 2003), semi-honest. The extension receiver plays
base-OT sender of 128 key pairs and the extension sender base-OT receiver with a random
``s`` in {0,1}^128. To extend to ``m`` OTs with choice bits ``r`` the receiver expands
``t_i = G(k_i^0)`` and sends ``u_i = t_i ^ G(k_i^1) ^ r`` (16 bytes per OT); the sender computes
``q_i = G(k_i^{s_i}) ^ s_i u_i``. Transposing the 128 x m bit matrices gives rows with
``q_j = t_j ^ r_j s``. ``G`` is AES-CTR (:class:`accord.crypto.random.Rng`); the row hash is the
tweakable correlation-robust hash ``H(x, i) = pi(pi(x) ^ i) ^ pi(x)`` with ``pi`` fixed-key AES-128
(Guo, Katz, Wang and Yu, S&P 2020), vectorised over all rows and output blocks.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from nacl.bindings import (
    crypto_core_ed25519_add,
    crypto_core_ed25519_is_valid_point,
    crypto_core_ed25519_scalar_reduce,
    crypto_core_ed25519_sub,
    crypto_scalarmult_ed25519_base_noclamp,
    crypto_scalarmult_ed25519_noclamp,
)

from accord.crypto.random import Rng
from accord.errors import MalformedMessage
from accord.runtime.context import Context

KAPPA = 128
_ROW = KAPPA // 8
_LITTLE = sys.byteorder == "little"
_FIXED_KEY = hashlib.sha256(b"accord-ot-fixed-key-aes").digest()[:16]


def _point(value: object, peer: str, step: str) -> bytes:
    if not isinstance(value, bytes) or len(value) != 32 or not crypto_core_ed25519_is_valid_point(value):
        raise MalformedMessage(f"party {peer!r} sent an invalid Ed25519 point for {step!r}", party=peer, step=step)
    return value


def _scalar(rng: Rng) -> bytes:
    return crypto_core_ed25519_scalar_reduce(rng.bytes(64))


def _key(index: int, a_point: bytes, b_point: bytes, shared: bytes) -> bytes:
    return hashlib.sha256(b"accord-base-ot|" + index.to_bytes(4, "little") + a_point + b_point + shared).digest()[:16]


def base_send(ctx: Context, peer: str, count: int) -> list[tuple[bytes, bytes]]:
    """Sender side of ``count`` base OTs: returns the key pairs ``(k0, k1)``."""
    a = _scalar(ctx.rng)
    a_point = crypto_scalarmult_ed25519_base_noclamp(a)
    ctx.send(peer, a_point, "A")
    got = ctx.recv(peer, "B")
    step = f"{ctx.path}/B"
    if not isinstance(got, list) or len(got) != count:
        raise MalformedMessage(f"party {peer!r} sent {type(got).__name__} for {step!r}; expected {count} points",
                               party=peer, step=step)
    a_a = crypto_scalarmult_ed25519_noclamp(a, a_point)
    pairs = []
    for i, raw in enumerate(got):
        b_point = _point(raw, peer, step)
        shared0 = crypto_scalarmult_ed25519_noclamp(a, b_point)
        shared1 = crypto_core_ed25519_sub(shared0, a_a)
        pairs.append((_key(i, a_point, b_point, shared0), _key(i, a_point, b_point, shared1)))
    return pairs


def base_receive(ctx: Context, peer: str, choices: Sequence[int]) -> list[bytes]:
    """Receiver side: for each choice bit ``c`` returns ``k_c``."""
    a_point = _point(ctx.recv(peer, "A"), peer, f"{ctx.path}/A")
    scalars = [_scalar(ctx.rng) for _ in choices]
    points = []
    for b, c in zip(scalars, choices):
        b_point = crypto_scalarmult_ed25519_base_noclamp(b)
        points.append(crypto_core_ed25519_add(b_point, a_point) if c else b_point)
    ctx.send(peer, points, "B")
    return [_key(i, a_point, bp, crypto_scalarmult_ed25519_noclamp(b, a_point))
            for i, (b, bp) in enumerate(zip(scalars, points))]


def _streams(keys: list[bytes]) -> list[Rng]:
    """One AES-CTR stream ``G(key)`` per base-OT key; every extension takes its next bytes."""
    return [Rng(seed=b"accord-iknp|" + key) for key in keys]


def _expand_rows(streams: list[Rng], nbytes: int) -> np.ndarray:
    """The next ``nbytes`` of each stream as the rows of one ``(len(streams), nbytes)`` matrix.

    Both parties draw the same lengths in the same order, so the streams stay in step; keeping them
    (instead of keying a new one per extension) saves two AES key schedules per base OT per call.
    """
    out = np.empty((len(streams), nbytes), dtype=np.uint8)
    for row, stream in zip(out, streams):
        stream.fill(row)
    return out


_SWAPS = tuple((np.uint64(shift), np.uint64(mask)) for shift, mask in
               ((7, 0x00AA00AA00AA00AA), (14, 0x0000CCCC0000CCCC), (28, 0x00000000F0F0F0F0)))
# Tiles of at most 512 byte columns and 256 KiB, so each tile's buffers stay in cache and are reused.
_TILE_COLUMNS = 512
_TILE_BYTES = 1 << 18


def transpose(matrix: np.ndarray, count: int) -> np.ndarray:
    """A ``k`` x ``8 w`` bit matrix (``k`` rows of ``w`` packed bytes) as ``count <= 8 w`` rows of ``k / 8`` bytes.

    ``k`` must be a multiple of 8: 128 x m for IKNP, 512 x m for KKRT, and m x 512 to turn KKRT's
    codeword rows into columns. Each 8 x 8 bit block is held in one 64-bit word and transposed with
    three delta swaps (Warren, Hacker's Delight, Sec. 7-3), so no array ever holds one byte per bit.
    The work runs tile by tile: whole-matrix temporaries would cost a fresh page fault per 4 KiB and
    fall out of cache.
    """
    k, width = matrix.shape
    if k % 8:
        raise ValueError(f"the bit matrix needs a multiple of 8 rows, got {k}")
    groups = k // 8
    out = np.empty((8 * width, groups), dtype=np.uint8)
    columns = max(1, min(width, _TILE_COLUMNS))
    rows = max(1, _TILE_BYTES // (8 * columns))
    for g0 in range(0, groups, rows):
        g1 = min(groups, g0 + rows)
        for c0 in range(0, width, columns):
            c1 = min(width, c0 + columns)
            # Word (c, g) holds byte column c of rows 8g .. 8g + 7, first row in the most significant byte.
            words = np.empty((c1 - c0, g1 - g0, 8), dtype=np.uint8)
            words[...] = matrix[8 * g0 : 8 * g1, c0:c1].reshape(g1 - g0, 8, c1 - c0).transpose(2, 0, 1)
            x = words.view(np.uint64).reshape(c1 - c0, g1 - g0)
            if _LITTLE:
                x.byteswap(inplace=True)
            for shift, mask in _SWAPS:
                t = (x ^ (x >> shift)) & mask
                x ^= t
                x ^= t << shift
            if _LITTLE:
                x.byteswap(inplace=True)
            out[8 * c0 : 8 * c1, g0:g1].reshape(c1 - c0, 8, g1 - g0)[...] = words.transpose(0, 2, 1)
    return out[:count]


def permute_blocks(rows: np.ndarray) -> np.ndarray:
    """``pi(x)`` (the fixed-key AES permutation of :func:`hash_rows`) of each 16-byte row, as ``(n, 2)`` uint64.

    ``rows`` is any C-contiguous array of 16-byte rows (uint8 ``(n, 16)`` or uint64 ``(n, 2)``).
    """
    data = np.ascontiguousarray(rows).reshape(-1).view(np.uint8)
    out = np.empty(len(data) + 16, dtype=np.uint8)
    enc = Cipher(algorithms.AES(_FIXED_KEY), modes.ECB()).encryptor()  # noqa: S305
    enc.update_into(data.data, out.data)
    return out[:len(data)].view(np.uint64).reshape(-1, 2)


def hash_rows(rows: np.ndarray, tweak: int, blocks: int) -> np.ndarray:
    """``blocks`` 16-byte outputs of the tweakable CR hash per row; shape ``(len(rows), 2 * blocks)`` uint64.

    The tweak of output block ``b`` of row ``j`` is ``(tweak, j, b)``, so outputs never repeat across calls
    that use distinct ``tweak`` values.
    """
    n = len(rows)
    first = permute_blocks(rows).reshape(n, 1, 2)
    tweaks = np.empty((n, blocks, 2), dtype=np.uint64)
    tweaks[:, :, 0] = (np.uint64(tweak) << np.uint64(32)) | np.arange(blocks, dtype=np.uint64)[None, :]
    tweaks[:, :, 1] = np.arange(n, dtype=np.uint64)[:, None]
    tweaks ^= first
    second = permute_blocks(tweaks).reshape(n, blocks, 2)
    second ^= first
    return second.reshape(n, 2 * blocks)


@dataclass
class ExtensionSender:
    """The IKNP sender's state: the secret ``s`` and the base-OT keys it chose.

    ``width`` base OTs (``len(keys)``) give rows of ``width`` bits: 128 for IKNP's 1-out-of-2 OTs,
    512 for KKRT's 1-out-of-n OTs, whose receiver choices are codewords (:meth:`ExtensionReceiver.extend_rows`).
    """

    peer: str
    s: np.ndarray
    keys: list[bytes]
    counter: int = field(default=0)
    streams: list[Rng] = field(default_factory=list, repr=False)

    @classmethod
    def setup(cls, ctx: Context, peer: str, width: int = KAPPA) -> ExtensionSender:
        """Run ``width`` base OTs (Ed25519) as receiver with a fresh random ``s`` of ``width`` bits."""
        if width <= 0 or width % 8:
            raise ValueError(f"the OT width must be a positive multiple of 8, got {width}")
        s_bits = ctx.rng.uint8(width) & np.uint8(1)
        keys = base_receive(ctx.sub("base_ot"), peer, [int(b) for b in s_bits])
        return cls(peer, np.packbits(s_bits), keys)

    def extend(self, ctx: Context, count: int) -> tuple[np.ndarray, int]:
        """``count`` rows ``q_j`` (uint8, ``width / 8`` bytes each) and the call's tweak; 1 message received.

        Row ``j`` is ``t_j ^ (r_j & s)`` for the receiver's row ``t_j`` and choice row ``r_j``.
        """
        self.counter += 1
        width = (count + 7) // 8
        got = ctx.recv(self.peer, f"u{self.counter}")
        step = f"{ctx.path}/u{self.counter}"
        if not isinstance(got, np.ndarray) or got.dtype != np.uint8 or got.shape != (len(self.keys), width):
            raise MalformedMessage(f"party {self.peer!r} sent a malformed OT-extension matrix for {step!r}: "
                                   f"expected a ({len(self.keys)}, {width}) byte array", party=self.peer, step=step)
        if not self.streams:
            self.streams = _streams(self.keys)
        q = _expand_rows(self.streams, width)
        np.bitwise_xor(q, got, out=q, where=np.unpackbits(self.s).astype(bool)[:, None])
        return transpose(q, count), self.counter


@dataclass
class ExtensionReceiver:
    """The IKNP receiver's state: both keys of every base OT (``len(pairs)`` is the row width in bits)."""

    peer: str
    pairs: list[tuple[bytes, bytes]]
    counter: int = field(default=0)
    streams: tuple[list[Rng], list[Rng]] | tuple[()] = field(default=(), repr=False)

    @classmethod
    def setup(cls, ctx: Context, peer: str, width: int = KAPPA) -> ExtensionReceiver:
        """Run ``width`` base OTs (Ed25519) as sender."""
        if width <= 0 or width % 8:
            raise ValueError(f"the OT width must be a positive multiple of 8, got {width}")
        return cls(peer, base_send(ctx.sub("base_ot"), peer, width))

    def extend(self, ctx: Context, choices: np.ndarray) -> tuple[np.ndarray, int]:
        """Rows ``t_j`` for the choice bits (uint8 0/1) and the call's tweak; sends ``width / 8`` bytes per OT.

        Every bit of choice row ``j`` is ``choices[j]``: the sender's row is ``t_j`` or ``t_j ^ s``.
        """
        packed = np.packbits(choices.astype(np.uint8))
        return self._extend(ctx, packed[None, :], len(choices))

    def extend_rows(self, ctx: Context, rows: np.ndarray) -> tuple[np.ndarray, int]:
        """Rows ``t_j`` for whole choice rows ``r_j`` (``(count, width / 8)`` uint8) and the call's tweak.

        The sender gets ``q_j = t_j ^ (r_j & s)``: with pseudo-random codewords as ``r_j`` this is
        KKRT's 1-out-of-n OT (Kolesnikov, Kumaresan, Rosulek and Trieu, CCS 2016, Sec. 3-4).
        """
        count = len(rows)
        if rows.dtype != np.uint8 or rows.shape != (count, len(self.pairs) // 8):
            raise ValueError(f"choice rows must be a (count, {len(self.pairs) // 8}) uint8 array, got "
                             f"{rows.dtype} {rows.shape}")
        padded = np.zeros((-(-count // 8) * 8, rows.shape[1]), dtype=np.uint8)
        padded[:count] = rows
        return self._extend(ctx, transpose(padded, len(self.pairs)), count)

    def _extend(self, ctx: Context, columns: np.ndarray, count: int) -> tuple[np.ndarray, int]:
        """Send ``u_i = G(k0_i) ^ G(k1_i) ^ c_i`` for choice columns ``c_i`` (broadcast over rows ``i``)."""
        self.counter += 1
        width = (count + 7) // 8
        if not self.streams:
            self.streams = (_streams([k0 for k0, _ in self.pairs]), _streams([k1 for _, k1 in self.pairs]))
        t = _expand_rows(self.streams[0], width)
        u = _expand_rows(self.streams[1], width)
        u ^= t
        u ^= columns
        ctx.send(self.peer, u, f"u{self.counter}")
        return transpose(t, count), self.counter
