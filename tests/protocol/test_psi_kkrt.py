"""KKRT PSI in simulation against plaintext pandas joins, bad input, and malformed messages from the peer."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import accord
from accord.errors import ConfigurationError, InputError, MalformedMessage, UnsupportedError
from accord.psi.kkrt import kkrt_psi
from accord.runtime import protocol
from tests.protocol.test_psi import check_join, put

ids = st.lists(st.integers(0, 40), min_size=1, max_size=40)


@pytest.fixture(scope="module")
def cluster():
    with accord.Cluster.simulate(["bank", "partner"], timeout=20) as c:
        yield c


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ids, ids)
def test_join_equals_pandas_merge_with_duplicates(cluster, xs, ys):
    bank_df = pd.DataFrame({"id": xs, "row_a": range(len(xs))})
    partner_df = pd.DataFrame({"id": ys, "row_b": range(len(ys))})
    a2, b2 = accord.psi.align(*put(cluster, bank_df, partner_df), on="id", protocol="kkrt")
    check_join(a2, b2, bank_df, partner_df, ["id"])


pairs = st.lists(st.tuples(st.integers(0, 4), st.sampled_from(["a", "b", "é"])), min_size=1, max_size=25)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pairs, pairs)
def test_composite_key_join_equals_pandas_merge(cluster, xs, ys):
    bank_df = pd.DataFrame({"n": [x[0] for x in xs], "s": [x[1] for x in xs], "row_a": range(len(xs))})
    partner_df = pd.DataFrame({"n": [y[0] for y in ys], "s": [y[1] for y in ys], "row_b": range(len(ys))})
    a2, b2 = accord.psi.align(*put(cluster, bank_df, partner_df), on=["n", "s"], protocol="kkrt")
    check_join(a2, b2, bank_df, partner_df, ["n", "s"])


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ids, ids, st.sampled_from(["bank", "partner", ("bank", "partner")]))
def test_intersect_equals_pandas_isin(cluster, xs, ys, to):
    bank_df = pd.DataFrame({"id": [f"k{x}" for x in xs], "v": range(len(xs))})
    partner_df = pd.DataFrame({"id": [f"k{y}" for y in ys], "w": range(len(ys))})
    a, b = put(cluster, bank_df, partner_df)
    out = accord.psi.intersect(a, b, on="id", to=to, protocol="kkrt")
    got = dict(zip(("bank", "partner"), out)) if isinstance(out, tuple) else {out.owner: out}
    assert set(got) == ({to} if isinstance(to, str) else set(to))
    expected = {"bank": bank_df[bank_df.id.isin(partner_df.id)], "partner": partner_df[partner_df.id.isin(bank_df.id)]}
    for party, result in got.items():
        pd.testing.assert_frame_equal(result.get(), expected[party].reset_index(drop=True))


def test_multi_column_keys_and_different_column_names(cluster):
    bank_df = pd.DataFrame({"name": ["ann", "bob", "ann", "cy"], "dob": ["1990", "1985", "1991", "2000"],
                            "score": [1, 2, 3, 4]})
    partner_df = pd.DataFrame({"who": ["ann", "ann", "bob", "dan"], "born": ["1991", "1990", "1999", "2000"],
                               "spend": [10, 20, 30, 40]})
    a2, b2 = accord.psi.align(*put(cluster, bank_df, partner_df),
                              on={"bank": ["name", "dob"], "partner": ["who", "born"]}, protocol="kkrt")
    a, b = a2.get(), b2.get()
    assert a[["name", "dob"]].values.tolist() == b[["who", "born"]].values.tolist()
    assert sorted(map(tuple, a[["name", "dob"]].values.tolist())) == [("ann", "1990"), ("ann", "1991")]


def test_empty_intersection(cluster):
    a2, b2 = accord.psi.align(*put(cluster, pd.DataFrame({"id": ["a", "b"]}), pd.DataFrame({"id": ["c"]})),
                              on="id", protocol="kkrt")
    assert len(a2.get()) == len(b2.get()) == 0
    assert list(a2.get().columns) == ["id"]


@pytest.mark.parametrize("n_bank, n_partner", [(3000, 1000), (1000, 3000)])
def test_larger_sets_costs_and_rounds(cluster, n_bank, n_partner):
    """Both receive: the party with fewer keys is the OPRF receiver and sends 64 bytes per cuckoo bin."""
    bank_df = pd.DataFrame({"id": [f"c{i}" for i in range(n_bank)]})
    partner_df = pd.DataFrame({"id": [f"c{i}" for i in range(500, 500 + n_partner)]})
    before = len(cluster.report().runs)
    a2, b2 = accord.psi.align(*put(cluster, bank_df, partner_df), on="id", protocol="kkrt")
    assert sorted(a2.get()["id"]) == sorted(f"c{i}" for i in range(500, 500 + min(n_bank - 500, n_partner)))
    assert a2.get()["id"].tolist() == b2.get()["id"].tolist()
    run = cluster.report().runs[before]
    assert run.spec.name == "psi.kkrt"
    receiver, sender = ("bank", "partner") if n_bank < n_partner else ("partner", "bank")
    bins = 1.27 * min(n_bank, n_partner)
    assert 64 * bins < run.costs[receiver].bytes_sent < 64 * bins * 1.1 + 100_000
    # Sender: 512 base-OT points, then 3 values of 8 bytes (40 + log2(1000 * 3000) = 61.5 bits) per key.
    assert 3 * 8 * max(n_bank, n_partner) < run.costs[sender].bytes_sent < 3 * 8 * max(n_bank, n_partner) + 40_000
    assert run.costs[receiver].rounds == 4 and run.costs[sender].rounds == 4


def test_count_and_threads_are_refused_with_kkrt(cluster):
    a, b = put(cluster, pd.DataFrame({"id": [1, 2]}), pd.DataFrame({"id": [2]}))
    with pytest.raises(UnsupportedError, match="cannot count privately"):
        accord.psi.count(a, b, on="id", protocol="kkrt")
    with pytest.raises(ConfigurationError, match="does not use it"):
        accord.psi.align(a, b, on="id", protocol="kkrt", threads=2)
    with pytest.raises(ConfigurationError, match="protocol must be one of"):
        accord.psi.align(a, b, on="id", protocol="bogus")
    assert accord.psi.count(a, b, on="id", to="bank", protocol="ecdh").get() == 1


@pytest.mark.parametrize("bank_df, partner_df, party, field, message", [
    (pd.DataFrame({"x": [1]}), pd.DataFrame({"id": [1]}), "bank", "id", "key column 'id' not found"),
    (pd.DataFrame({"id": []}), pd.DataFrame({"id": [1]}), "bank", None, "the table is empty"),   # no column at fault
    (pd.DataFrame({"id": [1, None]}), pd.DataFrame({"id": [1]}), "bank", "id", "1 missing value"),
    (pd.DataFrame({"id": ["1"]}), pd.DataFrame({"id": [1]}), "bank", "id", "holds str values but party 'partner'"),
    (pd.DataFrame({"id": [1]}), pd.DataFrame({"id": ["a", 2]}), "partner", "id", "mixes value types"),
])
def test_bad_input_names_party_and_column(cluster, bank_df, partner_df, party, field, message):
    with pytest.raises(InputError, match=message) as err:
        accord.psi.align(*put(cluster, bank_df, partner_df), on="id", protocol="kkrt")
    assert (err.value.party, err.value.field) == (party, field)


class _Stop(Exception):
    """The deviating party has sent its bad message and leaves."""


class _Tampering:
    """A party's context that replaces its message under ``tag`` by ``value``, then stops (a deviating peer)."""

    def __init__(self, ctx, tag, value):
        self._ctx, self._tag, self._value = ctx, tag, value

    def __getattr__(self, name):
        return getattr(self._ctx, name)

    def send(self, peer, value, tag):
        if tag != self._tag:
            self._ctx.send(peer, value, tag)
            return
        self._ctx.send(peer, self._value, tag)
        raise _Stop

    def exchange(self, value, tag, timeout=None):
        for peer in self._ctx.peers:
            self.send(peer, value, tag)
        return self._ctx.recv_all(tag, timeout)


