"""Driver functions for the vertical-ML process tests (each party runs the same code)."""

from __future__ import annotations

from typing import Any

import numpy as np

import accord
from tests.protocol.test_logistic import make_data


def train_and_score(cluster: accord.Cluster, me: str, args: dict[str, Any]) -> dict[str, Any]:
    bank_df, partner_df = make_data(300, seed=12)
    bank, partner = cluster.parties("bank", "partner")
    a, b = bank.put(bank_df), partner.put(partner_df)
    xa, y = a.drop(columns="default"), a[["default"]]
    if args["model"] == "secureboost":
        model = accord.ml.SecureBoost(label=y, n_trees=2, max_depth=2, key_bits=1024, allow_insecure_key_size=True,
                                      workers=1)
    else:
        engine = cluster.mpc(["bank", "partner"], dealer="carol") if args["model"] == "lr-dealer" \
            else cluster.mpc(["bank", "partner"], mode="ot")
        model = accord.ml.LogisticRegression(label=y, engine=engine, epochs=2, batch_size=100,
                                             validation_fraction=0.2, early_stopping_rounds=1)
    metrics = model.fit([xa, b]).evaluate([xa, b], y)
    return {"auc": metrics.get()["auc"] if metrics.is_local else None,
            "scored": bool(np.isfinite(metrics.get()["ks"])) if metrics.is_local else None}


def mixed_inputs(cluster: accord.Cluster, me: str, args: dict[str, Any]) -> dict[str, Any]:
    """String categoricals, missing values at both parties, a text label and a column constant in these rows."""
    from tests.protocol.test_secureboost import mixed_data

    bank_df, partner_df = mixed_data(400, seed=31)
    partner_df["flag"] = 1.0
    bank, partner = cluster.parties("bank", "partner")
    a, b = bank.put(bank_df), partner.put(partner_df)
    xa, y = a.drop(columns="y"), a[["y"]]
    if args["model"] == "secureboost":
        model = accord.ml.SecureBoost(label=y, positive="bad", n_trees=2, max_depth=3, key_bits=1024,
                                      allow_insecure_key_size=True, workers=1)
    else:
        model = accord.ml.LogisticRegression(label=y, positive="bad", engine=cluster.mpc(["bank", "partner"],
                                             dealer="carol"), epochs=2, batch_size=100)
    metrics = model.fit([xa, b]).evaluate([xa, b], y)
    return {"auc": metrics.get()["auc"] if metrics.is_local else None, "notes": cluster.report().notes}
