"""CipherArray arithmetic against numpy, shapes, bucket sums, wire format and its validation."""

from __future__ import annotations

import numpy as np
import pytest

from accord.errors import InputError, MalformedMessage
from accord.he import FixedPoint, Paillier
from accord.he.cipher_array import CipherArray

X = np.array([[1.5, -2.0, 0.25], [4.0, 0.0, -7.125]])
TOL = 1e-6


@pytest.fixture(scope="module")
def cx(he):
    return he.encrypt(X)


def test_elementwise_arithmetic_matches_numpy(he, cx):
    np.testing.assert_allclose(he.decrypt(cx + cx), X + X, atol=TOL)
    np.testing.assert_allclose(he.decrypt(cx - cx[1]), X - X[1], atol=TOL)   # broadcasting
    np.testing.assert_allclose(he.decrypt(-cx), -X, atol=TOL)
    np.testing.assert_allclose(he.decrypt(cx + 1), X + 1, atol=TOL)
    np.testing.assert_allclose(he.decrypt(2.5 - cx), 2.5 - X, atol=TOL)
    np.testing.assert_allclose(he.decrypt(np.array([1.0, 2.0, 3.0]) + cx), X + np.array([1, 2, 3]), atol=TOL)
    np.testing.assert_allclose(he.decrypt(cx * 3), X * 3, atol=TOL)
    np.testing.assert_allclose(he.decrypt(cx * np.array([0.5, -1.5, 0.0])), X * [0.5, -1.5, 0], atol=TOL)
    np.testing.assert_allclose(he.decrypt(-2 * cx), -2 * X, atol=TOL)


def test_integer_arrays_stay_exact(he):
    wide = Paillier(he.public_key, he.private_key, encoding=FixedPoint(int_bits=100))
    big = np.array([10**20, -(10**25), 3], dtype=object)
    c = wide.encrypt(big)
    assert c.frac_bits == 0
    assert wide.decrypt(c * 7 + 1).tolist() == [7 * 10**20 + 1, -7 * 10**25 + 1, 22]


def test_scales_align_when_mixing_ints_and_reals(he):
    ints, reals = he.encrypt(np.array([1, 2])), he.encrypt(np.array([0.5, 0.25]))
    assert (ints + reals).frac_bits == reals.frac_bits
    np.testing.assert_allclose(he.decrypt(ints + reals), [1.5, 2.25])
    np.testing.assert_allclose(he.decrypt(ints + 0.5), [1.5, 2.5])


def test_reductions_and_products(he, cx):
    np.testing.assert_allclose(he.decrypt(cx.sum()), X.sum(), atol=TOL)
    np.testing.assert_allclose(he.decrypt(cx.sum(axis=0)), X.sum(axis=0), atol=TOL)
    np.testing.assert_allclose(he.decrypt(cx.sum(axis=-1)), X.sum(axis=1), atol=TOL)
    w = np.array([[1.0, -2.0], [0.5, 3.0], [-1.0, 0.0]])
    v = np.array([2.0, -1.0, 0.5])
    np.testing.assert_allclose(he.decrypt(cx @ w), X @ w, atol=TOL)
    np.testing.assert_allclose(he.decrypt(cx @ v), X @ v, atol=TOL)
    np.testing.assert_allclose(he.decrypt(cx[0].dot(v)), X[0] @ v, atol=TOL)
    np.testing.assert_allclose(he.decrypt(np.array([1.0, -1.0]) @ cx), np.array([1, -1]) @ X, atol=TOL)
    np.testing.assert_allclose(he.decrypt(w.T @ cx[1]), w.T @ X[1], atol=TOL)


def test_dot_with_many_bases_uses_windows_correctly(he):
    rng = np.random.default_rng(5)
    x = rng.integers(-1000, 1000, 200)
    weights = rng.integers(-(2**40), 2**40, (200, 2))
    assert he.decrypt(he.encrypt(x) @ weights).tolist() == (x.astype(object) @ weights.astype(object)).tolist()


def test_indexing_and_shapes(he, cx):
    assert cx.shape == (2, 3) and cx.ndim == 2 and len(cx) == 2 and cx.size == 6
    np.testing.assert_allclose(he.decrypt(cx[:, 1:]), X[:, 1:])
    np.testing.assert_allclose(he.decrypt(cx.T), X.T)
    np.testing.assert_allclose(he.decrypt(cx.reshape(3, 2)), X.reshape(3, 2))
    np.testing.assert_allclose(he.decrypt(cx.ravel()), X.ravel())
    assert cx[0].fresh and not (cx + 1).fresh


def test_bucket_sum_shapes(he):
    v = np.array([1, 2, 3, 4, 5])
    c = he.encrypt(v)
    assert he.decrypt(c.bucket_sum(np.array([2, 0, 2, 0, 1]), 4)).tolist() == [6, 5, 4, 0]
    bins = np.array([[0, 1], [1, 1], [0, 0], [1, 0], [0, 1]])
    assert he.decrypt(c.bucket_sum(bins, 2)).tolist() == [[9, 6], [7, 8]]
    m = he.encrypt(np.arange(6).reshape(3, 2))
    assert he.decrypt(m.bucket_sum(np.array([1, 1, 0]), 2)).tolist() == [[4, 5], [2, 4]]