@protocol("psi.kkrt", threat_model="test only", leakage="test only: one party deviates")
def _tampered(ctx, table, receivers, mode, cheater, tag, value):
    if ctx.me != cheater:
        return kkrt_psi(ctx, table, ["id"], receivers, mode)
    try:
        return kkrt_psi(_Tampering(ctx, tag, value), table, ["id"], receivers, mode)
    except _Stop:
        return None


# bank holds fewer keys, so when both receive bank is the OPRF receiver and partner the OPRF sender.
@pytest.mark.parametrize("cheater, tag, value, message", [
    ("partner", "schema", {"kinds": ["str"], "n": 5, "mode": "join", "receivers": ["bank", "partner"],
                           "nonce": b"short"}, "malformed PSI schema"),
    ("partner", "schema", ["not", "a", "map"], "malformed PSI schema"),
    ("bank", "seed", b"\x00" * 3, "malformed cuckoo-hash seed"),
    ("bank", "u1", np.zeros((128, 2), np.uint8), "malformed OT-extension matrix"),
    ("partner", "values", np.zeros((5, 3, 4), np.uint8), "OPRF values that are not"),
    ("partner", "values", np.zeros((5, 3, 7), np.int64), "OPRF values that are not"),
    ("bank", "result", {"positions": np.array([7], np.int64), "counts": np.array([1], np.int64)},
     "invalid intersection positions"),
    ("bank", "result", {"positions": np.array([0, 0], np.int64), "counts": np.array([1, 1], np.int64)},
     "invalid intersection positions"),
    ("partner", "counts", np.array([1.0, 1.0]), "invalid row counts"),
])
def test_malformed_peer_messages_name_the_peer(cluster, cheater, tag, value, message):
    bank_df = pd.DataFrame({"id": ["a", "b", "c"]})
    partner_df = pd.DataFrame({"id": ["b", "c", "d", "e", "f"]})
    bank, partner = put(cluster, bank_df, partner_df)
    both = ["bank", "partner"]
    with pytest.raises(MalformedMessage, match=message) as err:
        cluster.run(_tampered, {"bank": (bank, both, "join", cheater, tag, value),
                                "partner": (partner, both, "join", cheater, tag, value)})
    assert err.value.party == cheater
    assert f"party {cheater!r}" in str(err.value)


