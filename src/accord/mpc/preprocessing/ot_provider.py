"""Correlated randomness made by the two computing parties themselves, with oblivious transfer.

No third party: each party runs IKNP OT extension (:mod:`accord.correlations.ot`) as sender towards the
other and as receiver from it. Products of values held by different parties use Gilboa's method
(Gilboa, CRYPTO 1999; as in MASCOT, Keller, Orsini and Scholl, CCS 2016, and SecureML, Sec. 4.2):
for ``a`` at the sender and ``b`` at the receiver, one correlated OT per bit ``b_t`` with correlation
``a`` gives the receiver ``x_t + b_t a`` and the sender ``-x_t``; weighted by ``2^t`` and summed they
are additive shares of ``a b``, and the correction of bit ``t`` only matters modulo ``2^(64 - t)``, so
bits ``t`` and ``64 - t`` travel in one word. A Beaver triple needs the two cross products
``a0 b1`` and ``a1 b0``; a fan-out triple (one ``a`` times several ``b``) carries a column of ``b`` per
OT; a matrix triple or :meth:`OTProvider.matrix_cross` a column of ``A`` per OT. AND triples and the
AND of two parties' words come from random OTs with 1-bit messages and no correction; daBits use
one OT with a 64-bit message, the one-sided truncation one OT per element, and the product of a
secret bit with a value (:meth:`OTProvider.bit_products`) one OT each way. Products of a plaintext
matrix that one party holds with shared vectors reuse OTs on the matrix's bits
(:mod:`~accord.mpc.preprocessing.owned_ole`). Correlations are made in batches ahead of use
(:mod:`~accord.mpc.preprocessing.pool`). (Symmetric truncation triples are also available, computed
from random ``r0 + r1`` with the binary carry protocol, but cost about 600 OTs each.)

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
from accord.mpc.preprocessing.owned_ole import OwnedBits, PeerBits, Spare, prepare, product
from accord.mpc.preprocessing.pool import Pool
from accord.mpc.protocols.binary import b2a, carries
from accord.runtime.context import Context

Dims = tuple[int, int, int]
THREAT_MODEL = ("semi-honest 2PC with no trusted party: correlations from IKNP oblivious transfer (Chou-Orlandi "
                "base OT over Ed25519) and Gilboa multiplication; the OTs on the bits of a party's plaintext "
                "matrix are made once and reused under a fresh tweak per product (fixed-key AES as an ideal "
                "permutation, tweakable correlation-robust hash)")
_LOW63 = np.uint64((1 << 63) - 1)
_CHUNK_OTS = 1 << 21
_SHIFTS = np.arange(64, dtype=np.uint64)
# Packing of Gilboa corrections: word t (1..31) keeps 64 - t low bits of position t, t high bits of 64 - t.
_HIGH_SHIFTS = (np.uint64(64) - np.arange(1, 32, dtype=np.uint64))[None, :, None]
_LOW_MASKS = ((np.uint64(1) << _HIGH_SHIFTS) - np.uint64(1))


def _bits(values: np.ndarray, width: int) -> np.ndarray:
    """Bits (uint8) of unsigned words, least significant first: shape ``values.shape + (width,)``."""
    v = values.astype(np.uint64)[..., None]
    return ((v >> np.arange(width, dtype=np.uint64)) & np.uint64(1)).astype(np.uint8)


def _weighted(outputs: np.ndarray, m: int, k: int, n: int) -> np.ndarray:
    """Gilboa's sum: OT outputs of shape ``(k * n * 64, m)``, weighted by ``2^t`` and summed over ``t`` and ``k``."""
    total = (outputs.reshape(k, n, 64, m) << _SHIFTS[None, None, :, None]).sum(axis=(0, 2), dtype=DTYPE)
    return np.ascontiguousarray(total.T)


