"""PSI-sum and joint debt in simulation: pandas as the oracle, DP noise in the release, what each party sees."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import accord
from accord.dp import Budget
from accord.errors import ConfigurationError, InputError
from accord.pir import debt, okvs, shared_lookup
from tests.protocol.wiretap import arrays, tap

IDS = st.lists(st.integers(0, 60).map(lambda i: f"c{i}"), min_size=1, max_size=40)


@settings(max_examples=6, deadline=None)
@given(viewers=IDS, buyers=IDS, data=st.data())
def test_intersection_sum_equals_pandas(viewers, buyers, data):
    cents = data.draw(st.lists(st.integers(-10_000, 10_000), min_size=len(buyers), max_size=len(buyers)))
    buys = pd.DataFrame({"id": buyers, "cents": cents})
    with accord.Cluster.simulate(["platform", "advertiser"]) as cluster:
        platform, advertiser = cluster.parties("platform", "advertiser")
        out = accord.pir.intersection_sum(platform.put(pd.DataFrame({"id": viewers})), advertiser.put(buys),
                                          on="id", value="cents", to=["platform", "advertiser"])
        both = cluster.report().runs[-1]
    shared = buys[buys["id"].isin(set(viewers))]
    assert out.get() == {"count": shared["id"].nunique(), "sum": int(shared["cents"].sum()), "noise": "none"}
    assert set(both.parties) == {"platform", "advertiser"}


def _measure(cluster, viewers, buys, **kw):
    platform, advertiser = cluster.parties("platform", "advertiser")
    return accord.pir.intersection_sum(platform.put(pd.DataFrame({"id": viewers})), advertiser.put(buys), on="id",
                                       value="cents", to="platform", **kw)


def test_bins_go_through_the_mpc_in_chunks(monkeypatch):
    monkeypatch.setattr(shared_lookup, "CHUNK_BINS", 37)  # a few hundred bins: several chunks and a ragged last one
    viewers = [f"c{i}" for i in range(0, 400, 2)]
    buys = pd.DataFrame({"id": [f"c{i}" for i in range(300)], "cents": np.arange(300) * 3 + 1})
    with accord.Cluster.simulate(["platform", "advertiser"]) as cluster:
        out = _measure(cluster, viewers, buys).get()
    shared = buys[buys["id"].isin(set(viewers))]
    assert (out["count"], out["sum"]) == (len(shared), int(shared["cents"].sum()))


def test_the_non_receiver_gets_nothing_and_sees_no_result(monkeypatch):
    viewers = [f"c{i}" for i in range(200)]
    buys = pd.DataFrame({"id": [f"c{i}" for i in range(100, 400)], "cents": np.arange(300) + 7})
    at_advertiser = tap(monkeypatch, "advertiser")
    with accord.Cluster.simulate(["platform", "advertiser"]) as cluster:
        out = _measure(cluster, viewers, buys)
        assert out.get()["count"] == 100 and out.get()["sum"] == int(np.arange(100).sum() + 700)
    keys = [key.rsplit("/", 1)[1] for key, _ in at_advertiser]
    assert "open" not in keys
    # OT messages and Beaver openings only: neither the count nor the sum appears as a word.
    flat = np.concatenate([a.reshape(-1) for a in arrays(at_advertiser) if a.dtype == np.uint64])
    assert not np.isin(np.array([100, 7050], dtype=np.uint64), flat).any()


def test_dp_noise_is_in_both_releases():
    viewers = [f"c{i}" for i in range(300)]
    buys = pd.DataFrame({"id": [f"c{i}" for i in range(150, 450)], "cents": np.full(300, 40)})
    exact = {"count": 150, "sum": 150 * 40}
    with accord.Cluster.simulate(["platform", "advertiser"]) as cluster:
        noisy = [_measure(cluster, viewers, buys, dp=Budget(1.0), bound=50).get() for _ in range(3)]
        with pytest.raises(ConfigurationError, match="bound"):
            _measure(cluster, viewers, buys, dp=Budget(1.0))
    # Each party's discrete Laplace draw has scale 2/ε for the count and 2*50/ε for the sum (ε split in two).
    assert any(r["count"] != exact["count"] for r in noisy) and any(r["sum"] != exact["sum"] for r in noisy)
    assert all(abs(r["count"] - exact["count"]) < 60 for r in noisy)   # 60 > 20 std of the sum of two draws
    assert all(abs(r["sum"] - exact["sum"]) < 3_000 for r in noisy)
    assert "discrete Laplace" in noisy[0]["noise"]


def test_values_must_be_integers():
    with accord.Cluster.simulate(["platform", "advertiser"]) as cluster:
        with pytest.raises(InputError, match="integers"):
            _measure(cluster, ["a"], pd.DataFrame({"id": ["a"], "cents": [1.5]}))


def _debt(cluster, applicants, books):
    bank = cluster.party("bank")
    tables = [cluster.party(name).put(df) for name, df in books.items()]
    return accord.pir.joint_debt(bank.put(pd.DataFrame({"id": applicants})), tables, on="id", amount="owed")


@settings(max_examples=3, deadline=None)
@given(applicants=IDS, data=st.data())
def test_joint_debt_equals_pandas(applicants, data):
    books = {}
    for name in ("lender1", "lender2", "lender3"):
        ids = data.draw(IDS)
        books[name] = pd.DataFrame({"id": ids, "owed": data.draw(st.lists(st.integers(0, 10**9), min_size=len(ids),
                                                                          max_size=len(ids)))})
    with accord.Cluster.simulate(["bank", *books]) as cluster:
        got = _debt(cluster, applicants, books).to_pandas()
    owed = pd.concat(books.values()).groupby("id")["owed"].sum()
    assert list(got["id"]) == list(dict.fromkeys(applicants))
    assert list(got["total_debt"]) == [int(owed.get(a, 0)) for a in got["id"]]


def test_the_asker_sees_totals_only_and_lenders_see_no_applicant(monkeypatch):
    """The asker's share of one lender's lookup plus that lender's message is not the lender's amount (the
    zero-sum masks of the other lenders hide it); a lender's view has the same form for any applicants."""
    books = {f"lender{k}": pd.DataFrame({"id": [f"c{i}" for i in range(50)], "owed": np.arange(50) * 10 + k})
             for k in (1, 2, 3)}
    asked = {}
    real_finish = shared_lookup.finish

    def recording_finish(ctx, *args):
        shares = real_finish(ctx, *args)
        asked[ctx.peers[0]] = shares.value
        return shares

    monkeypatch.setattr(debt.shared_lookup, "finish", recording_finish)
    at_bank = tap(monkeypatch, "bank")
    at_lender = tap(monkeypatch, "lender2")
    views = []
    with accord.Cluster.simulate(["bank", *books]) as cluster:
        for applicants in (["c3", "c7", "c9"], ["x1", "x2", "x3"]):
            start_lender = len(at_lender)
            got = _debt(cluster, applicants, books).to_pandas()
            views.append(at_lender[start_lender:])
    assert list(got["total_debt"]) == [0, 0, 0]
    received = [msg for key, msg in at_bank if key.endswith("/masked")][3:]  # the second run's, as ``asked``
    for lender, message in zip(("lender1", "lender2", "lender3"), received):
        alone = (asked[lender] + message).view(np.int64)
        assert not np.isin(alone, np.array([30 + int(lender[-1]), 70 + int(lender[-1]), 0])).all()
    shapes = [[(k.rsplit("/", 1)[1], getattr(m, "shape", type(m).__name__)) for k, m in v] for v in views]
    assert shapes[0] == shapes[1]


