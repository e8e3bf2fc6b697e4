"""Products of a fixed plaintext matrix with fresh secret vectors, from OTs on the matrix's bits made once.

In vertical learning party ``P`` holds its feature block ``X`` (``N x d``) in the clear for the whole
training, and every step multiplies a batch of its rows by the other party's share of a fresh vector
(the weights, ``X_B w``, or the residuals, ``X_B^T e``). With Gilboa's method (CRYPTO 1999) the party
holding ``X`` chooses by the bits of ``X``: bit ``t`` of ``X_ij`` selects ``2^t v_j``. Those choice
bits never change, so one IKNP extension over all ``N d B`` bits of ``X`` (``B`` bits per entry) at
the start serves every product of every epoch: an IKNP OT ``(q, q ^ s)`` / ``q ^ c s`` with fixed
choice ``c`` is reused as many correlated OTs as needed by hashing its rows under a fresh tweak
each time (as IKNP reuses its base OTs), ``h_b = H(q ^ b s, tweak)``. For a product the other party
(the OT sender) sends one correction ``d = h_0 - h_1 + delta`` per bit, ``delta = v_j`` or ``e_i``,
and the shares ``sum_t 2^t (h_c + c d)`` at ``P`` and ``-sum_t 2^t h_0`` at the sender add up to
``X' v`` for the non-negative ``X' = X + 2^(B-1)``; the sender also subtracts ``2^(B-1) sum(v)``.
Only the low ``64 - t`` bits of a correction matter.

Cost per product of a ``b x d`` batch: ``b d B`` corrections of 8 bytes from the sender and no
message back (half a round trip); the one-off extension costs IKNP's 16 bytes per bit of ``X``. The
state is ``32 N d B`` bytes over both parties whatever the number of epochs (the owner keeps
``pi(t)``, the other party ``q``). Compared with choosing by the 64 bits of the vector share
(``OTProvider.matrix_cross``), this sends ``B / 64`` as many corrections, each carrying one ring
element instead of a column.

Security: semi-honest, as IKNP (CDH for the base OTs; fixed-key AES as an ideal permutation, in which
the hash ``H(x, i) = pi(pi(x) ^ i) ^ pi(x)`` of Guo, Katz, Wang and Yu, S&P 2020, is tweakable
correlation robust: ``H(t_k ^ s, i)`` looks uniform and independent for distinct tweaks ``i``, even to
someone who knows every ``t_k`` and ``H(t_k, i)``). Why reusing the OTs is safe: the tweak of a hash is
the pair (product counter, OT index), with the counter advanced after every product at both parties and
its top bit set (IKNP's own tweaks, ``(call << 32) | block``, keep it clear), so no tweak is ever hashed
twice, and each of the two 64-bit halves of an output block pads exactly one correction (the high half
is popped from ``spare`` when used). The owner's view per product is ``h_c`` (which it computes) and
``d = h_0 - h_1 + delta``, i.e. ``delta`` under the one-time pad ``h_(1-c)``, which needs ``s``; the other
party's view is IKNP's masked matrix, received once at setup, and nothing from the owner afterwards.
Both parties' outputs are additive shares whose sender half is a sum of fresh pads. The fixed choice
bits (the matrix's bits) enter only IKNP's masked matrix, once. Not covered: a malicious sender could
put different ``delta`` in the corrections of one entry's bits (as in any semi-honest Gilboa product).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from accord.correlations.ot import ExtensionReceiver, ExtensionSender, permute_blocks
from accord.math.matmul import ring_matmul
from accord.math.ring import DTYPE
from accord.mpc.preprocessing.base import Roles, expect_array
from accord.runtime.context import Context

_CHUNK = 1 << 20                     # OTs per IKNP extension at setup (bounds its temporary memory)
_DOMAIN = np.uint64(1 << 63)         # tweaks of reused OTs never equal those of IKNP's own hashes
# Per matrix: which rows (start, count) and the unused high halves of their last hashes.
Spare = dict[int, tuple[tuple[int, int], tuple[np.ndarray, ...]]]


@dataclass(frozen=True)
class OwnedBits:
    """The owner's side: its matrix (signed ring values), and per bit ``pi(t)`` of its OT row.

    Slicing takes rows; ``T`` marks the transpose. ``start`` is the first row's index in the whole
    matrix (tweaks must differ between OTs).
    """

    values: np.ndarray        # (rows, d) uint64, two's complement of the integers |x| < 2^(bits - 1)
    keys: np.ndarray          # (rows, d, bits, 2) uint64: pi(t) ^ (0, index)
    bits: int
    uid: int                  # which prepared matrix (the same number at both parties)
    start: int = 0
    transposed: bool = False

    def __getitem__(self, rows: slice) -> OwnedBits:
        first = range(self.values.shape[0])[rows]
        if self.transposed or first.step != 1:
            raise ValueError("take a contiguous slice of rows before transposing")
        return replace(self, values=self.values[rows], keys=self.keys[rows], start=self.start + first.start)

    @property
    def T(self) -> OwnedBits:  # noqa: N802 - numpy's name
        """The transpose."""
        return replace(self, transposed=not self.transposed)


@dataclass(frozen=True)
class PeerBits:
    """The other party's side: its OT row ``q`` for every bit of the owner's matrix, and IKNP's ``s``.

    ``pi(q)`` and ``pi(q ^ s)`` are recomputed at each product (one AES pass each) rather than kept,
    which halves the state.
    """

    rows: np.ndarray          # (rows, d, bits, 2) uint64
    s: np.ndarray             # (2,) uint64
    bits: int
    uid: int
    start: int = 0
    transposed: bool = False

    def __getitem__(self, rows: slice) -> PeerBits:
        first = range(self.rows.shape[0])[rows]
        if self.transposed or first.step != 1:
            raise ValueError("take a contiguous slice of rows before transposing")
        return replace(self, rows=self.rows[rows], start=self.start + first.start)

    @property
    def T(self) -> PeerBits:  # noqa: N802 - numpy's name
        """The transpose."""
        return replace(self, transposed=not self.transposed)


def prepare(ctx: Context, sender: ExtensionSender, receiver: ExtensionReceiver, owner: str,
            values: np.ndarray | None, shape: tuple[int, int], bits: int, uid: int) -> OwnedBits | PeerBits:
    """One IKNP extension over every bit of the owner's matrix (``|values| < 2^(bits - 1)``), kept."""
    rows, cols = shape
    count = rows * cols * bits
    keys = np.empty((count, 2), dtype=DTYPE)
    choices = None
    if values is not None:
        offset = np.uint64(1 << (bits - 1))
        shifted = (values + offset).reshape(-1, 1)
        choices = ((shifted >> np.arange(bits, dtype=np.uint64)) & np.uint64(1)).astype(np.uint8).reshape(-1)
    for start in range(0, count, _CHUNK):
        stop = min(count, start + _CHUNK)
        if choices is not None:
            t, _ = receiver.extend(ctx, choices[start:stop])
            keys[start:stop] = permute_blocks(t)
        else:
            q, _ = sender.extend(ctx, stop - start)
            keys[start:stop] = q.view(DTYPE).reshape(-1, 2)
    shaped = (rows, cols, bits, 2)
    if values is not None:
        return OwnedBits(values, _indexed(keys, 0).reshape(shaped), bits, uid)
    return PeerBits(keys.reshape(shaped), sender.s.view(DTYPE).copy(), bits, uid)


