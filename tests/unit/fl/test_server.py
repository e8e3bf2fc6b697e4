"""The aggregator's rounds in simulation: weighting, server optimisers, checkpoints, early stopping, bad clients."""

from __future__ import annotations

import numpy as np
import pytest

from accord.crypto.random import Rng
from accord.errors import ConfigurationError, ProtocolAbort
from accord.fl.secagg.server import SecAggParams
from accord.fl.server import Aggregator, EarlyStopping
from accord.fl.simulation import SimulatedPool
from accord.fl.strategy import FedAdam, FedAvg, FedYogi
from tests.fl_helpers import fixed_app, updates

INIT = [np.zeros(6, np.float32)]


def run(strategy, ups, rounds=1, examples=None, **kwargs):
    agg = Aggregator(SimulatedPool(fixed_app(ups, examples), list(ups), seed=b"s"), strategy, INIT, rounds=rounds,
                     rng=Rng(b"a"), **kwargs)
    return agg, agg.run()


@pytest.mark.parametrize("secure", [None, SecAggParams(clip=1.0, max_weight=100)])
def test_fedavg_weights_updates_by_examples(secure):
    ups = updates(4, 6)
    examples = {"c000": 10, "c001": 30, "c002": 50, "c003": 10}
    agg, history = run(FedAvg(), ups, examples=examples, secure=secure)
    expected = sum(examples[c] * ups[c].astype(np.float64) for c in ups) / 100
    assert np.allclose(agg.params[0], expected, atol=1e-5)
    assert history.rounds[0]["survivors"] == 4


def test_fedadam_and_fedyogi_follow_reddi_et_al():
    ups = updates(3, 6, seed=5)
    mean = sum(u.astype(np.float64) for u in ups.values()) / 3
    for strategy, second in ((FedAdam(server_lr=0.1), "adam"), (FedYogi(server_lr=0.1), "yogi")):
        agg, _ = run(strategy, ups, rounds=2)
        x, m, v = np.zeros(6), np.zeros(6), np.full(6, 1e-3**2)
        for _ in range(2):  # Reddi et al. 2021, Algorithm 2, with the same (constant) pseudo-gradient each round
            m = 0.9 * m + 0.1 * mean
            v = 0.99 * v + 0.01 * mean**2 if second == "adam" else v - 0.01 * mean**2 * np.sign(v - mean**2)
            x = x + 0.1 * m / (np.sqrt(v) + 1e-3)
        assert np.allclose(agg.params[0], x, atol=1e-5), second


def test_a_restarted_aggregator_resumes_from_its_checkpoint(tmp_path):
    ups = updates(5, 6, seed=2)
    straight, _ = run(FedAdam(server_lr=0.1), ups, rounds=4)
    path = tmp_path / "global.ckpt"
    run(FedAdam(server_lr=0.1), ups, rounds=2, checkpoint_path=path)
    resumed, history = run(FedAdam(server_lr=0.1), ups, rounds=4, checkpoint_path=path)
    assert [r["round"] for r in history.rounds] == [1, 2, 3, 4]
    assert np.allclose(resumed.params[0], straight.params[0], atol=1e-6)
    with pytest.raises(ConfigurationError, match="another shape"):
        Aggregator(SimulatedPool(fixed_app(ups), list(ups)), FedAvg(), [np.zeros(7, np.float32)], rounds=5,
                   checkpoint_path=path).run()


def test_early_stopping_when_the_metric_stalls():
    ups = updates(3, 6)
    _, history = run(FedAvg(), ups, rounds=10, evaluate_fn=lambda p: {"accuracy": 0.5},
                     early_stopping=EarlyStopping("accuracy", patience=2))
    assert history.stopped_early and len(history.rounds) == 3


def test_clients_with_bad_updates_are_left_out_and_named():
    ups = updates(4, 6)
    ups["c001"] = np.full(6, np.inf, np.float32)
    agg, history = run(FedAvg(), ups)
    assert "c001" in history.rounds[0]["failures"] and "NaN or infinite" in history.rounds[0]["failures"]["c001"]
    good = [c for c in ups if c != "c001"]
    assert np.allclose(agg.params[0], sum(ups[c] for c in good) / 3, atol=1e-6)


def test_a_round_with_no_usable_update_aborts():
    ups = {c: np.full(6, np.nan, np.float32) for c in updates(3, 6)}
    with pytest.raises(ProtocolAbort, match="no client returned a usable update"):
        run(FedAvg(), ups)


def test_federated_evaluation_weights_clients_by_examples():
    from accord.fl.client import ClientApp
    from tests.fl_helpers import FixedUpdateClient

    class Scored(FixedUpdateClient):
        def evaluate(self, parameters, config):
            return float(self.examples), self.examples, {"accuracy": self.examples / 100}

    ups = updates(3, 6)
    examples = {"c000": 10, "c001": 20, "c002": 70}
    app = ClientApp(lambda cid: Scored(ups[cid], examples[cid]))
    agg = Aggregator(SimulatedPool(app, list(ups)), FedAvg(fraction_evaluate=1.0), INIT, rounds=2, evaluate_every=2,
                     rng=Rng(b"e"))
    history = agg.run()
    assert "federated_loss" not in history.rounds[0]
    assert history.rounds[1]["federated_loss"] == pytest.approx((100 + 400 + 4900) / 100)
    assert history.rounds[1]["federated_accuracy"] == pytest.approx((1 + 4 + 49) / 100)
