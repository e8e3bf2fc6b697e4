"""Secret-shared arrays inside an SPMD run: numpy-like operators over an engine's primitives.

A :class:`Shared` is one party's view of a secret array: its share (``None`` at a dealer, which still
tracks the shape so it can deal for every operation), the public shape, and the public kind:
``"fixed"`` (reals with the session's fractional bits), ``"int"`` or ``"bool"`` (0/1 integers).
Operators follow numpy broadcasting. Each protocol step runs in its own sub-context named after the
operation (``mul``, ``trunc``, ``matmul``, ``lt``, ...), so the job report shows bytes and rounds per
operation type.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from accord.errors import InputError
from accord.math.fixed import MAX_TRUNC_BITS, encode, encode_int
from accord.math.matmul import ring_matmul
from accord.math.ring import DTYPE
from accord.mpc.engine import Engine
from accord.runtime.context import Context

KINDS = ("fixed", "int", "bool")
_DIVISION_HINT = ("dividing by a secret is an approximation with a domain: call accord.mpc.approximations."
                  "divide(a, b) or reciprocal(b) (SecretArray's / does this for you)")


@dataclass
class Machine:
    """What a party needs to compute on shares in one run: its engine, context and fixed-point format."""

    engine: Engine[Any]
    ctx: Context
    frac: int

    def sub(self, name: str) -> Context:
        """A sub-context for one operation (counted under ``name`` in the report)."""
        return self.ctx.sub(name)


def _is_public(value: object) -> bool:
    return not isinstance(value, Shared)


class Shared:
    """A secret-shared array (one party's view); see the module docstring."""

    __array_priority__ = 1000

    def __init__(self, m: Machine, raw: Any, shape: Sequence[int], kind: str) -> None:
        self.m = m
        self.raw = _as_arrays(raw)
        self.shape = tuple(int(d) for d in shape)
        self.kind = kind

    # ---------------------------------------------------------------------------- metadata
    @property
    def ndim(self) -> int:
        """Number of dimensions."""
        return len(self.shape)

    @property
    def size(self) -> int:
        """Number of elements."""
        return int(np.prod(self.shape))

    @property
    def frac(self) -> int:
        """Fractional bits of the encoding (0 for int and bool)."""
        return self.m.frac if self.kind == "fixed" else 0

    def __len__(self) -> int:
        return self.shape[0]

    def __repr__(self) -> str:
        return f"<Shared {self.kind} {self.shape}>"

    def _new(self, raw: Any, shape: Sequence[int] | None = None, kind: str | None = None) -> Shared:
        return Shared(self.m, raw, self.shape if shape is None else shape, kind or self.kind)

    def _local(self, fn: Any, shape: Sequence[int], *others: Shared, kind: str | None = None) -> Shared:
        raws = (self.raw, *(o.raw for o in others))
        return self._new(self.m.engine.local(fn, *raws), shape, kind)

    # ---------------------------------------------------------------------------- encoding
    def _encode_public(self, value: Any, kind: str) -> np.ndarray:
        arr = np.asarray(value)
        if kind == "fixed":
            return encode(arr, self.m.frac, field="public operand", limit=2.0 ** (62 - self.m.frac))
        if arr.dtype.kind == "f":
            raise TypeError(f"cannot combine a secret {kind} array with a float public operand; use .astype('fixed')")
        return encode_int(arr.astype(np.int64), field="public operand")

    def astype(self, kind: str) -> Shared:
        """Reinterpret as another kind: int/bool to fixed scales by 2^frac (local); fixed to int truncates."""
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        if kind == self.kind or (kind in ("int", "bool") and self.kind in ("int", "bool")):
            return self._new(self.raw, kind=kind)
        if kind == "fixed":
            scale = np.uint64(1 << self.m.frac)
            return self._local(lambda r: r * scale, self.shape, kind="fixed")
        return self.trunc(self.m.frac)._new_kind("int")

    def _new_kind(self, kind: str) -> Shared:
        return self._new(self.raw, kind=kind)

    def _align(self, other: Shared) -> tuple[Shared, Shared]:
        if self.kind == other.kind or (self.kind != "fixed" and other.kind != "fixed"):
            return self, other
        return self.astype("fixed"), other.astype("fixed")

    def _broadcast(self, shape: tuple[int, ...]) -> Shared:
        if shape == self.shape:
            return self
        return self._local(lambda r: np.broadcast_to(r, tuple(shape)).copy(), shape)

    # ---------------------------------------------------------------------------- linear ops
    def __add__(self, other: Any) -> Shared:
        if _is_public(other):
            kind = "fixed" if self.kind == "fixed" or np.asarray(other).dtype.kind == "f" else "int"
            me = self.astype("fixed") if kind == "fixed" else self
            value = me._encode_public(other, kind)
            shape = np.broadcast_shapes(self.shape, value.shape)
            return me._broadcast(shape)._new(self.m.engine.add_public(me._broadcast(shape).raw, value), shape, kind)
        a, b = self._align(other)
        shape = np.broadcast_shapes(a.shape, b.shape)
        a, b = a._broadcast(shape), b._broadcast(shape)
        kind = a.kind if a.kind == b.kind and a.kind != "bool" else ("fixed" if a.kind == "fixed" else "int")
        return a._local(np.add, shape, b, kind=kind)

    __radd__ = __add__

    def __neg__(self) -> Shared:
        return self._local(np.negative, self.shape, kind="int" if self.kind == "bool" else self.kind)

    def __sub__(self, other: Any) -> Shared:
        return self + (-other if isinstance(other, Shared) else -np.asarray(other))

    def __rsub__(self, other: Any) -> Shared:
        return (-self) + other

    # ------------------------------------------------------------------------- multiplication
    def __mul__(self, other: Any) -> Shared:
        if _is_public(other):
            arr = np.asarray(other)
            if arr.dtype.kind in "iub":
                value = encode_int(arr.astype(np.int64), field="public operand")
                shape = np.broadcast_shapes(self.shape, value.shape)
                kind = "int" if self.kind == "bool" else self.kind
                return self._broadcast(shape)._local(lambda r: r * value, shape, kind=kind)
            value = encode(arr, self.m.frac, field="public operand")
            shape = np.broadcast_shapes(self.shape, value.shape)
            me = self.astype("fixed")._broadcast(shape)
            return me._local(lambda r: r * value, shape).trunc(self.m.frac)
        shape = np.broadcast_shapes(self.shape, other.shape)
        a, b = self._broadcast(shape), other._broadcast(shape)
        engine = self.m.engine
        if a.kind == "fixed" and b.kind == "fixed":
            raw = engine.mul_trunc(self.m.sub("mul"), a.raw, b.raw, shape, self.m.frac)
            return self._new(raw, shape, "fixed")
        kind = "fixed" if "fixed" in (a.kind, b.kind) else ("bool" if a.kind == b.kind == "bool" else "int")
        if a is b:
            return self._new(engine.square(self.m.sub("mul"), a.raw, shape), shape, kind)
        return self._new(engine.mul(self.m.sub("mul"), a.raw, b.raw, shape), shape, kind)

    __rmul__ = __mul__

    def square(self) -> Shared:
        """``self * self`` with one opening instead of two."""
        raw = self.m.engine.square(self.m.sub("mul"), self.raw, self.shape)
        out = self._new(raw)
        if self.kind == "fixed":
            return out.trunc(self.m.frac)
        return out._new_kind(self.kind)

    def trunc(self, bits: int) -> Shared:
        """Divide by ``2^bits`` for ``1 <= bits <= 31`` (error at most one unit in the last place)."""
        if not isinstance(bits, int) or not 1 <= bits <= MAX_TRUNC_BITS:
            raise ValueError(f"truncation shifts by 1 to {MAX_TRUNC_BITS} bits, got {bits!r}")
        return self._new(self.m.engine.trunc(self.m.sub("trunc"), self.raw, self.shape, bits))

    def __matmul__(self, other: Any) -> Shared:
        a, b = self, other
        if _is_public(b):
            return _public_matmul(a, np.asarray(b), left=False)
        if a.ndim not in (1, 2) or b.ndim not in (1, 2) or a.shape[-1] != b.shape[0]:
            raise ValueError(f"matmul: shapes {a.shape} and {b.shape} are not aligned")
        m = 1 if a.ndim == 1 else a.shape[0]
        n = 1 if b.ndim == 1 else b.shape[1]
        k = b.shape[0]
        a2 = a.reshape((m, k))
        b2 = b.reshape((k, n))
        out_shape = tuple(([m] if a.ndim == 2 else []) + ([n] if b.ndim == 2 else []))
        engine = self.m.engine
        if a.kind == "fixed" and b.kind == "fixed":
            raw = engine.matmul_trunc(self.m.sub("matmul"), a2.raw, b2.raw, m, k, n, self.m.frac)
            kind = "fixed"
        else:
            raw = engine.matmul(self.m.sub("matmul"), a2.raw, b2.raw, m, k, n)
            kind = "fixed" if "fixed" in (a.kind, b.kind) else "int"
        return self._new(raw, (m, n), kind).reshape(out_shape)

    def __rmatmul__(self, other: Any) -> Shared:
        return _public_matmul(self, np.asarray(other), left=True)

    def __truediv__(self, other: Any) -> Shared:
        if _is_public(other):
            return self * (1.0 / np.asarray(other, dtype=np.float64))
        raise TypeError(_DIVISION_HINT)

    def __rtruediv__(self, other: Any) -> Shared:
        raise TypeError(_DIVISION_HINT)

    # ------------------------------------------------------------------------------ structure
    def reshape(self, *shape: Any) -> Shared:
        """Same elements, new shape."""
        target = tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else tuple(shape)
        new_shape = np.empty(self.shape, dtype=np.bool_).reshape(target).shape
        return self._local(lambda r: r.reshape(new_shape), new_shape)

    def flatten(self) -> Shared:
        """A 1-D copy."""
        return self.reshape((self.size,))

    def transpose(self, *axes: int) -> Shared:
        """Permute the axes (reversed by default)."""
        order = tuple(axes) if axes else tuple(reversed(range(self.ndim)))
        shape = tuple(self.shape[a] for a in order)
        return self._local(lambda r: np.array(np.transpose(r, order), order="C"), shape)

    @property
    def T(self) -> Shared:  # noqa: N802 - numpy's name
        """The transpose."""
        return self.transpose()

    def __getitem__(self, index: Any) -> Shared:
        probe = np.empty(self.shape, dtype=np.bool_)[index]
        return self._local(lambda r: np.array(r[index], order="C"), probe.shape)

    def sum(self, axis: int | None = None, keepdims: bool = False) -> Shared:
        """Sum along an axis (local)."""
        shape = np.empty(self.shape, dtype=np.bool_).sum(axis=axis, keepdims=keepdims).shape
        kind = "int" if self.kind == "bool" else self.kind
        return self._local(lambda r: np.asarray(np.sum(r, axis=axis, keepdims=keepdims, dtype=DTYPE)), shape,
                           kind=kind)

    def mean(self, axis: int | None = None, keepdims: bool = False) -> Shared:
        """Mean along an axis (a sum and one public multiplication)."""
        count = self.size if axis is None else self.shape[axis]
        return self.astype("fixed").sum(axis=axis, keepdims=keepdims) * (1.0 / count)

    # ----------------------------------------------------------------------------- comparisons
    def __lt__(self, other: Any) -> Shared:
        return sign_bits(self - other)

    def __gt__(self, other: Any) -> Shared:
        return sign_bits(-self + other)

    def __le__(self, other: Any) -> Shared:
        return (1 - (self > other))._new_kind("bool")

    def __ge__(self, other: Any) -> Shared:
        return (1 - (self < other))._new_kind("bool")

    def __eq__(self, other: Any) -> Shared:  # type: ignore[override]
        return equal(self, other)

    def __ne__(self, other: Any) -> Shared:  # type: ignore[override]
        return (1 - (self == other))._new_kind("bool")

    __hash__ = None  # type: ignore[assignment]

    # ------------------------------------------------------------------------------ boolean ops
    def __and__(self, other: Shared) -> Shared:
        return (self * other)._new_kind("bool")

    def __or__(self, other: Shared) -> Shared:
        return (self + other - self * other)._new_kind("bool")

    def __xor__(self, other: Shared) -> Shared:
        return (self + other - 2 * (self * other))._new_kind("bool")

    def __invert__(self) -> Shared:
        if self.kind != "bool":
            raise TypeError("~ is defined for secret booleans only")
        return (1 - self)._new_kind("bool")

    def __abs__(self) -> Shared:
        return absolute(self)


def _as_arrays(raw: Any) -> Any:
    """Numpy scalars (what 0-d arithmetic returns) back to 0-d arrays, inside replicated pairs too."""
    if isinstance(raw, tuple):
        return tuple(np.asarray(r) if isinstance(r, np.generic) else r for r in raw)
    return np.asarray(raw) if isinstance(raw, np.generic) else raw


def _public_matmul(secret: Shared, public: np.ndarray, *, left: bool) -> Shared:
    """``public @ secret`` (left) or ``secret @ public``: local ring products, then truncation if fixed."""
    fixed = public.dtype.kind == "f" or secret.kind == "fixed"
    me = secret.astype("fixed") if fixed else secret
    if public.dtype.kind == "f":
        value = encode(public, secret.m.frac, field="public operand")
        rescale = True
    else:
        value = encode_int(public.astype(np.int64), field="public operand")
        rescale = False
    lhs_shape = public.shape if left else me.shape
    rhs_shape = me.shape if left else public.shape
    out_shape = np.matmul(np.zeros(lhs_shape), np.zeros(rhs_shape)).shape

    def product(r: np.ndarray) -> np.ndarray:
        a, b = (value, r) if left else (r, value)
        a2 = a.reshape((1, -1)) if a.ndim == 1 else a
        b2 = b.reshape((-1, 1)) if b.ndim == 1 else b
        return ring_matmul(a2, b2).reshape(out_shape)

    out = me._local(product, out_shape, kind="fixed" if fixed else "int")
    return out.trunc(secret.m.frac) if rescale else out


def concatenate(arrays: Sequence[Shared], axis: int = 0) -> Shared:
    """Join secret arrays along an axis (local)."""
    first = arrays[0]
    kinds = {a.kind for a in arrays}
    items = [a.astype("fixed") for a in arrays] if "fixed" in kinds else list(arrays)
    shape = np.concatenate([np.empty(a.shape, dtype=np.bool_) for a in items], axis=axis).shape
    raw = first.m.engine.local(lambda *rs: np.concatenate(rs, axis=axis), *[a.raw for a in items])
    kind = "fixed" if "fixed" in kinds else (kinds.pop() if len(kinds) == 1 else "int")
    return Shared(first.m, raw, shape, kind)


def sign_bits(x: Shared, magnitude: int = 63) -> Shared:
    """``x < 0`` as a secret boolean: the top bit of the two's-complement encoding.

    With a public bound ``|x| < 2^magnitude`` on the ring value (``magnitude < 63``) the sign is bit
    ``magnitude`` of ``x + 2^magnitude``, whose carry needs only the low ``magnitude`` bits: on 32-bit
    words for ``magnitude <= 31``, about half the AND gates of a full comparison. A value beyond the
    bound gives a wrong bit.
    """
    if magnitude >= 63:
        raw = x.m.engine.bits(x.m.sub("lt"), x.raw, x.shape, [63])
        return Shared(x.m, raw, (1, *x.shape), "bool").reshape(x.shape)
    shifted = Shared(x.m, x.m.engine.add_public(x.raw, np.uint64(1 << magnitude)), x.shape, x.kind)
    raw = x.m.engine.bits(x.m.sub("lt"), shifted.raw, x.shape, [magnitude])
    return (1 - Shared(x.m, raw, (1, *x.shape), "int").reshape(x.shape))._new_kind("bool")


def bit_slices(x: Shared, positions: Sequence[int]) -> Shared:
    """Secret 0/1 integers of the bits of ``x``'s encoding at ``positions``; shape ``(len(positions),) + shape``."""
    raw = x.m.engine.bits(x.m.sub("bits"), x.raw, x.shape, list(positions))
    return Shared(x.m, raw, (len(positions), *x.shape), "int")


def equal(a: Shared, b: object) -> Shared:
    """``a == b``: neither ``a - b < 0`` nor ``b - a < 0`` (one batched sign extraction)."""
    d = a - b
    both = sign_bits(concatenate([d.flatten(), (-d).flatten()]))
    n = d.size
    return (1 - both[:n] - both[n:])._new_kind("bool").reshape(d.shape)


def absolute(x: Shared) -> Shared:
    """``|x|``: ``x * (1 - 2 [x < 0])``."""
    return x * (1 - 2 * sign_bits(x))


def check_party_value(value: np.ndarray, party: str) -> np.ndarray:
    """A party's numpy input as a float/int/bool array, or InputError naming the party."""
    arr = np.asarray(value)
    if arr.dtype.kind not in "fiub":
        raise InputError(f"input has dtype {arr.dtype}; expected a numeric or boolean array", party=party,
                         field="input")
    return arr
