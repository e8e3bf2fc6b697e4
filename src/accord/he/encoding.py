"""Fixed-point encoding of integers, floats and negative numbers into the Paillier plaintext ring ``Z_n``.

A real ``x`` becomes the integer ``round(x * 2**frac_bits)``, and a negative integer ``v`` becomes
``v mod n``. The encoding declares a range, ``|x| < 2**int_bits``, and encryption refuses values
outside it. Every ciphertext array carries the resulting public bound ``2**bound_bits`` on its
plaintexts' magnitude through each operation (sums add bits, products add the multiplier's bits).
Decryption raises :class:`~accord.errors.CryptoError` instead of returning a value that may have
wrapped modulo n: when the bound has reached the key's range (``max_int = n // 3 - 1``, python-paillier's
convention), and when a decrypted value exceeds its bound (which a wrapped value does with
overwhelming probability, and a malformed or dishonest input may). Multiplying by a float scalar
encoded with ``g`` fractional bits adds ``g`` to the array's ``frac_bits`` (the scale is tracked by
:class:`~accord.he.cipher_array.CipherArray`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from accord.errors import CryptoError, InputError

_INT_KINDS = "iub"


@dataclass(frozen=True)
class FixedPoint:
    """How real numbers are scaled to integers before encryption.

    Parameters
    ----------
    frac_bits:
        Fractional bits: reals are rounded to the nearest multiple of ``2**-frac_bits`` (default 32,
        i.e. an absolute precision of 1.2e-10 per encrypted value). Integer inputs are encrypted
        exactly with no fractional bits.
    scalar_frac_bits:
        Fractional bits of real *plaintext* operands (multipliers, dot-product weights); the product
        of an array with ``f`` fractional bits by such an operand has ``f + scalar_frac_bits``.
    int_bits:
        Declared range of encrypted values: ``|x| < 2**int_bits`` (default 64). It is public, sets
        the starting overflow bound, and costs nothing to raise.

    Examples
    --------
    >>> fp = FixedPoint(frac_bits=4)
    >>> fp.scale(np.array([1.5, -0.25]), 4)
    [24, -4]
    """

    frac_bits: int = 32
    scalar_frac_bits: int = 32
    int_bits: int = 64

    def __post_init__(self) -> None:
        for name in ("frac_bits", "scalar_frac_bits", "int_bits"):
            value = getattr(self, name)
            if not isinstance(value, int) or not 0 <= value <= 8192:
                raise ValueError(f"{name} must be an integer in [0, 8192], got {value!r}")

    def frac_bits_for(self, values: np.ndarray) -> int:
        """Fractional bits to encrypt ``values`` with: 0 for integer arrays, ``frac_bits`` otherwise."""
        integral = values.dtype.kind in _INT_KINDS or (values.dtype == object and _all_ints(values))
        return 0 if integral else self.frac_bits

    def scale(self, values: np.ndarray, frac_bits: int, *, party: str | None = None,
              field: str = "values") -> list[int]:
        """``round(v * 2**frac_bits)`` for every element, as Python ints in C order.

        Raises :class:`~accord.errors.InputError` for NaN, infinities and non-numeric elements.
        """
        array = np.asarray(values)
        if array.dtype.kind in _INT_KINDS:
            flat = array.astype(np.int64, copy=False).ravel().tolist() if array.dtype != np.uint64 \
                else [int(v) for v in array.ravel()]
            return [v << frac_bits for v in flat] if frac_bits else flat
        if array.dtype == object:
            return [_scale_object(v, frac_bits, party, field) for v in array.ravel()]
        if array.dtype.kind != "f":
            raise InputError(f"{field} must be numeric, got dtype {array.dtype}", party=party, field=field)
        floats = array.astype(np.float64, copy=False).ravel()
        if not np.all(np.isfinite(floats)):
            raise InputError(f"{field} contains NaN or infinite values, which cannot be encrypted",
                             party=party, field=field)
        scaled = np.rint(np.ldexp(floats, frac_bits))
        if scaled.size and np.abs(scaled).max() < 2.0**62:
            return scaled.astype(np.int64).tolist()
        return [int(v) for v in scaled]


def _all_ints(values: np.ndarray) -> bool:
    return all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in values.ravel())


def _scale_object(value: Any, frac_bits: int, party: str | None, field: str) -> int:
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return int(value) << frac_bits
    if isinstance(value, (float, np.floating)) and np.isfinite(value):
        return int(np.rint(np.ldexp(float(value), frac_bits)))
    raise InputError(f"{field} holds {value!r}, which is not a finite number", party=party, field=field)


def check_range(values: list[int], max_int: int, *, party: str | None, field: str,
                bound_bits: int | None = None) -> None:
    """Refuse values beyond the key's encodable range (they would wrap modulo n) or the declared range."""
    limit = max_int if bound_bits is None else min(max_int, (1 << bound_bits) - 1)
    for i, v in enumerate(values):
        if v > limit or -v > limit:
            raise InputError(f"{field}[{i}] is out of range: its fixed-point encoding has "
                             f"{abs(v).bit_length()} bits, at most {limit.bit_length()} are allowed (raise "
                             "FixedPoint.int_bits for a wider declared range)", party=party, field=field)


def check_bound(values: list[int], bound_bits: int, max_int: int) -> None:
    """Raise :class:`~accord.errors.CryptoError` unless the bound fits the key and every value respects it."""
    if bound_bits >= max_int.bit_length():
        raise CryptoError(f"overflow possible: the computation's bound 2**{bound_bits} reaches the key's range "
                          f"(2**{max_int.bit_length() - 1}), so a decrypted value could have wrapped modulo n; use a "
                          "larger key, fewer multiplications, or a smaller declared range (FixedPoint.int_bits)")
    limit = 1 << bound_bits
    for i, v in enumerate(values):
        if not -limit < v < limit:
            raise CryptoError(f"overflow detected on decryption: element {i} exceeds the bound 2**{bound_bits} "
                              "that the computation guarantees; the result wrapped modulo n")


def unscale(values: list[int], frac_bits: int, shape: tuple[int, ...]) -> np.ndarray:
    """Signed integers divided by ``2**frac_bits``: float64 when ``frac_bits > 0``, else exact integers.

    Integers that do not fit int64 come back in an object array of Python ints.
    """
    fits = all(-(1 << 62) < v < (1 << 62) for v in values)
    if frac_bits == 0:
        return np.array(values, dtype=np.int64 if fits else object).reshape(shape)
    if fits:
        return np.ldexp(np.array(values, dtype=np.int64).astype(np.float64), -frac_bits).reshape(shape)
    divisor = 1 << frac_bits
    return np.array([v / divisor for v in values], dtype=np.float64).reshape(shape)