def _pack_gilboa(d: np.ndarray, length: int) -> list[np.ndarray]:
    """Corrections of Gilboa groups (64 OTs, weights ``2^t``) in 32 words and one 32-bit word per element.

    Word 0 holds position 0; word ``t`` (1 to 31) holds position ``t`` in its low ``64 - t`` bits and
    position ``64 - t`` (of which only the low ``t`` bits matter) in its high ``t`` bits.
    """
    grouped = d.reshape(-1, 64, length)
    words = grouped[:, :32].copy()
    words[:, 1:] &= _LOW_MASKS
    words[:, 1:] |= grouped[:, :32:-1] << _HIGH_SHIFTS
    return [words, grouped[:, 32:33].astype(np.uint32)]


def _unpack_gilboa(words: np.ndarray, middle: np.ndarray) -> np.ndarray:
    """The corrections :func:`_pack_gilboa` packed, each correct in the bits its weight keeps."""
    groups, _, length = words.shape
    out = np.empty((groups, 64, length), dtype=DTYPE)
    out[:, :32] = words
    out[:, 32:33] = middle
    out[:, :32:-1] = words[:, 1:] >> _HIGH_SHIFTS
    return out


def _size(shape: Shape) -> int:
    return int(np.prod(shape, dtype=np.int64))


def _words(bits: np.ndarray, dtype: np.dtype, shape: Shape) -> np.ndarray:
    """0/1 bits (``prod(shape) * width``, least significant first) as words of ``dtype``."""
    width = 8 * dtype.itemsize
    packed = np.packbits(bits.reshape(-1, width), axis=1, bitorder="little")
    return packed.view(dtype.newbyteorder("<")).astype(dtype).reshape(shape)


