"""Secure logistic regression on tables with string categoricals, missing values and a text label."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import accord
from accord.errors import InputError
from accord.ml.logistic import LogisticRegression
from accord.ml.preprocess import Encoder
from tests.protocol.test_logistic import plain_lr


def mixed(n=500, seed=5):
    gen = np.random.default_rng(seed)
    x0, x1 = gen.normal(size=(2, n))
    city = gen.choice(["lyon", "nice", "paris"], size=n)
    plan = gen.choice(["basic", "plus", "pro"], size=n)
    logit = x0 - x1 + 1.5 * (city == "paris") - (plan == "basic") + 0.5 * gen.normal(size=n)
    x0[gen.random(n) < 0.2] = np.nan
    x1[gen.random(n) < 0.1] = np.nan
    plan = np.where(gen.random(n) < 0.1, None, plan).astype(object)
    bank = pd.DataFrame({"x0": x0, "city": city, "label": np.where(logit > 0, "bad", "good")})
    partner = pd.DataFrame({"plan": plan, "x1": x1})
    return bank, partner


def test_categoricals_missing_values_and_text_label_match_the_plaintext_reference():
    bank_df, partner_df = mixed()
    with accord.Cluster.simulate(["bank", "partner", "carol"]) as cluster:
        bank, partner = cluster.parties("bank", "partner")
        a, b = bank.put(bank_df), partner.put(partner_df)
        xa = a.drop(columns="label")
        model = LogisticRegression(label=a[["label"]], positive="bad", engine=cluster.mpc(["bank", "partner"],
                                   dealer="carol"), epochs=3, batch_size=100, impute="median")
        scores = model.fit([xa, b]).predict([xa, b]).get()
        metrics = model.evaluate([xa, b], a[["label"]]).get()
    # Reference written with pandas: median fill, one 0/1 column per level (a missing level: all zeros).
    wide = pd.concat([bank_df[["x0"]].fillna(bank_df["x0"].median()), pd.get_dummies(bank_df["city"], dtype=float),
                      pd.get_dummies(partner_df["plan"], dtype=float),
                      partner_df[["x1"]].fillna(partner_df["x1"].median())], axis=1).to_numpy()
    y = (bank_df["label"] == "bad").to_numpy().astype(float)
    order = np.random.default_rng(0).permutation(len(y))
    expected = plain_lr(wide[order], y[order], 3, 100, 1.0, 0.0)
    np.testing.assert_allclose(scores[order], expected, atol=5e-3)
    assert metrics["auc"] > 0.85


def test_encoder_strategies_rare_and_unseen_levels():
    table = pd.DataFrame({"x": [1.0, None, 3.0, 10.0], "c": ["a", "a", "b", None]})
    enc = Encoder.fit(table, "bank", impute="constant", fill_value=-1.0, min_level_rows=2)
    assert enc.columns == ["x", "c=a", "c=<other>"]
    out = enc.transform(pd.DataFrame({"x": [None, 2.0], "c": ["zz", "a"]}), "bank")
    assert out.to_numpy().tolist() == [[-1.0, 0.0, 1.0], [2.0, 1.0, 0.0]]  # unseen level: the rare group
    assert Encoder.fit(table, "bank", impute="median").fill == {"x": 3.0}
    assert Encoder.fit(table, "bank").fill == {"x": pytest.approx(14 / 3)}
    assert Encoder.fit(table.assign(k=0.0), "bank").dropped == ["k"]


def test_text_label_needs_its_positive_class():
    bank_df, partner_df = mixed(100)
    with accord.Cluster.simulate(["bank", "partner", "carol"]) as cluster:
        bank, partner = cluster.parties("bank", "partner")
        a, b = bank.put(bank_df), partner.put(partner_df)
        spu = cluster.mpc(["bank", "partner"], dealer="carol")
        with pytest.raises(InputError, match="declare which value is the positive class") as err:
            LogisticRegression(label=a[["label"]], engine=spu).fit([a.drop(columns="label"), b])
        assert err.value.party == "bank"
        with pytest.raises(InputError, match="'yes' does not occur"):
            LogisticRegression(label=a[["label"]], positive="yes", engine=spu).fit([a.drop(columns="label"), b])
