"""Punctured GGM trees: the receiver rebuilds every leaf but its point from the off-path sums."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from accord.correlations import ggm
from accord.crypto.random import Rng


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 9), st.integers(1, 12), st.binary(min_size=4, max_size=4))
def test_receiver_gets_all_leaves_but_its_point(depth, trees, seed):
    rng = Rng(seed=seed)
    leaves, sums = ggm.expand(rng.uint64((trees, 2)), depth)
    assert leaves.shape == (1 << depth, trees, 2)
    # The level sums are the XOR of each side's children: at the last level, of the leaves themselves.
    assert np.array_equal(sums[-1, 0], np.bitwise_xor.reduce(leaves[: 1 << (depth - 1)], axis=0))
    points = (rng.uint64(trees) % np.uint64(1 << depth)).astype(np.int64)
    bits = ggm.path_bits(points, depth)
    off = sums[np.arange(depth)[:, None], 1 - bits, np.arange(trees)[None, :]]
    got = ggm.punctured(points, depth, off)
    mask = np.ones((1 << depth, trees), dtype=bool)
    mask[points, np.arange(trees)] = False
    assert np.array_equal(got[mask], leaves[mask])
    assert not got[points, np.arange(trees)].any()


def test_leaves_are_distinct_and_depend_on_the_root():
    leaves, _ = ggm.expand(np.array([[1, 2], [1, 3]], dtype=np.uint64), 6)
    flat = {x.tobytes() for x in leaves.reshape(-1, 2)}
    assert len(flat) == leaves.shape[0] * leaves.shape[1]
