"""Keyword PIR in simulation: plaintext lookups as the oracle, bad input, damaged tables, the server's view."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import accord
from accord.crypto import oprf
from accord.crypto import ristretto255 as group
from accord.errors import ConfigurationError, InputError, MalformedMessage, VerificationFailed
from accord.pir import server as pir_server
from accord.pir.table import TableError
from tests.protocol.wiretap import tap

PHONES = st.text(alphabet="0123456789", min_size=1, max_size=6)


def _setup(cluster, tmp_path, flagged: dict[str, str], **kw):
    telecom = cluster.party("telecom")
    table = telecom.put(pd.DataFrame({"phone": list(flagged), "risk": list(flagged.values())}))
    state = {"telecom": tmp_path / "telecom", "bank": tmp_path / "bank"}
    summary = accord.pir.build(table, on="phone", labels=["risk"], state=state["telecom"], **kw)
    accord.pir.sync(cluster, server="telecom", client="bank", state=state)
    return state, summary


def _ask(cluster, state, phones):
    asked = cluster.party("bank").put(pd.DataFrame({"phone": phones}))
    return accord.pir.query(asked, on="phone", server="telecom", state=state).to_pandas()


@settings(max_examples=8, deadline=None)
@given(flagged=st.dictionaries(PHONES, st.sampled_from(["high", "low", "fraud ring 7", "é"]), min_size=1,
                               max_size=25),
       others=st.lists(PHONES, max_size=15))
def test_lookups_equal_plaintext_lookups(tmp_path_factory, flagged, others):
    tmp_path = tmp_path_factory.mktemp("pir")
    with accord.Cluster.simulate(["telecom", "bank"]) as cluster:
        state, _ = _setup(cluster, tmp_path, flagged)
        asked = list(dict.fromkeys(list(flagged)[::2] + others))
        got = _ask(cluster, state, asked)
    assert list(got["phone"]) == asked
    assert list(got["matched"]) == [p in flagged for p in asked]
    assert list(got["risk"]) == [flagged.get(p) for p in asked]


def test_summary_states_parameters_and_security(tmp_path):
    with accord.Cluster.simulate(["telecom", "bank"]) as cluster:
        _, summary = _setup(cluster, tmp_path, {"1": "a", "2": "bb"}, capacity=1 << 20)
        info = summary.get()
        assert info["entries"] == 2 and info["label_bytes"] == 4  # u16 length + the longest label
        assert info["tag_bytes"] == 8  # 40 + 1 + 20 bits -> 61 -> 8 bytes
        assert "2^-" in info["security"] and "128-bit" in info["security"]
        report = cluster.report().to_dict()
    assert "number of keys asked" not in report["protocols"]["pir.sync"]["leakage"]


def test_the_servers_view_is_independent_of_the_keys(tmp_path, monkeypatch):
    """The server receives the table id, the count and uniformly random group elements: nothing that depends on
    which keys were asked or whether they matched (a disjoint query set gives a view of the same form, the same
    keys asked twice give unrelated elements, and no element is a key's hash)."""
    flagged = {f"{i:04d}": "x" for i in range(40)}
    with accord.Cluster.simulate(["telecom", "bank"]) as cluster:
        state, _ = _setup(cluster, tmp_path, flagged)
        at_server = tap(monkeypatch, "telecom")
        views = []
        for phones in (["0001", "0002", "0003"], ["9991", "9992", "9993"], ["0001", "0002", "0003"]):
            start = len(at_server)
            _ask(cluster, state, phones)
            views.append(at_server[start:])
    dst = b"HashToGroup-" + oprf.context_string(oprf.VOPRF)
    hashes = {group.hash_to_group(("s" + "\x00\x00\x00\x04" + p).encode(), dst) for p in ["0001", "9991"]}
    shapes = [[(key.rsplit("/", 1)[1], sorted(m) if isinstance(m, dict) else m.shape) for key, m in v] for v in views]
    assert shapes[0] == shapes[1] == shapes[2] == [("hello", ["count", "table_id"]), ("blinded", (3, 32))]
    assert views[0][0][1] == views[1][0][1]  # same table id and count whether the keys match or not
    elements = [bytes(row) for v in views for row in v[1][1]]
    assert len(set(elements)) == 9 and not set(elements) & hashes
    assert all(group.is_valid(e) for e in elements)


def test_a_stale_or_foreign_copy_is_refused_at_both(tmp_path):
    with accord.Cluster.simulate(["telecom", "bank"]) as cluster:
        state, _ = _setup(cluster, tmp_path, {"1": "a"})
        accord.pir.build(cluster.party("telecom").put(pd.DataFrame({"phone": ["1"], "risk": ["a"]})), on="phone",
                         labels=["risk"], state=state["telecom"])  # a rebuild draws a fresh key
        with pytest.raises(ConfigurationError, match="copy of another table"):
            _ask(cluster, state, ["1"])
        accord.pir.sync(cluster, server="telecom", client="bank", state=state)
        assert list(_ask(cluster, state, ["1"])["risk"]) == ["a"]


def test_more_queries_than_the_parameters_allow(tmp_path):
    with accord.Cluster.simulate(["telecom", "bank"]) as cluster:
        state, _ = _setup(cluster, tmp_path, {"1": "a"}, capacity=5, max_batch=3)
        with pytest.raises(ConfigurationError, match="allows 1 to 3 per run"):
            _ask(cluster, state, ["1", "2", "3", "4"])
        _ask(cluster, state, ["1", "2", "3"])
        with pytest.raises(ConfigurationError, match="only 2 more queries"):
            _ask(cluster, state, ["4", "5", "6"])
        _ask(cluster, state, ["4", "5"])
        assert (state["telecom"] / pir_server.COUNT_FILE).read_text().strip() == "5"


def test_keys_of_the_wrong_type_are_refused_before_the_run(tmp_path):
    with accord.Cluster.simulate(["telecom", "bank"]) as cluster:
        state, _ = _setup(cluster, tmp_path, {"1": "a"})
        asked = cluster.party("bank").put(pd.DataFrame({"phone": [1]}))
        with pytest.raises(InputError, match="kinds"):
            accord.pir.query(asked, on="phone", server="telecom", state=state)
        with pytest.raises(InputError, match="missing value"):
            accord.pir.query(cluster.party("bank").put(pd.DataFrame({"phone": ["1", None]})), on="phone",
                             server="telecom", state=state)
        assert [r.spec.name for r in cluster.report().runs] == ["pir.sync"]  # no query ran


def test_duplicate_server_keys_are_refused(tmp_path):
    with accord.Cluster.simulate(["telecom", "bank"]) as cluster:
        table = cluster.party("telecom").put(pd.DataFrame({"phone": ["1", "1"], "risk": ["a", "b"]}))
        with pytest.raises(InputError, match="repeated keys"):
            accord.pir.build(table, on="phone", labels=["risk"], state=tmp_path / "t")


def _flip(path, offset_from_end):
    data = bytearray(path.read_bytes())
    data[-offset_from_end] ^= 1
    path.write_bytes(bytes(data))


def test_damaged_tables_are_detected(tmp_path):
    with accord.Cluster.simulate(["telecom", "bank"]) as cluster:
        state, _ = _setup(cluster, tmp_path, {f"{i}": "label" for i in range(3000)})
        copy = state["bank"] / "telecom.pir"
        original = copy.read_bytes()
        _flip(copy, 5)  # a label byte in the last block
        with pytest.raises(TableError, match="block 2 does not match its digest"):
            _ask(cluster, state, [f"{i}" for i in range(3000)])
        copy.write_bytes(original[:-7])
        with pytest.raises(TableError, match="truncated"):
            _ask(cluster, state, ["1"])
        copy.write_bytes(original)
        served = state["telecom"] / pir_server.TABLE_FILE
        good = served.read_bytes()
        served.write_bytes(good.replace(b'"capacity":1073741824', b'"capacity":1073741825'))
        with pytest.raises(TableError, match="does not belong to this server's key"):
            _ask(cluster, state, ["1"])
        served.write_bytes(good)
        _flip(served, 3)
        with pytest.raises(TableError, match="does not match its digest"):
            accord.pir.sync(cluster, server="telecom", client="bank", state={**state, "bank": tmp_path / "new"})
        assert not (tmp_path / "new" / "telecom.pir").exists()


def test_a_server_answering_under_another_key_is_caught(tmp_path, monkeypatch):
    with accord.Cluster.simulate(["telecom", "bank"]) as cluster:
        state, _ = _setup(cluster, tmp_path, {"1": "a"})
        real = pir_server.ServerState.__init__

        def other_key(self, path):
            real(self, path)
            self.sk = group.scalar_from_int(7)

        monkeypatch.setattr(pir_server.ServerState, "__init__", other_key)
        with pytest.raises(VerificationFailed, match="VOPRF proof"):
            _ask(cluster, state, ["1"])


def test_a_malformed_answer_names_the_server(tmp_path, monkeypatch):
    from accord.pir import messages

    with accord.Cluster.simulate(["telecom", "bank"]) as cluster:
        state, _ = _setup(cluster, tmp_path, {"1": "a"})
        monkeypatch.setattr(messages.Evaluated, "to_wire", lambda self: {"elements": self.elements[:, :16],
                                                                          "proof": self.proof})
        with pytest.raises(MalformedMessage, match="'telecom'"):
            _ask(cluster, state, ["1"])


def test_the_sync_moves_nothing_when_the_copy_is_current(tmp_path):
    with accord.Cluster.simulate(["telecom", "bank"]) as cluster:
        state, _ = _setup(cluster, tmp_path, {"1": "a"})
        assert accord.pir.sync(cluster, server="telecom", client="bank", state=state).get()["received"] == 0
        costs = cluster.report().runs[-1].costs["telecom"]
        assert costs.bytes_sent < 200
