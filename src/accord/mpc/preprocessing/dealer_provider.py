"""Correlated randomness from a dealer that sends PRG keys once and, per correlation, one correction.

:class:`TrustedDealerProvider` is the production two-party mode: a third party, distinct from the two
computing parties and assumed not to collude with either, runs its own SPMD role. At setup it sends
each computing party a fresh 128-bit PRG key; afterwards, for every correlation, both it and the first
party expand the first party's share from the first key, it and the second party expand the random
part of the second party's share from the second key, and it sends the second party the correction
that makes the correlation hold (see :mod:`accord.mpc.preprocessing.dealing`). The first party receives
nothing after setup, so the dealer's traffic is one ring element per triple or truncation pair.

:class:`InsecureSelfDealerProvider` lets the first computing party play dealer. It knows every
correlation and therefore the second party's inputs: it exists for tests only and says so in its name
and threat model.
"""

from __future__ import annotations

import numpy as np

from accord.crypto.random import Rng
from accord.errors import ConfigurationError, MalformedMessage
from accord.mpc.preprocessing.base import Roles, Shape, check_shape, expect_array
from accord.mpc.preprocessing.dealing import Kind, kind
from accord.runtime.context import Context

DEALER_THREAT_MODEL = (
    "semi-honest; 2 computing parties plus a trusted dealer that does not collude with either; the dealer "
    "sees no data, only the randomness it generated"
)
INSECURE_THREAT_MODEL = (
    "INSECURE, for tests only: the first computing party deals its own correlated randomness and can "
    "therefore recover the second party's inputs"
)
_KEY_BYTES = 16


def _stream(key: bytes) -> Rng:
    """The PRG both holders of ``key`` expand, in lockstep: every correlation draws the same words at each."""
    return Rng(seed=b"accord-dealer|" + key)


class SeededProvider:
    """Correlations expanded from per-party PRG keys; ``producer`` computes and sends the corrections.

    Parameters
    ----------
    roles:
        The computing parties and the dealer, seen from this party.
    keys:
        PRG keys this party holds, by computing-party index (the producer holds both).
    producer:
        The party that computes corrections and sends them to the second party.
    name, threat_model:
        Shown in job reports.
    """

    def __init__(self, roles: Roles, keys: dict[int, bytes], producer: str, name: str, threat_model: str) -> None:
        self.roles = roles
        self.name = name
        self.threat_model = threat_model
        # One long-lived stream per key rather than one per correlation (creating an AES context costs
        # more than drawing a small correlation); the SPMD call order keeps the holders in step.
        self._streams = {i: _stream(k) for i, k in keys.items()}
        self._producer = producer
        self._counter = 0
        # Dealt symmetric truncation triples cost one round; the one-sided protocol costs two latencies.
        self.one_sided_truncation = False

    def _get(self, ctx: Context, kd: Kind) -> tuple[np.ndarray, ...] | None:
        counter = self._counter
        self._counter += 1
        tag = f"corr{counter}"
        roles = self.roles
        if roles.me == self._producer:
            s0 = kd.first(self._streams[0])
            s1 = kd.second_seeded(self._streams[1])
            ctx.send(roles.second, [np.asarray(c) for c in kd.correction(s0, s1)], tag)
            return s0 if roles.index == 0 else None
        if roles.index == 0:
            return kd.first(self._streams[0])
        if roles.index == 1:
            s1 = kd.second_seeded(self._streams[1])
            got = ctx.recv(self._producer, tag)
            specs = kd.specs()
            step = f"{ctx.path}/{tag}"
            if not isinstance(got, list) or len(got) != len(specs):
                raise MalformedMessage(f"party {self._producer!r} sent a correction that is not a list of "
                                       f"{len(specs)} arrays for {step!r}", party=self._producer, step=step)
            corr = [expect_array(v, peer=self._producer, step=step, shape=s, dtype=d) for v, (s, d) in zip(got, specs)]
            return kd.second(s1, corr)
        return None

    # The correlation kinds of CorrelationProvider, each a thin call of _get.
    def triples(self, ctx: Context, shape: Shape) -> tuple[np.ndarray, ...] | None:
        """Beaver triples (a, b, c = a * b)."""
        return self._get(ctx, kind("triples", check_shape(shape)))

    def square_pairs(self, ctx: Context, shape: Shape) -> tuple[np.ndarray, ...] | None:
        """Square pairs (a, c = a * a)."""
        return self._get(ctx, kind("square_pairs", check_shape(shape)))

    def matrix_triples(self, ctx: Context, m: int, k: int, n: int) -> tuple[np.ndarray, ...] | None:
        """Matrix triples (A, B, C = A @ B)."""
        return self._get(ctx, kind("matrix_triples", int(m), int(k), int(n)))

    def trunc_pairs(self, ctx: Context, shape: Shape, bits: int) -> tuple[np.ndarray, ...] | None:
        """Truncation triples (r, (r mod 2^63) >> bits, r >> 63)."""
        return self._get(ctx, kind("trunc_pairs", check_shape(shape), int(bits)))

    def trunc_cots(self, ctx: Context, shape: Shape, bits: int) -> tuple[np.ndarray, ...] | None:
        """One-sided truncation correlations ((r, m0) and (rho, m0 + rho msb(r) 2^(64-bits)))."""
        return self._get(ctx, kind("trunc_cots", check_shape(shape), int(bits)))

    def bool_triples(self, ctx: Context, shape: Shape, dtype: np.dtype) -> tuple[np.ndarray, ...] | None:
        """XOR AND triples on words of ``dtype``."""
        return self._get(ctx, kind("bool_triples", check_shape(shape), np.dtype(dtype)))

    def cross_bool_triples(self, ctx: Context, shape: Shape, dtype: np.dtype) -> tuple[np.ndarray, ...] | None:
        """(a | b, XOR share of a & b) with a at the first party and b at the second."""
        return self._get(ctx, kind("cross_bool_triples", check_shape(shape), np.dtype(dtype)))

    def dabits(self, ctx: Context, shape: Shape) -> tuple[np.ndarray, ...] | None:
        """Random bits shared both as XOR (uint8) and additively (uint64)."""
        return self._get(ctx, kind("dabits", check_shape(shape)))


