"""Arrays of Paillier or Okamoto-Uchiyama ciphertexts with numpy-like arithmetic against ciphertexts and plaintexts.

A :class:`CipherArray` holds one ciphertext per element of a numpy-shaped array of fixed-point
numbers (``frac_bits`` fractional bits, see :mod:`accord.he.encoding`). Homomorphic operations:

========================  ==================================  =====================================
operation                 ciphertext arithmetic (Paillier:    cost per element, 2048-bit Paillier
                          modulo n²; OU: modulo n)            key (OU: about 3.5 times less)
========================  ==================================  =====================================
``a + b``                 ``a * b``                           4.5 µs
``a + plain``             ``a * (1 + n m)`` (OU: ``a * G^m``)  4.5 µs
``-a``                    ``a ** -1``                         22 µs
``a * k`` (plain ``k``)   ``a ** k``                          about 5 µs per bit of ``k``
``a.sum(axis)``           product along the axis              4.5 µs
``a @ plain``, dot        bucket-method multi-exponentiation  about 0.8 µs per weight bit and column
``a.bucket_sum(g, G)``    product per group                   4.5 µs
========================  ==================================  =====================================

Large batches run on the engine's :class:`~accord.he.workers.WorkerPool`. A
:class:`PackedCipherArray` holds packed vectors (:mod:`accord.he.packing`) and supports the
operations that keep slots apart: addition, sums, bucket sums and :meth:`PackedCipherArray.compress`.

Results of computations, and empty bucket sums in particular (which are the constant 1), must be
re-randomised before they leave the party (:meth:`CipherArray.rerandomize`); the device does this
for every ciphertext a non-owner sends.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast

import numpy as np
from gmpy2 import mpz

from accord.errors import InputError
from accord.he import _kernels
from accord.he.encoding import check_range
from accord.he.packing import SlotPacking

if TYPE_CHECKING:
    from accord.he.engine import HEEngine


class _Ciphertexts:
    """Shared plumbing: the engine, the flat list of ciphertexts and the element shape."""

    __array_priority__ = 1000  # numpy defers `ndarray + CipherArray` to our reflected operators

    def __init__(self, engine: HEEngine, values: list[mpz], shape: tuple[int, ...], fresh: bool = False) -> None:
        self.engine = engine
        self.values = values
        self.shape = tuple(int(d) for d in shape)
        # Fresh encryptions carry independent randomness and may leave as they are; results may not.
        self.fresh = fresh

    @property
    def size(self) -> int:
        """Number of ciphertexts."""
        return len(self.values)

    @property
    def ndim(self) -> int:
        """Number of dimensions."""
        return len(self.shape)

    def __len__(self) -> int:
        if not self.shape:
            raise TypeError("len() of a 0-d ciphertext array")
        return self.shape[0]

    def _positions(self) -> np.ndarray:
        return np.arange(self.size, dtype=np.int64).reshape(self.shape)

    def _gather(self, positions: np.ndarray) -> list[mpz]:
        values = self.values
        return [values[i] for i in np.asarray(positions).ravel().tolist()]

    def _party(self) -> str | None:
        return self.engine.party

    def _check_same_key(self, other: _Ciphertexts) -> None:
        if other.engine.public_key != self.engine.public_key:
            raise ValueError(f"ciphertexts under different keys ({self.engine.public_key.fingerprint} and "
                             f"{other.engine.public_key.fingerprint}) cannot be combined")

    def _rerandomized_values(self) -> list[mpz]:
        return _kernels.mul_pairs(self.values, self.engine.rerandomizers(self.size), self.engine.public_key.modulus)


class CipherArray(_Ciphertexts):
    """Ciphertexts of an array of fixed-point numbers; create with :meth:`Paillier.encrypt` or :meth:`OU.encrypt`.

    ``bound_bits`` is a public bound carried through every operation: every plaintext integer has
    magnitude below ``2**bound_bits``. It is computed from declared ranges (``FixedPoint.int_bits``,
    which plaintext operands must respect too), public shapes and the operations applied, never from
    data, so it may travel with the ciphertexts; decryption refuses arrays whose bound reached the
    key's range and values beyond their bound (see :mod:`accord.he.encoding`).

    Examples
    --------
    >>> from accord.he import Paillier
    >>> he = Paillier.generate(1024, allow_insecure_key_size=True)
    >>> x = he.encrypt(np.array([1.5, -2.0, 4.0]))
    >>> he.decrypt((x * 2 + 1).sum()).item()
    10.0
    """

    def __init__(self, engine: HEEngine, values: list[mpz], shape: tuple[int, ...], frac_bits: int,
                 bound_bits: int, fresh: bool = False) -> None:
        super().__init__(engine, values, shape, fresh)
        self.frac_bits = int(frac_bits)
        self.bound_bits = int(bound_bits)

    def __repr__(self) -> str:
        return (f"<CipherArray shape={self.shape} frac_bits={self.frac_bits} bound_bits={self.bound_bits} "
                f"key={self.engine.public_key.fingerprint}>")

    def _like(self, values: list[mpz], shape: tuple[int, ...] | None = None, *, frac_bits: int | None = None,
              bound_bits: int | None = None, fresh: bool = False) -> CipherArray:
        return CipherArray(self.engine, values, self.shape if shape is None else shape,
                           self.frac_bits if frac_bits is None else frac_bits,
                           self.bound_bits if bound_bits is None else bound_bits, fresh)

    # ------------------------------------------------------------------------------ shaping
    def __getitem__(self, index: Any) -> CipherArray:
        picked = self._positions()[index]
        return self._like(self._gather(picked), np.shape(picked), fresh=self.fresh)

    def reshape(self, *shape: int | tuple[int, ...]) -> CipherArray:
        """The same ciphertexts in another shape (as ``numpy.reshape``)."""
        new = self._positions().reshape(shape[0] if len(shape) == 1 else cast("tuple[int, ...]", shape))
        return self._like(list(self.values), new.shape, fresh=self.fresh)

    def ravel(self) -> CipherArray:
        """A flat view of the ciphertexts, in C order."""
        return self._like(list(self.values), (self.size,), fresh=self.fresh)

    @property
    def T(self) -> CipherArray:  # noqa: N802 - numpy's name
        """The transpose."""
        picked = self._positions().T
        return self._like(self._gather(picked), picked.shape, fresh=self.fresh)

    def rescale(self, frac_bits: int) -> CipherArray:
        """The same numbers with more fractional bits (multiplies every plaintext by a power of two)."""
        if frac_bits < self.frac_bits:
            raise ValueError(f"cannot lower frac_bits from {self.frac_bits} to {frac_bits} under encryption")
        if frac_bits == self.frac_bits:
            return self
        shift = frac_bits - self.frac_bits
        return self._like(self.engine.powers(self.values, [1 << shift] * self.size), frac_bits=frac_bits,
                          bound_bits=self.bound_bits + shift)

    # --------------------------------------------------------------------------- arithmetic
    def __add__(self, other: Any) -> CipherArray:
        if isinstance(other, PackedCipherArray):
            return NotImplemented
        if isinstance(other, CipherArray):
            self._check_same_key(other)
            frac = max(self.frac_bits, other.frac_bits)
            a, b = self.rescale(frac), other.rescale(frac)
            shape = np.broadcast_shapes(a.shape, b.shape)
            xs = a._gather(np.broadcast_to(a._positions(), shape))
            ys = b._gather(np.broadcast_to(b._positions(), shape))
            return CipherArray(self.engine, self.engine.multiply(xs, ys), shape, frac,
                               max(a.bound_bits, b.bound_bits) + 1)
        plain = np.asarray(other)
        frac = self.frac_bits if _is_integral(plain) else max(self.frac_bits, self.engine.encoding.frac_bits)
        base = self.rescale(frac)
        shape = np.broadcast_shapes(base.shape, plain.shape)
        scaled = self.engine.encoding.scale(np.broadcast_to(plain, shape), frac, party=self._party(),
                                            field="plaintext operand")
        declared = self.engine.encoding.int_bits + frac
        check_range(scaled, int(self.engine.public_key.max_int), party=self._party(), field="plaintext operand",
                    bound_bits=declared)
        xs = base._gather(np.broadcast_to(base._positions(), shape))
        return CipherArray(self.engine, self.engine.add_plain(xs, scaled), shape, frac,
                           max(base.bound_bits, declared) + 1)

    __radd__ = __add__

    def __neg__(self) -> CipherArray:
        return self._like(self.engine.invert(self.values))

    def __sub__(self, other: Any) -> CipherArray:
        if isinstance(other, CipherArray):
            return self + (-other)
        return self + (-np.asarray(other))

    def __rsub__(self, other: Any) -> CipherArray:
        return (-self) + other

    def __mul__(self, other: Any) -> CipherArray:
        if isinstance(other, _Ciphertexts):
            raise TypeError("additive HE cannot multiply two ciphertexts; multiply by a plaintext instead")
        plain = np.asarray(other)
        exps, extra = self._weights(plain, "multiplier")
        shape = np.broadcast_shapes(self.shape, plain.shape)
        xs = self._gather(np.broadcast_to(self._positions(), shape))
        ks = np.broadcast_to(np.array(exps, dtype=object).reshape(plain.shape), shape).ravel().tolist()
        return CipherArray(self.engine, self.engine.powers(xs, ks), shape, self.frac_bits + extra,
                           self.bound_bits + self.engine.encoding.int_bits + extra)

    __rmul__ = __mul__

    def _weights(self, plain: np.ndarray, field: str) -> tuple[list[int], int]:
        """Plaintext weights as integers, and the fractional bits they add.

        Weights must lie in the encoding's declared range, ``|w| < 2**int_bits``: the public bound of
        the result grows by that much, whatever the weights are, so it reveals nothing about them.
        """
        encoding = self.engine.encoding
        extra = 0 if _is_integral(plain) else encoding.scalar_frac_bits
        weights = encoding.scale(plain, extra, party=self._party(), field=field)
        check_range(weights, int(self.engine.public_key.max_int), party=self._party(), field=field,
                    bound_bits=encoding.int_bits + extra)
        return weights, extra

    # ---------------------------------------------------------------------------- reductions
    def sum(self, axis: int | None = None) -> CipherArray:
        """Sum of the elements, over all of them or along ``axis``."""
        if axis is None:
            total = self.engine.group_products(self.values, np.zeros((self.size, 1), np.int64), 1)
            return self._like(total, (), bound_bits=self.bound_bits + _count_bits(self.size))
        axis = _axis(axis, self.ndim)
        moved = np.moveaxis(self._positions(), axis, -1)
        out_shape = moved.shape[:-1]
        groups = np.broadcast_to(np.arange(int(np.prod(out_shape)), dtype=np.int64).reshape(*out_shape, 1),
                                 moved.shape)
        order = moved.ravel()
        values = [self.values[i] for i in order.tolist()]
        sums = self.engine.group_products(values, groups.reshape(-1, 1), int(np.prod(out_shape)))
        return self._like(sums, out_shape, bound_bits=self.bound_bits + _count_bits(moved.shape[-1]))

    def bucket_sum(self, group_ids: Any, n_groups: int) -> CipherArray:
        """Sum of the rows of each group: ``out[g] = sum(self[i] for i where group_ids[i] == g)``.

        Parameters
        ----------
        group_ids:
            Integer group of each row: shape ``(N,)`` for an array of shape ``(N, ...)`` gives a result
            of shape ``(n_groups, ...)``; shape ``(N, F)`` (one grouping per feature, as histogram
            building needs) for an array of shape ``(N,)`` gives ``(F, n_groups)``.
        n_groups:
            Number of groups; ids must lie in ``[0, n_groups)``, or be -1 for a row that joins no group
            (and costs nothing: histograms skip each feature's largest bin this way).

        Empty groups hold an encryption of 0 without randomness; re-randomise before sending.
        """
        gids = _check_groups(group_ids, self.shape, n_groups, self._party())
        values, shape = _bucket_sum(self, gids, n_groups)
        return self._like(values, shape, bound_bits=self.bound_bits + _count_bits(len(gids)))

    def dot(self, plain: Any) -> CipherArray:
        """Matrix product with a plaintext vector or matrix (``self @ plain``, as ``numpy.dot`` for 1-D/2-D)."""
        return self @ plain

    def __matmul__(self, other: Any) -> CipherArray:
        if isinstance(other, _Ciphertexts):
            raise TypeError("additive HE cannot multiply two ciphertext arrays; one side must be plaintext")
        plain = np.asarray(other)
        if self.ndim not in (1, 2) or plain.ndim not in (1, 2) or self.shape[-1] != plain.shape[0]:
            raise InputError(f"cannot multiply ciphertexts of shape {self.shape} by a plaintext of shape "
                             f"{plain.shape}", party=self._party(), field="plaintext operand")
        exps, extra = self._weights(plain, "plaintext operand")
        weights = _int64(exps, plain.shape, self._party())
        matrix = weights.reshape(plain.shape[0], -1)
        rows = self._positions().reshape(-1, self.shape[-1])
        out: list[mpz] = []
        for row in rows:
            out.extend(self.engine.multi_exps([self.values[i] for i in row.tolist()], matrix))
        shape = self.shape[:-1] + plain.shape[1:]
        growth = self.engine.encoding.int_bits + extra + _count_bits(plain.shape[0])
        return self._like(out, shape, frac_bits=self.frac_bits + extra, bound_bits=self.bound_bits + growth)

    def __rmatmul__(self, other: Any) -> CipherArray:
        plain = np.asarray(other)
        if plain.ndim not in (1, 2) or self.ndim not in (1, 2):
            raise InputError(f"cannot multiply a plaintext of shape {plain.shape} by ciphertexts of shape "
                             f"{self.shape}", party=self._party(), field="plaintext operand")
        result = self.T @ plain.T
        return result.T if result.ndim == 2 else result

    # ------------------------------------------------------------------------------ leaving
    def rerandomize(self) -> CipherArray:
        """The same plaintexts with fresh full-entropy randomness ``s^n`` (see :mod:`accord.he.paillier`)."""
        return self._like(self._rerandomized_values(), fresh=True)

    def to_wire(self) -> dict[str, Any]:
        """The ciphertexts as a codec value: one ``uint8`` array of fixed-width little-endian integers."""
        return {"kind": self.engine.scheme, "key": self.engine.public_key.fingerprint, "shape": list(self.shape),
                "frac_bits": self.frac_bits, "bound_bits": self.bound_bits, "data": _blob_array(self)}


class PackedCipherArray(_Ciphertexts):
    """Ciphertexts of packed vectors: logical values of shape ``shape + (layout.slots,)``.

    ``per_ciphertext`` vectors share each ciphertext (1 until :meth:`compress`); ``terms`` bounds how
    many input vectors were summed into each result so far, and may never exceed
    ``layout.max_terms``. Create with :meth:`Paillier.encrypt_packed`.
    """

    def __init__(self, engine: HEEngine, values: list[mpz], shape: tuple[int, ...], layout: SlotPacking,
                 *, per_ciphertext: int = 1, terms: int = 1, fresh: bool = False) -> None:
        super().__init__(engine, values, shape, fresh)
        self.layout = layout
        self.per_ciphertext = per_ciphertext
        self.terms = terms
        expected = -(-int(np.prod(self.shape, dtype=np.int64)) // per_ciphertext)
        if len(values) != expected:
            raise ValueError(f"{len(values)} ciphertexts cannot hold {self.shape} vectors at {per_ciphertext} each")

    def __repr__(self) -> str:
        return (f"<PackedCipherArray shape={self.shape} slots={self.layout.slots} "
                f"per_ciphertext={self.per_ciphertext} terms={self.terms}>")

    @property
    def vectors(self) -> int:
        """Number of packed vectors (the product of ``shape``)."""
        return int(np.prod(self.shape, dtype=np.int64))

    def _like(self, values: list[mpz], shape: tuple[int, ...], terms: int, fresh: bool = False) -> PackedCipherArray:
        if terms > self.layout.max_terms:
            raise InputError(f"this sum would add {terms} packed vectors, but the layout was declared for at most "
                             f"{self.layout.max_terms}; declare a larger max_terms", party=self._party(),
                             field="max_terms")
        return PackedCipherArray(self.engine, values, shape, self.layout, terms=terms, fresh=fresh)

    def _require_unpacked(self, what: str) -> None:
        if self.per_ciphertext != 1:
            raise ValueError(f"{what} needs one vector per ciphertext; this array is compressed")

    def __getitem__(self, index: Any) -> PackedCipherArray:
        self._require_unpacked("indexing")
        picked = self._positions()[index]
        return self._like(self._gather(picked), np.shape(picked), self.terms, fresh=self.fresh)

    def __add__(self, other: Any) -> PackedCipherArray:
        if not isinstance(other, PackedCipherArray):
            return NotImplemented
        self._check_same_key(other)
        if other.layout != self.layout or other.shape != self.shape or other.per_ciphertext != self.per_ciphertext:
            raise ValueError("packed arrays must share layout, shape and packing to be added")
        out = self._like(self.engine.multiply(self.values, other.values), self.shape, self.terms + other.terms)
        out.per_ciphertext = self.per_ciphertext
        return out

    def sum(self, axis: int | None = None) -> PackedCipherArray:
        """Slot-wise sum of the vectors, over all of them or along ``axis``."""
        self._require_unpacked("sum")
        if axis is None:
            total = self.engine.group_products(self.values, np.zeros((self.size, 1), np.int64), 1)
            return self._like(total, (), self.terms * max(1, self.size))
        axis = _axis(axis, self.ndim)
        moved = np.moveaxis(self._positions(), axis, -1)
        out_shape = moved.shape[:-1]
        groups = np.broadcast_to(np.arange(int(np.prod(out_shape)), dtype=np.int64).reshape(*out_shape, 1),
                                 moved.shape)
        values = [self.values[i] for i in moved.ravel().tolist()]
        sums = self.engine.group_products(values, groups.reshape(-1, 1), int(np.prod(out_shape)))
        return self._like(sums, out_shape, self.terms * max(1, moved.shape[-1]))

    def bucket_sum(self, group_ids: Any, n_groups: int) -> PackedCipherArray:
        """Slot-wise sums per group, with the same group-id shapes as :meth:`CipherArray.bucket_sum`."""
        self._require_unpacked("bucket_sum")
        gids = _check_groups(group_ids, self.shape, n_groups, self._party())
        values, shape = _bucket_sum(self, gids, n_groups)
        return self._like(values, shape, self.terms * max(1, len(gids)))

    def compress(self) -> PackedCipherArray:
        """Shift several packed vectors into each ciphertext, as many as a plaintext holds.

        Costs about one squaring modulo n² per plaintext bit per output ciphertext (about 9 ms for a
        2048-bit key) and divides the key owner's decryptions by ``vectors_per_plaintext``.
        """
        self._require_unpacked("compress")
        group = self.layout.vectors_per_plaintext(self.engine.public_key.plain_bits)
        shift = self.layout.slot_bits * self.layout.slots
        values = self.engine.shift_pack(self.values, shift, group)
        return PackedCipherArray(self.engine, values, self.shape, self.layout, per_ciphertext=group, terms=self.terms)

    def rerandomize(self) -> PackedCipherArray:
        """The same plaintexts with fresh full-entropy randomness."""
        return PackedCipherArray(self.engine, self._rerandomized_values(), self.shape, self.layout,
                                 per_ciphertext=self.per_ciphertext, terms=self.terms, fresh=True)

    def to_wire(self) -> dict[str, Any]:
        """The ciphertexts, layout and counters as a codec value."""
        return {"kind": f"{self.engine.scheme}-packed", "key": self.engine.public_key.fingerprint,
                "shape": list(self.shape), "layout": self.layout.to_wire(), "per_ciphertext": self.per_ciphertext,
                "terms": self.terms, "data": _blob_array(self)}


# ----------------------------------------------------------------------------------- helpers
def _is_integral(plain: np.ndarray) -> bool:
    """Whether a plaintext operand is integer-typed (decided by its type, never by its values)."""
    if plain.dtype.kind in "iub":
        return True
    return plain.dtype == object and all(isinstance(v, (int, np.integer)) for v in plain.ravel())


def _count_bits(count: int) -> int:
    """Bits a sum of ``count`` terms can add to the largest term."""
    return max(0, int(count) - 1).bit_length()


def _axis(axis: int, ndim: int) -> int:
    if not -ndim <= axis < ndim:
        raise ValueError(f"axis {axis} is out of bounds for an array of {ndim} dimensions")
    return axis % ndim


def _int64(values: list[int], shape: tuple[int, ...], party: str | None) -> np.ndarray:
    limit = 1 << 62
    if any(not -limit < v < limit for v in values):
        raise InputError("plaintext weights must have |w * 2**scalar_frac_bits| < 2**62 for a dot product",
                         party=party, field="plaintext operand")
    return np.array(values, dtype=np.int64).reshape(shape)


def _check_groups(group_ids: Any, shape: tuple[int, ...], n_groups: int, party: str | None) -> np.ndarray:
    """Group ids as an int64 matrix with one column per grouping, validated against ``shape``."""
    gids = np.asarray(group_ids)
    if not isinstance(n_groups, (int, np.integer)) or n_groups < 1:
        raise InputError(f"n_groups must be a positive integer, got {n_groups!r}", party=party, field="n_groups")
    if gids.dtype.kind not in "iu":
        raise InputError(f"group_ids must be integers, got dtype {gids.dtype}", party=party, field="group_ids")
    if not shape or gids.shape[:1] != shape[:1] or gids.ndim > 2 or (gids.ndim == 2 and len(shape) != 1):
        raise InputError(f"group_ids of shape {gids.shape} do not match ciphertexts of shape {shape}: expected "
                         f"({shape[0] if shape else 'N'},) or, for a 1-D array, (N, features)",
                         party=party, field="group_ids")
    if gids.size and (gids.min() < -1 or gids.max() >= n_groups):
        raise InputError(f"group_ids must lie in [0, {n_groups}) or be -1, got values from {gids.min()} to "
                         f"{gids.max()}", party=party, field="group_ids")
    return gids.astype(np.int64).reshape(shape[0], -1)


def _bucket_sum(array: _Ciphertexts, gids: np.ndarray, n_groups: int) -> tuple[list[mpz], tuple[int, ...]]:
    rest = array.shape[1:]
    width = int(np.prod(rest, dtype=np.int64))
    if gids.shape[1] > 1:  # one grouping per feature: output (F, n_groups)
        return array.engine.group_products(array.values, gids, n_groups), (gids.shape[1], n_groups)
    column = gids[:, :1]
    flat = np.where(column < 0, -1, column * width + np.arange(width, dtype=np.int64)).reshape(-1, 1)
    return array.engine.group_products(array.values, flat, n_groups * width), (n_groups, *rest)


def _blob_array(array: _Ciphertexts) -> np.ndarray:
    width = array.engine.public_key.ciphertext_bytes
    return np.frombuffer(_kernels.to_blob(array.values, width), dtype=np.uint8).reshape(array.size, width)


def values_from_wire(data: Any, count: int, width: int) -> Sequence[mpz] | None:
    """Ciphertexts from a received ``uint8`` array of shape ``(count, width)``, or ``None`` if malformed."""
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.shape != (count, width):
        return None
    return _kernels.from_blob(np.ascontiguousarray(data).tobytes(), width)
