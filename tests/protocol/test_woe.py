"""WOE/IV across parties equals the plaintext computation on the joined data, exactly.

The references here use pandas and the formulas, not accord.ml.binning: a bug shared by the protocol
and its helpers would otherwise pass.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import accord
from accord.errors import InputError, MalformedMessage
from accord.ml import woe
from accord.ml.woe import WOEParams, woe_binning
from tests.protocol.wiretap import tap

FAST = {"key_bits": 1024, "allow_insecure_key_size": True, "workers": 1}


def data(n=500, seed=2):
    gen = np.random.default_rng(seed)
    age = gen.integers(20, 70, n).astype(float)
    limit = gen.choice([1e4, 5e4, 1e5, 2e5], n)
    pay = gen.integers(-2, 4, n).astype(float)
    y = (gen.random(n) < 1 / (1 + np.exp(-(0.8 * pay - 0.03 * (age - 40) - np.log(limit / 5e4))))).astype(int)
    return pd.DataFrame({"pay": pay, "y": y}), pd.DataFrame({"age": age, "limit": limit})


def bin_of(column: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Bin ``k`` holds ``edges[k-1] < x <= edges[k]`` (the documented convention), with pandas."""
    return np.asarray(pd.cut(column, [-np.inf, *edges, np.inf], labels=False))


def equal_frequency(column: np.ndarray, n_bins: int) -> np.ndarray:
    """Cut points at the lower sample quantiles k / n_bins, distinct and below the maximum (ties stay together)."""
    cuts = np.unique(np.quantile(column, np.arange(1, n_bins) / n_bins, method="lower"))
    return cuts[cuts < column.max()]


def at_least(column: np.ndarray, edges: np.ndarray, min_rows: int) -> np.ndarray:
    """Walk the bins left to right, closing a group once it holds ``min_rows`` rows; a short last group joins
    the one before. Returns the edges kept."""
    sizes = np.bincount(bin_of(column, edges), minlength=len(edges) + 1)
    keep, rows = [], 0
    for k, size in enumerate(sizes[:-1]):
        rows += size
        if rows >= min_rows:
            keep.append(k)
            rows = 0
    if keep and rows + sizes[-1] < min_rows:
        keep.pop()
    return edges[keep]


def counts(column: np.ndarray, y: np.ndarray, edges: np.ndarray) -> pd.DataFrame:
    """Events and non-events per bin, with pandas on the joined data."""
    return pd.crosstab(bin_of(column, edges), y).reindex(index=range(len(edges) + 1), columns=[0, 1], fill_value=0)


def woe_and_iv(table: pd.DataFrame) -> tuple[np.ndarray, float]:
    """The convention accord.ml.binning states (optbinning's): WOE = ln(non-event share / event share), IV = sum
    (non-event share - event share) WOE."""
    events, non_events = table[1].to_numpy(float), table[0].to_numpy(float)
    assert (events > 0).all() and (non_events > 0).all(), "pick data without empty classes (no smoothing here)"
    de, dn = events / events.sum(), non_events / non_events.sum()
    return np.log(dn / de), float(np.sum((dn - de) * np.log(dn / de)))


