"""Correlated randomness made by the two computing parties themselves, with oblivious transfer.

No third party: each party runs IKNP OT extension (:mod:`accord.correlations.ot`) as sender towards the
other and as receiver from it. Products of values held by different parties use Gilboa's method
(Gilboa, CRYPTO 1999; as in MASCOT, Keller, Orsini and Scholl, CCS 2016, and SecureML, Sec. 4.2):
for ``a`` at the sender and ``b`` at the receiver, one correlated OT per bit ``b_t`` with correlation
``a`` gives the receiver ``x_t + b_t a`` and the sender ``-x_t``; weighted by ``2^t`` and summed they
are additive shares of ``a b`` (so the corrections for ``t >= 32`` need only 32 bits). A Beaver
triple needs the two cross products ``a0 b1`` and ``a1 b0``; a matrix triple uses vector correlations
(a column of ``A`` per OT, or a row of ``B`` when that is cheaper), so ``C = A B`` costs ``64 k n``
OTs each way with ``m``-element messages. AND triples use one OT per bit with 1-bit messages, daBits
one OT with a 64-bit message, and the one-sided truncation one OT per element. (Symmetric
truncation triples are also available, computed from random ``r0 + r1`` with the binary carry
protocol, but cost about 600 OTs each.)

Security: semi-honest 2PC with no trusted party, under the CDH assumption (base OT) and the
correlation robustness of fixed-key AES (in the ideal-permutation model).
"""

from __future__ import annotations

from typing import cast

import numpy as np

from accord.correlations.ot import ExtensionReceiver, ExtensionSender, hash_rows
from accord.errors import MalformedMessage
from accord.math.matmul import ring_matmul
from accord.math.ring import DTYPE
from accord.mpc.preprocessing.base import Roles, Shape, check_shape, expect_array
from accord.mpc.protocols.binary import b2a, carries
from accord.runtime.context import Context

THREAT_MODEL = ("semi-honest 2PC with no trusted party: correlations from IKNP oblivious transfer (Chou-Orlandi "
                "base OT over Ed25519) and Gilboa multiplication")
_LOW63 = np.uint64((1 << 63) - 1)
_CHUNK_OTS = 1 << 21
_SHIFTS = np.arange(64, dtype=np.uint64)


def _bits(values: np.ndarray, width: int) -> np.ndarray:
    """Bits (uint8) of unsigned words, least significant first: shape ``values.shape + (width,)``."""
    v = values.astype(np.uint64)[..., None]
    return ((v >> np.arange(width, dtype=np.uint64)) & np.uint64(1)).astype(np.uint8)


