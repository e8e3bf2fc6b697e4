"""Fixed-point encoding of reals into Z_2^64: ``x`` is stored as ``round(x * 2^frac)`` in two's complement.

The default of 18 fractional bits matches SPU's choice for 64-bit rings. A product of two encoded
values carries ``2 * frac`` fractional bits until it is truncated, and truncation needs its input
below 2^62 in magnitude, so the safe range is ``|x * y| < 2^(62 - 2 * frac)`` for every product
(2^26 at 18 bits). :func:`encode` refuses inputs above ``2^(62 - 2 * frac)`` so that a value can at
least be multiplied by anything of magnitude up to 1, and it refuses NaN and infinities.
"""

from __future__ import annotations

import numpy as np

from accord.errors import InputError
from accord.math.ring import DTYPE, to_ring, to_signed

DEFAULT_FRAC = 18
# Truncation shifts by at most 31 bits (its carry share lives modulo 2^32), and sigmoid squares values
# scaled by 2^(frac + 2), which must stay below 2^62: both hold up to 28 fractional bits.
MAX_FRAC = 28
MAX_TRUNC_BITS = 31


def check_frac(frac: int) -> int:
    """Validate a number of fractional bits (0 to 28, see ``MAX_FRAC``)."""
    if not isinstance(frac, int) or not 0 <= frac <= MAX_FRAC:
        raise ValueError(f"fractional bits must be an integer in [0, {MAX_FRAC}], got {frac!r}")
    return frac


def bound(frac: int) -> float:
    """Largest magnitude :func:`encode` accepts with ``frac`` fractional bits."""
    return float(2 ** (62 - 2 * check_frac(frac)))


def encode(values: np.ndarray | float, frac: int, *, party: str | None = None,
           field: str = "input", limit: float | None = None) -> np.ndarray:
    """Reals as fixed-point ring elements, or :class:`~accord.errors.InputError` naming party and field.

    ``limit`` overrides the accepted magnitude (public constants that are only added may go up to
    ``2^(62 - frac)``).

    Examples
    --------
    >>> decode(encode([1.5, -2.25], 18), 18).tolist()
    [1.5, -2.25]
    """
    arr = np.asarray(values, dtype=np.float64)
    if not np.all(np.isfinite(arr)):
        raise InputError(f"{field} contains NaN or infinity; fixed-point needs finite values", party=party,
                         field=field)
    limit = bound(frac) if limit is None else limit
    if arr.size and float(np.max(np.abs(arr))) >= limit:
        raise InputError(f"{field} has magnitude up to {float(np.max(np.abs(arr))):.6g}, outside the fixed-point "
                         f"range |x| < {limit:.6g} for {frac} fractional bits",
                         party=party, field=field)
    return np.rint(arr * float(2**frac)).astype(np.int64).view(DTYPE)


def decode(values: np.ndarray, frac: int) -> np.ndarray:
    """Fixed-point ring elements back to float64."""
    return to_signed(np.asarray(values, dtype=DTYPE)).astype(np.float64) / float(2 ** check_frac(frac))


def encode_int(values: np.ndarray | int, *, party: str | None = None, field: str = "input") -> np.ndarray:
    """Integers (|x| < 2^62, so differences stay comparable) as ring elements."""
    arr = np.asarray(values)
    if arr.dtype.kind == "u" and arr.size and int(arr.max()) >= 2**62:
        raise InputError(f"{field} has values up to {int(arr.max())}, outside |x| < 2^62", party=party, field=field)
    if arr.dtype.kind == "i" and arr.size and int(np.max(np.abs(arr.astype(np.int64)))) >= 2**62:
        raise InputError(f"{field} has magnitude up to 2^62 or more; secret integers need |x| < 2^62",
                         party=party, field=field)
    return to_ring(arr)
