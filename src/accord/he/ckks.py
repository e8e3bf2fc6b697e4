"""CKKS approximate arithmetic on real vectors through TenSEAL (Microsoft SEAL), an optional extra.

Install with ``pip install 'accord[ckks]'``; without TenSEAL every entry point raises
:class:`~accord.errors.UnsupportedError` saying so. TenSEAL was chosen over OpenFHE because it ships
manylinux wheels for every Python accord supports (5 MB; 0.3.18 verified on 3.11), and its ``CKKSVector``
already offers the operations accord's array API needs (add, multiply by plaintext, dot, vector-matrix
product, sum) on numpy-like vectors; OpenFHE's Python binding exposes the lower-level
``CryptoContext``/``EvalMult`` API.

Default parameters (:class:`CKKSParameters`): ring degree N = 8192 (4096 slots), coefficient moduli
of 60, 40, 40 and 60 bits (200 bits in total, under the 218 that the HomomorphicEncryption.org
standard allows for 128-bit security at N = 8192; SEAL refuses parameter sets above its 128-bit
table), scale 2**40, multiplicative depth 2 (each multiplication by a plaintext uses one level).

Precision (measured, and checked by the tests): with inputs ``|x| <= 1000`` and plaintext weights
``|w| <= 1``, additions stay within 1e-5 absolute error, multiplications by plaintexts within 1e-3, and
dot or vector-matrix products over up to 4096 terms within 1e-2. CKKS is approximate: use Paillier
where results must be exact.

Security: semantic security under the ring-LWE assumption for everyone without the secret key.
**Leakage to the key owner:** a result a partner computed carries noise that depends on the partner's
plaintext operands (for ``x * w`` it includes ``e_x * w``, and the owner can know ``e_x``). TenSEAL
offers no noise flooding, so the key owner may learn more about those operands than the approximate
result shows. Use CKKS only where the key owner may learn the operands, and Paillier (whose
re-randomisation is exact) otherwise; for the same reason CKKS is not offered through
:class:`~accord.devices.he.HEDevice`. Decrypted CKKS values must not be shown to parties that hold
ciphertexts under the same key (Li and Micciancio, EUROCRYPT 2021).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from accord.errors import ConfigurationError, CryptoError, InputError, MalformedMessage, UnsupportedError


def _tenseal() -> Any:
    try:
        import tenseal
    except ImportError:
        raise UnsupportedError("CKKS needs TenSEAL, which is not installed: pip install 'accord[ckks]'") from None
    return tenseal


@dataclass(frozen=True)
class CKKSParameters:
    """CKKS parameters; the defaults give 128-bit security, 4096 slots and depth 2.

    Parameters
    ----------
    poly_modulus_degree:
        Ring degree N (a power of two); vectors hold up to N / 2 values.
    coeff_mod_bit_sizes:
        Bit sizes of the coefficient modulus chain: special primes first and last, one middle prime
        (of ``scale_bits``) per multiplication level.
    scale_bits:
        Fixed-point scale ``2**scale_bits`` of encoded values.
    """

    poly_modulus_degree: int = 8192
    coeff_mod_bit_sizes: tuple[int, ...] = (60, 40, 40, 60)
    scale_bits: int = 40

    @property
    def slots(self) -> int:
        """Values one ciphertext holds."""
        return self.poly_modulus_degree // 2

    @property
    def depth(self) -> int:
        """Multiplications (by plaintexts) a ciphertext supports."""
        return len(self.coeff_mod_bit_sizes) - 2

    def describe(self) -> str:
        """One line for reports."""
        return (f"CKKS N={self.poly_modulus_degree}, moduli {list(self.coeff_mod_bit_sizes)} bits, "
                f"scale 2^{self.scale_bits}, depth {self.depth}, 128-bit security")


class CKKS:
    """A CKKS key (TenSEAL context): encrypt real vectors, compute, decrypt at the key owner.

    Examples
    --------
    >>> import numpy as np, pytest
    >>> _ = pytest.importorskip("tenseal")
    >>> he = CKKS.generate()
    >>> x = he.encrypt(np.array([1.0, 2.0, 3.0]))
    >>> round(float(he.decrypt(x.dot(np.array([0.5, 0.5, 0.5])))), 4)
    3.0
    """

    def __init__(self, context: Any, params: CKKSParameters, key_id: str, *, party: str | None = None) -> None:
        self.context = context
        self.params = params
        self.key_id = key_id
        self.party = party

    @classmethod
    def generate(cls, params: CKKSParameters | None = None, *, party: str | None = None) -> CKKS:
        """A fresh secret key with relinearisation and Galois (rotation) keys."""
        ts = _tenseal()
        params = params or CKKSParameters()
        try:
            context = ts.context(ts.SCHEME_TYPE.CKKS, poly_modulus_degree=params.poly_modulus_degree,
                                 coeff_mod_bit_sizes=list(params.coeff_mod_bit_sizes))
        except ValueError as exc:
            raise ConfigurationError(f"CKKS parameters {params} are invalid or below 128-bit security: {exc}") from None
        context.global_scale = 2.0**params.scale_bits
        context.generate_galois_keys()
        return cls(context, params, os.urandom(8).hex(), party=party)

    @property
    def can_decrypt(self) -> bool:
        """Whether this context holds the secret key."""
        return bool(self.context.is_private())

    def public(self) -> CKKS:
        """The same key without its secret part."""
        context = self.context.copy()
        context.make_context_public()
        return CKKS(context, self.params, self.key_id, party=self.party)

    def __repr__(self) -> str:
        return f"<CKKS {self.params.describe()} key {self.key_id} ({'owner' if self.can_decrypt else 'public'})>"

    # ------------------------------------------------------------------------------ arrays
    def encrypt(self, values: Any) -> CKKSArray:
        """Encrypt a 1-D array (at most ``params.slots`` values) or the rows of a 2-D array."""
        ts = _tenseal()
        array = np.asarray(values, dtype=np.float64)
        if array.ndim not in (1, 2) or array.shape[-1] == 0 or array.shape[-1] > self.params.slots:
            raise InputError(f"CKKS encrypts 1-D or 2-D arrays with 1 to {self.params.slots} values per row, got "
                             f"shape {array.shape}", party=self.party, field="values")
        if not np.all(np.isfinite(array)):
            raise InputError("values contain NaN or infinity", party=self.party, field="values")
        rows = array.reshape(-1, array.shape[-1])
        return CKKSArray(self, [ts.ckks_vector(self.context, row.tolist()) for row in rows], array.shape)

    def decrypt(self, array: CKKSArray) -> np.ndarray:
        """Decrypted values (approximate) in the array's shape."""
        if not self.can_decrypt:
            raise ConfigurationError(f"party {self.party!r} holds only the public CKKS context and cannot decrypt")
        if array.engine.key_id != self.key_id:
            raise ConfigurationError(f"these ciphertexts are under CKKS key {array.engine.key_id}, not {self.key_id}")
        values = [np.array(part.decrypt(self.context.secret_key()), dtype=np.float64) for part in array.parts]
        return np.concatenate(values).reshape(array.shape)

    # --------------------------------------------------------------------------------- wire
    def to_wire(self) -> dict[str, Any]:
        """The public context (no secret key; tens of MB with rotation keys) as a codec value."""
        context = self.context.copy()
        context.make_context_public()
        return {"scheme": "ckks-tenseal", "key": self.key_id, "context": context.serialize(),
                "poly_modulus_degree": self.params.poly_modulus_degree,
                "coeff_mod_bit_sizes": list(self.params.coeff_mod_bit_sizes), "scale_bits": self.params.scale_bits}

    @classmethod
    def from_wire(cls, value: Any, *, party: str | None, step: str, me: str | None = None) -> CKKS:
        """A public context a peer sent (TenSEAL's protobuf format, parsed by SEAL, never unpickled)."""
        ts = _tenseal()

        def bad(why: str) -> MalformedMessage:
            return MalformedMessage(f"party {party!r} sent an invalid CKKS context: {why}", party=party, step=step)

        if not isinstance(value, dict) or value.get("scheme") != "ckks-tenseal":
            raise bad("expected a map with scheme 'ckks-tenseal'")
        sizes = value.get("coeff_mod_bit_sizes")
        if not isinstance(sizes, list) or not all(isinstance(b, int) for b in sizes):
            raise bad("coeff_mod_bit_sizes must be a list of integers")
        try:
            params = CKKSParameters(int(value["poly_modulus_degree"]), tuple(sizes), int(value["scale_bits"]))
            context = ts.context_from(bytes(value["context"]))
        except (KeyError, TypeError, ValueError, RuntimeError) as exc:
            raise bad(str(exc)) from None
        if context.is_private():
            raise bad("it contains a secret key")
        if not isinstance(value.get("key"), str):
            raise bad("missing key id")
        return cls(context, params, value["key"], party=me)

    def receive(self, value: Any, *, party: str | None, step: str) -> CKKSArray:
        """Ciphertexts a peer sent with :meth:`CKKSArray.to_wire`, checked and bound to this context."""
        ts = _tenseal()

        def bad(why: str) -> MalformedMessage:
            return MalformedMessage(f"party {party!r} sent malformed CKKS ciphertexts: {why}", party=party, step=step)

        if not isinstance(value, dict) or value.get("kind") != "ckks" or value.get("key") != self.key_id:
            raise bad(f"expected kind 'ckks' under key {self.key_id}")
        shape, data = value.get("shape"), value.get("data")
        if (not isinstance(shape, list) or len(shape) > 2
                or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 1 for d in shape)):
            raise bad(f"shape {shape!r} is not a list of at most two positive integers")
        width = shape[-1] if shape else 1
        rows = int(np.prod(shape[:-1], dtype=np.int64))
        if width > self.params.slots or not isinstance(data, list) or len(data) != rows:
            raise bad(f"expected {rows} vectors of {width} values for shape {shape}")
        parts = []
        for blob in data:
            if not isinstance(blob, bytes):
                raise bad("vectors must be bytes")
            try:
                part = ts.ckks_vector_from(self.context, blob)
            except (ValueError, RuntimeError) as exc:
                raise bad(str(exc)) from None
            if part.size() != width:
                raise bad(f"a vector holds {part.size()} values, expected {width}")
            parts.append(part)
        return CKKSArray(self, parts, tuple(shape))


