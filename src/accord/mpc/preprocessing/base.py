"""The interface every source of correlated randomness implements, and the checks on what peers send.

Two computing parties, called *first* and *second*, consume correlations in an online phase; who
produces them differs (a trusted dealer, one of the parties in an insecure test mode, or the two
parties themselves through oblivious transfer). Every method is called by every participant of the
provider, in the same order (SPMD), with a context that includes all of them; computing parties get
their share of the correlation and the dealer gets ``None``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

from accord.errors import MalformedMessage
from accord.runtime.context import Context

Shape = tuple[int, ...]


@dataclass(frozen=True)
class Roles:
    """Who computes and who deals in a two-party engine, seen from party ``me``.

    ``index`` is 0 for the first computing party, 1 for the second and ``None`` for the dealer (or the
    helper party of a three-party engine, which deals to the other two).
    """

    first: str
    second: str
    me: str
    dealer: str | None = None

    @property
    def index(self) -> int | None:
        """0, 1 or ``None`` (dealer)."""
        return {self.first: 0, self.second: 1}.get(self.me)

    @property
    def computing(self) -> tuple[str, str]:
        """The two computing parties, first then second."""
        return (self.first, self.second)

    @property
    def peer(self) -> str:
        """The other computing party (only meaningful at a computing party)."""
        return self.second if self.me == self.first else self.first


class CorrelationProvider(Protocol):
    """Correlated randomness for two-party additive (Z_2^64) and XOR sharing.

    Each method returns the tuple its docstring names; every array in it is this party's share, and
    reconstruction is ``+`` modulo 2^64 for arithmetic values and ``^`` for boolean words. A dealer
    (``roles.index is None``) gets ``None``.
    """

    roles: Roles
    name: str
    threat_model: str
    one_sided_truncation: bool

    def triples(self, ctx: Context, shape: Shape) -> tuple[np.ndarray, ...] | None:
        """Beaver triples ``(a, b, c)`` with ``c = a * b`` elementwise."""

    def square_pairs(self, ctx: Context, shape: Shape) -> tuple[np.ndarray, ...] | None:
        """Pairs ``(a, c)`` with ``c = a * a`` (for squaring with one opening instead of two)."""

    def matrix_triples(self, ctx: Context, m: int, k: int, n: int) -> tuple[np.ndarray, ...] | None:
        """Matrix triples ``(A, B, C)``, ``A`` of shape (m, k), ``B`` (k, n) and ``C = A @ B``."""

    def trunc_pairs(self, ctx: Context, shape: Shape, bits: int) -> tuple[np.ndarray, ...] | None:
        """Truncation triples ``(r, t, s)``: uniform ``r``, ``t = (r mod 2^63) >> bits`` and ``s = r >> 63``.

        ``s`` is shared modulo 2^32 only (it is always multiplied by ``2^(63 - bits)``).
        """

    def trunc_cots(self, ctx: Context, shape: Shape, bits: int) -> tuple[np.ndarray, ...] | None:
        """One-sided truncation correlations: the first party gets ``(r, m0)`` with ``r`` uniform and known
        to it alone, the second ``(rho, m_rho)`` with a random bit ``rho`` and
        ``m_rho = m0 + rho * msb(r) * 2^(64 - bits)`` (not additive shares: a correlated OT).
        """

    def bool_triples(self, ctx: Context, shape: Shape, dtype: np.dtype) -> tuple[np.ndarray, ...] | None:
        """XOR-shared AND triples on words of ``dtype``: ``c = a & b``."""

    def cross_bool_triples(self, ctx: Context, shape: Shape, dtype: np.dtype) -> tuple[np.ndarray, ...] | None:
        """Random words ``u`` held whole by one party plus an XOR share of ``a & b``.

        The first party gets ``(a, c0)``, the second ``(b, c1)`` with ``c0 ^ c1 = a & b``. This is
        what an AND of two values each held in full by one party needs (one word sent each way).
        """

    def dabits(self, ctx: Context, shape: Shape) -> tuple[np.ndarray, ...] | None:
        """Random bits shared both ways: ``(u8 XOR share, uint64 additive share)`` of the same bit."""


@runtime_checkable
class FanTriples(Protocol):
    """A provider of Beaver triples in which one factor multiplies several others."""

    roles: Roles

    def fan_triples(self, ctx: Context, n: int, width: int) -> tuple[np.ndarray, ...]:
        """``(a, b, c)``: ``a`` of shape ``(n,)``, ``b`` and ``c`` of ``(width, n)`` with ``c = a * b`` row by row."""


@runtime_checkable
class BitProducts(Protocol):
    """A provider that multiplies secret bits by secret values directly (without a Beaver triple)."""

    def bit_products(self, ctx: Context, bits: np.ndarray, values: np.ndarray) -> np.ndarray:
        """Shares of ``c * x`` from this party's XOR share of ``c`` (uint8) and additive share of ``x``."""


@runtime_checkable
class OwnedProducts(Protocol):
    """A provider that multiplies a matrix one party holds in the clear by fresh shared vectors."""

    def own(self, ctx: Context, owner: str, values: np.ndarray | None, shape: tuple[int, int], bits: int) -> Any:
        """Prepare the owner's ``(rows, d)`` matrix of integers below ``2^(bits - 1)`` in absolute value."""

    def owned_product(self, ctx: Context, state: Any, owner: str, shared: np.ndarray, index: int) -> np.ndarray:
        """This party's share of ``matrix @ shared`` (``state`` from :meth:`own`, sliced or transposed)."""

    def next_products(self, count: int) -> None:
        """Close a call of ``count`` products numbered from 0 (each product needs its own tweak)."""


def expect_array(value: object, *, peer: str, step: str, shape: Shape, dtype: np.dtype | type) -> np.ndarray:
    """``value`` if it is an array of exactly ``shape`` and ``dtype``; otherwise MalformedMessage naming ``peer``."""
    want = np.dtype(dtype)
    if not isinstance(value, np.ndarray) or value.dtype != want or value.shape != tuple(shape):
        got = (f"array {value.dtype} {value.shape}" if isinstance(value, np.ndarray) else type(value).__name__)
        raise MalformedMessage(f"party {peer!r} sent {got} for {step!r}; expected {want} array of shape "
                               f"{tuple(shape)}", party=peer, step=step)
    return value


def check_shape(shape: Shape) -> Shape:
    """A shape as a tuple of non-negative ints (local argument check)."""
    out = tuple(int(d) for d in shape)
    if any(d < 0 for d in out):
        raise ValueError(f"invalid shape {shape!r}")
    return out
