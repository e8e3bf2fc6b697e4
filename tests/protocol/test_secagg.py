"""SecAgg+ in simulation: exact sums under dropouts at every stage, aborts below t, the aggregator's view."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accord.crypto.random import Rng
from accord.errors import ProtocolAbort
from accord.fl.messages import FitIns
from accord.fl.secagg import client as secagg_client
from accord.fl.secagg.messages import SecAggStage, UnmaskIns
from accord.fl.secagg.server import SecAggParams, SecAggRound
from accord.fl.simulation import SimulatedPool
from tests.fl_helpers import fixed_app, updates
from tests.protocol.wiretap import tap_aggregator

STAGES = [s.value for s in SecAggStage]


def run_round(ups, vanish=None, params=SecAggParams(clip=2.0), seed=b"r"):
    size = len(next(iter(ups.values())))
    pool = SimulatedPool(fixed_app(ups), list(ups), seed=seed, vanish=vanish)
    agg = SecAggRound(pool, 1, sorted(ups), params, size, Rng(seed), timeout=5)
    return agg, agg.run(FitIns([np.zeros(size, np.float32)], {})), pool


def plain_sum(ups, clients):
    return sum(ups[c].astype(np.float64) for c in clients)


def check_exact(agg, result, ups):
    assert result.total_weight == pytest.approx(len(result.survivors), abs=1e-6)
    tolerance = len(result.survivors) * agg.quantizer.step
    assert np.abs(result.weighted_sum - plain_sum(ups, result.survivors)).max() <= tolerance


@pytest.mark.parametrize("stage", STAGES)
def test_hundred_clients_ten_percent_vanish_at_each_stage(stage):
    ups = updates(100, 64, seed=3)
    gone = set(sorted(ups)[::10])
    agg, result, _ = run_round(ups, vanish=lambda c, r, s: c in gone and s == stage)
    check_exact(agg, result, ups)
    expected = set(ups) - gone if stage != SecAggStage.UNMASK.value else set(ups)
    assert set(result.survivors) == expected  # a client that vanishes while unmasking is still in the sum


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(5, 12), st.data())
def test_sums_match_plaintext_for_any_dropout_pattern(n, data):
    ups = updates(n, 16, seed=n)
    names = sorted(ups)
    drops = data.draw(st.dictionaries(st.sampled_from(names), st.sampled_from(STAGES), max_size=n // 2), label="drops")
    plan = {c: drops.get(c) for c in names}
    vanish = lambda c, r, s: plan[c] is not None and STAGES.index(s) >= STAGES.index(plan[c])  # noqa: E731
    try:
        agg, result, _ = run_round(ups, vanish=vanish)
    except ProtocolAbort as exc:
        assert "threshold" in str(exc) or "t=" in str(exc)
        return
    check_exact(agg, result, ups)
    gone_before_unmask = {c for c, s in plan.items() if s is not None and s != SecAggStage.UNMASK.value}
    assert set(result.survivors) <= set(names) - gone_before_unmask


def test_few_dropouts_never_abort():
    """With at most k - t dropouts every client keeps t live neighbours, so the round must finish."""
    ups = updates(12, 8, seed=12)
    agg_probe = SecAggRound(SimulatedPool(fixed_app(ups), list(ups)), 1, sorted(ups), SecAggParams(), 8, Rng(), 5)
    slack = agg_probe.k - agg_probe.t
    for stage in STAGES:
        gone = set(sorted(ups)[:slack])
        agg, result, _ = run_round(ups, vanish=lambda c, r, s, g=gone, st=stage: c in g and s == st)
        check_exact(agg, result, ups)


def test_fewer_than_t_survivors_abort_with_a_clear_message():
    ups = updates(10, 8)
    gone = set(sorted(ups)[:6])
    with pytest.raises(ProtocolAbort, match=r"aborted at stage 'secagg.collect': only 4 clients answered, fewer than "
                                            r"the threshold t="):
        run_round(ups, vanish=lambda c, r, s: c in gone and s == SecAggStage.COLLECT.value)


def test_a_client_whose_fit_fails_is_a_dropout_and_the_rest_is_summed():
    ups = updates(8, 8)
    ups["c003"] = np.full(8, np.nan, np.float32)
    agg, result, _ = run_round(ups)
    assert "c003" not in result.survivors and "NaN" in result.failures["c003"]
    check_exact(agg, result, ups)


def test_the_aggregators_view_reveals_no_single_update(monkeypatch):
    ups = updates(20, 4096, seed=9)
    ups["c000"] = np.zeros(4096, np.float32)  # a known, structured update: its masked form must still look uniform
    gone = {"c005", "c011"}
    view = tap_aggregator(monkeypatch)
    agg, result, _ = run_round(ups, vanish=lambda c, r, s: c in gone and s == SecAggStage.COLLECT.value)
    check_exact(agg, result, ups)
    masked = {c: b["vector"] for s, c, b in view if s == SecAggStage.COLLECT.value}
    assert set(masked) == set(ups) - gone
    step = agg.quantizer.step
    for client, vector in masked.items():
        plain = np.round(np.clip(ups[client], -2, 2) / step).astype(np.int64).astype(np.uint32)
        assert np.mean(vector[:-1] == plain) < 0.01  # nothing of the update shows through the masks
        u = vector[:-1].astype(np.float64) / 2**32  # uniform on [0, 1): mean 1/2, variance 1/12
        assert abs(u.mean() - 0.5) < 0.02 and abs(u.var() - 1 / 12) < 0.01
    # The aggregator never holds both secrets of one client: seed shares of survivors, key shares of dropouts.
    seeds = {n for s, _, b in view if s == SecAggStage.UNMASK.value for n in b["seed_shares"]}
    keys = {n for s, _, b in view if s == SecAggStage.UNMASK.value for n in b["key_shares"]}
    assert not seeds & keys and keys == gone and seeds == set(masked)
    # Any single masked input plus the unmasked total still leaves every other client's update hidden.
    assert all(np.abs(result.weighted_sum - ups[c]).max() > 1 for c in masked)


def test_a_client_answers_unmasking_once_per_round():
    ups = updates(3, 4)
    pool = SimulatedPool(fixed_app(ups), list(ups))
    rng = Rng(b"x")
    agg = SecAggRound(pool, 1, sorted(ups), SecAggParams(), 4, rng, 5)
    states = {}
    for c in ups:  # drive the client side by hand to reach the unmasking stage
        states[c], _ = secagg_client.setup(Rng(), c, _setup_for(agg, c))
    state = states["c000"]
    state.received = {"c001": b"", "c002": b""}
    state.unmasked = True
    with pytest.raises(ProtocolAbort, match="asked to unmask twice"):
        secagg_client.unmask(state, UnmaskIns(["c001"], ["c002"]))


def _setup_for(agg, client):
    from accord.fl.secagg.messages import SetupIns

    return SetupIns(agg.round_id, agg.index[client], agg.t, agg.quantizer, 4, 1)


def test_a_client_left_with_fewer_than_t_live_neighbours_is_excluded_before_masking(monkeypatch):
    from accord.fl.secagg import server as secagg_server

    graphs = []

    def recording_harary(rng, clients, k):
        graphs.append(secagg_server_harary(rng, clients, k))
        return graphs[-1]

    secagg_server_harary = secagg_server.harary
    monkeypatch.setattr(secagg_server, "harary", recording_harary)
    ups = updates(14, 8, seed=14)

    def vanish(client, r, stage):  # four of c000's six neighbours vanish while sharing keys
        return stage == SecAggStage.SHARE_KEYS.value and client in graphs[0]["c000"][:4]

    agg, result, _ = run_round(ups, vanish=vanish, params=SecAggParams(degree=6, threshold=3, clip=2.0))
    assert "c000" in result.dropped[SecAggStage.SHARE_KEYS.value] and "c000" not in result.survivors
    check_exact(agg, result, ups)
