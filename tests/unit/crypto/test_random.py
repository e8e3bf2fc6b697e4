"""The CSPRNG: seeded streams repeat, unseeded ones do not, and derived values are well-formed."""

from __future__ import annotations

import numpy as np
import pytest

from accord.crypto.random import Rng


def test_seeded_streams_repeat_and_unseeded_differ():
    assert Rng(seed=b"s").bytes(64) == Rng(seed=b"s").bytes(64)
    assert Rng(seed=b"s").bytes(64) != Rng(seed=b"t").bytes(64)
    assert Rng().bytes(32) != Rng().bytes(32)


def test_stream_continues_across_calls():
    a, b = Rng(seed=b"x"), Rng(seed=b"x")
    assert a.bytes(10) + a.bytes(22) == b.bytes(32)


def test_uint64_and_children():
    rng = Rng(seed=b"u")
    x = rng.uint64((3, 4))
    assert x.shape == (3, 4) and x.dtype == np.uint64
    x[0, 0] = 1  # writable
    assert rng.child("a").bytes(8) != rng.child("a").bytes(8)


def test_permutation_is_a_permutation_and_roughly_uniform():
    rng = Rng(seed=b"perm")
    perm = rng.permutation(1000)
    assert sorted(perm.tolist()) == list(range(1000))
    firsts = np.bincount([rng.permutation(4)[0] for _ in range(4000)], minlength=4)
    assert firsts.min() > 850  # each of 4 values leads about 1000 times


def test_below_is_in_range_and_covers_it():
    rng = Rng(seed=b"below")
    draws = {rng.below(7) for _ in range(500)}
    assert draws == set(range(7))
    with pytest.raises(ValueError):
        rng.below(0)
