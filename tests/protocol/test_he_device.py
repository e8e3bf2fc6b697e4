"""The HE device in simulation: a partner sums the bank's encrypted labels per bucket; only the bank decrypts."""

from __future__ import annotations

import numpy as np
import pytest

import accord
from accord.devices.he import THREAT_MODEL, send_ciphertexts
from accord.errors import ConfigurationError, MalformedMessage
from accord.he import SlotPacking
from accord.runtime import protocol

TEST_KEY = {"bits": 1024, "allow_insecure_key_size": True, "workers": 1}


@pytest.fixture
def cluster():
    with accord.Cluster.simulate(["bank", "partner", "telco"], seed=b"he-device") as c:
        yield c


def test_partner_bucket_sums_bank_labels(cluster):
    bank, partner = cluster.parties("bank", "partner")
    labels = np.array([1, 0, 1, 1, 0, 1, 1, 0])
    groups = np.array([0, 2, 2, 1, 0, 0, 3, 3])
    he = cluster.he(key_owner="bank", **TEST_KEY)
    at_partner = he.send(he.encrypt(bank.put(labels)), to="partner")
    sums = partner.apply(lambda c, g: c.bucket_sum(g, 4), at_partner, partner.put(groups))
    result = he.decrypt(sums)
    assert result.owner == "bank"
    assert result.get().tolist() == np.bincount(groups, weights=labels, minlength=4).astype(int).tolist()

    report = cluster.report()
    names = set(report.protocols())
    assert {"he.paillier.setup", "he.paillier.send", "he.paillier.decrypt"} <= names
    assert report.protocols()["he.paillier.send"].threat_model == THREAT_MODEL
    assert any("Paillier-1024" in note and "key owner 'bank'" in note and "NOT secure" in note
               for note in report.notes)
    learned = report.to_dict()["learned"]
    assert any(e["party"] == "partner" and "ciphertexts" in e["learned"] for e in learned)
    assert any(e["party"] == "bank" and "decrypted plaintexts" in e["learned"] for e in learned)
    text = str(report)
    assert "he.paillier.send" in text and "who learned what" in text


def test_secureboost_style_packed_histograms(cluster):
    bank, partner = cluster.parties("bank", "partner")
    rng = np.random.default_rng(7)
    n, features, bins = 60, 3, 4
    gh = np.stack([rng.uniform(-1, 1, n), rng.uniform(0, 0.25, n)], axis=1)
    binned = rng.integers(0, bins, (n, features))
    layout = SlotPacking.for_sums(slots=2, max_abs=1.0, max_terms=n, frac_bits=24)
    he = cluster.he(key_owner="bank", **TEST_KEY)
    enc = he.send(he.encrypt_packed(bank.put(gh), layout), to="partner")
    hist = partner.apply(lambda c, b: c.bucket_sum(b, bins).compress(), enc, partner.put(binned))
    out = he.decrypt(hist).get()
    assert out.shape == (features, bins, 2)
    for f in range(features):
        for b in range(bins):
            np.testing.assert_allclose(out[f, b], gh[binned[:, f] == b].sum(axis=0), atol=n * 2.0**-24)


def test_fresh_encryptions_travel_as_they_are_and_results_are_rerandomised(cluster):
    bank, partner = cluster.parties("bank", "partner")
    he = cluster.he(key_owner="bank", **TEST_KEY)
    mine = he.encrypt(bank.put(np.array([3, 4])))
    theirs = he.send(mine, to="partner")
    assert theirs.get().values == mine.get().values
    doubled = partner.apply(lambda c: c * 2, theirs)
    back = he.send(doubled, to="bank")
    assert back.get().values != doubled.get().values
    assert he.decrypt(back).get().tolist() == [6, 8]


def test_three_parties_and_decrypt_from_anywhere(cluster):
    bank, partner, telco = cluster.parties()
    he = cluster.he(key_owner="bank", **TEST_KEY)
    enc = he.encrypt(bank.put(np.array([1.5, 2.5])))
    total = None
    for who in (partner, telco):
        held = he.send(enc, to=who.name)
        part = who.apply(lambda c: c.sum() + 1.0, held)
        value = he.decrypt(part).get()
        total = value if total is None else total + value
    assert total.item() == pytest.approx(10.0)


def test_only_the_owner_encrypts_and_decrypts(cluster):
    partner = cluster.party("partner")
    he = cluster.he(key_owner="bank", **TEST_KEY)
    with pytest.raises(ConfigurationError, match="only the key owner"):
        he.encrypt(partner.put(np.array([1])))
    engine = he.engine("partner").get()
    assert not engine.can_decrypt
    with pytest.raises(ConfigurationError, match="cannot decrypt"):
        engine.decrypt(engine.encrypt(np.array([1])))


def test_small_keys_are_refused_by_default(cluster):
    with pytest.raises(ConfigurationError, match="2048"):
        cluster.he(key_owner="bank", bits=1024)
    with pytest.raises(ConfigurationError, match="no party"):
        cluster.he(key_owner="nobody", **TEST_KEY)


@protocol("he.paillier.send", threat_model="test only", leakage="test only")
def _rogue_send(ctx, engine, payload):
    if ctx.me == "partner":
        ctx.send("bank", payload, "ciphertexts")
        return None
    return send_ciphertexts(ctx, engine, None, "partner", None)


@pytest.mark.parametrize("payload", [
    b"\x80\x04pickle",
    {"kind": "paillier", "key": "wrong"},
    {"kind": "paillier-packed", "shape": [1]},
])
def test_malformed_ciphertexts_from_a_peer_abort_naming_it(cluster, payload):
    he = cluster.he(key_owner="bank", **TEST_KEY)
    with pytest.raises(MalformedMessage, match="party 'partner'") as err:
        cluster.run(_rogue_send, {"partner": (he.engine("partner"), payload), "bank": (he.engine("bank"), None)})
    assert err.value.party == "partner"
