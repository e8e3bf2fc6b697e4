"""Okamoto-Uchiyama keys, encryption and decryption against the scheme's definition, key checks, re-randomisation.

The oracles are the formulas of the papers written with Python's ``pow``: encryption ``G^m H^r mod n``
and the original OU98 decryption with the exponent ``p - 1`` (accord decrypts with CNP99's ``t``).
"""

from __future__ import annotations

import gmpy2
import numpy as np
import pytest

from accord.crypto.random import Rng
from accord.errors import ConfigurationError, CryptoError, MalformedMessage
from accord.he import OU, Paillier, SlotPacking
from accord.he.ou import OUPrivateKey, OUPublicKey, generate_ou_keypair


@pytest.fixture(scope="module")
def sk():
    return generate_ou_keypair(1024, rng=Rng(seed=b"ou-unit"), allow_insecure_key_size=True)


def ou98_decrypt(sk, c: int) -> int:
    """OU98's decryption, ``L(c^(p-1) mod p²) / L(G^(p-1) mod p²) mod p`` with ``L(x) = (x - 1) / p``."""
    p, n_g = int(sk.p), int(sk.public_key.g)
    psq = p * p
    lc = (pow(c, p - 1, psq) - 1) // p
    lg = (pow(n_g, p - 1, psq) - 1) // p
    return lc * pow(lg, -1, p) % p


def test_key_has_the_cnp99_structure(sk):
    pk = sk.public_key
    p, q, t = int(sk.p), int(sk.q), int(sk.t)
    assert p * p * q == pk.n and pk.n.bit_length() == 1024
    assert gmpy2.is_prime(p) and gmpy2.is_prime(q) and gmpy2.is_prime(t)
    assert (p - 1) % t == 0 and t.bit_length() == 160  # 2 * 80 bits for a test-size key
    assert p.bit_length() == 342 and pk.plain_bits == 341 and pk.max_int == 2**339 - 1
    assert pow(int(pk.h), t, p * p) == 1 and int(pk.h) % (p * p) != 1  # H has order t modulo p²
    assert pow(int(pk.g), t, p * p) % p == 1 and pow(int(pk.g), t, p * p) != 1  # G^t lies in the order-p subgroup


def test_encryption_is_g_to_the_m_times_h_to_the_r(sk):
    pk = sk.public_key
    values = [0, 1, -1, 12345, -(2**90), 2**200, int(pk.max_int), -int(pk.max_int)]
    exps = pk.draw_exponents(len(values), Rng(seed=b"e"))
    assert all(len(r) == 20 for r in exps)
    n, g, h = int(pk.n), int(pk.g), int(pk.h)
    expected = [pow(g, m, n) * pow(h, int.from_bytes(r, "little"), n) % n for m, r in zip(values, exps)]
    got = pk.encrypt_with(values, exps)
    assert got == expected
    p = int(sk.p)
    assert [ou98_decrypt(sk, int(c)) for c in got] == [m % p for m in values]
    assert sk.decode_signed(sk.decrypt_ints(got, threads=2)) == values


