"""Partitioners deal every row exactly once, with the skew each one promises."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from accord.crypto.random import Rng
from accord.fl import partition
from accord.fl.partition import _gamma


def labels(n=3000, classes=10):
    return np.arange(n) % classes


def test_every_partitioner_deals_each_row_once():
    y = labels()
    for parts in (partition.iid(Rng(b"1"), len(y), 7), partition.dirichlet(Rng(b"2"), y, 7, 0.5),
                  partition.shards(Rng(b"3"), y, 7)):
        rows = np.concatenate(parts)
        assert len(parts) == 7 and np.array_equal(np.sort(rows), np.arange(len(y)))


def test_dirichlet_skew_grows_as_alpha_shrinks():
    y = labels()

    def skew(alpha):
        parts = partition.dirichlet(Rng(b"d"), y, 10, alpha)
        return np.mean([np.bincount(y[p], minlength=10).max() / len(p) for p in parts])

    assert skew(0.1) > skew(1.0) > skew(100.0) and skew(100.0) < 0.2


def test_shards_give_each_client_few_labels():
    y = labels()
    parts = partition.shards(Rng(b"s"), y, 10, shards_per_client=2)
    assert max(len(np.unique(y[p])) for p in parts) <= 4


def test_gamma_sampler_moments():
    for alpha in (0.5, 2.0):
        draws = _gamma(Rng(b"g"), alpha, 40000)
        assert draws.mean() == pytest.approx(alpha, rel=0.03) and draws.var() == pytest.approx(alpha, rel=0.08)


def test_split_rows_of_a_table():
    table = pd.DataFrame({"a": range(10), "b": list("abcdefghij")})
    parts = partition.split_rows(Rng(b"t"), table, 3)
    assert sorted(pd.concat(parts)["a"]) == list(range(10)) and list(parts[0].columns) == ["a", "b"]
