"""Secure LR's validation and early stopping: decided under the shares, only the stop bits are opened."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import accord
from accord.ml.logistic import LogisticRegression
from accord.mpc.session import MPC
from tests.protocol.wiretap import tap

MODES = ["dealer", "ot", "replicated"]


def engine_for(cluster, mode):
    if mode == "dealer":
        return cluster.mpc(["bank", "partner"], dealer="carol")
    if mode == "ot":
        return cluster.mpc(["bank", "partner"], mode="ot")
    return cluster.mpc(["bank", "partner", "carol"])


def oscillating_data(n=300, seed=4):
    """Full-batch steps with a large learning rate make the validation loss rise and fall by clear margins."""
    gen = np.random.default_rng(seed)
    x = gen.normal(size=(n, 6))
    y = (x[:, 0] + 0.5 * x[:, 1] + gen.normal(size=n) > 0).astype(int)
    bank = pd.DataFrame({"a0": x[:, 0], "a1": x[:, 1], "a2": x[:, 2], "default": y})
    partner = pd.DataFrame({"p0": x[:, 3], "p1": x[:, 4], "p2": x[:, 5]})
    return x, y, bank, partner


def plain_early_stopping(x, y, epochs, lr, rounds, validation=0.3, clip=5.0, seed=0):
    """Float64 reference: full-batch gradient steps, the validation rows' summed log-loss after each epoch,
    stop after ``rounds`` epochs without improvement; returns the losses, the best weights and the
    standardised rows (with a bias column)."""
    z = np.clip((x - x.mean(0)) / x.std(0), -clip, clip)
    z = np.column_stack([z, np.ones(len(z))])
    order = np.random.default_rng(seed).permutation(len(y))  # the public split of LRParams.seed
    n_valid = round(validation * len(y))
    valid, train = np.sort(order[:n_valid]), order[n_valid:]
    w = np.zeros(z.shape[1])
    losses, best, best_w, since = [], np.inf, w, 0
    for _ in range(epochs):
        xt, yt = z[train], y[train]
        w = w - lr * xt.T @ (1 / (1 + np.exp(-xt @ w)) - yt) / len(yt)
        p = 1 / (1 + np.exp(-z[valid] @ w))
        losses.append(-np.sum(y[valid] * np.log(p) + (1 - y[valid]) * np.log(1 - p)))
        if losses[-1] < best:
            best, best_w, since = losses[-1], w, 0
        else:
            since += 1
            if rounds and since >= rounds:
                break
    return np.array(losses), best_w, z


@pytest.mark.parametrize("mode", MODES)
def test_early_stopping_matches_plaintext(mode):
    x, y, bank_df, partner_df = oscillating_data()
    losses, best_w, z = plain_early_stopping(x, y, epochs=8, lr=16.0, rounds=2)
    # The case is clearly separated: improvement at epochs 1, 2 and 4 only, so training stops after
    # epoch 6 and keeps epoch 4, and every comparison is decided by far more than fixed-point error.
    record = np.minimum.accumulate(losses)
    assert (losses < np.r_[np.inf, record[:-1]]).tolist() == [True, True, False, True, False, False]
    assert np.min(np.abs(np.diff(losses))) > 0.5 and np.min(np.abs(losses[4:] - record[3])) > 5
    with accord.Cluster.simulate(["bank", "partner", "carol"]) as cluster:
        bank, partner = cluster.parties("bank", "partner")
        a, b = bank.put(bank_df), partner.put(partner_df)
        xa, y_obj = a.drop(columns="default"), a[["default"]]
        model = LogisticRegression(label=y_obj, engine=engine_for(cluster, mode), epochs=8, batch_size=1000,
                                   learning_rate=16.0, validation_fraction=0.3, early_stopping_rounds=2,
                                   average=False).fit([xa, b])
        scores = model.predict([xa, b]).get()
    assert model.epochs_run == len(losses) == 6
    np.testing.assert_allclose(scores, 1 / (1 + np.exp(-z @ best_w)), atol=5e-3)


def test_without_early_stopping_the_best_epoch_is_chosen_and_nothing_opened(monkeypatch):
    x, y, bank_df, partner_df = oscillating_data()
    losses, best_w, z = plain_early_stopping(x, y, epochs=6, lr=16.0, rounds=0)
    assert np.argmin(losses) == 3  # epoch 4 of 6: the last epoch's weights would be wrong
    received = tap(monkeypatch, "bank")
    with accord.Cluster.simulate(["bank", "partner", "carol"]) as cluster:
        bank, partner = cluster.parties("bank", "partner")
        a, b = bank.put(bank_df), partner.put(partner_df)
        xa, y_obj = a.drop(columns="default"), a[["default"]]
        model = LogisticRegression(label=y_obj, engine=engine_for(cluster, "dealer"), epochs=6, batch_size=1000,
                                   learning_rate=16.0, validation_fraction=0.3, average=False).fit([xa, b])
        assert not [key for key, _ in received if "reveal" in key]
        scores = model.predict([xa, b]).get()
    np.testing.assert_allclose(scores, 1 / (1 + np.exp(-z @ best_w)), atol=5e-3)


def r_squared(target, columns):
    design = np.column_stack([*columns, np.ones(len(target))])
    residual = target - design @ np.linalg.lstsq(design, target, rcond=None)[0]
    return 1 - residual.var() / target.var()


@pytest.mark.parametrize("mode", MODES)
def test_label_holder_learns_only_the_stop_bits(monkeypatch, mode):
    x, y, bank_df, partner_df = oscillating_data(seed=9)
    received = tap(monkeypatch, "bank")
    opened = []
    original = MPC.reveal

    def spy(self, value, to):
        out = original(self, value, to)
        if out.is_local and out.owner == "bank":
            opened.append(np.asarray(out.get()))
        return out

    monkeypatch.setattr(MPC, "reveal", spy)
    with accord.Cluster.simulate(["bank", "partner", "carol"]) as cluster:
        bank, partner = cluster.parties("bank", "partner")
        a = bank.put(bank_df)
        model = LogisticRegression(label=a[["default"]], engine=engine_for(cluster, mode), epochs=6, batch_size=105,
                                   validation_fraction=0.3, early_stopping_rounds=6, average=False)
        model.fit([a.drop(columns="default"), partner.put(partner_df)])
        leakage = str(cluster.report())
    # Every opening during training is one stop bit per epoch (all false: six rounds never elapse).
    sizes = [np.size(msg) for key, msg in received if "reveal" in key]
    assert sizes and set(sizes) == {1}, f"values of {sorted(set(sizes))} elements were opened to bank"
    assert [v.tolist() for v in opened] == [[False]] * 6
    # The attack of the issue: regress the partner's first column, on the validation rows, on the bank's
    # own columns and everything of that length opened to the bank (six epochs' scores gave R^2 0.98).
    valid = np.sort(np.random.default_rng(0).permutation(len(y))[:90])
    logits = [np.log(v / (1 - v)) for v in (np.clip(o, 1e-6, 1 - 1e-6) for o in opened) if v.shape == valid.shape]
    assert r_squared(x[valid, 3], [*x[valid, :3].T, *logits]) < 0.1
    # The job report declares it: the stop bit, at the label holder (opened) and at the others (passed on).
    assert "whether training stops" in leakage
    learned = [line for line in leakage.splitlines() if "bank learned" in line]
    assert len(learned) == 6 and all("bool array of shape (1,)" in line for line in learned)
    assert "partner learned whether secure LR training stops" in leakage