def test_bucket_sum_skips_rows_with_group_minus_one(he):
    """-1 means "no group" (per column for one grouping per feature); the rest sum as numpy's bincount does."""
    v = np.array([1, 2, 3, 4, 5])
    c = he.encrypt(v)
    bins = np.array([[0, -1], [-1, 1], [0, 0], [1, -1], [-1, 1]])
    expected = [np.bincount(col[col >= 0], weights=v[col >= 0], minlength=2).tolist() for col in bins.T]
    assert he.decrypt(c.bucket_sum(bins, 2)).tolist() == expected == [[4, 4], [3, 7]]
    assert he.decrypt(c.bucket_sum(np.array([1, -1, -1, 0, 1]), 3)).tolist() == [4, 6, 0]
    m = he.encrypt(np.arange(6).reshape(3, 2))
    assert he.decrypt(m.bucket_sum(np.array([-1, 1, 0]), 2)).tolist() == [[4, 5], [2, 3]]


@pytest.mark.parametrize("gids, n, match", [
    (np.array([0, 1, 2]), 2, r"\[0, 2\)"),
    (np.array([0, -2, 1]), 2, "or be -1"),
    (np.array([0, 1]), 2, "do not match"),
    (np.array([0.0, 1.0, 1.0]), 2, "integers"),
    (np.array([0, 1, 1]), 0, "positive"),
])
def test_bucket_sum_input_errors(he, gids, n, match):
    with pytest.raises(InputError, match=match):
        he.encrypt(np.array([1, 2, 3])).bucket_sum(gids, n)


def test_unsupported_operations_are_clear(he, cx):
    with pytest.raises(TypeError, match="cannot multiply two"):
        cx * cx
    with pytest.raises(InputError, match="shape"):
        cx @ np.ones(5)


def test_rerandomize_changes_ciphertexts_not_plaintexts(he, cx):
    fresh = cx.rerandomize()
    assert all(a != b for a, b in zip(fresh.values, cx.values))
    np.testing.assert_allclose(he.decrypt(fresh), X)


def test_wire_round_trip_binds_to_the_receivers_engine(he, partner, cx):
    received = partner.receive(cx.to_wire(), party="bank", step="t")
    assert received.engine is partner and received.values == cx.values and received.shape == cx.shape
    total = received.sum()
    np.testing.assert_allclose(he.decrypt(he.receive(total.to_wire(), party="partner", step="t")), X.sum())


def test_wire_format_is_plain_codec_data(he, partner, cx):
    from accord.net import codec

    message = codec.encode(cx.to_wire())
    received = partner.receive(codec.decode(bytearray(message)), party="bank", step="t")
    assert received.values == cx.values and received.frac_bits == cx.frac_bits


def _wire(c: CipherArray, **changes):
    return {**c.to_wire(), **changes}


@pytest.mark.parametrize("change", [
    {"kind": "pickle"},
    {"key": "0" * 16},
    {"shape": [3, 3]},
    {"shape": [-1]},
    {"shape": "2,3"},
    {"frac_bits": -1},
    {"frac_bits": True},
    {"data": np.zeros((6, 3), np.uint8)},
    {"data": np.zeros((6, 256), np.int64)},
    {"data": np.zeros((6, 256), np.uint8)},            # the value 0 is not a ciphertext
    {"data": np.full((6, 256), 255, np.uint8)},        # 2**2048 - 1 >= n**2
])
def test_malformed_ciphertexts_are_rejected_naming_the_peer(he, partner, cx, change):
    with pytest.raises(MalformedMessage, match="party 'bank'") as err:
        partner.receive(_wire(cx, **change), party="bank", step="he/ciphertexts")
    assert err.value.party == "bank"


def test_a_ciphertext_sharing_a_factor_with_n_is_named(he, partner, cx):
    """The batch check (one gcd of the product) still finds which ciphertext is not a unit."""
    width = he.public_key.ciphertext_bytes
    data = cx.to_wire()["data"].copy()
    data[3] = np.frombuffer(int(he.private_key.p * 12345).to_bytes(width, "little"), np.uint8)
    with pytest.raises(MalformedMessage, match="ciphertext #3 that is not a unit"):
        partner.receive(_wire(cx, data=data), party="bank", step="he/ciphertexts")


def test_malformed_packed_messages(he, partner):
    from accord.he import SlotPacking

    layout = SlotPacking(slots=2, value_bits=8, max_terms=4)
    wire = he.encrypt_packed(np.array([[1, 2]]), layout).to_wire()
    assert partner.receive(wire, party="bank", step="s").layout == layout
    for change in ({"layout": {"slots": 2}}, {"terms": 5}, {"per_ciphertext": 10**6}, {"per_ciphertext": 0}):
        with pytest.raises(MalformedMessage, match="bank"):
            partner.receive({**wire, **change}, party="bank", step="s")


def test_keys_do_not_mix(he, cx):
    other = Paillier.generate(1024, allow_insecure_key_size=True)
    with pytest.raises(ValueError, match="different keys"):
        cx + other.encrypt(X)
    with pytest.raises(Exception, match="cannot decrypt"):
        he.public().decrypt(cx)
