"""How a dealer derives each correlation from two seeded streams (pure functions, no I/O).

The dealer shares one PRG key with each computing party. For every correlation the first party's
whole share and the random part of the second party's share are expanded from those keys, so they
cost no traffic; the dealer sends the second party only the *correction*, the part of its share that
makes the correlation hold (e.g. ``c1 = (a0 + a1)(b0 + b1) - c0``). Each kind below is four
functions: the first party's share, the second party's seeded part, the correction, and the second
party's share from seeded part and correction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from accord.crypto.random import Rng
from accord.math.matmul import ring_matmul
from accord.math.ring import DTYPE

_LOW63 = np.uint64((1 << 63) - 1)


def words(rng: Rng, shape: tuple[int, ...], dtype: np.dtype | type) -> np.ndarray:
    """Uniform words of an unsigned integer dtype."""
    dt = np.dtype(dtype)
    return rng.uint8((int(np.prod(shape)) * dt.itemsize,)).view(dt).reshape(shape)


def bits(rng: Rng, shape: tuple[int, ...]) -> np.ndarray:
    """Uniform bits as ``uint8`` 0/1."""
    return rng.uint8(shape) & np.uint8(1)


@dataclass(frozen=True)
class Kind:
    """One correlation: how to expand the two seeded parts and derive the correction."""

    first: Callable[[Rng], tuple[np.ndarray, ...]]
    second_seeded: Callable[[Rng], tuple[np.ndarray, ...]]
    correction: Callable[[tuple[np.ndarray, ...], tuple[np.ndarray, ...]], list[np.ndarray]]
    second: Callable[[tuple[np.ndarray, ...], list[np.ndarray]], tuple[np.ndarray, ...]]
    specs: Callable[[], list[tuple[tuple[int, ...], np.dtype]]]


def triple_kind(shape: tuple[int, ...]) -> Kind:
    """Beaver triples (a, b, c = a * b) in Z_2^64."""
    return Kind(
        first=lambda g: (g.uint64(shape), g.uint64(shape), g.uint64(shape)),
        second_seeded=lambda g: (g.uint64(shape), g.uint64(shape)),
        correction=lambda s0, s1: [(s0[0] + s1[0]) * (s0[1] + s1[1]) - s0[2]],
        second=lambda s1, c: (s1[0], s1[1], c[0]),
        specs=lambda: [(shape, DTYPE)],
    )


def square_kind(shape: tuple[int, ...]) -> Kind:
    """Square pairs (a, c = a * a) in Z_2^64."""
    def corr(s0: tuple[np.ndarray, ...], s1: tuple[np.ndarray, ...]) -> list[np.ndarray]:
        a = s0[0] + s1[0]
        return [a * a - s0[1]]

    return Kind(
        first=lambda g: (g.uint64(shape), g.uint64(shape)),
        second_seeded=lambda g: (g.uint64(shape),),
        correction=corr,
        second=lambda s1, c: (s1[0], c[0]),
        specs=lambda: [(shape, DTYPE)],
    )


def matrix_kind(m: int, k: int, n: int) -> Kind:
    """Matrix triples (A, B, C = A @ B) in Z_2^64."""
    return Kind(
        first=lambda g: (g.uint64((m, k)), g.uint64((k, n)), g.uint64((m, n))),
        second_seeded=lambda g: (g.uint64((m, k)), g.uint64((k, n))),
        correction=lambda s0, s1: [ring_matmul(s0[0] + s1[0], s0[1] + s1[1]) - s0[2]],
        second=lambda s1, c: (s1[0], s1[1], c[0]),
        specs=lambda: [((m, n), DTYPE)],
    )


def trunc_kind(shape: tuple[int, ...], shift: int) -> Kind:
    """Truncation triples (r, t = (r mod 2^63) >> shift, s = r >> 63); s is shared modulo 2^32."""
    def corr(s0: tuple[np.ndarray, ...], s1: tuple[np.ndarray, ...]) -> list[np.ndarray]:
        r = s0[0] + s1[0]
        t = (r & _LOW63) >> np.uint64(shift)
        s = (r >> np.uint64(63)).astype(np.uint32)
        return [t - s0[1], s - s0[2].astype(np.uint32)]

    return Kind(
        first=lambda g: (g.uint64(shape), g.uint64(shape), words(g, shape, np.uint32).astype(DTYPE)),
        second_seeded=lambda g: (g.uint64(shape),),
        correction=corr,
        second=lambda s1, c: (s1[0], c[0], c[1].astype(DTYPE)),
        specs=lambda: [(shape, DTYPE), (shape, np.dtype(np.uint32))],
    )


def trunc_cot_kind(shape: tuple[int, ...], shift: int) -> Kind:
    """One-sided truncation correlations: the first party's ``(r, m0)``, the second's ``(rho, m_rho)``.

    ``m_rho = m0 + rho * msb(r) * 2^(64 - shift)``: a correlated OT whose correlation depends on the
    first party's random ``r`` and whose choice bit ``rho`` only the second party knows.
    """
    scale = np.uint64(1 << (64 - shift)) if shift > 0 else np.uint64(0)

    def corr(s0: tuple[np.ndarray, ...], s1: tuple[np.ndarray, ...]) -> list[np.ndarray]:
        return [s0[1] + s1[0].astype(DTYPE) * (s0[0] >> np.uint64(63)) * scale]

    return Kind(
        first=lambda g: (g.uint64(shape), g.uint64(shape)),
        second_seeded=lambda g: (bits(g, shape),),
        correction=corr,
        second=lambda s1, c: (s1[0], c[0]),
        specs=lambda: [(shape, DTYPE)],
    )


def bool_kind(shape: tuple[int, ...], dtype: np.dtype) -> Kind:
    """XOR-shared AND triples on words of ``dtype``."""
    return Kind(
        first=lambda g: (words(g, shape, dtype), words(g, shape, dtype), words(g, shape, dtype)),
        second_seeded=lambda g: (words(g, shape, dtype), words(g, shape, dtype)),
        correction=lambda s0, s1: [((s0[0] ^ s1[0]) & (s0[1] ^ s1[1])) ^ s0[2]],
        second=lambda s1, c: (s1[0], s1[1], c[0]),
        specs=lambda: [(shape, np.dtype(dtype))],
    )


def cross_bool_kind(shape: tuple[int, ...], dtype: np.dtype) -> Kind:
    """Words ``a`` (first party) and ``b`` (second) with XOR shares of ``a & b``."""
    return Kind(
        first=lambda g: (words(g, shape, dtype), words(g, shape, dtype)),
        second_seeded=lambda g: (words(g, shape, dtype),),
        correction=lambda s0, s1: [(s0[0] & s1[0]) ^ s0[1]],
        second=lambda s1, c: (s1[0], c[0]),
        specs=lambda: [(shape, np.dtype(dtype))],
    )


def dabit_kind(shape: tuple[int, ...]) -> Kind:
    """Random bits with both an XOR sharing (uint8) and an additive sharing (uint64)."""
    def corr(s0: tuple[np.ndarray, ...], s1: tuple[np.ndarray, ...]) -> list[np.ndarray]:
        return [(s0[0] ^ s1[0]).astype(DTYPE) - s0[1]]

    return Kind(
        first=lambda g: (bits(g, shape), g.uint64(shape)),
        second_seeded=lambda g: (bits(g, shape),),
        correction=corr,
        second=lambda s1, c: (s1[0], c[0]),
        specs=lambda: [(shape, DTYPE)],
    )


KINDS: dict[str, Callable[..., Kind]] = {
    "triples": triple_kind, "square_pairs": square_kind, "matrix_triples": matrix_kind,
    "trunc_pairs": trunc_kind, "trunc_cots": trunc_cot_kind, "bool_triples": bool_kind,
    "cross_bool_triples": cross_bool_kind, "dabits": dabit_kind,
}


def kind(name: str, *args: Any) -> Kind:
    """The correlation ``name`` with its size arguments."""
    return KINDS[name](*args)