def _indexed(keys: np.ndarray, start: int) -> np.ndarray:
    """``pi(x) ^ (0, index)`` for ``(n, 2)`` stored ``pi(x)``, ``index`` counting from ``start`` (in place)."""
    keys[:, 1] ^= np.arange(start, start + len(keys), dtype=DTYPE)
    return keys


def _hash(keys: np.ndarray, tweak: int) -> np.ndarray:
    """``pi(k ^ (tweak, 0)) ^ k`` for ``k = pi(x) ^ (0, index)``: 128 bits, two uses' 64-bit outputs per OT.

    This is the tweakable hash ``H(x, (tweak, index)) = pi(pi(x) ^ t) ^ pi(x)`` of Guo, Katz, Wang and
    Yu (S&P 2020) with its output's second half XORed with the public ``index``, which keeps it
    pseudo-random; tweaks differ between uses and indices between OTs.
    """
    mixed = keys.copy()
    mixed[:, 0] ^= _DOMAIN | np.uint64(tweak)
    out = permute_blocks(mixed)
    out ^= keys
    return out


def _weights(bits: int) -> np.ndarray:
    return np.arange(bits, dtype=np.uint64)


def _hashes(state: OwnedBits | PeerBits, tweak: int, spare: Spare) -> tuple[np.ndarray, ...]:
    """This product's 64-bit hashes: ``(h,)`` at the owner, ``(h0, h1)`` at the other party.

    One AES block per OT serves two products on the same rows (the LR step's ``X_B w`` and ``X_B^T e``):
    the first takes the low halves and leaves the high ones in ``spare`` (one slot per matrix) for the
    next product on the same rows.
    """
    base = state.keys if isinstance(state, OwnedBits) else state.rows
    key = (state.start, base.shape[0])
    kept = spare.pop(state.uid, None)
    if kept is not None and kept[0] == key:
        return kept[1]
    start = state.start * base.shape[1] * state.bits
    if isinstance(state, OwnedBits):
        blocks = [_hash(state.keys.reshape(-1, 2), tweak)]
    else:
        flat = state.rows.reshape(-1, 2)
        blocks = [_hash(_indexed(permute_blocks(rows), start), tweak) for rows in (flat, flat ^ state.s)]
    shape = base.shape[:-1]
    spare[state.uid] = (key, tuple(np.ascontiguousarray(b[:, 1]).reshape(shape) for b in blocks))
    return tuple(np.ascontiguousarray(b[:, 0]).reshape(shape) for b in blocks)


