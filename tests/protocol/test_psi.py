"""ECDH PSI in simulation against plaintext pandas joins, including bad input from either party."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import accord
from accord.errors import InputError
from tests.protocol.wiretap import tap


@pytest.fixture(scope="module")
def cluster():
    with accord.Cluster.simulate(["bank", "partner"], timeout=20) as c:
        yield c


def put(cluster, bank_df, partner_df):
    bank, partner = cluster.parties("bank", "partner")
    return bank.put(bank_df), partner.put(partner_df)


def check_join(a2, b2, bank_df, partner_df, on):
    a, b = a2.get(), b2.get()
    assert len(a) == len(b)
    pd.testing.assert_frame_equal(a[on].reset_index(drop=True), b[on].reset_index(drop=True))
    left = [c for c in bank_df.columns if c not in on]
    right = [c for c in partner_df.columns if c not in on]
    got = pd.concat([a, b[right]], axis=1)
    expected = bank_df.merge(partner_df, on=on)
    cols = list(on) + left + right
    key = lambda df: df[cols].astype(str).sort_values(cols).reset_index(drop=True)  # noqa: E731
    pd.testing.assert_frame_equal(key(got), key(expected))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.integers(0, 30), min_size=1, max_size=40), st.lists(st.integers(0, 30), min_size=1, max_size=40))
def test_join_equals_pandas_merge_with_duplicates(cluster, xs, ys):
    bank_df = pd.DataFrame({"id": xs, "row_a": range(len(xs))})
    partner_df = pd.DataFrame({"id": ys, "row_b": range(len(ys))})
    a2, b2 = accord.psi.align(*put(cluster, bank_df, partner_df), on="id", protocol="ecdh")
    check_join(a2, b2, bank_df, partner_df, ["id"])


def test_multi_column_keys(cluster):
    bank_df = pd.DataFrame({"name": ["ann", "bob", "ann", "cy"], "dob": ["1990", "1985", "1991", "2000"],
                            "score": [1, 2, 3, 4]})
    partner_df = pd.DataFrame({"name": ["ann", "ann", "bob", "dan"], "dob": ["1991", "1990", "1999", "2000"],
                               "spend": [10, 20, 30, 40]})
    a2, b2 = accord.psi.align(*put(cluster, bank_df, partner_df), on=["name", "dob"], protocol="ecdh")
    check_join(a2, b2, bank_df, partner_df, ["name", "dob"])
    assert len(a2.get()) == 2


def test_key_columns_may_have_different_names(cluster):
    a, b = put(cluster, pd.DataFrame({"cid": ["1", "2"]}), pd.DataFrame({"customer": ["2", "3"]}))
    a2, b2 = accord.psi.align(a, b, on={"bank": "cid", "partner": "customer"}, protocol="ecdh")
    assert a2.get()["cid"].tolist() == b2.get()["customer"].tolist() == ["2"]


def test_empty_intersection(cluster):
    a2, b2 = accord.psi.align(*put(cluster, pd.DataFrame({"id": ["a", "b"]}), pd.DataFrame({"id": ["c"]})), on="id",
                              protocol="ecdh")
    assert len(a2.get()) == len(b2.get()) == 0
    assert list(a2.get().columns) == ["id"]


def test_semi_join_to_one_party_and_count(cluster):
    bank_df = pd.DataFrame({"id": [5, 1, 2, 2, 9], "v": range(5)})
    partner_df = pd.DataFrame({"id": [2, 5, 7]})
    a, b = put(cluster, bank_df, partner_df)
    mine = accord.psi.intersect(a, b, on="id", to="bank", protocol="ecdh")
    assert mine.owner == "bank"
    pd.testing.assert_frame_equal(mine.get(), bank_df[bank_df.id.isin([2, 5])].reset_index(drop=True))
    theirs = accord.psi.intersect(a, b, on="id", to="partner", protocol="ecdh")
    assert theirs.get()["id"].tolist() == [2, 5]
    both = accord.psi.intersect(a, b, on="id", to=["bank", "partner"], protocol="ecdh")
    assert both[1].get()["id"].tolist() == [2, 5]
    counts = accord.psi.count(a, b, on="id")
    assert counts[0].get() == counts[1].get() == 2
    assert accord.psi.count(a, b, on="id", to="partner").get() == 2


def test_larger_sets_and_costs(cluster):
    n = 3000
    bank_df = pd.DataFrame({"id": [f"c{i}" for i in range(n)]})
    partner_df = pd.DataFrame({"id": [f"c{i}" for i in range(n // 2, n + n // 2)]})
    before = len(cluster.report().runs)
    a2, _ = accord.psi.align(*put(cluster, bank_df, partner_df), on="id", protocol="ecdh")
    assert sorted(a2.get()["id"]) == sorted(f"c{i}" for i in range(n // 2, n))
    run = cluster.report().runs[before]
    # Each party sends 32 bytes per own key once; the sender adds 16 per receiver key.
    assert run.costs["bank"].bytes_sent > 32 * n
    assert run.costs["partner"].bytes_sent > 48 * n
    assert run.costs["bank"].rounds == 3 and run.costs["partner"].rounds == 4


@pytest.mark.parametrize("bank_df, partner_df, party, field, message", [
    (pd.DataFrame({"x": [1]}), pd.DataFrame({"id": [1]}), "bank", "id", "key column 'id' not found"),
    (pd.DataFrame({"id": []}), pd.DataFrame({"id": [1]}), "bank", None, "the table is empty"),   # no column at fault
    (pd.DataFrame({"id": [1, None]}), pd.DataFrame({"id": [1]}), "bank", "id", "1 missing value"),
    (pd.DataFrame({"id": [1.0, np.nan]}), pd.DataFrame({"id": [1.0]}), "bank", "id", "missing value"),
    (pd.DataFrame({"id": ["1"]}), pd.DataFrame({"id": [1]}), "bank", "id", "holds str values but party 'partner'"),
    (pd.DataFrame({"id": [1]}), pd.DataFrame({"id": ["a", 2]}), "partner", "id", "mixes value types"),
])
def test_bad_input_names_party_and_column(cluster, bank_df, partner_df, party, field, message):
    with pytest.raises(InputError, match=message) as err:
        accord.psi.align(*put(cluster, bank_df, partner_df), on="id", protocol="ecdh")
    assert (err.value.party, err.value.field) == (party, field)


def test_a_failed_run_is_reported(cluster):
    with pytest.raises(InputError):
        accord.psi.align(*put(cluster, pd.DataFrame({"id": []}), pd.DataFrame({"id": [1]})), on="id", protocol="ecdh")
    assert "InputError" in cluster.report().runs[-1].status
    assert "FAILED" in str(cluster.report())


def _cheating(partner_behaviour):
    """A PSI run in which the partner misbehaves as ``partner_behaviour(ctx)`` and the bank is honest."""
    from accord.psi import ecdh
    from accord.runtime import protocol

    @protocol("psi.ecdh", threat_model="test", leakage="test")
    def run(ctx, table, on, receivers, mode, threads):
        if ctx.me == "partner":
            return partner_behaviour(ctx)
        return ecdh.ecdh_psi(ctx, table, on, receivers, mode, threads)

    return run


@pytest.mark.parametrize("behaviour, message", [
    (lambda ctx: ctx.send("bank", {"kinds": ["str"], "n": 1 << 40, "mode": "join",
                                   "receivers": ["bank", "partner"]}, "schema"), "malformed PSI schema"),
    (lambda ctx: (ctx.send("bank", {"kinds": ["str"], "n": 2, "mode": "join", "receivers": ["bank", "partner"]},
                           "schema"),
                  ctx.send("bank", np.zeros((2, 32), dtype=np.uint8), "blinded")), "invalid curve point"),
])
def test_a_misbehaving_peer_is_named(cluster, behaviour, message):
    from accord.errors import MalformedMessage

    table = pd.DataFrame({"id": ["a", "b", "c"]})
    with pytest.raises(MalformedMessage, match=message) as err:
        cluster.run(_cheating(behaviour), {"bank": (table, ["id"], ["bank", "partner"], "join", 1),
                                           "partner": (table, ["id"], ["bank", "partner"], "join", 1)})
    assert err.value.party == "partner"


def test_join_blow_up_is_refused(cluster, monkeypatch):
    from accord.psi import _delivery

    monkeypatch.setattr(_delivery, "MAX_JOIN_ROWS", 10)
    a, b = put(cluster, pd.DataFrame({"id": ["k"] * 5}), pd.DataFrame({"id": ["k"] * 5}))
    with pytest.raises(InputError, match="25 rows"):
        accord.psi.align(a, b, on="id", protocol="ecdh")


def _ranks(values: np.ndarray) -> np.ndarray:
    return np.argsort(np.argsort(values, kind="stable"), kind="stable")


def test_the_sender_cannot_read_the_receivers_row_order(cluster, monkeypatch):
    """A bank table sorted by a secret score: the partner's view, with all it can recompute, is uncorrelated with it.

    The partner (the sender) knows its scalar, so it knows every double-blinded value of the bank's
    rows in the bank's row order (it computed and sent them). If the matches came in the order of
    those values, sorting them would link each of the partner's output rows to a bank row index.
    """
    n = 300
    rng = np.random.default_rng(7)
    ids = [f"cust{i:05d}" for i in rng.permutation(10 * n)[:n]]
    score = np.sort(rng.random(n))  # the bank's rows are sorted by a secret risk score
    bank_df = pd.DataFrame({"id": ids, "score": score})
    partner_df = pd.DataFrame({"id": [ids[i] for i in rng.permutation(n)], "spend": rng.random(n)})
    at_bank = tap(monkeypatch, "bank")
    at_partner = tap(monkeypatch, "partner")
    _, b2 = accord.psi.align(*put(cluster, bank_df, partner_df), on="id", protocol="ecdh")

    # What the partner computed itself: H(x_i)^(ab) for the bank's row i, in the bank's row order.
    twice = next(msg for key, msg in at_bank if key.endswith("/double"))
    guess = np.lexsort(twice.view(">u8").T[::-1])  # row k of the partner's join, if matches came sorted by value
    truth = bank_df.reset_index().set_index("id").loc[b2.get()["id"], "index"].to_numpy()
    assert len(truth) == n
    linked = int((guess == truth).sum())
    assert linked < 10, f"the partner links {linked} of {n} rows to the bank's row index (chance: about 1)"
    rho = np.corrcoef(_ranks(guess), _ranks(truth))[0, 1]
    assert abs(rho) < 0.25, f"the partner's guess of the bank's row order correlates with it (rho={rho:.2f})"
    # The positions the partner receives come in increasing order: they carry nothing but the set.
    positions = next(msg for key, msg in at_partner if key.endswith("/result"))["positions"]
    assert np.array_equal(positions, np.sort(positions))