def _recv_key(ctx: Context, frm: str, tag: str) -> bytes:
    key = ctx.recv(frm, tag)
    if not isinstance(key, bytes) or len(key) != _KEY_BYTES:
        raise MalformedMessage(f"party {frm!r} sent a malformed PRG key for {ctx.path}/{tag}", party=frm,
                               step=f"{ctx.path}/{tag}")
    return key


class TrustedDealerProvider(SeededProvider):
    """A third party deals all correlations (production two-party mode; see the module docstring)."""

    @classmethod
    def setup(cls, ctx: Context, roles: Roles) -> TrustedDealerProvider:
        """Run at the two computing parties and the dealer: the dealer sends each its PRG key."""
        if roles.dealer is None or roles.dealer in roles.computing:
            raise ConfigurationError(f"a trusted dealer must be a third party distinct from {list(roles.computing)}")
        if roles.index is None:
            keys = {0: ctx.rng.bytes(_KEY_BYTES), 1: ctx.rng.bytes(_KEY_BYTES)}
            ctx.send(roles.first, keys[0], "key")
            ctx.send(roles.second, keys[1], "key")
        else:
            keys = {roles.index: _recv_key(ctx, roles.dealer, "key")}
        return cls(roles, keys, roles.dealer, "2pc-dealer", DEALER_THREAT_MODEL)


class InsecureSelfDealerProvider(SeededProvider):
    """INSECURE, tests only: the first computing party deals to itself and the second party."""

    @classmethod
    def setup(cls, ctx: Context, roles: Roles, *, allow_insecure_test_mode: bool = False) -> InsecureSelfDealerProvider:
        """Run at both computing parties: the first sends the second its PRG key.

        The first party then holds both keys and can recover the second party's inputs, so the call is
        refused unless ``allow_insecure_test_mode=True`` says the caller is a test.
        """
        if not allow_insecure_test_mode:
            raise ConfigurationError("InsecureSelfDealerProvider lets the first party learn the second party's "
                                     "inputs; it is for tests only and needs allow_insecure_test_mode=True")
        if roles.index == 0:
            keys = {0: ctx.rng.bytes(_KEY_BYTES), 1: ctx.rng.bytes(_KEY_BYTES)}
            ctx.send(roles.second, keys[1], "key")
        else:
            keys = {1: _recv_key(ctx, roles.first, "key")}
        return cls(roles, keys, roles.first, "2pc-INSECURE-self-dealer", INSECURE_THREAT_MODEL)
