"""Fixed-point encoding: scaling, bad inputs, and overflow detected on decryption."""

from __future__ import annotations

import numpy as np
import pytest

from accord.errors import CryptoError, InputError
from accord.he import FixedPoint, Paillier
from accord.he.encoding import unscale


def test_scale_rounds_to_the_declared_precision():
    fp = FixedPoint(frac_bits=8)
    assert fp.scale(np.array([1.0, -0.5, 1 / 3]), 8) == [256, -128, 85]
    assert fp.scale(np.array([3, -4], dtype=np.int32), 8) == [768, -1024]
    assert fp.scale(np.array([2**64 - 1], dtype=np.uint64), 0) == [2**64 - 1]


def test_integer_arrays_are_exact_and_floats_get_frac_bits():
    fp = FixedPoint(frac_bits=20)
    assert fp.frac_bits_for(np.array([1, 2])) == 0
    assert fp.frac_bits_for(np.array([1.0])) == 20
    assert fp.frac_bits_for(np.array([10**40, -3], dtype=object)) == 0


@pytest.mark.parametrize("bad", [np.array([1.0, np.nan]), np.array([np.inf]), np.array(["a"]),
                                 np.array([None], dtype=object)])
def test_non_numbers_are_refused_naming_party_and_field(bad):
    with pytest.raises(InputError, match="party 'bank'") as err:
        FixedPoint().scale(bad, 4, party="bank", field="labels")
    assert err.value.field == "labels"


def test_frac_bits_are_bounded():
    with pytest.raises(ValueError, match="frac_bits"):
        FixedPoint(frac_bits=-1)


def test_unscale_returns_floats_ints_or_exact_big_ints():
    assert unscale([512, -256], 8, (2,)).tolist() == [2.0, -1.0]
    assert unscale([5, -7], 0, (2,)).dtype == np.int64
    big = unscale([10**30, 1], 0, (2,))
    assert big.dtype == object and big[0] == 10**30


def test_encrypt_refuses_values_beyond_the_declared_range(he):
    with pytest.raises(InputError, match="int_bits"):
        he.encrypt(np.array([2.0**64]))
    with pytest.raises(InputError, match="out of range"):
        he.encrypt(np.array([2**70], dtype=object))
    assert he.encrypt(np.array([2.0**63])).bound_bits == 64 + 32


def _wide(he, int_bits):
    return Paillier(he.public_key, he.private_key, encoding=FixedPoint(int_bits=int_bits))


def test_results_whose_bound_reaches_the_key_range_are_refused(he):
    edge = _wide(he, int(he.public_key.max_int).bit_length() - 1)
    third = 2 ** (edge.encoding.int_bits - 1)
    x = edge.encrypt(np.array([third], dtype=object))
    assert edge.decrypt(x).tolist() == [third]
    for result in (x + x, x * 2, -x - x, x.sum() + 1):
        with pytest.raises(CryptoError, match="overflow possible"):
            edge.decrypt(result)


def test_repeated_real_scaling_is_refused_before_it_can_wrap(he):
    y = he.encrypt(np.array([1e15]))
    for _ in range(30):
        y = y * 1.25  # a real multiplier: 32 more fractional bits each time
    assert y.bound_bits > int(he.public_key.max_int).bit_length()
    with pytest.raises(CryptoError, match="overflow possible"):
        he.decrypt(y)


def test_values_beyond_their_bound_are_detected(he, partner):
    x = partner.encrypt(np.array([2**40, 5]))  # honest bound: 2**64
    forged = he.receive({**x.to_wire(), "bound_bits": 20}, party="partner", step="s")
    with pytest.raises(CryptoError, match="exceeds the bound"):
        he.decrypt(forged)
    wide = Paillier(he.public_key, encoding=FixedPoint(int_bits=1020))
    product = wide.encrypt(np.array([2**40 + 12345], dtype=object)) * np.array([3**640], dtype=object)  # > n
    wrapped = he.receive({**product.to_wire(), "bound_bits": 100}, party="partner", step="s")
    with pytest.raises(CryptoError):
        he.decrypt(wrapped)


def test_plaintext_operands_must_respect_the_declared_range(he):
    x = he.encrypt(np.array([1.0, 2.0]))
    for op in (lambda: x * 2.0**70, lambda: x + 2.0**70, lambda: x @ np.array([2**65, 1], dtype=object)):
        with pytest.raises(InputError, match="out of range"):
            op()


def test_public_bounds_do_not_depend_on_plaintext_values(he):
    x = he.encrypt(np.array([1, 2, 3, 4]))
    small, large = np.array([0, 0, 1, 0]), np.array([3, 3, 0, 3])
    assert x.bucket_sum(small, 4).bound_bits == x.bucket_sum(large, 4).bound_bits
    assert (x * np.array([1, 1, 1, 1])).bound_bits == (x * np.array([2**40] * 4)).bound_bits
    assert (x @ np.ones(4)).bound_bits == (x @ np.full(4, 1e6)).bound_bits
    assert (x * np.array([2.0])).frac_bits == (x * np.array([2.5])).frac_bits