def test_ot_extension_in_several_batches(cluster, monkeypatch):
    """Large sets run the OT extension batch by batch; results must not depend on the batch size."""
    from accord.psi.kkrt import protocol as kkrt_protocol

    monkeypatch.setattr(kkrt_protocol, "BATCH_BINS", 100)
    bank_df = pd.DataFrame({"id": [f"c{i}" for i in range(900)], "v": range(900)})
    partner_df = pd.DataFrame({"id": [f"c{i}" for i in range(300, 1500)]})
    before = len(cluster.report().runs)
    a2, b2 = accord.psi.align(*put(cluster, bank_df, partner_df), on="id", protocol="kkrt")
    check_join(a2, b2, bank_df, partner_df, ["id"])
    run = cluster.report().runs[before]
    assert run.costs["bank"].messages_sent >= 12  # one OT-extension matrix per batch of 100 bins
    assert run.costs["bank"].rounds == 4


@pytest.mark.parametrize("to", [["bank", "partner"], ["bank"], ["partner"]])
def test_each_party_sends_what_the_other_receives_in_total_and_per_operation(to):
    with accord.Cluster.simulate(["bank", "partner"]) as cluster:
        bank, partner = cluster.parties("bank", "partner")
        a = bank.put(pd.DataFrame({"id": [f"k{i}" for i in range(300)]}))
        b = partner.put(pd.DataFrame({"id": [f"k{i}" for i in range(150, 600)]}))
        accord.psi.intersect(a, b, on="id", to=to, protocol="kkrt")
        entry = cluster.report().to_dict()["protocols"]["psi.kkrt"]
    assert "base_ot" in entry["ops"]
    for what, per_party in {"total": entry["costs"], **entry["ops"]}.items():
        bank_c, partner_c = per_party.get("bank", {}), per_party.get("partner", {})
        assert bank_c.get("bytes_sent", 0) == partner_c.get("bytes_received", 0), what
        assert partner_c.get("bytes_sent", 0) == bank_c.get("bytes_received", 0), what
