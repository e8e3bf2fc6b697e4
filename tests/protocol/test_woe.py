"""WOE/IV across parties equals the plaintext computation on the joined data, exactly."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import accord
from accord.errors import InputError
from accord.ml.binning import assign_bins, bin_counts, chi_merge, quantile_edges, woe_iv
from accord.ml.woe import WOEParams, woe_binning

FAST = {"key_bits": 1024, "allow_insecure_key_size": True, "workers": 1}


def data(n=500, seed=2):
    gen = np.random.default_rng(seed)
    age = gen.integers(20, 70, n).astype(float)
    limit = gen.choice([1e4, 5e4, 1e5, 2e5], n)
    pay = gen.integers(-2, 4, n).astype(float)
    y = (gen.random(n) < 1 / (1 + np.exp(-(0.8 * pay - 0.03 * (age - 40) - np.log(limit / 5e4))))).astype(int)
    return pd.DataFrame({"pay": pay, "y": y}), pd.DataFrame({"age": age, "limit": limit})


def plaintext(column: np.ndarray, y: np.ndarray, params: WOEParams):
    first = params.fine_bins if params.method == "chimerge" else params.n_bins
    edges = quantile_edges(column, first)
    events, non_events = bin_counts(assign_bins(column, edges), y, len(edges) + 1)
    starts = chi_merge(events, non_events, params.n_bins) if params.method == "chimerge" else np.arange(1, len(events))
    groups = np.searchsorted(starts, np.arange(len(events)), side="right")
    table = woe_iv("c", np.bincount(groups, weights=events), np.bincount(groups, weights=non_events))
    return edges[starts - 1], table


@pytest.mark.parametrize("method", ["quantile", "chimerge"])
def test_woe_iv_equal_plaintext(method):
    bank_df, partner_df = data()
    params = WOEParams(n_bins=5, method=method, fine_bins=20, **FAST)
    with accord.Cluster.simulate(["bank", "partner"]) as cluster:
        out = cluster.run(woe_binning, {"bank": (bank_df[["pay"]], bank_df["y"], "bank", params),
                                        "partner": (partner_df, None, "bank", params)})
        bank_part, partner_part = out["bank"].get(), out["partner"].get()
    y = bank_df["y"].to_numpy()
    for part, frame, column in ((bank_part, bank_df, "pay"), (partner_part, partner_df, "age"),
                                (partner_part, partner_df, "limit")):
        edges, table = plaintext(frame[column].to_numpy(), y, params)
        got = part.columns[column]
        np.testing.assert_array_equal(got.edges, edges)
        np.testing.assert_allclose(got.woe, table.woe, rtol=1e-12)
        assert got.iv == pytest.approx(table.iv, rel=1e-12)
    transformed = partner_part.transform(partner_df)
    assert set(np.unique(transformed["age"])) <= set(partner_part.columns["age"].woe)


def test_bad_label_and_constant_column():
    bank_df, partner_df = data(100)
    params = WOEParams(**FAST)
    with accord.Cluster.simulate(["bank", "partner"]) as cluster:
        with pytest.raises(InputError, match="0/1"):
            cluster.run(woe_binning, {"bank": (bank_df[["pay"]], bank_df["y"] * 3, "bank", params),
                                      "partner": (partner_df, None, "bank", params)})
        with pytest.raises(InputError, match="constant") as err:
            cluster.run(woe_binning, {"bank": (bank_df[["pay"]], bank_df["y"], "bank", params),
                                      "partner": (partner_df.assign(age=30.0), None, "bank", params)})
        assert err.value.party == "partner" and err.value.field == "age"
