"""Packing several bounded signed values into one Paillier plaintext, so one decryption yields many.

A packed plaintext is ``P = sum_i s_i * 2**(i * w)`` for slot values ``s_i`` and slot width ``w``.
Packing is linear, so the sum of packed ciphertexts decrypts to the slot-wise sums, and negative slot
values need no offset: ``P`` is decoded as balanced base-``2**w`` digits, which is exact while every
slot sum satisfies ``|S| < 2**(w - 1)``.

A layout declares each value's bound ``|v * 2**frac_bits| < 2**value_bits`` and ``max_terms``, the
number of packed vectors that may ever be added into one result. The slot width is
``w = value_bits + ceil(log2(max_terms)) + 2``: one bit for the sign and one guard bit. Decoding
checks every slot against the declared bound ``2**(w - 2)``, so a sum that left its declared range by
up to a factor of three (including one that wrapped and carried into its neighbour) raises
:class:`~accord.errors.CryptoError` instead of returning wrong numbers.

This is the layout SecureBoost needs: the label holder packs each sample's (gradient, hessian) pair,
the partner adds them per bucket, :meth:`~accord.he.cipher_array.PackedCipherArray.compress` shifts
several bucket sums into one ciphertext, and one decryption returns dozens of sums.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from accord.errors import CryptoError, InputError
from accord.he.encoding import FixedPoint

_RESERVED_BITS = 3


@dataclass(frozen=True)
class SlotPacking:
    """The slot layout of packed plaintexts.

    Parameters
    ----------
    slots:
        Values per packed vector (2 for a gradient-hessian pair).
    value_bits:
        Every input value, scaled by ``2**frac_bits`` and rounded, has magnitude below ``2**value_bits``.
    max_terms:
        How many packed vectors may be summed into one result (the sample count, for histograms).
    frac_bits:
        Fixed-point fractional bits of the values (``0`` for integers).

    Examples
    --------
    >>> layout = SlotPacking.for_sums(slots=2, max_abs=1.0, max_terms=100_000, frac_bits=32)
    >>> layout.slot_bits, layout.vectors_per_plaintext(2048)
    (52, 19)
    """

    slots: int
    value_bits: int
    max_terms: int
    frac_bits: int = 0

    def __post_init__(self) -> None:
        for name, low in (("slots", 1), ("value_bits", 1), ("max_terms", 1), ("frac_bits", 0)):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")

    @classmethod
    def for_sums(cls, *, slots: int, max_abs: float, max_terms: int, frac_bits: int = 32) -> SlotPacking:
        """The layout for sums of up to ``max_terms`` vectors whose entries satisfy ``|v| <= max_abs``."""
        if not max_abs > 0 or not math.isfinite(max_abs):
            raise ValueError(f"max_abs must be a positive finite number, got {max_abs!r}")
        bound = math.ceil(math.ldexp(max_abs, frac_bits)) + 1
        return cls(slots=slots, value_bits=bound.bit_length(), max_terms=max_terms, frac_bits=frac_bits)

    @property
    def sum_bits(self) -> int:
        """Every admissible slot sum has magnitude below ``2**sum_bits``."""
        return self.value_bits + max(0, (self.max_terms - 1).bit_length())

    @property
    def slot_bits(self) -> int:
        """Width ``w`` of one slot: the sum bound plus a sign bit and a guard bit."""
        return self.sum_bits + 2

    def vectors_per_plaintext(self, key_bits: int) -> int:
        """How many packed vectors fit in one plaintext of a ``key_bits`` modulus (at least 1, or an error)."""
        count = (key_bits - _RESERVED_BITS) // (self.slot_bits * self.slots)
        if count < 1:
            raise ValueError(f"a vector of {self.slots} slots of {self.slot_bits} bits does not fit in a "
                             f"{key_bits}-bit plaintext")
        return count

    # ------------------------------------------------------------------------------ packing
    def pack(self, values: np.ndarray, *, party: str | None = None, field: str = "values") -> list[int]:
        """Pack the rows of ``values`` (shape ``(..., slots)``) into one signed integer each."""
        array = np.asarray(values)
        if array.ndim < 1 or array.shape[-1] != self.slots:
            raise InputError(f"{field} must have a last axis of {self.slots} slots, got shape {array.shape}",
                             party=party, field=field)
        scaled = FixedPoint(frac_bits=self.frac_bits).scale(array, self.frac_bits, party=party, field=field)
        limit = 1 << self.value_bits
        for i, v in enumerate(scaled):
            if not -limit < v < limit:
                raise InputError(f"{field} element {i} is outside the packing layout's declared range "
                                 f"(|v| < {math.ldexp(1, self.value_bits - self.frac_bits):g})",
                                 party=party, field=field)
        w, k = self.slot_bits, self.slots
        return [sum(s << (i * w) for i, s in enumerate(scaled[r : r + k])) for r in range(0, len(scaled), k)]

    def unpack(self, packed: list[int], total_slots: int) -> list[int]:
        """Slot sums (signed integers) of each packed plaintext holding ``total_slots`` slots, in order.

        Raises :class:`~accord.errors.CryptoError` when a slot is outside the declared bound: a sum
        exceeded what the layout was declared for, and the neighbouring slots cannot be trusted.
        """
        w = self.slot_bits
        half = 1 << (w - 1)
        mask = (1 << w) - 1
        bound = 1 << self.sum_bits
        offset = sum(half << (i * w) for i in range(total_slots))
        top = 1 << (total_slots * w)
        out: list[int] = []
        for j, value in enumerate(packed):
            shifted = value + offset
            if not 0 <= shifted < top:
                raise CryptoError(f"overflow detected in packed plaintext #{j}: it exceeds {total_slots} slots "
                                  f"of {w} bits")
            for i in range(total_slots):
                digit = ((shifted >> (i * w)) & mask) - half
                if not -bound < digit < bound:
                    raise CryptoError(f"overflow detected in packed plaintext #{j}, slot {i}: a sum left the "
                                      f"layout's declared range (at most {self.max_terms} terms of "
                                      f"|v| < 2**{self.value_bits - self.frac_bits})")
                out.append(digit)
        return out

    def to_wire(self) -> dict[str, int]:
        """The layout as a codec value."""
        return {"slots": self.slots, "value_bits": self.value_bits, "max_terms": self.max_terms,
                "frac_bits": self.frac_bits}

    @classmethod
    def from_wire(cls, value: object) -> SlotPacking:
        """Parse a layout; raises ``ValueError`` for anything malformed (callers name the peer)."""
        if not isinstance(value, dict) or set(value) != {"slots", "value_bits", "max_terms", "frac_bits"}:
            raise ValueError("a packing layout is a map of slots, value_bits, max_terms and frac_bits")
        layout = cls(**value)
        if layout.slot_bits > 1 << 16 or layout.frac_bits > 1 << 12:
            raise ValueError("packing layout is absurdly large")
        return layout
