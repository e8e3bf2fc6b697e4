"""DP-FedAvg: accounting against dp-accounting itself, the clients' noise, the ledger charge, a private round."""

from __future__ import annotations

import math

import numpy as np
import pytest

dp_accounting = pytest.importorskip("dp_accounting")

from accord.crypto.random import Rng  # noqa: E402
from accord.dp.budget import Budget  # noqa: E402
from accord.dp.ledger import Ledger  # noqa: E402
from accord.errors import ConfigurationError, ProtocolAbort  # noqa: E402
from accord.fl.client import ClientApp  # noqa: E402
from accord.fl.dp import DPFedAvg, NoiseSpec, encode_noisy, kairouz_tau, ledger_charger  # noqa: E402
from accord.fl.secagg.server import SecAggParams  # noqa: E402
from accord.fl.server import Aggregator  # noqa: E402
from accord.fl.simulation import SimulatedPool  # noqa: E402
from accord.fl.strategy import FedAvg  # noqa: E402
from tests.fl_helpers import FixedUpdateClient, updates  # noqa: E402


def test_epsilon_matches_dp_accounting():
    plan = DPFedAvg(l2_clip=1.0, noise_multiplier=1.1, sampling_probability=0.2, population=50, rounds=5)
    event = dp_accounting.SelfComposedDpEvent(
        dp_accounting.PoissonSampledDpEvent(0.2, dp_accounting.GaussianDpEvent(1.1)), 5)
    pld = dp_accounting.pld.PLDAccountant()
    pld.compose(event)
    rdp = dp_accounting.rdp.RdpAccountant()
    rdp.compose(event)
    oracle = min(pld.get_epsilon(1e-5), rdp.get_epsilon(1e-5))
    assert plan.epsilon(5) == pytest.approx(oracle, rel=0.02)


def test_each_client_adds_its_share_of_the_noise():
    spec = NoiseSpec(l2_clip=1.0, granularity=0.01, noise_multiplier=1.0, min_honest=4)
    dim = 2000
    noisy = encode_noisy(Rng(b"n"), spec, np.zeros(dim), np.dtype(np.uint64)).astype(np.int64)
    assert noisy[-1] == 1
    variance = float(spec.client_variance(dim))
    assert variance == pytest.approx((1.0 * (1.0 / 0.01 + math.sqrt(dim))) ** 2 / 4, rel=1e-3)
    assert noisy[:-1].var() == pytest.approx(variance, rel=0.1)  # 2000 draws: sd of the estimate ~3 %
    assert abs(noisy[:-1].mean()) < 4 * math.sqrt(variance / dim)


def test_updates_are_clipped_to_the_l2_bound():
    spec = NoiseSpec(l2_clip=1.0, granularity=1e-3, noise_multiplier=1e-3, min_honest=1)
    big = np.full(100, 10.0)
    encoded = encode_noisy(Rng(b"c"), spec, big, np.dtype(np.uint64)).astype(np.int64)[:-1] * 1e-3
    assert np.linalg.norm(encoded) == pytest.approx(1.0, abs=0.02)


def test_tau_guard_refuses_too_little_noise_per_client():
    assert kairouz_tau(4.0, 10) < 1e-15 and kairouz_tau(0.05, 10) > 1
    plan = DPFedAvg(l2_clip=1.0, noise_multiplier=1e-4, sampling_probability=1.0, population=10, rounds=1,
                    min_honest=10, granularity=1.0)
    with pytest.raises(ConfigurationError, match="too small"):
        plan.spec(4)


def test_a_private_round_charges_every_ledger_and_refusing_clients_stay_out(tmp_path):
    ups = updates(6, 20, scale=0.05)
    ledgers = {c: Ledger(tmp_path / f"{c}.sqlite", c, cap=Budget(50.0, 1e-5)) for c in ups}
    ledgers["c005"].set_cap(Budget(0.5, 1e-5))  # this client's data may not bear the plan
    app = ClientApp(lambda cid: FixedUpdateClient(ups[cid]), on_join=ledger_charger(lambda cid: ledgers[cid]))
    plan = DPFedAvg(l2_clip=1.0, noise_multiplier=2.0, sampling_probability=1.0, population=5, rounds=2,
                    min_honest=3)
    agg = Aggregator(SimulatedPool(app, list(ups)), FedAvg(), [np.zeros(20, np.float32)], rounds=2,
                     secure=SecAggParams(), dp=plan, rng=Rng(b"dp"))
    history = agg.run()
    assert agg.refused == {"c005"}
    for c in ups:
        expected = 0.0 if c == "c005" else plan.epsilon(2)
        assert ledgers[c].spent() == pytest.approx(expected, rel=1e-6)
    assert [r["sampled"] for r in history.rounds] == [5, 5] and history.last("epsilon") == plan.epsilon(2)
    # The released mean is the clients' mean plus noise of standard deviation about z * C / (q N) per coordinate.
    mean = 2 * sum(ups[c].astype(np.float64) for c in ups if c != "c005") / 5
    noise = agg.params[0] - mean
    assert 0.1 < noise.std() < 1.5
    assert history.declarations[-1]["protocol"] == "fl.dp-fedavg"


def test_a_job_aborts_when_fewer_than_two_clients_accept_the_plan(tmp_path):
    ups = updates(3, 4)
    ledgers = {c: Ledger(tmp_path / f"{c}.sqlite", c, cap=Budget(0.01, 1e-5)) for c in ups}
    app = ClientApp(lambda cid: FixedUpdateClient(ups[cid]), on_join=ledger_charger(lambda cid: ledgers[cid]))
    plan = DPFedAvg(l2_clip=1.0, noise_multiplier=1.0, sampling_probability=1.0, population=3, rounds=1)
    with pytest.raises(ProtocolAbort, match="accepted the privacy plan"):
        Aggregator(SimulatedPool(app, list(ups)), FedAvg(), [np.zeros(4, np.float32)], rounds=1,
                   secure=SecAggParams(), dp=plan).run()
