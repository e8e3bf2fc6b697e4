"""Mechanisms on a party's own table: the noise each release carries matches its documented distribution."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from accord.crypto.random import Rng
from accord.dp import Budget
from accord.dp import mechanisms as mech
from accord.errors import InputError


def _dlap_mean_abs(b: float) -> float:
    r = math.exp(-1 / b)
    return 2 * r / ((1 - r) * (1 + r))  # E|Z| for P(z) ∝ r^|z|


def test_count_error_matches_the_discrete_laplace():
    rng = Rng(seed=b"count")
    errors = [mech.count(1000, Budget(0.5), rng).value - 1000 for _ in range(4000)]
    assert np.mean(np.abs(errors)) == pytest.approx(_dlap_mean_abs(2.0), rel=0.06)
    assert abs(np.mean(errors)) < 0.15  # unbiased


def test_sum_is_clamped_snapped_and_noised_at_the_bound_sensitivity():
    rng = Rng(seed=b"sum")
    data = np.array([5.0, 250.0, -40.0, 12.34])  # clamped to [0, 100], snapped to 0.5: 5 + 100 + 0 + 12.5
    releases = [mech.total(data, 0, 100, Budget(1.0), rng, grid=0.5) for _ in range(3000)]
    values = np.array([r.value for r in releases])
    assert releases[0].cost[0].sensitivity == 200 and releases[0].cost[0].scale == 200
    assert np.all(np.round(values / 0.5) == values / 0.5)  # every release lies on the grid
    assert np.median(values) == pytest.approx(117.5, abs=3)
    assert np.mean(np.abs(values - 117.5)) == pytest.approx(0.5 * _dlap_mean_abs(200), rel=0.06)


def test_gaussian_budget_gives_calibrated_discrete_gaussian_noise():
    rng = Rng(seed=b"gauss")
    releases = [mech.count(0, Budget(1.0, 1e-6), rng) for _ in range(4000)]
    sigma = releases[0].cost[0].sigma
    assert 3.5 < sigma < 4.6
    assert np.std([r.value for r in releases]) == pytest.approx(sigma, rel=0.05)


def test_histogram_over_a_known_domain():
    rng = Rng(seed=b"hist")
    data = pd.Series(["a"] * 500 + ["b"] * 200 + ["zz"] * 7)
    out = [mech.histogram(data, ["a", "b", "c"], Budget(1.0), rng).value for _ in range(2000)]
    assert list(out[0]) == ["a", "b", "c"]  # values outside the domain are not counted and not released
    a = np.array([o["a"] for o in out])
    assert np.mean(np.abs(a - 500)) == pytest.approx(_dlap_mean_abs(1.0), rel=0.08)


def test_unknown_domain_releases_a_singleton_key_with_probability_at_most_delta():
    budget = Budget(1.0, 0.05)
    tau = mech.threshold_for(budget)
    r = math.exp(-1.0)
    exact = r ** (tau - 1) / (1 + r)  # P(1 + Z >= tau) for the discrete Laplace of scale 1
    assert exact <= 0.05 < r ** (tau - 2) / (1 + r)  # tau is the smallest threshold that works
    rng = Rng(seed=b"threshold")
    data = pd.Series(["common"] * 400 + ["rare"])
    runs = 5000
    seen = sum("rare" in mech.open_histogram(data, budget, rng).value for _ in range(runs))
    assert seen / runs == pytest.approx(exact, abs=4 * math.sqrt(exact / runs))


def test_quantile_lands_near_the_true_quantile():
    rng = Rng(seed=b"quantile")
    data = np.arange(10_000) % 101  # uniform over 0..100
    picks = [mech.quantile(data, 0.25, 0, 100, Budget(1.0), rng).value for _ in range(200)]
    assert np.median(picks) == pytest.approx(25, abs=1)
    assert max(abs(p - 25) for p in picks) <= 3  # utility gap of 3 costs ~300 rows: exp(-150) odds


def test_bad_inputs_name_the_column():
    rng = Rng(seed=b"bad")
    with pytest.raises(InputError, match=r"'income'.*(infinite|missing)"):
        mech.total([1.0, float("inf")], 0, 10, Budget(1.0), rng, column="income")
    with pytest.raises(InputError, match=r"'income'.*lower < upper"):
        mech.total([1.0], 10, 0, Budget(1.0), rng, column="income")
    with pytest.raises(ValueError, match="epsilon"):
        Budget(-1.0)
    with pytest.raises(ValueError, match="delta"):
        Budget(1.0, 1.0)
    with pytest.raises(ValueError, match="delta > 0"):
        mech.open_histogram(["a"], Budget(1.0), rng)
