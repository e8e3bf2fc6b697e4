"""RR22's OKVS: decoding returns every encoded value; gaps in the peeling go to the dense columns."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accord.crypto.random import Rng
from accord.errors import UnsupportedError
from accord.psi.rr22 import okvs


def _keys(n, seed):
    rng = Rng(seed=seed)
    return rng.uint8((n, 16)), rng.uint64((n, 2))


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 3000), st.binary(min_size=2, max_size=2))
def test_decode_returns_encoded_values(n, seed):
    fps, values = _keys(n, seed)
    shape = okvs.shape(n)
    rows = okvs.rows(fps, b"s" * 16, shape)
    assert (rows.positions[:, 0] < shape.sparse // 3).all() and (rows.positions[:, 2] >= 2 * shape.sparse // 3).all()
    encoding = okvs.encode(rows, values, shape)
    assert encoding is not None and encoding.shape == (shape.size, 2)
    assert np.array_equal(okvs.decode(encoding, rows), values)


def test_decode_is_the_inner_product_with_the_row():
    """Written out from the definition: three sparse entries plus the dense columns of the set bits."""
    fps, _ = _keys(50, b"ip")
    shape = okvs.shape(50)
    rows = okvs.rows(fps, b"t" * 16, shape)
    table = Rng(seed=b"table").uint64((shape.size, 2))
    got = okvs.decode(table, rows)
    for i in range(50):
        expected = table[rows.positions[i]].copy()
        acc = expected[0] ^ expected[1] ^ expected[2]
        for j in range(okvs.DENSE):
            if (int(rows.dense[i]) >> j) & 1:
                acc ^= table[shape.sparse + j]
        assert np.array_equal(got[i], acc)


def test_rows_that_cannot_be_peeled_are_solved_through_the_dense_columns():
    fps, values = _keys(200, b"gap")
    shape = okvs.shape(200)
    rows = okvs.rows(fps, b"u" * 16, shape)
    # Six keys on the same three columns form a 2-core peeling cannot touch: only the dense part helps.
    positions = rows.positions.copy()
    positions[:6] = positions[0]
    forced = okvs.Rows(positions, rows.dense)
    _, _, core = okvs._peel(forced.positions, shape.sparse)
    assert len(core) >= 6
    encoding = okvs.encode(forced, values, shape)
    assert encoding is not None and encoding[shape.sparse :].any()
    assert np.array_equal(okvs.decode(encoding, forced), values)


def test_too_large_a_gap_or_dependent_dense_rows_fail_instead_of_encoding_wrongly():
    fps, values = _keys(100, b"fail")
    shape = okvs.shape(100)
    rows = okvs.rows(fps, b"v" * 16, shape)
    positions = rows.positions.copy()
    positions[: okvs.MAX_GAP + 2] = positions[0]
    assert okvs.encode(okvs.Rows(positions, rows.dense), values, shape) is None
    # Two identical rows with different values: no solution exists.
    positions = rows.positions.copy()
    dense = rows.dense.copy()
    positions[1], dense[1] = positions[0], dense[0]
    assert okvs.encode(okvs.Rows(positions, dense), values, shape) is None


def test_expansion_follows_the_fitted_bound():
    assert okvs.shape(2**20).sparse / 2**20 < 1.235
    assert 1.43 < okvs.expansion(2**10) < 1.45
    assert okvs.shape(10).sparse == okvs.shape(64).sparse


def test_sets_beyond_32_bit_column_indices_are_refused():
    with pytest.raises(UnsupportedError, match="2\\^31"):
        okvs.shape(2_000_000_000)
