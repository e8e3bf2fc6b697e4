"""SecureBoost against a plaintext booster with the same bins and hyper-parameters, and what the partner sees."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import accord
from accord.errors import InputError
from accord.ml.binning import assign_bins, quantile_edges
from accord.ml.tree import best_split, gradients, histograms, sigmoid
from tests.protocol.wiretap import arrays, leaves, tap

FAST = {"key_bits": 1024, "allow_insecure_key_size": True, "workers": 1}


def make_data(n=400, seed=3):
    gen = np.random.default_rng(seed)
    x = gen.normal(size=(n, 5))
    logit = 1.5 * x[:, 0] - x[:, 1] + 2 * x[:, 3] * (x[:, 4] > 0) + 0.5 * gen.normal(size=n)
    y = (logit > 0).astype(int)
    bank = pd.DataFrame({"a0": x[:, 0], "a1": np.round(x[:, 1], 1), "y": y})
    partner = pd.DataFrame({"p0": x[:, 2], "p1": x[:, 3], "p2": np.sign(x[:, 4])})
    return bank, partner


def plain_boost(x: np.ndarray, y: np.ndarray, n_trees, max_depth, lr, lam, mcw, n_bins):
    """Reference: the same histogram boosting on the joined columns, no encryption."""
    edges = [quantile_edges(x[:, j], n_bins) for j in range(x.shape[1])]
    bins = np.stack([assign_bins(x[:, j], edges[j]) for j in range(x.shape[1])], axis=1)
    rate = y.mean()
    margin = np.full(len(y), np.log(rate / (1 - rate)))
    for _ in range(n_trees):
        g, h = gradients(y, margin)
        node_of = np.zeros(len(y), dtype=int)
        next_id, level, weights = 1, [0], {}
        for _depth in range(max_depth):
            new_level = []
            for node in level:
                rows = np.flatnonzero(node_of == node)
                split = best_split(*histograms(bins[rows], g[rows], h[rows], n_bins), lam, mcw) if len(rows) >= 2 \
                    else None
                if split is None:
                    continue
                left = rows[bins[rows, split.feature] <= split.bin]
                node_of[rows] = next_id + 1
                node_of[left] = next_id
                new_level += [next_id, next_id + 1]
                next_id += 2
            level = new_level
        for leaf in np.unique(node_of):
            rows = node_of == leaf
            weights[leaf] = -lr * g[rows].sum() / (h[rows].sum() + lam)
        margin += np.array([weights[n] for n in node_of])
    return sigmoid(margin)


@pytest.fixture(scope="module")
def cluster():
    with accord.Cluster.simulate(["bank", "partner"], timeout=60) as c:
        yield c


def test_predictions_match_plaintext_boosting(cluster):
    bank_df, partner_df = make_data()
    bank, partner = cluster.parties("bank", "partner")
    a, b = bank.put(bank_df), partner.put(partner_df)
    model = accord.ml.SecureBoost(label=a["y"], n_trees=3, max_depth=3, learning_rate=0.3, n_bins=16, **FAST)
    scores = model.fit([a.drop(columns="y"), b]).predict([a.drop(columns="y"), b]).get()
    x = np.column_stack([bank_df[["a0", "a1"]].to_numpy(), partner_df.to_numpy()])
    expected = plain_boost(x, bank_df["y"].to_numpy(), 3, 3, 0.3, 1.0, 1.0, 16)
    np.testing.assert_allclose(scores, expected, atol=1e-4)
    importance = model.feature_importance()
    assert set(importance["partner"].get()) <= {"p0", "p1", "p2"} and importance["partner"].get()
    assert set(importance["bank"].get()) <= {"a0", "a1"}


def test_partner_receives_only_ciphertexts_and_partitions(cluster, monkeypatch):
    bank_df, partner_df = make_data(200, seed=5)
    received = tap(monkeypatch, "partner")
    bank, partner = cluster.parties("bank", "partner")
    a, b = bank.put(bank_df), partner.put(partner_df)
    accord.ml.SecureBoost(label=a["y"], n_trees=2, max_depth=2, **FAST).fit([a.drop(columns="y"), b])
    y = bank_df["y"].to_numpy()
    seen = arrays(received)
    assert seen, "the partner received nothing"
    for arr in seen:
        assert arr.dtype in (np.uint8, np.int64, np.bool_), f"plaintext {arr.dtype} array reached the partner"
        if arr.dtype == np.uint8:
            continue  # Paillier ciphertexts (fixed-width integers) and the public key
        assert not (arr.shape == y.shape and np.array_equal(arr.astype(int), y)), "the label reached the partner"

    for key, msg in received:
        if key.endswith("/hello") or key.endswith("/importance"):
            continue  # public hyper-parameters, and the declared per-feature gains
        floats = [v for v in leaves(msg) if isinstance(v, float)]
        assert not floats, f"plaintext numbers reached the partner at {key}: {floats[:3]}"


def test_save_load_and_score_again(cluster, tmp_path):
    bank_df, partner_df = make_data(200, seed=7)
    bank, partner = cluster.parties("bank", "partner")
    a, b = bank.put(bank_df), partner.put(partner_df)
    model = accord.ml.SecureBoost(label=a["y"], n_trees=2, max_depth=2, **FAST).fit([a.drop(columns="y"), b])
    before = model.predict([a.drop(columns="y"), b]).get()
    model.save(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bank.secureboost.json", "partner.secureboost.json"]
    partner_part = json.loads((tmp_path / "partner.secureboost.json").read_text())
    assert all(node[-1] == 0.0 for tree in partner_part["trees"] for node in tree["nodes"])  # no leaf weights
    loaded = accord.ml.SecureBoost.load(cluster, tmp_path, "bank", ["bank", "partner"])
    np.testing.assert_allclose(loaded.predict([a.drop(columns="y"), b]).get(), before)
    metrics = model.evaluate([a.drop(columns="y"), b], a["y"]).get()
    assert 0.5 < metrics["auc"] <= 1 and "ks" in metrics


@pytest.mark.parametrize("change, party, message", [
    (lambda a, b: (a.assign(y=a.y + 1), b), "bank", "binary"),
    (lambda a, b: (a, b.assign(p2=1.0)), "partner", "constant"),
    (lambda a, b: (a.assign(a0=np.nan), b), "bank", "NaN"),
    (lambda a, b: (a, b.iloc[:-1]), "bank", "rows"),
])
def test_bad_input_is_named(cluster, change, party, message):
    bank_df, partner_df = change(*make_data(100, seed=9))
    bank, partner = cluster.parties("bank", "partner")
    a, b = bank.put(bank_df), partner.put(partner_df)
    with pytest.raises(InputError, match=message) as err:
        accord.ml.SecureBoost(label=a["y"], n_trees=1, **FAST).fit([a.drop(columns="y"), b])
    assert err.value.party == party


def test_missing_feature_column_at_prediction(cluster):
    bank_df, partner_df = make_data(100, seed=11)
    bank, partner = cluster.parties("bank", "partner")
    a, b = bank.put(bank_df), partner.put(partner_df)
    model = accord.ml.SecureBoost(label=a["y"], n_trees=1, max_depth=2, **FAST).fit([a.drop(columns="y"), b])
    with pytest.raises(InputError, match="p1"):
        model.predict([a.drop(columns="y"), partner.put(partner_df.drop(columns="p1"))])
