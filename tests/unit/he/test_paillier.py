"""Keys, raw encryption and decryption, key checks and re-randomisation."""

from __future__ import annotations

import gmpy2
import pytest

from accord.crypto.random import Rng
from accord.errors import ConfigurationError, CryptoError, MalformedMessage
from accord.he.paillier import (
    PaillierPublicKey,
    decode_signed,
    generate_paillier_keypair,
    security_bits,
)


def test_keygen_gives_equal_length_primes_and_exact_modulus_size():
    sk = generate_paillier_keypair(1024, rng=Rng(seed=b"k"), allow_insecure_key_size=True)
    assert sk.p.bit_length() == sk.q.bit_length() == 512
    assert sk.public_key.n.bit_length() == 1024
    assert gmpy2.is_prime(sk.p) and gmpy2.is_prime(sk.q) and sk.p != sk.q
    assert sk.public_key.r_bytes == 20  # 2 * 80 bits for a test-size key


def test_keygen_is_deterministic_under_a_seed_and_fresh_otherwise():
    a = generate_paillier_keypair(1024, rng=Rng(seed=b"s"), allow_insecure_key_size=True)
    b = generate_paillier_keypair(1024, rng=Rng(seed=b"s"), allow_insecure_key_size=True)
    c = generate_paillier_keypair(1024, allow_insecure_key_size=True)
    assert a.public_key == b.public_key and a.public_key != c.public_key


@pytest.mark.parametrize("bits", [1024, 1536, 2046])
def test_keys_under_2048_bits_are_refused_without_the_test_flag(bits):
    with pytest.raises(ConfigurationError, match="at least 2048 bits"):
        generate_paillier_keypair(bits)


def test_security_levels_follow_nist():
    assert security_bits(2048) == 112 and security_bits(3072) == 128 and security_bits(4096) == 128


def test_crt_encryption_equals_public_encryption(he):
    pk, sk = he.public_key, he.private_key
    values = [0, 1, 12345, int(pk.n) - 1]
    exps = pk.draw_exponents(len(values), Rng(seed=b"e"))
    assert pk.encrypt_with(values, exps) == sk.encrypt_with(values, exps)
    assert [int(m) for m in sk.decrypt_ints(pk.encrypt_with(values, exps))] == values


def test_randomness_is_djn_short_exponent(he):
    pk = he.public_key
    exps = pk.draw_exponents(3, Rng(seed=b"r"))
    cts = pk.encrypt_with([0, 0, 0], exps)
    assert cts == [gmpy2.powmod(pk.hs, int.from_bytes(r, "little"), pk.nsq) for r in exps]
    assert len(set(cts)) == 3


def test_threaded_decryption_matches(he):
    pk, sk = he.public_key, he.private_key
    cts = pk.encrypt_ints(list(range(40)), Rng(seed=b"t"))
    assert sk.decrypt_ints(cts, threads=2) == sk.decrypt_ints(cts) == list(range(40))


def test_rerandomizers_are_nth_residues_and_keep_plaintexts(he):
    pk, sk = he.public_key, he.private_key
    masks = pk.rerandomizers(4, Rng(seed=b"m"), threads=2)
    assert len(set(masks)) == 4
    assert sk.decrypt_ints(masks) == [0, 0, 0, 0]
    c = pk.encrypt_ints([77], Rng(seed=b"c"))[0]
    assert sk.decrypt_ints([c * masks[0] % pk.nsq]) == [77]


def test_decode_signed_detects_overflow(he):
    pk = he.public_key
    assert decode_signed([5, pk.n - 5, pk.max_int, pk.n - pk.max_int], pk) == [5, -5, pk.max_int, -pk.max_int]
    with pytest.raises(CryptoError, match="overflow"):
        decode_signed([pk.max_int + 1], pk)


def test_public_key_wire_round_trip(he):
    pk = he.public_key
    assert PaillierPublicKey.from_wire(pk.to_wire(), allow_insecure_key_size=True) == pk


@pytest.mark.parametrize("mutate", [
    lambda w: {**w, "scheme": "rsa"},
    lambda w: {**w, "n": w["n"] + 1},                  # even
    lambda w: {**w, "hs": 1},
    lambda w: {**w, "hs": w["n"] ** 2},
    lambda w: {**w, "n": "123"},
    lambda w: [w["n"], w["hs"]],
])
def test_bad_public_keys_are_rejected_naming_the_peer(he, mutate):
    with pytest.raises((MalformedMessage, ConfigurationError), match="bank"):
        PaillierPublicKey.from_wire(mutate(he.public_key.to_wire()), party="bank", allow_insecure_key_size=True)


def test_small_keys_from_peers_are_refused(he):
    with pytest.raises(ConfigurationError, match="2048"):
        PaillierPublicKey.from_wire(he.public_key.to_wire(), party="bank")


def test_huge_moduli_from_peers_are_refused_before_any_work():
    with pytest.raises(ConfigurationError, match="at most 16384"):
        PaillierPublicKey.from_wire({"scheme": "paillier-djn", "n": 3**20000, "hs": 5}, party="bank")


def test_prime_or_square_moduli_are_rejected(he):
    p = int(he.private_key.q) * 2**512 + 1  # not the key's factor: a 1024-bit odd number that may be prime
    while not gmpy2.is_prime(p):
        p += 2
    for n in (p, int(he.private_key.p) ** 2):
        with pytest.raises(MalformedMessage, match="composite"):
            PaillierPublicKey.from_wire({"scheme": "paillier-djn", "n": n, "hs": 5}, party="bank",
                                        allow_insecure_key_size=True)
