"""Secure logistic regression: same model as plaintext gradient descent, shares only at the partner."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import accord
from accord.errors import InputError
from accord.ml.logistic import LogisticRegression
from tests.protocol.wiretap import arrays, tap


def make_data(n=600, seed=4):
    gen = np.random.default_rng(seed)
    x = gen.normal(size=(n, 5)) * [1, 10, 0.1, 3, 1] + [0, 5, 1, -2, 0]
    y = (x @ [1.0, 0.1, 5.0, -0.3, 0.5] + gen.normal(size=n) > 3.5).astype(int)
    bank = pd.DataFrame({"a0": x[:, 0], "a1": x[:, 1], "default": y})
    partner = pd.DataFrame({"p0": x[:, 2], "p1": x[:, 3], "p2": x[:, 4]})
    return bank, partner


def plain_lr(x, y, epochs, batch, lr, l2, clip=5.0):
    """Float64 reference: standardise and clip, mini-batch steps, average the second half's iterates."""
    z = np.clip((x - x.mean(0)) / x.std(0), -clip, clip)
    z = np.column_stack([z, np.ones(len(z))])
    w = np.zeros(z.shape[1])
    total, count = np.zeros_like(w), 0
    decay = np.r_[np.full(z.shape[1] - 1, 1 - lr * l2), 1.0]
    for epoch in range(epochs):
        for s in range(0, len(y), batch):
            xb, yb = z[s:s + batch], y[s:s + batch]
            w = w * decay - lr * xb.T @ (1 / (1 + np.exp(-xb @ w)) - yb) / len(yb)
            if epoch >= epochs // 2:
                total, count = total + w, count + 1
    return 1 / (1 + np.exp(-z @ (total / count)))


@pytest.mark.parametrize("mode", ["dealer", "ot"])
def test_matches_plaintext_gradient_descent(mode):
    bank_df, partner_df = make_data(400 if mode == "ot" else 600)
    names = ["bank", "partner", "carol"] if mode == "dealer" else ["bank", "partner"]
    with accord.Cluster.simulate(names) as cluster:
        bank, partner = cluster.parties("bank", "partner")
        spu = cluster.mpc(["bank", "partner"], dealer="carol") if mode == "dealer" else None
        a, b = bank.put(bank_df), partner.put(partner_df)
        xa, xb, y = a.drop(columns="default"), b, a[["default"]]
        model = LogisticRegression(label=y, engine=spu, epochs=3, batch_size=100, learning_rate=1.0, l2=0.01)
        scores = model.fit([xa, xb]).predict([xa, xb]).get()
        assert "ot" in str(cluster.report()) if mode == "ot" else "dealer" in str(cluster.report())
    x = np.column_stack([bank_df[["a0", "a1"]], partner_df]).astype(float)
    # The public batch order is a permutation of the rows: apply it to the reference too.
    order = np.random.default_rng(0).permutation(len(x))
    expected = plain_lr(x[order], bank_df["default"].to_numpy()[order], 3, 100, 1.0, 0.01)
    np.testing.assert_allclose(scores[order], expected, atol=5e-3)


def test_partner_sees_only_shares_and_decisions(monkeypatch):
    bank_df, partner_df = make_data(300, seed=6)
    received = tap(monkeypatch, "partner")
    with accord.Cluster.simulate(["bank", "partner", "carol"]) as cluster:
        bank, partner = cluster.parties("bank", "partner")
        a = bank.put(bank_df)
        LogisticRegression(label=a[["default"]], engine=cluster.mpc(["bank", "partner"], dealer="carol"), epochs=2,
                           batch_size=100, validation_fraction=0.2, early_stopping_rounds=1).fit(
            [a.drop(columns="default"), partner.put(partner_df)])
    y = bank_df["default"].to_numpy()
    seen = arrays(received)
    assert seen
    for arr in seen:
        # Shares and masked values are unsigned ring elements; no float or signed plaintext array may arrive.
        assert arr.dtype.kind in "ub", f"{arr.dtype} array reached the partner"
        assert not (arr.shape[-1:] == y.shape and np.array_equal(arr.astype(np.int64), y))


