"""The correlation pool: stock for a loop of small requests, nothing extra for a large one-off request."""

import numpy as np

from accord.mpc.preprocessing.pool import Pool


def _counting(made: list[int]):
    def make(n: int) -> tuple[np.ndarray, ...]:
        made.append(n)
        return (np.arange(n, dtype=np.uint64),)
    return make


def test_small_requests_refill_every_eighth_time_and_large_ones_make_no_stock():
    pool, made = Pool(max_ots=1 << 20), []
    for _ in range(16):
        assert len(pool.take("triples", 100, 64, _counting(made))[0]) == 100
    assert made == [800, 800]
    big: list[int] = []
    pool.take("big", 20_000, 64, _counting(big))     # 1.28 million OTs: above max_ots
    pool.take("mid", 10_000, 64, _counting(big))     # 640,000 OTs: stock up to max_ots in all
    assert big == [20_000, 16_384]
