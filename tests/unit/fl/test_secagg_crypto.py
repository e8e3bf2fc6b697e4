"""SecAgg+'s key agreement, share encryption and mask expansion, against RFC 7748 and RFC 5869 (via pyca)."""

from __future__ import annotations

import numpy as np
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from accord.errors import CryptoError
from accord.fl.secagg import crypto

# RFC 7748 section 6.1.
ALICE_SK = bytes.fromhex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")
ALICE_PK = bytes.fromhex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a")
BOB_PK = bytes.fromhex("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f")
SHARED = bytes.fromhex("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742")


def test_key_agreement_matches_rfc7748_then_hkdf():
    assert crypto.public_key(ALICE_SK) == ALICE_PK
    expected = HKDF(hashes.SHA256(), 32, salt=None, info=b"accord-secagg|ctx").derive(SHARED)
    assert crypto.agree(ALICE_SK, BOB_PK, b"ctx") == expected


def test_small_order_public_key_is_refused():
    with pytest.raises(CryptoError, match="key agreement"):
        crypto.agree(ALICE_SK, bytes(32), b"ctx")


def test_sealed_shares_detect_tampering_and_misrouting():
    key = bytes(range(32))
    box = crypto.seal(key, b"share", b"a->b")
    assert crypto.open_sealed(key, box, b"a->b") == b"share"
    with pytest.raises(CryptoError):
        crypto.open_sealed(key, box, b"a->c")
    with pytest.raises(CryptoError):
        crypto.open_sealed(key, bytes([box[0] ^ 1]) + box[1:], b"a->b")


def test_masks_are_deterministic_per_seed_and_distinct_across_seeds():
    a = crypto.expand_mask(b"s" * 32, 1000, np.dtype(np.uint32))
    assert np.array_equal(a, crypto.expand_mask(b"s" * 32, 1000, np.dtype(np.uint32)))
    assert not np.array_equal(a, crypto.expand_mask(b"t" * 32, 1000, np.dtype(np.uint32)))


def test_labels_are_unambiguous():
    assert crypto.label("ab", "c") != crypto.label("a", "bc")