MAX_SPARE = 16  # spare hash halves kept for the most recent matrices (by uid: the same at both parties)


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
        self.products = 1
        self._spare: Spare = {}
        self._pool = Pool()
        self.owned = 0

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
             length: int, gilboa: bool = False, *, recv_length: int | None = None
             ) -> tuple[np.ndarray | None, np.ndarray | None]:
        """One batch of correlated OTs in each direction where requested.

        ``deltas`` (ots x length, uint64) makes this party a sender: it returns ``x`` (its share is
        ``-x``). ``choices`` (uint8 bits) makes it a receiver of ``recv_length``-element messages
        (default ``length``): it returns ``x' + choice * delta'``. Receivers send first, so both
        directions share one round trip. With ``gilboa`` the OTs come in groups of 64 whose outputs are
        later weighted by ``2^t`` (``t`` the position in the group), so the correction of position ``t``
        only matters modulo ``2^(64 - t)``: positions ``t`` and ``64 - t`` share one 64-bit word and
        position 32 travels as a 32-bit word (260 bytes per group instead of 512).
        """
        recv_length = length if recv_length is None else recv_length
        rows = None
        if choices is not None:
            rows, tweak_r = self._receiver.extend(ctx, choices)
        x = None
        if deltas is not None:
            blocks = (length + 1) // 2
            q, tweak_s = self._sender.extend(ctx, len(deltas))
            x = hash_rows(q, tweak_s, blocks)[:, :length]
            y = hash_rows(q ^ self._sender.s[None, :], tweak_s, blocks)[:, :length]
            d = x + deltas
            d -= y
            message = _pack_gilboa(d, length) if gilboa else [d]
            ctx.send(self.roles.peer, message, f"d{self._sender.counter}")
            self.ots += len(deltas)
        out = None
        if choices is not None and rows is not None:
            tag = f"d{self._receiver.counter}"
            d = self._corrections(ctx.recv(self.roles.peer, tag), f"{ctx.path}/{tag}", len(choices), recv_length,
                                  gilboa)
            out = hash_rows(rows, tweak_r, (recv_length + 1) // 2)[:, :recv_length]
            out += d * choices[:, None].astype(DTYPE)
        return x, out

    def _corrections(self, got: object, step: str, count: int, length: int, gilboa: bool) -> np.ndarray:
        peer = self.roles.peer
        if not isinstance(got, list) or len(got) != (2 if gilboa else 1):
            raise MalformedMessage(f"party {peer!r} sent a malformed OT correction for {step!r}", party=peer,
                                   step=step)
        if not gilboa:
            return expect_array(got[0], peer=peer, step=step, shape=(count, length), dtype=DTYPE)
        words = expect_array(got[0], peer=peer, step=step, shape=(count // 64, 32, length), dtype=DTYPE)
        middle = expect_array(got[1], peer=peer, step=step, shape=(count // 64, 1, length), dtype=np.uint32)
        return _unpack_gilboa(words, middle).reshape(count, length)

    def _random_bit_ots(self, ctx: Context, count: int, send: bool, receive: bool) -> tuple[np.ndarray, ...]:
        """``count`` random OTs with 1-bit messages in each requested direction, with no correction sent.

        As IKNP sender this party gets random bits ``u = H(q) ^ H(q ^ s)`` (low bits) and ``v = H(q)``;
        as receiver random choice bits ``c`` and ``v' = H(t)``. Then ``v ^ v' = u & c`` across the two
        parties: the random-OT form of a cross product of bits (Asharov, Lindell, Schneider and Zohner,
        CCS 2013, Sec. 5.2), IKNP's 16 bytes per OT and nothing else. Returns ``(u, c, share)`` as uint8
        0/1 arrays (``None`` for a direction not requested), ``share`` this party's XOR share of every
        cross product it takes part in.
        """
        one = np.uint64(1)
        c = share = u = None
        if receive:
            c = ctx.rng.uint8(count) & np.uint8(1)
            rows, tweak_r = self._receiver.extend(ctx, c)
        if send:
            q, tweak_s = self._sender.extend(ctx, count)
            v0 = (hash_rows(q, tweak_s, 1)[:, 0] & one).astype(np.uint8)
            u = v0 ^ (hash_rows(q ^ self._sender.s[None, :], tweak_s, 1)[:, 0] & one).astype(np.uint8)
            share = v0
            self.ots += count
        if receive:
            mine = (hash_rows(rows, tweak_r, 1)[:, 0] & one).astype(np.uint8)
            share = mine if share is None else share ^ mine
        return u, c, share  # type: ignore[return-value]

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

    def matrix_cross(self, ctx: Context, left: np.ndarray | None, right: np.ndarray | None,
                     send: Dims | None = None, receive: Dims | None = None
                     ) -> tuple[np.ndarray | None, np.ndarray | None]:
        """Shares of ``L @ R`` where one party holds ``L`` and the other ``R`` (Gilboa's product, one round trip).

        ``left`` (``send = (m, k, n)``: an ``(m, k)`` ring matrix) makes this party the sender of
        ``left @ R_peer``; ``right`` (``receive = (m', k', n')``: a ``(k', n')`` ring matrix) makes it
        the receiver of ``L_peer @ right``. Both directions may run at once. The receiver chooses by the
        64 bits of each element of ``right``, and each OT carries a column of ``L`` as its correlation,
        so a product costs ``64 k n`` OTs with ``m``-element corrections (about ``260 k n m`` bytes
        from the sender, ``16 * 64 k n`` from the receiver). Returns this party's shares ``(sent,
        received)``: ``(m, n)`` arrays, ``None`` for a direction it does not take part in.
        """
        deltas = choices = None
        if left is not None and send is not None:   # (k, n, 64, m): column l of left for every column j and bit t.
            m, k, n = send
            deltas = np.broadcast_to(left.T[:, None, None, :], (k, n, 64, m)).reshape(-1, m)
        if right is not None and receive is not None:
            choices = _bits(right, 64).reshape(-1)
        x, out = self._cot(ctx, deltas, choices, send[0] if send else 0, gilboa=True,
                           recv_length=receive[0] if receive else None)
        sent = None if x is None or send is None else -_weighted(x, *send)
        received = None if out is None or receive is None else _weighted(out, *receive)
        return sent, received

    def bit_products(self, ctx: Context, bits: np.ndarray, values: np.ndarray) -> np.ndarray:
        """Shares of ``c * x`` for a secret bit ``c = c0 ^ c1`` (``bits`` is this party's ``c_i``) and ``x = x0 + x1``.

        ``c x_i = c_i x_i + c_j (1 - 2 c_i) x_i``: each party is the sender of one correlated OT per
        element with correlation ``(1 - 2 c_i) x_i`` and the receiver of one, choosing by ``c_j``
        (the multiplexer of Rathee et al., CrypTFlow2, CCS 2020, Sec. 4.1): 2 OTs per element instead
        of a Beaver triple's 128.
        """
        flat = values.reshape(-1)
        c = bits.reshape(-1).astype(np.uint8)
        deltas = (flat - ((flat * c.astype(DTYPE)) << np.uint64(1))).reshape(-1, 1)
        x, out = self._cot(ctx, deltas, c, 1)
        return (flat * c.astype(DTYPE) - x[:, 0] + out[:, 0]).reshape(values.shape)  # type: ignore[index]

    def own(self, ctx: Context, owner: str, values: np.ndarray | None, shape: tuple[int, int],
            bits: int) -> OwnedBits | PeerBits:
        """OTs on every bit of the owner's matrix, made once and reused by :meth:`owned_product`."""
        self.owned += 1
        return prepare(ctx.sub("own"), self._sender, self._receiver, owner, values if ctx.me == owner else None,
                       shape, bits, self.owned)

    def owned_product(self, ctx: Context, state: OwnedBits | PeerBits, owner: str, shared: np.ndarray,
                      index: int) -> np.ndarray:
        """This party's share of ``matrix @ shared`` from the kept OTs (:mod:`.owned_ole`).

        ``index`` numbers the products of one call (both parties use the same numbers, in any order),
        so every product hashes the OTs under its own tweak.
        """
        out = product(ctx, self.roles, state, owner, shared, self.products + index, self._spare)
        for uid in sorted(self._spare)[:-MAX_SPARE]:  # matrices long replaced (scoring batch by batch)
            del self._spare[uid]
        return out

    def next_products(self, count: int) -> None:
        """Close a call of ``count`` products: later ones take fresh tweaks."""
        self.products += count

    # ------------------------------------------------------------------ the provider interface
    def triples(self, ctx: Context, shape: Shape) -> tuple[np.ndarray, ...]:
        """Beaver triples: ``c_i = a_i b_i + share of (a0 b1 + a1 b0)``."""
        shape = check_shape(shape)

        def make(n: int) -> tuple[np.ndarray, ...]:
            a, b = ctx.rng.uint64((n,)), ctx.rng.uint64((n,))
            return a, b, a * b + self._cross(ctx.sub("ot"), a, b, True, True)

        return tuple(v.reshape(shape) for v in self._pool.take("triples", _size(shape), 64, make))

    def fan_triples(self, ctx: Context, n: int, width: int) -> tuple[np.ndarray, ...]:
        """``(a, b, c = a b_j)``: one OT per bit of ``a`` each way, carrying a column of ``b`` (``width`` words)."""

        def make(count: int) -> tuple[np.ndarray, ...]:
            a, b = ctx.rng.uint64((count,)), ctx.rng.uint64((count, width))
            deltas = np.repeat(b, 64, axis=0)            # (count * 64, width): b's row for every bit of a
            x, out = self._cot(ctx.sub("ot"), deltas, _bits(a, 64).reshape(-1), width, gilboa=True)
            cross = _weighted(out, width, 1, count) - _weighted(x, width, 1, count)  # type: ignore[arg-type]
            return a, b, a[:, None] * b + cross.T

        a, b, c = self._pool.take(("fan", width), n, 64, make)
        return a, np.ascontiguousarray(b.T), np.ascontiguousarray(c.T)

    def square_pairs(self, ctx: Context, shape: Shape) -> tuple[np.ndarray, ...]:
        """``(a, a^2)``: ``a^2 = a0^2 + a1^2 + 2 a0 a1``, one cross product (first party sends)."""
        shape = check_shape(shape)
        first = self.roles.index == 0

        def make(n: int) -> tuple[np.ndarray, ...]:
            a = ctx.rng.uint64((n,))
            return a, a * a + self._cross(ctx.sub("ot"), a + a, a, first, not first)

        return tuple(v.reshape(shape) for v in self._pool.take("square", _size(shape), 64, make))

    def matrix_triples(self, ctx: Context, m: int, k: int, n: int) -> tuple[np.ndarray, ...]:
        """Matrix triples: ``C_i = A_i B_i + share of (A0 B1 + A1 B0)``."""
        a, b = ctx.rng.uint64((m, k)), ctx.rng.uint64((k, n))
        sub = ctx.sub("ot")
        if k * n * (16 + 8 * m) <= m * k * (16 + 8 * n):
            sent, received = self.matrix_cross(sub, a, b, (m, k, n), (m, k, n))
        else:   # (A B)^T = B^T A^T: one OT per bit of the left operand instead.
            dims = (n, k, m)
            sent, received = self.matrix_cross(sub, np.ascontiguousarray(b.T), np.ascontiguousarray(a.T), dims, dims)
            sent, received = sent.T, received.T  # type: ignore[union-attr]
        return a, b, ring_matmul(a, b) + sent + received

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
        first = self.roles.index == 0

        def make(n: int) -> tuple[np.ndarray, ...]:
            if first:
                r = ctx.rng.uint64((n,))
                x, _ = self._cot(ctx.sub("ot"), ((r >> np.uint64(63)) << np.uint64(64 - bits)).reshape(-1, 1), None, 1)
                return r, x[:, 0]  # type: ignore[index]
            rho = ctx.rng.uint8((n,)) & np.uint8(1)
            _, out = self._cot(ctx.sub("ot"), None, rho, 1)
            return rho, out[:, 0]  # type: ignore[index]

        return tuple(v.reshape(shape) for v in self._pool.take(("trunc", bits), _size(shape), 1, make))

    def bool_triples(self, ctx: Context, shape: Shape, dtype: np.dtype) -> tuple[np.ndarray, ...]:
        """AND triples from random OTs each way: ``a`` from this party's sender bits, ``b`` its choices."""
        shape = check_shape(shape)
        dt = np.dtype(dtype)

        def make(n: int) -> tuple[np.ndarray, ...]:
            u, c, share = self._random_bit_ots(ctx.sub("ot"), n * 8 * dt.itemsize, True, True)
            a, b = _words(u, dt, (n,)), _words(c, dt, (n,))
            return a, b, (a & b) ^ _words(share, dt, (n,))

        return tuple(v.reshape(shape) for v in self._pool.take(("bool", dt.str), _size(shape), 8 * dt.itemsize, make))

    def cross_bool_triples(self, ctx: Context, shape: Shape, dtype: np.dtype) -> tuple[np.ndarray, ...]:
        """``(a | b, share of a & b)`` from one random OT per bit, first party sending."""
        shape = check_shape(shape)
        dt = np.dtype(dtype)
        first = self.roles.index == 0

        def make(n: int) -> tuple[np.ndarray, ...]:
            u, c, share = self._random_bit_ots(ctx.sub("ot"), n * 8 * dt.itemsize, first, not first)
            return _words(u if first else c, dt, (n,)), _words(share, dt, (n,))

        pooled = self._pool.take(("cross", dt.str), _size(shape), 8 * dt.itemsize, make)
        return tuple(v.reshape(shape) for v in pooled)

    def dabits(self, ctx: Context, shape: Shape) -> tuple[np.ndarray, ...]:
        """Random bits ``rho = rho0 ^ rho1`` with additive shares ``rho_i - 2 share(rho0 rho1)``."""
        shape = check_shape(shape)
        first = self.roles.index == 0

        def make(n: int) -> tuple[np.ndarray, ...]:
            rho = ctx.rng.uint8((n,)) & np.uint8(1)
            deltas = rho.reshape(-1, 1).astype(DTYPE) if first else None
            x, out = self._cot(ctx.sub("ot"), deltas, None if first else rho, 1)
            cross = (-x if x is not None else out)[:, 0]  # type: ignore[index]
            return rho, rho.astype(DTYPE) - (cross << np.uint64(1))

        return tuple(v.reshape(shape) for v in self._pool.take("dabits", _size(shape), 1, make))
