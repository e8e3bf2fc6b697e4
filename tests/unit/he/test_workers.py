"""The process pool gives the same results as one process (deterministic randomness makes them equal)."""

from __future__ import annotations

import numpy as np
import pytest

from accord.crypto.random import Rng
from accord.he import Paillier, SlotPacking, WorkerPool, workers
from accord.he.workers import split


def test_split_covers_the_range_evenly():
    assert split(10, 3) == [slice(0, 3), slice(3, 7), slice(7, 10)]
    assert split(1, 1) == [slice(0, 1)]
    assert split(10, 2, first_weight=1.5) == [slice(0, 6), slice(6, 10)]


@pytest.mark.parametrize("shared_memory_bytes", [0, 1 << 40], ids=["shared-memory", "pickled"])
def test_pool_results_equal_single_process_results(he, monkeypatch, shared_memory_bytes):
    monkeypatch.setattr(workers, "PARALLEL_THRESHOLD_US", 0)
    monkeypatch.setattr(workers, "SHARED_MEMORY_BYTES", shared_memory_bytes)
    x = np.linspace(-3, 3, 24)
    groups = np.arange(24) % 5
    layout = SlotPacking.for_sums(slots=2, max_abs=4.0, max_terms=64, frac_bits=16)
    results = []
    with WorkerPool(2) as pool:
        for chosen in (WorkerPool(1), pool):
            engine = Paillier(he.public_key, he.private_key, rng=Rng(seed=b"same"), pool=chosen)
            c = engine.encrypt(x)
            packed = engine.encrypt_packed(np.stack([x, -x], axis=1), layout)
            results.append([
                c.values,
                (-c).values,
                (c * np.arange(24)).values,
                c.bucket_sum(groups, 5).values,
                c.bucket_sum(np.stack([groups, 4 - groups], axis=1), 5).values,
                (c @ np.ones((24, 2))).values,
                packed.bucket_sum(groups, 5).compress().values,
                engine.decrypt(c).tolist(),
            ])
    assert results[0] == results[1]
    np.testing.assert_allclose(results[1][-1], x)


def test_pool_size_is_validated():
    with pytest.raises(ValueError, match="at least one"):
        WorkerPool(0)
