"""accord's privacy figures against dp-accounting's accountants on the same events, and published references.

The reference numbers are dp-accounting 0.6.0's, recorded in ../shared/anchors/dp/README.md
(accountant_reference.py): DP-SGD with q = 256/60000, σ = 1.12, 14,063 steps, δ = 1e-5 gives PLD ε 2.3103
and RDP ε 2.5187; ten Gaussians with σ = 5 at δ = 1e-6 give PLD ε 2.92160, equal to the exact value.
"""

from __future__ import annotations

import math

import dp_accounting
import pytest
from dp_accounting import pld, rdp
from dp_accounting.pld import pld_privacy_accountant, privacy_loss_distribution  # noqa: F401

from accord.dp.accounting import (
    ApproxDPCost,
    DiscreteGaussianCost,
    DiscreteLaplaceCost,
    SubsampledGaussianCost,
    cost_from_json,
    epsilon,
    gaussian_sigma,
)


def _pld_eps(event, delta):
    acc = pld.pld_privacy_accountant.PLDAccountant()
    acc.compose(event)
    return acc.get_epsilon(delta)


def test_dp_sgd_matches_dp_accounting_and_the_published_reference():
    cost = SubsampledGaussianCost(256 / 60000, 1.12, 14063)
    ours = epsilon([cost], 1e-5)
    event = dp_accounting.SelfComposedDpEvent(
        dp_accounting.PoissonSampledDpEvent(256 / 60000, dp_accounting.GaussianDpEvent(1.12)), 14063)
    acc = rdp.RdpAccountant()
    acc.compose(event)
    assert ours == pytest.approx(_pld_eps(event, 1e-5), rel=1e-9)
    assert ours == pytest.approx(2.3103, abs=5e-4)
    assert acc.get_epsilon(1e-5) == pytest.approx(2.5187, abs=5e-4)
    assert acc.get_epsilon(1e-5) > ours  # the RDP bound is looser here, so accord reports PLD's


def test_discrete_laplace_maps_to_dp_accountings_event():
    costs = [DiscreteLaplaceCost(scale=4.0, sensitivity=2), DiscreteLaplaceCost(scale=10.0, sensitivity=1)]
    event = dp_accounting.ComposedDpEvent([dp_accounting.dp_event.DiscreteLaplaceDpEvent(0.25, 2),
                                           dp_accounting.dp_event.DiscreteLaplaceDpEvent(0.1, 1)])
    assert epsilon(costs, 1e-6) == pytest.approx(min(_pld_eps(event, 1e-6), 0.6), rel=1e-9)
    assert epsilon(costs, 0.0) == pytest.approx(0.6, rel=1e-12)  # pure DP at δ = 0: exactly 0.5 + 0.1


def test_discrete_gaussian_uses_the_tighter_of_pld_and_zcdp():
    cost = DiscreteGaussianCost(sigma=5.0, sensitivity=1)
    single = pld.privacy_loss_distribution.from_discrete_gaussian_mechanism(5.0, 1)
    want_pld = single.self_compose(10).get_epsilon_for_delta(1e-6)
    acc = rdp.RdpAccountant()
    acc.compose(dp_accounting.ZCDpEvent(rho=10 / 50))
    assert epsilon([cost] * 10, 1e-6) == pytest.approx(min(want_pld, acc.get_epsilon(1e-6)), rel=1e-9)
    # Ten continuous Gaussians of σ = 5 are exactly ε = 2.92160 at δ = 1e-6; the discrete one is no worse.
    assert epsilon([cost] * 10, 1e-6) <= 2.9216 + 1e-3


def test_approximate_dp_records_compose_by_pld_or_basic_composition():
    costs = [ApproxDPCost(0.5, 1e-7), ApproxDPCost(0.5, 1e-7)]
    assert epsilon(costs, 2e-7) <= 1.0 + 1e-9
    assert math.isinf(epsilon(costs, 0.0)) or epsilon(costs, 0.0) > 1.0  # δ spent exceeds the δ asked for


def test_gaussian_sigma_is_the_smallest_that_meets_the_target():
    sigma = gaussian_sigma(1.0, 1e-6, 1)
    assert epsilon([DiscreteGaussianCost(sigma, 1)], 1e-6) <= 1.0
    assert epsilon([DiscreteGaussianCost(sigma * 0.99, 1)], 1e-6) > 1.0
    assert 3.5 < sigma < 4.6  # OpenDP's zCDP-calibrated σ for ε = 1, δ = 1e-6 is 4.53; PLD is tighter


@pytest.mark.parametrize("cost", [DiscreteLaplaceCost(2.0, 3), DiscreteGaussianCost(1.5, 1),
                                  SubsampledGaussianCost(0.01, 1.1, 100), ApproxDPCost(1.0, 1e-6)])
def test_costs_round_trip_through_json(cost):
    assert cost_from_json(cost.to_json()) == cost


def test_bad_delta_is_refused():
    with pytest.raises(ValueError, match="delta"):
        epsilon([DiscreteLaplaceCost(1.0)], 1.5)
