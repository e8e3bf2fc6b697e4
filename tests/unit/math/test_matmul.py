import numpy as np
import pytest

from accord.math.matmul import ring_matmul


@pytest.mark.parametrize("shape", [(1, 1, 1), (3, 5, 4), (7, 512, 3), (4, 513, 6), (2, 3000, 5)])
def test_matches_wrapping_integer_matmul(shape):
    m, k, n = shape
    gen = np.random.default_rng(sum(shape))
    a = gen.integers(0, 2**64, (m, k), dtype=np.uint64, endpoint=False)
    b = gen.integers(0, 2**64, (k, n), dtype=np.uint64, endpoint=False)
    assert np.array_equal(ring_matmul(a, b), a @ b)


@pytest.mark.parametrize("value", [2**63, 2**64 - 1, 2**63 - 1, (2**20 - 1) * (1 + 2**21 + 2**43)])
def test_extreme_digits_stay_exact(value):
    a = np.full((3, 512), value, dtype=np.uint64)
    assert np.array_equal(ring_matmul(a, a.T), a @ a.T)


def test_shape_mismatch_is_a_value_error():
    with pytest.raises(ValueError, match="matching inner dimension"):
        ring_matmul(np.zeros((2, 3), np.uint64), np.zeros((4, 2), np.uint64))


@pytest.mark.parametrize("shape", [(300, 700, 1), (2, 900, 40), (5, 3, 4)])
def test_narrow_products_are_exact(shape):
    m, k, n = shape
    gen = np.random.default_rng(m + k + n)
    a = gen.integers(0, 2**64, (m, k), dtype=np.uint64, endpoint=False)
    b = gen.integers(0, 2**64, (k, n), dtype=np.uint64, endpoint=False)
    assert np.array_equal(ring_matmul(a, b), a @ b)