def test_lenders_build_their_tables_at_once_so_none_waits_out_the_timeout(monkeypatch):
    """Each lender's table takes 1.5 s to build and a silent peer is given 2.5 s: the third lender would wait
    for two lookups (over 3 s) if the asker finished one lookup before starting the next."""
    real_encode = okvs.encode

    def slow_encode(*args, **kw):
        time.sleep(1.5)
        return real_encode(*args, **kw)

    monkeypatch.setattr(shared_lookup.okvs, "encode", slow_encode)
    books = {f"lender{k}": pd.DataFrame({"id": ["a", "b"], "owed": [k, 10 * k]}) for k in (1, 2, 3)}
    with accord.Cluster.simulate(["bank", *books], timeout=2.5) as cluster:
        got = _debt(cluster, ["b", "a", "z"], books).to_pandas()
    assert list(got["total_debt"]) == [60, 6, 0]


def test_joint_debt_needs_two_lenders_and_integer_amounts():
    with accord.Cluster.simulate(["bank", "lender1", "lender2"]) as cluster:
        with pytest.raises(ConfigurationError, match="at least 2"):
            _debt(cluster, ["a"], {"lender1": pd.DataFrame({"id": ["a"], "owed": [1]})})
        with pytest.raises(InputError, match="integers"):
            _debt(cluster, ["a"], {"lender1": pd.DataFrame({"id": ["a"], "owed": [1]}),
                                   "lender2": pd.DataFrame({"id": ["a"], "owed": ["x"]})})


def test_dp_releases_are_charged_to_both_ledgers_or_refused_at_both(tmp_path):
    from accord.dp import Ledger
    from accord.errors import PrivacyBudgetExceeded

    viewers = [f"c{i}" for i in range(50)]
    buys = pd.DataFrame({"id": [f"c{i}" for i in range(25, 75)], "cents": np.full(50, 9)})
    rich = Ledger(tmp_path / "a.sqlite", "viewers", cap=Budget(3.0))
    poor = Ledger(tmp_path / "b.sqlite", "purchases", cap=Budget(0.5))
    with accord.Cluster.simulate(["platform", "advertiser"]) as cluster:
        with pytest.raises(PrivacyBudgetExceeded, match="purchases"):
            _measure(cluster, viewers, buys, dp=Budget(1.0), bound=10, ledgers={"platform": rich, "advertiser": poor})
        assert rich.charges() == [] and poor.charges() == []  # refused everywhere, charged nowhere
        _measure(cluster, viewers, buys, dp=Budget(1.0), bound=10, ledgers={"platform": rich})
    assert abs(rich.spent() - 1.0) < 1e-9