def product(ctx: Context, roles: Roles, state: OwnedBits | PeerBits, owner: str, shared: np.ndarray,
            tweak: int, spare: Spare) -> np.ndarray:
    """This party's share of ``X @ v`` (or ``X^T @ v`` if transposed) for the shared vector ``v``.

    The owner passes its :class:`OwnedBits` and its share of ``v``; the other party its
    :class:`PeerBits` and its share. Returns ``(rows,)`` (or ``(d,)`` transposed). ``spare`` is the
    provider's slot for the second halves of the hashes (:func:`_hashes`).
    """
    t = _weights(state.bits)
    rows, cols = (state.keys if isinstance(state, OwnedBits) else state.rows).shape[:2]
    offset = np.uint64(1 << (state.bits - 1))
    axis = 0 if state.transposed else 1
    step = f"{ctx.path}/d"
    if isinstance(state, PeerBits):
        h0, h1 = _hashes(state, tweak, spare)
        delta = shared.reshape(-1, 1, 1) if state.transposed else shared.reshape(1, -1, 1)
        d = h0 - h1
        d += delta
        ctx.send(roles.peer, d, "d")
        share = -(h0 << t).sum(axis=(axis, 2), dtype=DTYPE)
        return share - shared.sum(dtype=DTYPE, keepdims=True) * offset
    d = expect_array(ctx.recv(roles.peer, "d"), peer=roles.peer, step=step, shape=(rows, cols, state.bits),
                     dtype=DTYPE)
    shifted = (state.values + offset)[:, :, None]
    d = d * ((shifted >> t) & np.uint64(1))
    d += _hashes(state, tweak, spare)[0]
    cross = (d << t).sum(axis=(axis, 2), dtype=DTYPE)
    local = ring_matmul(state.values.T if state.transposed else state.values, shared.reshape(-1, 1)).reshape(-1)
    return cross + local
