"""RR22 PSI in simulation against plaintext pandas joins, what each party receives, and malformed peer messages."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import accord
from accord.errors import ConfigurationError, InputError, MalformedMessage, UnsupportedError
from accord.psi.rr22 import rr22_psi
from accord.runtime import protocol
from tests.protocol import wiretap
from tests.protocol.test_psi import check_join, put
from tests.protocol.test_psi_kkrt import _Stop, _Tampering

ids = st.lists(st.integers(0, 40), min_size=1, max_size=40)


@pytest.fixture(scope="module")
def cluster():
    with accord.Cluster.simulate(["bank", "partner"], timeout=20) as c:
        yield c


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ids, ids)
def test_join_equals_pandas_merge_with_duplicates(cluster, xs, ys):
    bank_df = pd.DataFrame({"id": xs, "row_a": range(len(xs))})
    partner_df = pd.DataFrame({"id": ys, "row_b": range(len(ys))})
    a2, b2 = accord.psi.align(*put(cluster, bank_df, partner_df), on="id", protocol="rr22")
    check_join(a2, b2, bank_df, partner_df, ["id"])


pairs = st.lists(st.tuples(st.integers(0, 4), st.sampled_from(["a", "b", "é"])), min_size=1, max_size=25)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pairs, pairs)
def test_composite_key_join_equals_pandas_merge(cluster, xs, ys):
    bank_df = pd.DataFrame({"n": [x[0] for x in xs], "s": [x[1] for x in xs], "row_a": range(len(xs))})
    partner_df = pd.DataFrame({"n": [y[0] for y in ys], "s": [y[1] for y in ys], "row_b": range(len(ys))})
    a2, b2 = accord.psi.align(*put(cluster, bank_df, partner_df), on=["n", "s"], protocol="rr22")
    check_join(a2, b2, bank_df, partner_df, ["n", "s"])


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ids, ids, st.sampled_from(["bank", "partner", ("bank", "partner")]))
def test_intersect_equals_pandas_isin(cluster, xs, ys, to):
    bank_df = pd.DataFrame({"id": [f"k{x}" for x in xs], "v": range(len(xs))})
    partner_df = pd.DataFrame({"id": [f"k{y}" for y in ys], "w": range(len(ys))})
    a, b = put(cluster, bank_df, partner_df)
    out = accord.psi.intersect(a, b, on="id", to=to, protocol="rr22")
    got = dict(zip(("bank", "partner"), out)) if isinstance(out, tuple) else {out.owner: out}
    expected = {"bank": bank_df[bank_df.id.isin(partner_df.id)], "partner": partner_df[partner_df.id.isin(bank_df.id)]}
    for party, result in got.items():
        pd.testing.assert_frame_equal(result.get(), expected[party].reset_index(drop=True))


def test_empty_intersection_and_empty_table(cluster):
    a2, b2 = accord.psi.align(*put(cluster, pd.DataFrame({"id": ["a", "b"]}), pd.DataFrame({"id": ["c"]})),
                              on="id", protocol="rr22")
    assert len(a2.get()) == len(b2.get()) == 0
    with pytest.raises(InputError, match="the table is empty") as err:
        accord.psi.align(*put(cluster, pd.DataFrame({"id": ["a"]}), pd.DataFrame({"id": []})), on="id",
                         protocol="rr22")
    assert err.value.party == "partner"
    with pytest.raises(UnsupportedError, match="cannot count privately"):
        accord.psi.count(*put(cluster, pd.DataFrame({"id": [1]}), pd.DataFrame({"id": [1]})), on="id",
                         protocol="rr22")


@pytest.mark.parametrize("n_bank, n_partner", [(3000, 1000), (1000, 3000)])
def test_larger_sets_costs_and_rounds(cluster, n_bank, n_partner):
    """The party with fewer keys encodes the OKVS and sends 16 bytes per OKVS column."""
    bank_df = pd.DataFrame({"id": [f"c{i}" for i in range(n_bank)], "v": range(n_bank)})
    partner_df = pd.DataFrame({"id": [f"c{i}" for i in range(500, 500 + n_partner)]})
    before = len(cluster.report().runs)
    a2, b2 = accord.psi.align(*put(cluster, bank_df, partner_df), on="id", protocol="rr22")
    check_join(a2, b2, bank_df, partner_df, ["id"])
    run = cluster.report().runs[before]
    assert run.spec.name == "psi.rr22"
    receiver, sender = ("bank", "partner") if n_bank < n_partner else ("partner", "bank")
    n = min(n_bank, n_partner)
    # OKVS: 16 bytes per column (about 1.44 n + 64 at n = 1000); the VOLE's IKNP matrix: under 3 MB.
    assert 16 * 1.4 * n < run.costs[receiver].bytes_sent < 16 * 1.5 * n + 3_000_000
    # Sender: 8-byte values (40 + log2(1000 * 3000) = 61.5 bits) per key, plus the VOLE's level sums.
    assert 8 * max(n_bank, n_partner) < run.costs[sender].bytes_sent < 8 * max(n_bank, n_partner) + 400_000


def test_what_each_party_receives(cluster, monkeypatch):
    """The OKVS sender sees a pseudo-random masked encoding, never the receiver's hashes; the receiver
    sees only truncated output hashes, which for the sender's other keys look random."""
    bank_df = pd.DataFrame({"id": [f"c{i}" for i in range(2000)]})
    partner_df = pd.DataFrame({"id": [f"c{i}" for i in range(1500, 5000)]})
    seen_partner, seen_bank = wiretap.tap(monkeypatch, "partner"), wiretap.tap(monkeypatch, "bank")
    accord.psi.intersect(*put(cluster, bank_df, partner_df), on="id", to="bank", protocol="rr22")
    okvs_msgs = [m for k, m in seen_partner if k.endswith("okvs")]
    assert len(okvs_msgs) == 1
    masked = okvs_msgs[0]["masked"]
    bits = np.unpackbits(masked.view(np.uint8))
    assert abs(bits.mean() - 0.5) < 0.01  # uniform-looking, although the OKVS itself is half zeros
    # The partner receives nothing that depends on the intersection: no result, no positions.
    assert not [k for k, _ in seen_partner if k.endswith(("result", "counts"))]
    values = [m for k, m in seen_bank if k.endswith("values")]
    assert len(values) == 1 and values[0].shape == (3500, 8)
    assert len({r.tobytes() for r in values[0]}) == 3500