def chi2(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson's chi-square of the 2x2 table of two bins' (non-event, event) counts, no continuity correction."""
    table = np.array([a, b], dtype=float)
    expected = table.sum(1, keepdims=True) * table.sum(0, keepdims=True) / table.sum()
    return float(((table - expected) ** 2 / expected).sum())


@pytest.mark.parametrize("method", ["quantile", "chimerge"])
def test_woe_iv_equal_plaintext(method):
    bank_df, partner_df = data()
    params = WOEParams(n_bins=5, method=method, fine_bins=20, **FAST)
    with accord.Cluster.simulate(["bank", "partner"]) as cluster:
        out = cluster.run(woe_binning, {"bank": (bank_df[["pay"]], bank_df["y"], "bank", params),
                                        "partner": (partner_df, None, "bank", params)})
        bank_part, partner_part = out["bank"].get(), out["partner"].get()
    y = bank_df["y"].to_numpy()
    minimum = max(params.min_bin_rows, int(np.ceil(params.min_bin_share * len(y))))
    for part, frame, column in ((bank_part, bank_df, "pay"), (partner_part, partner_df, "age"),
                                (partner_part, partner_df, "limit")):
        x = frame[column].to_numpy()
        got = part.columns[column]
        fine = at_least(x, equal_frequency(x, params.fine_bins if method == "chimerge" else params.n_bins), minimum)
        table = counts(x, y, got.edges)
        if method == "quantile":
            np.testing.assert_array_equal(got.edges, fine)
        else:   # merged fine bins: at most n_bins, each adjacent pair significantly different
            assert set(got.edges) <= set(fine) and 2 <= len(got.edges) + 1 <= params.n_bins
            rows = table[[0, 1]].to_numpy()
            assert min(chi2(rows[k], rows[k + 1]) for k in range(len(rows) - 1)) >= 3.841
        assert table.to_numpy().sum(axis=1).min() >= minimum
        woe_values, iv = woe_and_iv(table)
        np.testing.assert_allclose(got.woe, woe_values, rtol=1e-12)
        assert got.iv == pytest.approx(iv, rel=1e-12)
    transformed = partner_part.transform(partner_df)
    age = partner_part.columns["age"]
    np.testing.assert_array_equal(transformed["age"], age.woe[bin_of(partner_df["age"].to_numpy(), age.edges)])


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


def tied(n=300, seed=4):
    """A partner column of small counts with one outlier: ties collapse the quantile edges around it."""
    gen = np.random.default_rng(seed)
    loans = gen.choice([0.0, 1.0, 2.0], n, p=[0.5, 0.3, 0.2])
    loans[17] = 9.0  # the one customer with nine loans: alone in the top bin unless bins have a minimum size
    y = (gen.random(n) < 0.3).astype(int)
    return pd.DataFrame({"pay": gen.integers(-2, 4, n).astype(float), "y": y}), pd.DataFrame({"loans": loans})


def lonely_labels(part, frame, column):
    """What the partner reads off its WOE: the label of every customer alone in a bin (WOE < 0 means label 1)."""
    col = part.columns[column]
    bins = bin_of(frame[column].to_numpy(), col.edges)
    sizes = np.bincount(bins, minlength=len(col.woe))
    return {int(np.flatnonzero(bins == b)[0]): int(col.woe[b] < 0) for b in np.flatnonzero(sizes == 1)}


@pytest.mark.parametrize("label", [0, 1])
def test_no_bin_is_small_enough_to_give_a_label_away(monkeypatch, label):
    bank_df, partner_df = tied()
    bank_df.loc[17, "y"] = label
    params = WOEParams(n_bins=10, **FAST)
    at_bank, at_partner = tap(monkeypatch, "bank"), tap(monkeypatch, "partner")
    with accord.Cluster.simulate(["bank", "partner"]) as cluster:
        out = cluster.run(woe_binning, {"bank": (bank_df[["pay"]], bank_df["y"], "bank", params),
                                        "partner": (partner_df, None, "bank", params)})
        partner_part = out["partner"].get()
    read = lonely_labels(partner_part, partner_df, "loans")
    assert not read, f"the partner reads the labels of customers alone in a bin: {read} (true label {label})"
    minimum = max(30, int(np.ceil(0.05 * len(partner_df))))
    sizes = next(msg for key, msg in at_bank if key.endswith("/sizes"))
    assert sizes.min() >= minimum, "the bank learned counts of a bin below the minimum size"
    reply = next(msg for key, msg in at_partner if key.endswith("/woe"))
    bins = bin_of(partner_df["loans"].to_numpy(), partner_part.columns["loans"].edges)
    assert len(reply[0]["woe"]) == len(np.unique(bins)) >= 2
    assert np.bincount(bins).min() >= minimum


def test_the_label_holder_refuses_partner_bins_below_the_minimum(monkeypatch):
    bank_df, partner_df = tied()
    params = WOEParams(n_bins=10, **FAST)
    at_partner = tap(monkeypatch, "partner")
    # A partner that skips the merge (the label holder's own columns are merged before this patch matters).
    monkeypatch.setattr(woe, "merge_small_bins", lambda sizes, min_rows: np.arange(1, len(sizes), dtype=np.int64))
    with accord.Cluster.simulate(["bank", "partner"]) as cluster:
        with pytest.raises(MalformedMessage, match="bin of 1 rows, below the minimum of 30") as err:
            cluster.run(woe_binning, {"bank": (bank_df[["pay"]], bank_df["y"], "bank", params),
                                      "partner": (partner_df, None, "bank", params)})
    assert err.value.party == "partner"
    assert not [key for key, _ in at_partner if key.endswith("/woe")], "WOE reached the partner"


def test_a_column_too_short_for_two_bins_is_named():
    bank_df, partner_df = data(50)
    params = WOEParams(**FAST)
    with accord.Cluster.simulate(["bank", "partner"]) as cluster:
        with pytest.raises(InputError, match="two bins of at least 30 rows") as err:
            cluster.run(woe_binning, {"bank": (bank_df[["pay"]], bank_df["y"], "bank", params),
                                      "partner": (partner_df, None, "bank", params)})
    # Every column is too short; the run reports the first party's error (cluster.run keeps party order).
    assert (err.value.party, err.value.field) == ("bank", "pay")
