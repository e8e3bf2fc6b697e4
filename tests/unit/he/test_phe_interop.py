"""Interoperability with python-paillier (phe) in both directions, and malformed inputs."""

from __future__ import annotations

import json

import numpy as np
import pytest

phe = pytest.importorskip("phe", reason="phe is in the test extra")

from accord.errors import ConfigurationError, MalformedMessage  # noqa: E402
from accord.he import Paillier  # noqa: E402
from accord.he.phe_interop import (  # noqa: E402
    ciphertexts_from_json,
    ciphertexts_to_json,
    public_key_from_jwk,
    public_key_to_jwk,
)


@pytest.fixture(scope="module")
def phe_keys():
    return phe.paillier.generate_paillier_keypair(n_length=1024)


def _phe_jwk(pub):
    return {"kty": "DAJ", "alg": "PAI-GN1", "key_ops": ["encrypt"], "n": phe.util.int_to_base64(pub.n), "kid": "t"}


def _phe_json(numbers):
    return [{"v": str(x.ciphertext()), "e": x.exponent} for x in numbers]


def test_accord_encrypts_under_a_phe_key_and_phe_decrypts(phe_keys):
    pub, priv = phe_keys
    engine = Paillier(public_key_from_jwk(json.dumps(_phe_jwk(pub)), allow_insecure_key_size=True))
    values = np.array([1.5, -2.25, 1e6, -3e-5])
    out = ciphertexts_to_json(engine.encrypt(values) * 2 + 1)
    got = [priv.decrypt(phe.paillier.EncryptedNumber(pub, int(o["v"]), o["e"])) for o in out]
    np.testing.assert_allclose(got, values * 2 + 1, atol=1e-8)


def test_phe_ciphertexts_compute_in_accord_and_go_back(phe_keys):
    pub, priv = phe_keys
    engine = Paillier(public_key_from_jwk(_phe_jwk(pub), allow_insecure_key_size=True))
    imported = ciphertexts_from_json(json.dumps(_phe_json([pub.encrypt(0.1), pub.encrypt(-7), pub.encrypt(3)])),
                                     engine)
    total = ciphertexts_to_json(imported.sum() + 0.5)
    assert len(total) == 1
    result = priv.decrypt(phe.paillier.EncryptedNumber(pub, int(total[0]["v"]), total[0]["e"]))
    assert result == pytest.approx(-3.4)


def test_phe_encrypts_under_an_accord_key_and_accord_decrypts():
    he = Paillier.generate(1024, allow_insecure_key_size=True)
    jwk = public_key_to_jwk(he.public_key)
    assert jwk["kty"] == "DAJ" and jwk["alg"] == "PAI-GN1"
    pub = phe.paillier.PaillierPublicKey(phe.util.base64_to_int(jwk["n"]))
    arr = ciphertexts_from_json(_phe_json([pub.encrypt(v) for v in (2.5, -1, 10**6, -0.125)]), he, shape=(2, 2))
    np.testing.assert_allclose(he.decrypt(arr), [[2.5, -1], [1e6, -0.125]])
    np.testing.assert_allclose(he.decrypt(arr.sum(axis=0) * 2), [2 * (1e6 + 2.5), -2.25])


def test_accord_ciphertexts_decrypt_in_phe_with_an_accord_key():
    he = Paillier.generate(1024, allow_insecure_key_size=True)
    priv = phe.paillier.PaillierPrivateKey(phe.paillier.PaillierPublicKey(int(he.public_key.n)),
                                           int(he.private_key.p), int(he.private_key.q))
    out = ciphertexts_to_json(he.encrypt(np.array([3, -4])))
    assert [priv.decrypt(phe.paillier.EncryptedNumber(priv.public_key, int(o["v"]), o["e"])) for o in out] == [3, -4]


def test_exports_are_rerandomised_and_still_decrypt_in_phe():
    he = Paillier.generate(1024, allow_insecure_key_size=True)
    pub = phe.paillier.PaillierPublicKey(int(he.public_key.n))
    priv = phe.paillier.PaillierPrivateKey(pub, int(he.private_key.p), int(he.private_key.q))
    computed = he.encrypt(np.array([1.5, -2.0, 7.25])) * 3 + 1  # frac_bits 32: exported without rescaling
    assert computed.frac_bits % 4 == 0
    first, second = ciphertexts_to_json(computed), ciphertexts_to_json(computed)
    # The key owner could read the plaintext factor 3 off the randomness of the computed ciphertexts.
    assert all(o["v"] != str(int(c)) for o, c in zip(first, computed.values))
    assert all(a["v"] != b["v"] for a, b in zip(first, second))
    for out in (first, second):
        got = [priv.decrypt(phe.paillier.EncryptedNumber(pub, int(o["v"]), o["e"])) for o in out]
        np.testing.assert_allclose(got, [5.5, -5.0, 22.75], atol=1e-8)


def test_values_beyond_the_declared_range_are_caught_on_decryption():
    he = Paillier.generate(1024, allow_insecure_key_size=True)
    pub = phe.paillier.PaillierPublicKey(int(he.public_key.n))
    arr = ciphertexts_from_json(_phe_json([pub.encrypt(2**80)]), he)
    with pytest.raises(Exception, match="exceeds the bound"):
        he.decrypt(arr)


@pytest.mark.parametrize("jwk", [
    "{not json",
    {"kty": "RSA", "alg": "PAI-GN1", "n": "AQAB"},
    {"kty": "DAJ", "alg": "PAI-GN1"},
    {"kty": "DAJ", "alg": "PAI-GN1", "n": "!!!"},
    {"kty": "DAJ", "alg": "PAI-GN1", "n": "AAQ"},
])
def test_bad_jwks_are_rejected(jwk):
    with pytest.raises(MalformedMessage, match="partner"):
        public_key_from_jwk(jwk, party="partner", allow_insecure_key_size=True)


def test_small_phe_keys_are_refused_outside_tests(phe_keys):
    with pytest.raises(ConfigurationError, match="2048"):
        public_key_from_jwk(_phe_jwk(phe_keys[0]), party="partner")


@pytest.mark.parametrize("payload", [
    "[1, 2]",
    [{"v": "12", "e": "x"}],
    [{"v": "-5", "e": 0}],
    [{"v": "0", "e": 0}],
    [{"v": "1", "e": 10**6}],
    [{"v": "1", "e": 0, "extra": 1}],
    {"v": 5, "e": 0},
])
def test_bad_ciphertext_json_is_rejected(phe_keys, payload):
    engine = Paillier(public_key_from_jwk(_phe_jwk(phe_keys[0]), allow_insecure_key_size=True))
    with pytest.raises(MalformedMessage, match="partner"):
        ciphertexts_from_json(payload, engine, party="partner")