def test_save_load_and_bad_input(tmp_path):
    bank_df, partner_df = make_data(200, seed=8)
    with accord.Cluster.simulate(["bank", "partner", "carol"]) as cluster:
        bank, partner = cluster.parties("bank", "partner")
        spu = cluster.mpc(["bank", "partner"], dealer="carol")
        a, b = bank.put(bank_df), partner.put(partner_df)
        xa = a.drop(columns="default")
        model = LogisticRegression(label=a[["default"]], engine=spu, epochs=1, batch_size=50).fit([xa, b])
        model.save(tmp_path)
        loaded = LogisticRegression.load(spu, tmp_path, "bank")
        np.testing.assert_allclose(loaded.predict([xa, b]).get(), model.predict([xa, b]).get(), atol=1e-4)
        # A column with one value in the training rows is dropped with a notice, not a failure.
        LogisticRegression(label=a[["default"]], engine=spu, epochs=1, batch_size=50).fit(
            [xa, partner.put(partner_df.assign(p1=1.0))])
        assert any(n.startswith("logistic regression: partner dropped") and "p1" in n for n in cluster.report().notes)
        with pytest.raises(InputError, match="binary"):
            LogisticRegression(label=bank.put(bank_df[["a0"]]), engine=spu).fit([xa, b])


def test_without_a_third_party_each_party_receives_only_masked_values(monkeypatch):
    """In OT mode the feature blocks never leave their owners: every array a party receives looks uniform.

    The OT-extension matrices carry the bits of the other party's features as choices, and the
    corrections carry weight and residual shares: all are masked by pseudo-random pads, so their bits
    are balanced even though the features' bits are not.
    """
    bank_df, partner_df = make_data(300, seed=9)
    received = {p: tap(monkeypatch, p) for p in ("bank", "partner")}
    with accord.Cluster.simulate(["bank", "partner"]) as cluster:
        bank, partner = cluster.parties("bank", "partner")
        a = bank.put(bank_df)
        LogisticRegression(label=a[["default"]], epochs=1, batch_size=100).fit(
            [a.drop(columns="default"), partner.put(partner_df)])
    for party, got in received.items():
        seen = arrays(got)
        assert seen
        for arr in seen:
            assert arr.dtype.kind in "ub", f"{arr.dtype} array reached {party}"
            bits = np.unpackbits(np.ascontiguousarray(arr).view(np.uint8))
            if bits.size >= 1 << 14:
                assert 0.47 < bits.mean() < 0.53, f"{party} received an array whose bits are not balanced"


def test_owned_matrices_are_checked_at_their_owner():
    with accord.Cluster.simulate(["bank", "partner", "carol"]) as cluster:
        bank, carol = cluster.party("bank"), cluster.party("carol")
        spu = cluster.mpc(["bank", "partner"], mode="ot")
        with pytest.raises(InputError, match=r"at most 5\.0") as err:
            spu.owned(bank.put(np.array([[1.0, -6.0]])), bound=5.0)
        assert err.value.party == "bank"
        with pytest.raises(InputError, match="numeric matrix"):
            spu.owned(bank.put(np.array([1.0, 2.0])), bound=5.0)
        with pytest.raises(accord.errors.ConfigurationError, match="computing party"):
            spu.owned(carol.put(np.zeros((2, 2))), bound=5.0)


def test_the_report_declares_what_owned_matrices_reveal():
    """The owned step's declaration names the shape and the reuse of OTs, not the generic MPC leakage."""
    with accord.Cluster.simulate(["bank", "partner"]) as cluster:
        spu = cluster.mpc(["bank", "partner"], mode="ot")
        spu.owned(cluster.party("bank").put(np.ones((3, 2))), bound=5.0)
        declared = cluster.report().to_dict()["protocols"]["mpc.2pc-ot.owned"]
    assert declared["leakage"].startswith("the matrix's shape")
    assert "no value of the matrix leaves its owner" in declared["leakage"]
    assert "reused under a fresh tweak per product" in declared["threat_model"]
