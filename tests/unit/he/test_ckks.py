"""CKKS through TenSEAL: arithmetic within the stated precision, wire checks, depth and key errors."""

from __future__ import annotations

import numpy as np
import pytest

ts = pytest.importorskip("tenseal", reason="CKKS needs the optional 'ckks' extra (TenSEAL)")

from accord.errors import ConfigurationError, InputError, MalformedMessage, UnsupportedError  # noqa: E402
from accord.he.ckks import CKKS, CKKSParameters  # noqa: E402

# The precision the module docstring states for |x| <= 1000 and |w| <= 1.
ADD_TOL, MUL_TOL, DOT_TOL = 1e-5, 1e-3, 1e-2


@pytest.fixture(scope="module")
def owner():
    return CKKS.generate(party="bank")


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(11)
    return rng.uniform(-1000, 1000, 4096), rng.uniform(-1, 1, 4096), rng.uniform(-1, 1, (64, 5))


def test_parameters_are_stated():
    params = CKKSParameters()
    assert params.slots == 4096 and params.depth == 2
    assert "128-bit security" in params.describe()


def test_add_multiply_dot_within_stated_precision(owner, data):
    x, w, m = data
    cx = owner.encrypt(x)
    np.testing.assert_allclose(owner.decrypt(cx + cx), 2 * x, atol=ADD_TOL)
    np.testing.assert_allclose(owner.decrypt(cx + w), x + w, atol=ADD_TOL)
    np.testing.assert_allclose(owner.decrypt(cx - 3.5), x - 3.5, atol=ADD_TOL)
    np.testing.assert_allclose(owner.decrypt(cx * w), x * w, atol=MUL_TOL)
    np.testing.assert_allclose(owner.decrypt(0.5 * cx), x * 0.5, atol=MUL_TOL)
    assert abs(owner.decrypt(cx.dot(w)) - x @ w) < DOT_TOL
    assert abs(owner.decrypt(cx.sum()) - x.sum()) < DOT_TOL
    small = owner.encrypt(x[:64])
    np.testing.assert_allclose(owner.decrypt(small @ m), x[:64] @ m, atol=DOT_TOL)


def test_two_dimensional_arrays(owner, data):
    x, _, m = data
    rows = x[:128].reshape(2, 64)
    c = owner.encrypt(rows)
    np.testing.assert_allclose(owner.decrypt(c.sum(axis=0)), rows.sum(axis=0), atol=ADD_TOL)
    np.testing.assert_allclose(owner.decrypt(c @ m), rows @ m, atol=DOT_TOL)
    with pytest.raises(UnsupportedError, match=r"\(n, 1\)"):
        c @ np.ones(64)


def test_depth_is_enforced_with_a_clear_error(owner):
    c = owner.encrypt(np.array([1.0, 2.0]))
    with pytest.raises(UnsupportedError, match="allow 2 multiplications"):
        c * 2.0 * 3.0 * 4.0


def test_partner_computes_and_only_the_owner_decrypts(owner, data):
    x, w, _ = data
    partner = CKKS.from_wire(owner.to_wire(), party="bank", step="ctx", me="partner")
    assert not partner.can_decrypt
    received = partner.receive(owner.encrypt(x[:10]).to_wire(), party="bank", step="ct")
    result = received * w[:10] + 1.0
    with pytest.raises(ConfigurationError, match="cannot decrypt"):
        partner.decrypt(result)
    back = owner.receive(result.dot(np.ones(10)).to_wire(), party="partner", step="ct")
    assert abs(owner.decrypt(back) - ((x[:10] * w[:10]).sum() + 10)) < DOT_TOL


@pytest.mark.parametrize("change", [{"kind": "paillier"}, {"key": "other"}, {"shape": [3]}, {"shape": [9999]},
                                    {"data": [b"garbage"]}, {"data": "x"}])
def test_malformed_ckks_messages_name_the_peer(owner, change):
    wire = owner.encrypt(np.array([1.0, 2.0])).to_wire()
    with pytest.raises(MalformedMessage, match="partner"):
        owner.receive({**wire, **change}, party="partner", step="ct")


def test_bad_contexts_and_inputs(owner):
    with pytest.raises(MalformedMessage, match="bank"):
        CKKS.from_wire({"scheme": "ckks-tenseal", "context": b"junk", "poly_modulus_degree": 8192,
                        "coeff_mod_bit_sizes": [60, 40, 40, 60], "scale_bits": 40, "key": "k"}, party="bank", step="s")
    with pytest.raises(ConfigurationError, match="128-bit"):
        CKKS.generate(CKKSParameters(coeff_mod_bit_sizes=(60, 60, 60, 60)))
    with pytest.raises(InputError, match="1 to 4096"):
        owner.encrypt(np.zeros(5000))
    with pytest.raises(InputError, match="NaN"):
        owner.encrypt(np.array([np.nan]))
