"""HPKE key wrapping: pyhpke reproduces RFC 9180 A.1.1, and wrapped keys open only in their context."""

from __future__ import annotations

import pytest

from accord.errors import CryptoError
from accord.tee.wrapping import KeyPair, unwrap_key, wrap_key

pyhpke = pytest.importorskip("pyhpke")


def test_pyhpke_reproduces_rfc9180_a1_base_mode(vectors):
    VECTOR = vectors("rfc9180_hpke_a1.json")  # noqa: N806
    h = bytes.fromhex
    suite = pyhpke.CipherSuite.new(pyhpke.KEMId(VECTOR["kem_id"]), pyhpke.KDFId(VECTOR["kdf_id"]),
                                   pyhpke.AEADId(VECTOR["aead_id"]))
    ephemeral = pyhpke.KEMKeyPair(suite.kem.deserialize_private_key(h(VECTOR["skEm"])),
                                  suite.kem.deserialize_public_key(h(VECTOR["pkEm"])))
    enc, sender = suite.create_sender_context(suite.kem.deserialize_public_key(h(VECTOR["pkRm"])),
                                              info=h(VECTOR["info"]), eks=ephemeral)
    assert enc.hex() == VECTOR["enc"]
    assert sender.seal(h(VECTOR["pt"]), aad=h(VECTOR["aad"])).hex() == VECTOR["ct"]
    recipient = suite.create_recipient_context(h(VECTOR["enc"]), suite.kem.deserialize_private_key(h(VECTOR["skRm"])),
                                               info=h(VECTOR["info"]))
    assert recipient.open(h(VECTOR["ct"]), aad=h(VECTOR["aad"])).hex() == VECTOR["pt"]


def test_wrapped_key_opens_only_with_the_private_key_and_the_same_context():
    pair, other = KeyPair.generate(), KeyPair.generate()
    key = bytes(range(32))
    wrapped = wrap_key(key, pair.public, "bank/loans/job-1")
    assert unwrap_key(wrapped, pair.private, "bank/loans/job-1") == key
    with pytest.raises(CryptoError):
        unwrap_key(wrapped, other.private, "bank/loans/job-1")
    with pytest.raises(CryptoError):
        unwrap_key(wrapped, pair.private, "bank/loans/job-2")
    tampered = bytearray(wrapped)
    tampered[40] ^= 1
    with pytest.raises(CryptoError):
        unwrap_key(bytes(tampered), pair.private, "bank/loans/job-1")
    with pytest.raises(CryptoError):
        wrap_key(key, b"short", "x")
