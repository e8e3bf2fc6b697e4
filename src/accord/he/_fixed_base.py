"""Fixed-base modular exponentiation with a precomputed table of byte-wide windows.

For a base ``b`` that never changes (the DJN randomness base), ``b ** e mod m`` for an exponent of
``k`` bytes costs ``k - 1`` modular multiplications and no squarings: row ``i`` of the table holds
``b ** (d * 256 ** i)`` for every byte value ``d``, so the product of one entry per exponent byte is
the power. A 224-bit exponent needs 27 multiplications instead of about 260 for square-and-multiply.
The table for ``k`` windows holds ``256 * k`` residues (3.7 MB for 28 windows modulo a 4096-bit n²).
"""

from __future__ import annotations

import gmpy2
from gmpy2 import mpz


class FixedBaseTable:
    """Powers of one base modulo ``modulus`` for exponents of at most ``windows`` bytes.

    Parameters
    ----------
    base, modulus:
        The fixed base and the modulus (any positive integers).
    windows:
        Exponent length in bytes.

    Examples
    --------
    >>> table = FixedBaseTable(3, 1000003, windows=2)
    >>> table.power((513).to_bytes(2, "little")) == pow(3, 513, 1000003)
    True
    """

    def __init__(self, base: int, modulus: int, windows: int) -> None:
        if windows < 1:
            raise ValueError(f"a fixed-base table needs at least one window, got {windows}")
        self.modulus = mpz(modulus)
        self.windows = windows
        rows: list[list[mpz]] = []
        step = mpz(base) % self.modulus
        for _ in range(windows):
            row = [mpz(1), step]
            for _ in range(254):
                row.append(row[-1] * step % self.modulus)
            rows.append(row)
            step = row[-1] * step % self.modulus
        self._rows = rows

    def power(self, exponent: bytes) -> mpz:
        """``base ** int.from_bytes(exponent, "little") mod modulus`` for ``len(exponent) <= windows``."""
        rows, m = self._rows, self.modulus
        acc = rows[0][exponent[0]]
        for row, digit in zip(rows[1:], exponent[1:]):
            if digit:
                acc = acc * row[digit] % m
        return acc


def crt_pair(xp: mpz, xq: mpz, q_square: mpz, q_square_inv: mpz, p_square: mpz) -> mpz:
    """The residue modulo ``p² q²`` that is ``xp`` mod ``p²`` and ``xq`` mod ``q²`` (Garner's formula)."""
    return xq + q_square * ((xp - xq) * q_square_inv % p_square)


def is_probable_prime(value: int) -> bool:
    """GMP's Baillie-PSW test followed by Miller-Rabin rounds (error below 2**-100 for random inputs)."""
    return bool(gmpy2.is_prime(mpz(value), 30))
