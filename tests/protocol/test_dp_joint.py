"""Joint DP releases: the exact value stays under the shares; only value + every party's noise is opened."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import accord
from accord.dp import Budget, Ledger
from accord.dp import mechanisms as mech
from accord.errors import PrivacyBudgetExceeded
from tests.protocol.wiretap import arrays, tap

EXACT = Budget(1e9)  # noise of scale ~1e-6: zero except with probability ~e^-1e6, to check the circuit itself


def _count(a_keys, b_keys, budget=EXACT, to="partner", ledgers=None, on="id", seed=None):
    with accord.Cluster.simulate(["bank", "partner"], seed=seed) as cluster:
        bank, partner = cluster.parties("bank", "partner")
        a = bank.put(a_keys if isinstance(a_keys, pd.DataFrame) else pd.DataFrame({"id": a_keys}))
        b = partner.put(b_keys if isinstance(b_keys, pd.DataFrame) else pd.DataFrame({"id": b_keys}))
        out = accord.psi.count(a, b, on=on, to=to, dp=budget, ledgers=ledgers)
        return (out.get() if not isinstance(out, tuple) else tuple(o.get() for o in out)), cluster.report()


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.integers(0, 60), min_size=1, max_size=60), st.lists(st.integers(0, 60), min_size=1, max_size=60))
def test_cardinality_circuit_counts_distinct_shared_keys(a, b):
    got, _ = _count([str(x) for x in a], [str(x) for x in b])
    assert got == len(set(a) & set(b))  # the pandas-free oracle: Python sets


def test_composite_keys_and_both_receivers():
    a = pd.DataFrame({"id": ["1", "2", "2", "3"], "city": ["x", "y", "z", "x"]})
    b = pd.DataFrame({"id": ["2", "2", "3", "9"], "city": ["y", "z", "q", "x"]})
    got, _ = _count(a, b, to=["bank", "partner"], on=["id", "city"])
    assert got == (2, 2) == (len(a.merge(b).drop_duplicates()),) * 2


def test_noise_protects_the_count_from_each_party(monkeypatch):
    """What a party can compute, its output minus its own draw, is the count plus the *other* party's draw."""
    draws: list[int] = []
    original = mech.Noise.sample

    def record(self, rng, size):
        out = original(self, rng, size)
        draws.append(int(out[0]))
        return out

    monkeypatch.setattr(mech.Noise, "sample", record)
    keys_a, keys_b = [str(i) for i in range(80)], [str(i) for i in range(40, 120)]
    hits = 0
    for run in range(12):
        draws.clear()
        got, _ = _count(keys_a, keys_b, Budget(0.5), seed=b"protect-%d" % run)
        assert len(draws) == 2 and got == 40 + sum(draws)
        hits += sum(got - own == 40 for own in draws)  # the best a party can do: subtract its own draw
    # A party hits the count only when the other's draw is 0: P = (1 - e^-0.5) / (1 + e^-0.5) = 0.245, so
    # about 6 of the 24 (run, party) views; without the other's draw it would be all 24.
    assert hits <= 12


def test_receiver_views_hold_no_exact_count(monkeypatch):
    seen = tap(monkeypatch, "bank")
    _count([str(i) for i in range(50)], [str(i) for i in range(25, 75)], Budget(1.0), to="partner")
    small = [v for arr in arrays(seen) if arr.dtype == np.uint64 for v in arr.ravel()[:4096].tolist()]
    assert 25 not in small  # the exact size never travels
    assert not [k for k, _ in seen if k.endswith("/open")]  # the non-receiver gets no opening at all


def test_ledgers_are_checked_by_both_before_anything_runs(tmp_path):
    rich = Ledger(tmp_path / "a.sqlite", "bank-customers", cap=Budget(5.0))
    poor = Ledger(tmp_path / "b.sqlite", "partner-customers", cap=Budget(0.5))
    with pytest.raises(PrivacyBudgetExceeded, match="partner-customers"):
        _count(["1", "2"], ["2", "3"], Budget(1.0), ledgers={"bank": rich, "partner": poor})
    assert rich.charges() == [] and poor.charges() == []  # refused everywhere, charged nowhere
    _, report = _count(["1", "2"], ["2", "3"], Budget(0.4), ledgers={"bank": rich, "partner": poor})
    spent = {e["dataset"]: e for e in report.to_dict()["privacy"]}
    assert spent["partner-customers"]["epsilon_spent"] == pytest.approx(0.4)
    assert spent["partner-customers"]["epsilon_remaining"] == pytest.approx(0.1)
    assert "privacy budgets" in str(report)


@pytest.mark.parametrize("engine", [{"dealer": "carol"}, {"mode": "ot"}, {}])
def test_reveal_with_dp_adds_one_draw_per_computing_party(engine):
    parties = ["bank", "partner"] if engine else ["bank", "partner", "carol"]
    with accord.Cluster.simulate(["bank", "partner", "carol"], seed=b"dp-reveal") as cluster:
        bank, partner = cluster.parties("bank", "partner")
        spu = cluster.mpc(parties, **engine)
        n = 20_000
        x = spu.share(bank.put(np.zeros(n, dtype=np.int64)))
        y = spu.share(partner.put(np.full(n, 7, dtype=np.int64)))
        exact = spu.reveal(x + y, to="partner", dp=EXACT).get()
        noisy = spu.reveal(x + y, to="partner", dp=Budget(1.0)).get() - 7
        learned = cluster.report().to_dict()["learned"][-1]["learned"]
    assert np.all(exact == 7)
    # Oracle: the pmf of a sum of k independent discrete Laplace(1) draws, by convolution.
    r = math.exp(-1.0)
    z = np.arange(-60, 61)
    one = (1 - r) / (1 + r) * r ** np.abs(z)
    pmf = one
    for _ in range(len(parties) - 1):
        pmf = np.convolve(pmf, one)
    support = np.arange(-60 * len(parties), 60 * len(parties) + 1)
    assert np.var(noisy) == pytest.approx(float((pmf * support**2).sum()), rel=0.05)
    assert f"plus {len(parties)} independent noise draws" in learned


def test_reveal_with_dp_refuses_fixed_point():
    with accord.Cluster.simulate(["bank", "partner", "carol"]) as cluster:
        spu = cluster.mpc(["bank", "partner"], dealer="carol")
        x = spu.share(cluster.party("bank").put(np.ones(3)))
        with pytest.raises(accord.errors.ConfigurationError, match="integer array"):
            spu.reveal(x, to="bank", dp=Budget(1.0))