class OTProvider:
    """Correlations from OT between the two computing parties (see the module docstring)."""

    name = "2pc-ot"
    threat_model = THREAT_MODEL
    # Symmetric truncation triples need a carry circuit here; the one-sided protocol needs one OT.
    one_sided_truncation = True

    def __init__(self, roles: Roles, sender: ExtensionSender, receiver: ExtensionReceiver) -> None:
        self.roles = roles
        self._sender = sender
        self._receiver = receiver
        self.ots = 0

    @classmethod
    def setup(cls, ctx: Context, roles: Roles) -> OTProvider:
        """Base OTs in both directions (128 each), at the two computing parties."""
        peer = roles.peer
        if roles.index == 0:
            sender = ExtensionSender.setup(ctx.sub("ot01"), peer)
            receiver = ExtensionReceiver.setup(ctx.sub("ot10"), peer)
        else:
            receiver = ExtensionReceiver.setup(ctx.sub("ot01"), peer)
            sender = ExtensionSender.setup(ctx.sub("ot10"), peer)
        return cls(roles, sender, receiver)

    # ------------------------------------------------------------------- correlated OT core
    def _cot(self, ctx: Context, deltas: np.ndarray | None, choices: np.ndarray | None,
             length: int, gilboa: bool = False) -> tuple[np.ndarray | None, np.ndarray | None]:
        """One batch of correlated OTs in each direction where requested.

        ``deltas`` (ots x length, uint64) makes this party a sender: it returns ``x`` (its share is
        ``-x``). ``choices`` (uint8 bits) makes it a receiver: it returns ``x' + choice * delta'``.
        Receivers send first, so both directions share one round trip. With ``gilboa`` the OTs come in
        groups of 64 whose outputs are later weighted by ``2^t`` (``t`` the position in the group), so
        the corrections of positions 32 to 63 only matter modulo 2^32 and travel as 32-bit words.
        """
        blocks = (length + 1) // 2
        rows = None
        if choices is not None:
            rows, tweak_r = self._receiver.extend(ctx, choices)
        x = None
        if deltas is not None:
            q, tweak_s = self._sender.extend(ctx, len(deltas))
            x = hash_rows(q, tweak_s, blocks)[:, :length]
            y = hash_rows(q ^ self._sender.s[None, :], tweak_s, blocks)[:, :length]
            d = x + deltas
            d -= y
            if gilboa:
                grouped = d.reshape(-1, 64, length)
                message = [np.ascontiguousarray(grouped[:, :32]), grouped[:, 32:].astype(np.uint32)]
            else:
                message = [d]
            ctx.send(self.roles.peer, message, f"d{self._sender.counter}")
            self.ots += len(deltas)
        out = None
        if choices is not None and rows is not None:
            tag = f"d{self._receiver.counter}"
            d = self._corrections(ctx.recv(self.roles.peer, tag), f"{ctx.path}/{tag}", len(choices), length, gilboa)
            out = hash_rows(rows, tweak_r, blocks)[:, :length]
            out += d * choices[:, None].astype(DTYPE)
        return x, out

    def _corrections(self, got: object, step: str, count: int, length: int, gilboa: bool) -> np.ndarray:
        peer = self.roles.peer
        if not isinstance(got, list) or len(got) != (2 if gilboa else 1):
            raise MalformedMessage(f"party {peer!r} sent a malformed OT correction for {step!r}", party=peer,
                                   step=step)
        if not gilboa:
            return expect_array(got[0], peer=peer, step=step, shape=(count, length), dtype=DTYPE)
        low = expect_array(got[0], peer=peer, step=step, shape=(count // 64, 32, length), dtype=DTYPE)
        high = expect_array(got[1], peer=peer, step=step, shape=(count // 64, 32, length), dtype=np.uint32)
        return np.concatenate([low, high.astype(DTYPE)], axis=1).reshape(count, length)

    def _cross(self, ctx: Context, mine: np.ndarray, bits_of: np.ndarray, send: bool, receive: bool) -> np.ndarray:
        """Shares of cross products ``a_sender * b_receiver`` elementwise (Gilboa), chunked."""
        n = mine.size if send else bits_of.size
        total = np.zeros(n, dtype=DTYPE)
        step = max(1, _CHUNK_OTS // 64)
        for start in range(0, n, step):
            stop = min(n, start + step)
            deltas = np.repeat(mine.reshape(-1)[start:stop], 64).reshape(-1, 1) if send else None
            choices = _bits(bits_of.reshape(-1)[start:stop], 64).reshape(-1) if receive else None
            x, out = self._cot(ctx, deltas, choices, 1, gilboa=True)
            if x is not None:
                total[start:stop] -= (x.reshape(-1, 64) << _SHIFTS).sum(axis=1, dtype=DTYPE)
            if out is not None:
                total[start:stop] += (out.reshape(-1, 64) << _SHIFTS).sum(axis=1, dtype=DTYPE)
        return total

    def _matrix_cross(self, ctx: Context, left: np.ndarray | None, right: np.ndarray | None, m: int, k: int,
                      n: int) -> np.ndarray:
        """Shares of ``left_sender @ right_receiver`` in both directions: one OT per bit of ``right``."""
        deltas = choices = None
        if left is not None:   # (k, n, 64, m): column l of left for every output column j and bit t.
            deltas = np.broadcast_to(left.T[:, None, None, :], (k, n, 64, m)).reshape(-1, m)
        if right is not None:
            choices = _bits(right, 64).reshape(-1)
        x, out = self._cot(ctx, deltas, choices, m, gilboa=True)
        total = np.zeros((n, m), dtype=DTYPE)
        weights = _SHIFTS[None, None, :, None]
        if x is not None:
            total -= (x.reshape(k, n, 64, m) << weights).sum(axis=(0, 2), dtype=DTYPE)
        if out is not None:
            total += (out.reshape(k, n, 64, m) << weights).sum(axis=(0, 2), dtype=DTYPE)
        return np.ascontiguousarray(total.T)

    def _bit_cross(self, ctx: Context, mine: np.ndarray | None, other: np.ndarray | None, width: int) -> np.ndarray:
        """XOR shares of ``a_sender AND b_receiver`` on words of ``width`` bits (one OT per bit)."""
        deltas = None if mine is None else _bits(mine, width).reshape(-1, 1).astype(DTYPE)
        choices = None if other is None else _bits(other, width).reshape(-1)
        x, out = self._cot(ctx, deltas, choices, 1)
        size = (mine if mine is not None else other).size  # type: ignore[union-attr]
        acc = np.zeros((size, width), dtype=np.uint8)
        if x is not None:
            acc ^= (x.reshape(size, width) & np.uint64(1)).astype(np.uint8)
        if out is not None:
            acc ^= (out.reshape(size, width) & np.uint64(1)).astype(np.uint8)
        weights = (np.uint64(1) << np.arange(width, dtype=np.uint64))
        return (acc.astype(np.uint64) * weights).sum(axis=1, dtype=np.uint64)

    # ------------------------------------------------------------------ the provider interface
    def triples(self, ctx: Context, shape: Shape) -> tuple[np.ndarray, ...]:
        """Beaver triples: ``c_i = a_i b_i + share of (a0 b1 + a1 b0)``."""
        shape = check_shape(shape)
        a, b = ctx.rng.uint64(shape), ctx.rng.uint64(shape)
        cross = self._cross(ctx.sub("ot"), a, b, True, True).reshape(shape)
        return a, b, a * b + cross

    def square_pairs(self, ctx: Context, shape: Shape) -> tuple[np.ndarray, ...]:
        """``(a, a^2)``: ``a^2 = a0^2 + a1^2 + 2 a0 a1``, one cross product (first party sends)."""
        shape = check_shape(shape)
        a = ctx.rng.uint64(shape)
        first = self.roles.index == 0
        cross = self._cross(ctx.sub("ot"), a + a, a, first, not first).reshape(shape)
        return a, a * a + cross

    def matrix_triples(self, ctx: Context, m: int, k: int, n: int) -> tuple[np.ndarray, ...]:
        """Matrix triples: ``C_i = A_i B_i + share of (A0 B1 + A1 B0)``."""
        a, b = ctx.rng.uint64((m, k)), ctx.rng.uint64((k, n))
        sub = ctx.sub("ot")
        if k * n * (16 + 8 * m) <= m * k * (16 + 8 * n):
            cross = self._matrix_cross(sub, a, b, m, k, n)
        else:   # (A B)^T = B^T A^T: one OT per bit of the left operand instead.
            cross = self._matrix_cross(sub, np.ascontiguousarray(b.T), np.ascontiguousarray(a.T), n, k, m).T
        return a, b, ring_matmul(a, b) + cross

    def trunc_pairs(self, ctx: Context, shape: Shape, bits: int) -> tuple[np.ndarray, ...]:
        """``(r, (r mod 2^63) >> bits, r >> 63)`` from the carries of ``r0 + r1`` (binary protocol)."""
        shape = check_shape(shape)
        sub = ctx.sub("ot-trunc")
        r = ctx.rng.uint64(shape)
        # Both parties compute (there is no dealer here), so the binary protocols return arrays, never None.
        c = cast(np.ndarray, carries(sub, self, shape, r, [bits, 63]))
        s = c[1] ^ (r >> np.uint64(63)).astype(np.uint8)
        arith = cast(np.ndarray, b2a(sub, self, (3, *shape), np.stack([c[0], c[1], s])))
        t = ((r & _LOW63) >> np.uint64(bits)) + arith[0] - (arith[1] << np.uint64(63 - bits))
        return r, t, arith[2]

    def trunc_cots(self, ctx: Context, shape: Shape, bits: int) -> tuple[np.ndarray, ...]:
        """One correlated OT per element: the first party sends with correlation ``msb(r) 2^(64 - bits)``."""
        shape = check_shape(shape)
        if self.roles.index == 0:
            r = ctx.rng.uint64(shape)
            deltas = ((r >> np.uint64(63)) << np.uint64(64 - bits)).reshape(-1, 1)
            x, _ = self._cot(ctx.sub("ot"), deltas, None, 1)
            return r, x.reshape(shape)  # type: ignore[union-attr]
        rho = ctx.rng.uint8(shape) & np.uint8(1)
        _, out = self._cot(ctx.sub("ot"), None, rho.reshape(-1), 1)
        return rho, out.reshape(shape)  # type: ignore[union-attr]

    def bool_triples(self, ctx: Context, shape: Shape, dtype: np.dtype) -> tuple[np.ndarray, ...]:
        """AND triples: ``c_i = a_i & b_i ^ share of (a0 & b1 ^ a1 & b0)``."""
        shape = check_shape(shape)
        dt = np.dtype(dtype)
        width = 8 * dt.itemsize
        a = ctx.rng.uint8((*shape, dt.itemsize)).view(dt).reshape(shape)
        b = ctx.rng.uint8((*shape, dt.itemsize)).view(dt).reshape(shape)
        cross = self._bit_cross(ctx.sub("ot"), a, b, width).astype(dt).reshape(shape)
        return a, b, (a & b) ^ cross

    def cross_bool_triples(self, ctx: Context, shape: Shape, dtype: np.dtype) -> tuple[np.ndarray, ...]:
        """``(a | b, share of a & b)``: one AND per bit, first party sends."""
        shape = check_shape(shape)
        dt = np.dtype(dtype)
        u = ctx.rng.uint8((*shape, dt.itemsize)).view(dt).reshape(shape)
        first = self.roles.index == 0
        w = self._bit_cross(ctx.sub("ot"), u if first else None, None if first else u, 8 * dt.itemsize)
        return u, w.astype(dt).reshape(shape)

    def dabits(self, ctx: Context, shape: Shape) -> tuple[np.ndarray, ...]:
        """Random bits ``rho = rho0 ^ rho1`` with additive shares ``rho_i - 2 share(rho0 rho1)``."""
        shape = check_shape(shape)
        rho = ctx.rng.uint8(shape) & np.uint8(1)
        first = self.roles.index == 0
        deltas = rho.reshape(-1, 1).astype(DTYPE) if first else None
        x, out = self._cot(ctx.sub("ot"), deltas, None if first else rho.reshape(-1), 1)
        cross = (-x if x is not None else out).reshape(shape)  # type: ignore[union-attr]
        return rho, rho.astype(DTYPE) - (cross << np.uint64(1))