def test_rerandomizers_are_full_length_powers_of_h(sk):
    pk = sk.public_key
    exps = pk.draw_rerandomizer_exponents(4, Rng(seed=b"r"))
    assert all(len(r) == (1024 + 80 + 7) // 8 for r in exps)
    n, h = int(pk.n), int(pk.h)
    assert pk.rerandomizers_with(exps) == [pow(h, int.from_bytes(r, "little"), n) for r in exps]


def test_sums_decrypt_and_values_beyond_the_bound_are_refused(sk):
    pk = sk.public_key
    rng = Rng(seed=b"w")
    big = int(pk.max_int)
    a, b = pk.encrypt_ints([big, -5], rng), pk.encrypt_ints([big, 9], rng)
    total = [x * y % pk.n for x, y in zip(a, b)]
    assert sk.decode_signed(sk.decrypt_ints(total[1:])) == [4]
    assert ou98_decrypt(sk, int(total[0])) == 2 * big  # between max_int and p - max_int: no valid encoding
    with pytest.raises(CryptoError, match="wrapped modulo p"):
        sk.decode_signed(sk.decrypt_ints(total[:1]))


def test_received_ciphertexts_must_be_units_below_n(sk):
    pk = sk.public_key
    good = pk.encrypt_ints([1, 2], Rng(seed=b"u"))
    pk.check_ciphertexts(good, party="bank", step="s")
    for bad, index in (([good[0], sk.p * 7, good[1]], 1), ([good[0], good[1], pk.n], 2), ([0], 0)):
        with pytest.raises(MalformedMessage, match=f"ciphertext #{index} that is not a unit") as err:
            pk.check_ciphertexts(bad, party="bank", step="s")
        assert err.value.party == "bank"


def test_keys_under_2048_bits_are_refused_without_the_test_flag():
    with pytest.raises(ConfigurationError, match="at least 2048 bits"):
        generate_ou_keypair(1536)


def test_wire_round_trip_and_malformed_keys(sk):
    pk = sk.public_key
    assert OUPublicKey.from_wire(pk.to_wire(), allow_insecure_key_size=True) == pk
    wire = pk.to_wire()
    for change, why in [({"scheme": "paillier-djn"}, "scheme"), ({"g": 1}, "unit"), ({"h": int(sk.p)}, "unit"),
                        ({"plain_bits": 1000}, "plain_bits"), ({"n": int(pk.n) + 1}, "odd composite"),
                        ({"n": True}, "integers")]:
        with pytest.raises(MalformedMessage, match=why) as err:
            OUPublicKey.from_wire({**wire, **change}, party="bank", allow_insecure_key_size=True)
        assert err.value.party == "bank"
    with pytest.raises(ConfigurationError, match="at least 2048 bits"):
        OUPublicKey.from_wire(wire, party="bank")


def test_engine_packs_a_third_as_many_vectors_as_paillier_and_refuses_paillier_arrays(sk):
    he = OU(sk.public_key, sk, rng=Rng(seed=b"engine"))
    layout = SlotPacking.for_sums(slots=2, max_abs=1.0, max_terms=21_000, frac_bits=20)
    values = np.array([[0.5, 0.25], [-1.0, 0.125], [0.75, 0.0]])
    packed = he.encrypt_packed(values, layout).bucket_sum(np.array([0, 1, 0]), 2).compress().rerandomize()
    assert packed.per_ciphertext == layout.vectors_per_plaintext(341) == 4  # (341 - 3) // 76
    assert packed.to_wire()["kind"] == "ou-packed" and packed.to_wire()["data"].shape == (1, 128)
    np.testing.assert_allclose(he.decrypt(he.receive(packed.to_wire(), party="p", step="s")),
                               [[1.25, 0.25], [-1.0, 0.125]])
    paillier = Paillier.generate(1024, allow_insecure_key_size=True, rng=Rng(seed=b"other"))
    with pytest.raises(MalformedMessage, match="kind 'ou'"):
        he.receive(paillier.encrypt(np.array([1])).to_wire(), party="p", step="s")


def test_a_hand_built_toy_key_decrypts_as_a_brute_force_discrete_log():
    """Known answer on a key small enough to search: p = 23 (p - 1 = 11 * 2), q = 29, t = 11, u = 2.

    The oracle tries every ``m`` in ``Z_p`` against ``c^t = G^(m t) mod p²`` (``H^t = 1`` there), which is
    the scheme's definition, not accord's decryption formula.
    """
    p, q, t, u = 23, 29, 11, 2
    n, psq = p * p * q, p * p
    g, h0 = 2, 3
    big_g, big_h = pow(g, u, n), pow(h0, n * u, n)
    assert pow(big_h, t, psq) == 1 and pow(g, p - 1, psq) != 1
    public = OUPublicKey(n, big_g, big_h, plain_bits=p.bit_length() - 1)
    sk = OUPrivateKey(p, q, t, public)
    for m in range(p):
        for r in (0, 1, 5, 1234):
            c = pow(big_g, m, n) * pow(big_h, r, n) % n
            (found,) = [x for x in range(p) if pow(c, t, psq) == pow(big_g, x * t, psq)]
            assert found == m
            assert sk.decrypt_ints([c]) == [m]
    assert public.max_int == 3
    assert sk.decode_signed([3, p - 3]) == [3, -3]
    with pytest.raises(CryptoError, match="wrapped modulo p"):
        sk.decode_signed([4])
    with pytest.raises(ConfigurationError, match="do not match"):
        OUPrivateKey(p, 31, t, public)


@pytest.mark.parametrize("change, why", [
    ({"data": np.zeros((3, 128), np.uint8)}, "ciphertext #0 that is not a unit"),    # 0 is not a ciphertext
    ({"data": np.full((3, 128), 255, np.uint8)}, "ciphertext #0 that is not a unit"),  # 2**1024 - 1 >= n
    ({"data": np.zeros((3, 256), np.uint8)}, "uint8 array of shape"),                 # Paillier's width
    ({"kind": "paillier"}, "kind 'ou'"),
    ({"key": "0" * 16}, "under key"),
])
def test_engine_rejects_malformed_ou_ciphertexts_naming_the_peer(sk, change, why):
    he = OU(sk.public_key, sk, rng=Rng(seed=b"engine"))
    partner = OU(sk.public_key, rng=Rng(seed=b"partner"))
    wire = {**he.encrypt(np.array([1, 2, 3])).to_wire(), **change}
    with pytest.raises(MalformedMessage, match=why) as err:
        partner.receive(wire, party="bank", step="he/ciphertexts")
    assert err.value.party == "bank"


def test_engine_names_a_ciphertext_that_shares_the_factor_p(sk):
    he = OU(sk.public_key, sk, rng=Rng(seed=b"engine"))
    wire = he.encrypt(np.array([1, 2, 3])).to_wire()
    data = wire["data"].copy()
    data[2] = np.frombuffer(int(sk.p * 977).to_bytes(128, "little"), np.uint8)
    with pytest.raises(MalformedMessage, match="ciphertext #2 that is not a unit"):
        OU(sk.public_key).receive({**wire, "data": data}, party="bank", step="s")
