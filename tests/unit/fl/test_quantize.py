"""Ring quantisation: exact sums within the declared bound, unbiased rounding."""

from __future__ import annotations

import numpy as np
import pytest

from accord.crypto.random import Rng
from accord.fl.secagg.quantize import Quantizer, decode_update_sum, encode_update


@pytest.mark.parametrize("bits", [32, 64])
def test_sum_of_max_clients_at_the_clip_does_not_wrap(bits):
    q = Quantizer.for_clients(clip=2.0, max_clients=50, bits=bits)
    rng = Rng(b"q")
    for sign in (1.0, -1.0):
        total = np.zeros(4, dtype=q.dtype)
        for _ in range(50):
            total += q.encode(rng, np.full(4, sign * 5.0))  # clipped to +-2
        assert np.allclose(q.decode_sum(total), sign * 100.0, atol=50 * q.step)


def test_weighted_encoding_sums_to_the_weighted_sum():
    q = Quantizer.for_clients(clip=1.0, max_clients=3)
    rng, gen = Rng(b"w"), np.random.default_rng(1)
    xs = [gen.uniform(-1, 1, 1000) for _ in range(3)]
    ws = [0.25, 1.0, 0.5]
    total = sum((encode_update(rng, q, x, w) for x, w in zip(xs, ws)), np.zeros(1001, q.dtype))
    weighted, weight = decode_update_sum(q, total)
    assert weight == pytest.approx(1.75, abs=3 * q.step)
    assert np.abs(weighted - sum(w * x for x, w in zip(xs, ws))).max() <= 3 * q.step


def test_stochastic_rounding_is_unbiased():
    q = Quantizer(clip=1.0, step=1.0, bits=64, max_clients=1)
    draws = q.decode_sum(q.encode(Rng(b"u"), np.full(200_000, 0.3)))
    assert set(np.unique(draws)) == {0.0, 1.0}
    assert draws.mean() == pytest.approx(0.3, abs=0.005)  # binomial sd ~0.001


def test_a_ring_too_small_for_the_clients_is_refused():
    with pytest.raises(ValueError, match="cannot hold"):
        Quantizer.for_clients(clip=1.0, max_clients=2**31, bits=32)
