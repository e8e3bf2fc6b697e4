"""The exact samplers against their exact pmfs (Canonne-Kamath-Steinke 2020), a million draws per scale.

Each test draws from a seeded twin of the CSPRNG (production draws from the OS), so the statistics are
fixed numbers and cannot flake; the oracle is the closed-form pmf computed here in floating point,
independently of the sampler's integer arithmetic. Bins in the tails are pooled so every bin expects
at least 50 draws; the chi-square p-value must exceed 1e-4 and the total-variation distance between
the empirical and exact distributions (on the pooled bins) must stay near its sampling floor.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from scipy import stats

from accord.crypto.random import Rng
from accord.dp.samplers import discrete_gaussian, discrete_laplace

N = 1_000_000


def _pooled(draws: np.ndarray, support: np.ndarray, pmf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Observed and expected counts on bins pooled from both tails inwards until each expects >= 50."""
    observed = np.array([np.count_nonzero(draws == z) for z in support]) if len(support) < 64 else \
        np.bincount(draws - support[0], minlength=len(support))[: len(support)]
    expected = pmf * len(draws)
    edges = [0]
    acc = 0.0
    for i, e in enumerate(expected):
        acc += e
        if acc >= 50:
            edges.append(i + 1)
            acc = 0.0
    edges[-1] = len(expected)
    obs = np.add.reduceat(observed, edges[:-1])
    exp = np.add.reduceat(expected, edges[:-1])
    outside = len(draws) - observed.sum()  # draws outside the enumerated support: pmf mass there is < 1e-12
    assert outside == 0
    return obs, exp


def _check(draws: np.ndarray, support: np.ndarray, pmf: np.ndarray) -> None:
    obs, exp = _pooled(draws, support, pmf)
    chi2 = float(((obs - exp) ** 2 / exp).sum())
    p = stats.chi2.sf(chi2, len(obs) - 1)
    tv = 0.5 * np.abs(obs / len(draws) - exp / len(draws)).sum()
    floor = math.sqrt(len(obs) / (2 * math.pi * len(draws)))  # E[TV] for a correct sampler, roughly
    assert p > 1e-4, f"chi-square p-value {p:.3g} on {len(obs)} bins"
    assert tv < 3 * floor, f"total variation {tv:.4g} over 3x its sampling floor {floor:.4g}"


@pytest.mark.parametrize("scale", [Fraction(1), Fraction(7, 3), Fraction(100)])
def test_discrete_laplace_matches_its_pmf(scale):
    draws = discrete_laplace(Rng(seed=b"dlap" + str(scale).encode()), scale, N)
    b = float(scale)
    limit = int(40 * b) + 40
    support = np.arange(-limit, limit + 1)
    r = math.exp(-1 / b)
    pmf = (1 - r) / (1 + r) * r ** np.abs(support)
    _check(draws, support, pmf)


@pytest.mark.parametrize("sigma2", [Fraction(1), Fraction(9, 4), Fraction(100), Fraction(10_000)])
def test_discrete_gaussian_matches_its_pmf(sigma2):
    draws = discrete_gaussian(Rng(seed=b"dgauss" + str(sigma2).encode()), sigma2, N if sigma2 <= 100 else N // 4)
    sigma = math.sqrt(float(sigma2))
    limit = int(12 * sigma) + 12
    support = np.arange(-limit, limit + 1)
    weights = np.exp(-(support.astype(float) ** 2) / (2 * float(sigma2)))
    _check(draws, support, weights / weights.sum())


def test_samplers_draw_only_from_the_given_stream():
    """Same seed, same draws; another seed, other draws (nothing else feeds the sampler)."""
    a = discrete_gaussian(Rng(seed=b"s"), Fraction(4), 1000)
    b = discrete_gaussian(Rng(seed=b"s"), Fraction(4), 1000)
    c = discrete_gaussian(Rng(seed=b"t"), Fraction(4), 1000)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
