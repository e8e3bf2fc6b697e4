"""SecureBoost against hand-computed splits and XGBoost on the same bins and rows, and what the partner sees."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import accord
from accord.errors import InputError
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


@pytest.fixture(scope="module")
def cluster():
    with accord.Cluster.simulate(["bank", "partner"], timeout=60) as c:
        yield c


def test_one_split_by_hand(cluster):
    # Eight rows, label rate 5/8: base margin ln(5/3), p = 5/8, g = 5/8 - y (-3/8 or +5/8), h = 15/64.
    y = np.array([1, 1, 1, 1, 0, 1, 0, 0])
    bank, partner = cluster.parties("bank", "partner")
    a = bank.put(pd.DataFrame({"b0": [0.0, 1.0] * 4, "y": y}))
    b = partner.put(pd.DataFrame({"p0": [0.0, 0.0, 1.0, 1.0, 2.0, 2.0, 3.0, 3.0]}))
    model = accord.ml.SecureBoost(label=a["y"], n_trees=1, max_depth=1, learning_rate=1.0, reg_lambda=1.0,
                                  min_child_weight=0.4, min_bin_rows=1, **FAST).fit([a.drop(columns="y"), b])
    # p0 (bins = values): per-bin G = -3/4, -3/4, 1/4, 5/4 and H = 15/32 each; G = 0, H = 15/8.
    # Split after bin 1: G_L = -3/2, H_L = 15/16, so the gain is 2 * (9/4) / (31/16) = 72/31 (after bin 0:
    # 0.617, after bin 2: 1.713). b0: G = 1/2 and -1/2 over H = 15/16 each, gain 2 * (1/4) / (31/16) = 8/31.
    assert model.feature_importance()["partner"].get() == {"p0": pytest.approx(72 / 31, rel=1e-5)}
    assert model.feature_importance()["bank"].get() == {}
    # Leaves: -G / (H + 1) = +-(3/2) / (31/16) = +-24/31 on top of ln(5/3).
    margin = np.log(5 / 3) + np.array([24, 24, 24, 24, -24, -24, -24, -24]) / 31
    scores = model.predict([a.drop(columns="y"), b]).get()
    np.testing.assert_allclose(scores, 1 / (1 + np.exp(-margin)), rtol=1e-5)


@pytest.mark.parametrize("params", [
    {"n_trees": 3, "max_depth": 3, "learning_rate": 0.3},
    {"n_trees": 3, "max_depth": 3, "learning_rate": 0.3, "he": "paillier"},
    {"n_trees": 4, "max_depth": 4, "learning_rate": 0.5, "reg_lambda": 2.5, "gamma": 0.8, "min_child_weight": 3.0},
])
def test_predictions_match_xgboost(cluster, params):
    """XGBoost (``hist``) on the same rows, with the same hyper-parameters and base score.

    The columns have fewer distinct values than ``max_bin`` (256 in both), so both boosters give each
    distinct value its own bin (``min_bin_rows=1``: no merging of small bins) and XGBoost reads the raw
    values.

    Tolerance 1e-5 on probabilities: XGBoost keeps gradients and leaf values in float32 (relative error
    about 6e-8 per value, a few 1e-7 on a margin), and accord's Paillier plaintexts hold gradients with
    20 fractional bits (2^-21 per value), which can move a histogram sum by ``rows * 2^-21`` but not
    the chosen splits here; the leaf weights are computed in float64 at the label holder.
    """
    xgboost = pytest.importorskip("xgboost")
    bank_df, partner_df = (df.round(1) for df in make_data())
    bank, partner = cluster.parties("bank", "partner")
    a, b = bank.put(bank_df), partner.put(partner_df)
    model = accord.ml.SecureBoost(label=a["y"], max_bin=256, min_bin_rows=1, **params, **FAST)
    scores = model.fit([a.drop(columns="y"), b]).predict([a.drop(columns="y"), b]).get()
    x = pd.concat([bank_df[["a0", "a1"]], partner_df], axis=1)
    y = bank_df["y"].to_numpy()
    booster = xgboost.XGBClassifier(
        n_estimators=params["n_trees"], max_depth=params["max_depth"], learning_rate=params["learning_rate"],
        reg_lambda=params.get("reg_lambda", 1.0), gamma=params.get("gamma", 0.0),
        min_child_weight=params.get("min_child_weight", 1.0), base_score=y.mean(), tree_method="hist", max_bin=256)
    expected = booster.fit(x, y).predict_proba(x)[:, 1]
    np.testing.assert_allclose(scores, expected, atol=1e-5)
    assert len(np.unique(np.round(expected, 6))) > 8  # several trees of several leaves, not a constant
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


def test_partner_sends_only_the_smaller_sibling_of_each_pair(cluster, monkeypatch):
    """The label holder derives each larger sibling as parent minus sibling: half the histograms cross."""
    bank_df, partner_df = make_data(400, seed=17)
    received = tap(monkeypatch, "bank")
    bank, partner = cluster.parties("bank", "partner")
    a, b = bank.put(bank_df), partner.put(partner_df)
    model = accord.ml.SecureBoost(label=a["y"], n_trees=1, max_depth=4, **FAST).fit([a.drop(columns="y"), b])
    sent = [len(msg["direct"]) for key, msg in received if key.endswith("/histograms")]
    tree = model.parts["bank"].get().trees[0]
    splits = [sum(1 for n in tree.nodes if n.depth == d and not n.is_leaf) for d in range(3)]
    assert splits[2] > 2  # a full enough tree for the count to mean something
    assert sent == [1, *splits]  # each split of the level before gives two nodes (of >= 4 rows), one is sent


def test_partner_leaves_out_each_features_most_populated_cell(cluster, monkeypatch):
    """The label holder derives each feature's largest cell (of the first tree's rows) from the node total.

    The partner sends every other cell; the trees stay XGBoost's (a skewed binary column, and a
    column whose missing bucket is its largest cell).
    """
    xgboost = pytest.importorskip("xgboost")
    bank_df, partner_df = (df.round(1) for df in make_data(400, seed=23))
    gen = np.random.default_rng(23)
    partner_df["p3"] = (gen.random(400) < 0.15).astype(float)
    partner_df["p4"] = np.where(gen.random(400) < 0.6, np.nan, partner_df["p1"] + bank_df["a0"]).round(0)
    received = tap(monkeypatch, "bank")
    bank, partner = cluster.parties("bank", "partner")
    a, b = bank.put(bank_df), partner.put(partner_df)
    params = {"n_trees": 3, "max_depth": 3, "learning_rate": 0.3}
    model = accord.ml.SecureBoost(label=a["y"], max_bin=256, min_bin_rows=1, **params, **FAST)
    scores = model.fit([a.drop(columns="y"), b]).predict([a.drop(columns="y"), b]).get()
    x = pd.concat([bank_df[["a0", "a1"]], partner_df], axis=1)
    y = bank_df["y"].to_numpy()
    booster = xgboost.XGBClassifier(n_estimators=3, max_depth=3, learning_rate=0.3, base_score=y.mean(),
                                    tree_method="hist", max_bin=256)
    np.testing.assert_allclose(scores, booster.fit(x, y).predict_proba(x)[:, 1], atol=1e-5)

    columns = ["p0", "p1", "p2", "p3", "p4"]
    cells = [np.append(np.unique(partner_df[c].dropna(), return_counts=True)[1], partner_df[c].isna().sum())
             for c in columns]  # rows per distinct value (one bin each here), then the missing ones
    largest = [int(np.argmax(c)) if np.argmax(c) < len(c) - 1 else 256 for c in cells]  # cell 256: missing
    assert largest[3] == 0 and largest[4] == 256
    histograms = [msg for key, msg in received if key.endswith("/histograms")]
    assert histograms and all(msg["derived"].tolist() == largest for msg in histograms)
    used = sum(len(c) if c[-1] else len(c) - 1 for c in cells)  # cells in use: bins, and missing where any
    for msg in histograms:
        assert msg["hists"]["shape"] == [len(msg["direct"]) * (used - len(columns))]
    declared = cluster.report().to_dict()["protocols"]
    assert "which of its cells (bins or missing bucket) holds the most rows of the first tree" in \
        declared["ml.secureboost.fit"]["leakage"]
    assert "Okamoto-Uchiyama by default" in declared["ml.secureboost.fit"]["threat_model"]


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
    (lambda a, b: (a.assign(y=np.where(a.y == 1, "bad", "good")), b), "bank", "positive class"),
    (lambda a, b: (a, b.assign(p2=np.inf)), "partner", "infinite"),
    (lambda a, b: (a, b.iloc[:-1]), "bank", "rows"),
])
def test_bad_input_is_named(cluster, change, party, message):
    bank_df, partner_df = change(*make_data(100, seed=9))
    bank, partner = cluster.parties("bank", "partner")
    a, b = bank.put(bank_df), partner.put(partner_df)
    with pytest.raises(InputError, match=message) as err:
        accord.ml.SecureBoost(label=a["y"], n_trees=1, **FAST).fit([a.drop(columns="y"), b])
    assert err.value.party == party


def mixed_data(n=600, seed=21):
    """Numeric columns with missing values and string categoricals at both parties; a text label."""
    gen = np.random.default_rng(seed)
    region = gen.choice(["north", "south", "east", "west", "centre"], size=n, p=[0.3, 0.25, 0.2, 0.15, 0.1])
    housing = gen.choice(["own", "rent", "family"], size=n)
    product = gen.choice(list("ABCDEFG"), size=n)
    channel = gen.choice(["web", "branch", "phone", "agent"], size=n)
    x0, x1, x2 = gen.normal(size=(3, n)).round(1)
    effect = {"north": 1.0, "south": -0.5, "east": 0.3, "west": -1.2, "centre": 0.0}
    logit = (x0 - 0.8 * x1 + np.vectorize(effect.get)(region) + 0.7 * (housing == "rent")
             + 0.4 * np.isin(product, ["B", "E", "F"]) - 0.6 * np.isin(channel, ["web", "agent"])
             + 0.5 * gen.normal(size=n))
    x0[gen.random(n) < 0.15] = np.nan  # missing at the bank ...
    x2[gen.random(n) < 0.25] = np.nan  # ... and at the partner
    product = np.where(gen.random(n) < 0.1, None, product).astype(object)
    housing = np.where(gen.random(n) < 0.1, None, housing).astype(object)
    bank = pd.DataFrame({"x0": x0, "housing": housing, "y": np.where(logit > 0, "bad", "good")})
    partner = pd.DataFrame({"x1": x1, "x2": x2, "region": region, "product": product, "channel": channel})
    return bank, partner


def test_categorical_and_missing_match_xgboost(cluster):
    """XGBoost's own categorical splits (``enable_categorical``) and missing-value directions, same rows.

    Both boosters see the same values: categories as pandas categoricals in accord's (sorted) level
    order, missing values as NaN; numeric columns have fewer distinct values than ``max_bin``.
    ``housing`` (3 levels) takes one-vs-rest splits, ``channel``, ``region`` and ``product`` (4, 5 and 7
    levels) partition splits.
    Same tolerance as :func:`test_predictions_match_xgboost`.
    """
    xgboost = pytest.importorskip("xgboost")
    bank_df, partner_df = mixed_data()
    bank, partner = cluster.parties("bank", "partner")
    a, b = bank.put(bank_df), partner.put(partner_df)
    params = {"n_trees": 4, "max_depth": 4, "learning_rate": 0.3, "min_bin_rows": 1, "max_bin": 256}
    model = accord.ml.SecureBoost(label=a["y"], positive="bad", **params, **FAST)
    scores = model.fit([a.drop(columns="y"), b]).predict([a.drop(columns="y"), b]).get()
    x = pd.concat([bank_df.drop(columns="y"), partner_df], axis=1)
    for column in ("housing", "region", "product", "channel"):
        x[column] = pd.Categorical(x[column], categories=sorted(x[column].dropna().unique()))
    y = (bank_df["y"] == "bad").to_numpy().astype(int)
    booster = xgboost.XGBClassifier(n_estimators=4, max_depth=4, learning_rate=0.3, base_score=y.mean(),
                                    tree_method="hist", enable_categorical=True)
    expected = booster.fit(x, y).predict_proba(x)[:, 1]
    np.testing.assert_allclose(scores, expected, atol=1e-5)
    dump = "".join(booster.get_booster().get_dump())
    assert "region:{" in dump or "product:{" in dump  # XGBoost too chose partition splits on categories


def test_column_constant_in_training_rows_is_dropped_with_a_notice(cluster):
    bank_df, partner_df = make_data(200, seed=13)
    partner_df["level=NA"] = 0.0  # e.g. a one-hot level that never occurs in the training rows
    bank, partner = cluster.parties("bank", "partner")
    a, b = bank.put(bank_df), partner.put(partner_df)
    model = accord.ml.SecureBoost(label=a["y"], n_trees=2, max_depth=2, **FAST).fit([a.drop(columns="y"), b])
    assert model.parts["partner"].get().dropped == ["level=NA"]
    assert model.parts["partner"].get().columns == ["p0", "p1", "p2"]
    assert any("partner" in note and "level=NA" in note for note in cluster.report().notes)
    scored = partner.put(partner_df.assign(**{"level=NA": np.arange(200) % 2}))  # varies in new rows: ignored
    np.testing.assert_allclose(model.predict([a.drop(columns="y"), scored]).get(),
                               model.predict([a.drop(columns="y"), b]).get())


def test_missing_feature_column_at_prediction(cluster):
    bank_df, partner_df = make_data(100, seed=11)
    bank, partner = cluster.parties("bank", "partner")
    a, b = bank.put(bank_df), partner.put(partner_df)
    model = accord.ml.SecureBoost(label=a["y"], n_trees=1, max_depth=2, **FAST).fit([a.drop(columns="y"), b])
    with pytest.raises(InputError, match="p1"):
        model.predict([a.drop(columns="y"), partner.put(partner_df.drop(columns="p1"))])