class CKKSArray:
    """CKKS ciphertexts of a 0-D, 1-D or 2-D real array: one TenSEAL vector per row of the last axis."""

    __array_priority__ = 1000

    def __init__(self, engine: CKKS, parts: list[Any], shape: tuple[int, ...]) -> None:
        self.engine = engine
        self.parts = parts
        self.shape = tuple(shape)

    def __repr__(self) -> str:
        return f"<CKKSArray shape={self.shape} key={self.engine.key_id}>"

    def _like(self, parts: list[Any], shape: tuple[int, ...] | None = None) -> CKKSArray:
        return CKKSArray(self.engine, parts, self.shape if shape is None else shape)

    def _rows(self, plain: Any) -> list[Any]:
        array = np.broadcast_to(np.asarray(plain, dtype=np.float64), self.shape)
        return [row.tolist() for row in array.reshape(len(self.parts), -1)]

    def _apply(self, op: str, fn: Any, shape: tuple[int, ...] | None = None) -> CKKSArray:
        try:
            return self._like(fn(), shape)
        except ValueError as exc:
            if "scale out of bounds" in str(exc):
                raise UnsupportedError(f"{op}: the CKKS parameters allow {self.engine.params.depth} multiplications "
                                       "and they are used up") from None
            raise
        except RuntimeError as exc:
            raise CryptoError(f"{op} failed in SEAL: {exc}") from None

    def __add__(self, other: Any) -> CKKSArray:
        if isinstance(other, CKKSArray):
            if other.shape != self.shape or other.engine.key_id != self.engine.key_id:
                raise ValueError("CKKS arrays must share shape and key to be added")
            return self._apply("add", lambda: [a + b for a, b in zip(self.parts, other.parts)])
        rows = self._rows(other)
        return self._apply("add", lambda: [a + r for a, r in zip(self.parts, rows)])

    __radd__ = __add__

    def __neg__(self) -> CKKSArray:
        return self._like([-a for a in self.parts])

    def __sub__(self, other: Any) -> CKKSArray:
        return self + (-other if isinstance(other, CKKSArray) else -np.asarray(other, dtype=np.float64))

    def __rsub__(self, other: Any) -> CKKSArray:
        return (-self) + other

    def __mul__(self, other: Any) -> CKKSArray:
        if isinstance(other, CKKSArray):
            raise TypeError("accord's CKKS API multiplies ciphertexts by plaintexts only")
        rows = self._rows(other)
        return self._apply("multiply", lambda: [a * r for a, r in zip(self.parts, rows)])

    __rmul__ = __mul__

    def sum(self, axis: int | None = None) -> CKKSArray:
        """Sum of a 1-D array (``axis=None``), or of a 2-D array's rows (``axis=0``)."""
        if len(self.shape) == 1 and axis in (None, 0, -1):
            return self._apply("sum", lambda: [self.parts[0].sum()], ())
        if len(self.shape) == 2 and axis == 0:
            total = self.parts[0]
            for part in self.parts[1:]:
                total = total + part
            return self._like([total], (self.shape[1],))
        raise UnsupportedError(f"CKKS sum over axis {axis} of shape {self.shape} is not supported")

    def dot(self, plain: Any) -> CKKSArray:
        """``self @ plain`` for a plaintext vector or matrix."""
        return self @ plain

    def __matmul__(self, other: Any) -> CKKSArray:
        plain = np.asarray(other, dtype=np.float64)
        if not self.shape or plain.shape[:1] != self.shape[-1:] or plain.ndim not in (1, 2):
            raise InputError(f"cannot multiply CKKS ciphertexts of shape {self.shape} by a plaintext of shape "
                             f"{plain.shape}", party=self.engine.party, field="plaintext operand")
        if plain.ndim == 1:
            if len(self.shape) != 1:
                raise UnsupportedError("CKKS: multiply a 2-D array by an (n, 1) matrix instead of a vector")
            return self._apply("dot", lambda: [self.parts[0].dot(plain.tolist())], ())
        matrix = plain.tolist()
        out_shape = (*self.shape[:-1], plain.shape[1])
        return self._apply("matmul", lambda: [a.matmul(matrix) for a in self.parts], out_shape)

    def to_wire(self) -> dict[str, Any]:
        """The ciphertexts as a codec value (SEAL's serialisation of each vector)."""
        return {"kind": "ckks", "key": self.engine.key_id, "shape": list(self.shape),
                "data": [part.serialize() for part in self.parts]}