@protocol("psi.rr22", threat_model="test only", leakage="test only: one party deviates")
def _tampered(ctx, table, receivers, mode, cheater, tag, value):
    if ctx.me != cheater:
        return rr22_psi(ctx, table, ["id"], receivers, mode)
    try:
        return rr22_psi(_Tampering(ctx, tag, value), table, ["id"], receivers, mode)
    except _Stop:
        return None


# bank holds fewer keys, so when both receive bank encodes the OKVS and partner sends values.
@pytest.mark.parametrize("cheater, tag, value, message", [
    ("partner", "schema", {"kinds": ["str"], "n": 5, "mode": "join", "receivers": ["bank", "partner"],
                           "nonce": b"short"}, "malformed PSI schema"),
    ("bank", "seed", b"\x00" * 3, "malformed OKVS seed"),
    ("bank", "okvs", {"seed": b"\x00" * 16, "masked": np.zeros((3, 2), np.uint64)}, "malformed OKVS message"),
    ("bank", "okvs", {"seed": b"\x00", "masked": np.zeros((1, 2), np.uint64)}, "malformed OKVS message"),
    ("partner", "values", np.zeros((5, 3), np.uint8), "PSI values that are not"),
    ("bank", "result", {"positions": np.array([7], np.int64), "counts": np.array([1], np.int64)},
     "invalid intersection positions"),
])
def test_malformed_peer_messages_name_the_peer(cluster, cheater, tag, value, message):
    bank, partner = put(cluster, pd.DataFrame({"id": ["a", "b", "c"]}),
                        pd.DataFrame({"id": ["b", "c", "d", "e", "f"]}))
    both = ["bank", "partner"]
    with pytest.raises(MalformedMessage, match=message) as err:
        cluster.run(_tampered, {"bank": (bank, both, "join", cheater, tag, value),
                                "partner": (partner, both, "join", cheater, tag, value)})
    assert err.value.party == cheater


def test_the_default_protocol_is_the_fastest_for_the_output(cluster):
    a, b = put(cluster, pd.DataFrame({"id": ["a", "b", "c"]}), pd.DataFrame({"id": ["b", "c", "d"]}))
    runs = lambda: [r.spec.name for r in cluster.report().runs]  # noqa: E731
    before = len(runs())
    accord.psi.align(a, b, on="id")
    accord.psi.intersect(a, b, on="id", to="bank")
    counts = accord.psi.count(a, b, on="id", to="bank")
    assert counts.get() == 2
    accord.psi.align(a, b, on="id", threads=1)
    accord.psi.align(a, b, on="id", protocol="kkrt")
    assert runs()[before:] == ["psi.rr22", "psi.rr22", "psi.ecdh", "psi.ecdh", "psi.kkrt"]
    with pytest.raises(ConfigurationError, match="protocol must be one of"):
        accord.psi.align(a, b, on="id", protocol="fastest")


def test_a_seed_that_fails_to_encode_is_replaced_and_the_sender_follows(cluster, monkeypatch):
    """The receiver announces its seed before encoding; if encoding fails it sends a new one with the OKVS."""
    from accord.psi.rr22 import okvs

    real, calls = okvs.encode, []

    def fail_first(*args):
        calls.append(1)
        return None if len(calls) == 1 else real(*args)

    monkeypatch.setattr(okvs, "encode", fail_first)
    bank_df = pd.DataFrame({"id": [f"c{i}" for i in range(300)], "v": range(300)})
    partner_df = pd.DataFrame({"id": [f"c{i}" for i in range(100, 700)]})
    a2, b2 = accord.psi.align(*put(cluster, bank_df, partner_df), on="id", protocol="rr22")
    check_join(a2, b2, bank_df, partner_df, ["id"])
    assert len(calls) == 2
