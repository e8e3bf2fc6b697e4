"""The oblivious key-value store decodes every encoded key to its value and anything else to noise."""

from __future__ import annotations

import numpy as np
import pytest

from accord.crypto.random import Rng
from accord.errors import CryptoError
from accord.pir import okvs


@pytest.mark.parametrize("n", [1, 2, 37, 5000])
def test_encoded_keys_decode_to_their_values(n):
    rng = Rng(seed=b"okvs")
    words = rng.uint64((n, 3))
    values = rng.uint64((n, 2))
    table, seed = okvs.encode(words, values, rng)
    assert table.shape == (okvs.size_for(n), 2) and len(table) < 1.23 * n + 36
    np.testing.assert_array_equal(okvs.decode(table, words, seed), values)
    if n >= 1000:  # in a table this large, other keys almost never share all three cells with an encoded key
        others = okvs.decode(table, rng.uint64((200, 3)), seed)
        assert not np.isin(others[:, 0], values[:, 0]).any()


def test_keys_with_equal_hash_words_cannot_be_encoded():
    rng = Rng(seed=b"okvs-dup")
    words = np.repeat(rng.uint64((1, 3)), 2, axis=0)
    with pytest.raises(CryptoError, match="could not be built"):
        okvs.encode(words, rng.uint64((2, 1)), rng)


@pytest.mark.parametrize("bit", [0, 20, 32, 40])
def test_keys_whose_words_differ_in_one_bit_get_their_own_cells_under_a_fresh_seed(bit):
    # Two keys whose three words differ in one bit share their cells under many seeds when the seed is only
    # XORed in (bits 32 and above: under every seed, so no table could be built); mixed, they rarely do.
    rng = Rng(seed=b"okvs-near")
    words = rng.uint64((12, 3))
    words[1] = words[0] ^ np.uint64(1 << bit)
    shared = 0
    for _ in range(200):
        pos = okvs.positions(words, rng.uint64(3), okvs.size_for(12))
        shared += bool((pos[0] == pos[1]).all())
    assert shared <= 2  # about 200 / 16^3 expected
    values = rng.uint64((12, 2))
    table, seed = okvs.encode(words, values, rng)
    np.testing.assert_array_equal(okvs.decode(table, words, seed), values)
