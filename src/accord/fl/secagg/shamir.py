"""Shamir secret sharing over the prime field GF(2^31 - 1), vectorised over many secrets.

SecAgg+ shares two secrets per client (its self-mask seed and its mask key) with each of its k
neighbours. Secrets are byte strings cut into 30-bit limbs, every limb is shared with its own random
polynomial of degree ``t - 1``, and all limbs of all secrets are evaluated at once with numpy
(products of two field elements stay below 2^62, so int64 arithmetic is exact). Reconstruction uses
Lagrange interpolation at zero from any ``t`` shares (Shamir 1979).

Coefficients come from the caller's CSPRNG by rejection sampling, so every coefficient is uniform in
the field and any ``t - 1`` shares are independent of the secret.
"""

from __future__ import annotations

import numpy as np

from accord.crypto.random import Rng

PRIME = (1 << 31) - 1
LIMB_BITS = 30


def limbs_for(nbytes: int) -> int:
    """Number of 30-bit limbs that hold a secret of ``nbytes`` bytes."""
    return -(-8 * nbytes // LIMB_BITS)


def to_limbs(secret: bytes) -> np.ndarray:
    """A byte string as little-endian 30-bit limbs (int64, each below the field prime)."""
    value = int.from_bytes(secret, "little")
    mask = (1 << LIMB_BITS) - 1
    return np.array([(value >> (LIMB_BITS * i)) & mask for i in range(limbs_for(len(secret)))], dtype=np.int64)


def from_limbs(limbs: np.ndarray, nbytes: int) -> bytes:
    """The inverse of :func:`to_limbs`; ``ValueError`` if the limbs do not encode ``nbytes`` bytes."""
    value = 0
    for i, limb in enumerate(limbs.tolist()):
        if not 0 <= limb < (1 << LIMB_BITS):
            raise ValueError("a reconstructed limb is out of range: the shares are inconsistent")
        value |= limb << (LIMB_BITS * i)
    if value >> (8 * nbytes):
        raise ValueError("the reconstructed secret is longer than expected: the shares are inconsistent")
    return value.to_bytes(nbytes, "little")


def field_elements(rng: Rng, count: int) -> np.ndarray:
    """``count`` uniform elements of GF(PRIME) from the CSPRNG (31-bit draws, rejecting PRIME itself)."""
    out = np.empty(0, dtype=np.int64)
    while out.size < count:
        draw = (rng.uint64(count - out.size + 8) >> np.uint64(33)).astype(np.int64)
        out = np.concatenate([out, draw[draw < PRIME]])
    return out[:count]


def split(rng: Rng, secrets: np.ndarray, xs: np.ndarray, threshold: int) -> np.ndarray:
    """Share every limb of ``secrets`` (shape ``(m, L)``) at the points ``xs``; returns ``(m, len(xs), L)``.

    Any ``threshold`` shares of a secret reconstruct it; fewer reveal nothing about it.
    """
    secrets = np.asarray(secrets, dtype=np.int64)
    xs = np.asarray(xs, dtype=np.int64)
    if threshold < 1 or threshold > len(xs):
        raise ValueError(f"threshold {threshold} must be between 1 and the number of shares ({len(xs)})")
    if np.any(xs <= 0) or np.any(xs >= PRIME) or len(np.unique(xs)) != len(xs):
        raise ValueError("share points must be distinct and in [1, PRIME)")
    m, limbs = secrets.shape
    coeffs = field_elements(rng, m * (threshold - 1) * limbs).reshape(m, threshold - 1, limbs)
    x = xs[None, :, None]
    acc = np.zeros((m, len(xs), limbs), dtype=np.int64)
    for j in range(threshold - 2, -1, -1):  # Horner from the highest coefficient down to the constant term
        acc = (acc + coeffs[:, None, j, :]) % PRIME * x % PRIME
    return (acc + secrets[:, None, :]) % PRIME


def lagrange_at_zero(xs: np.ndarray) -> np.ndarray:
    """Lagrange coefficients that interpolate the polynomial through points ``xs`` at x = 0."""
    points = [int(x) for x in xs]
    out = []
    for i, xi in enumerate(points):
        num, den = 1, 1
        for j, xj in enumerate(points):
            if i != j:
                num = num * xj % PRIME
                den = den * (xj - xi) % PRIME
        out.append(num * pow(den, PRIME - 2, PRIME) % PRIME)
    return np.array(out, dtype=np.int64)


def combine(xs: np.ndarray, shares: np.ndarray, threshold: int) -> np.ndarray:
    """Reconstruct limbs from shares ``(s, L)`` taken at points ``xs`` (the first ``threshold`` are used)."""
    xs = np.asarray(xs, dtype=np.int64)
    if len(xs) < threshold:
        raise ValueError(f"{len(xs)} shares cannot reconstruct a secret of threshold {threshold}")
    if len(np.unique(xs[:threshold])) != threshold:
        raise ValueError("shares must come from distinct points")
    coeffs = lagrange_at_zero(xs[:threshold])
    acc = np.zeros(shares.shape[1], dtype=np.int64)
    for c, share in zip(coeffs, shares[:threshold]):
        acc = (acc + c * share % PRIME) % PRIME
    return acc
