"""RFC 9496 ristretto255 and RFC 9497 OPRF/VOPRF (ristretto255-SHA512) against the RFCs' published vectors."""

from __future__ import annotations

import hashlib

import pytest

from accord.crypto import oprf
from accord.crypto import ristretto255 as group
from accord.errors import CryptoError


def _split(value: str) -> list[bytes]:
    return [bytes.fromhex(v) for v in value.split(",")]


def test_ristretto255_encodings_and_hash(vectors):
    data = vectors("rfc9496_ristretto255.json")
    multiples = [bytes.fromhex(h) for h in data["generator_multiples_B0_to_B15"]]
    for k, expected in enumerate(multiples[1:], start=1):
        assert group.base_mult(group.scalar_from_int(k)) == expected
        assert group.is_valid(expected)
    assert not group.is_valid(multiples[0])  # the identity is never a valid peer element
    for bad in data["invalid_encodings"]:
        assert not group.is_valid(bytes.fromhex(bad))
        with pytest.raises(CryptoError):
            group.mult(group.scalar_from_int(3), bytes.fromhex(bad))
    lib = group._sodium()
    for case in data["hash_to_group"]["cases"]:
        digest = hashlib.sha512(case["label"].encode()).digest()
        assert bytes(lib.crypto_core_ristretto255_from_hash(digest)).hex() == case["element"]


@pytest.mark.parametrize("mode", [oprf.OPRF, oprf.VOPRF])
def test_rfc9497_vectors(vectors, mode):
    suite = next(s for s in vectors("rfc9497_oprf_ristretto255.json") if s["mode"] == mode)
    sk, pk = oprf.derive_key_pair(bytes.fromhex(suite["seed"]), bytes.fromhex(suite["keyInfo"]), mode)
    assert sk.hex() == suite["skSm"]
    if mode == oprf.VOPRF:
        assert pk.hex() == suite["pkSm"]
    assert suite["groupDST"] == (b"HashToGroup-" + oprf.context_string(mode)).hex()
    for vector in suite["vectors"]:
        inputs, blinds = _split(vector["Input"]), _split(vector["Blind"])
        blinded = [oprf.blind(x, r, mode) for x, r in zip(inputs, blinds)]
        assert blinded == _split(vector["BlindedElement"])
        evaluated = [oprf.blind_evaluate(sk, b) for b in blinded]
        assert evaluated == _split(vector["EvaluationElement"])
        outputs = [oprf.finalize(x, r, e) for x, r, e in zip(inputs, blinds, evaluated)]
        assert outputs == _split(vector["Output"])
        assert [oprf.evaluate(sk, x, mode) for x in inputs] == outputs
        if mode == oprf.VOPRF:
            proof = oprf.generate_proof(sk, blinded, evaluated, bytes.fromhex(vector["Proof"]["r"]))
            assert proof.hex() == vector["Proof"]["proof"]
            assert oprf.verify_proof(pk, blinded, evaluated, proof)


def test_a_proof_fails_for_another_key_or_a_changed_element(vectors):
    suite = next(s for s in vectors("rfc9497_oprf_ristretto255.json") if s["mode"] == oprf.VOPRF)
    vector = suite["vectors"][2]
    sk = bytes.fromhex(suite["skSm"])
    blinded, evaluated = _split(vector["BlindedElement"]), _split(vector["EvaluationElement"])
    proof = bytes.fromhex(vector["Proof"]["proof"])
    other_pk = oprf.public_key(group.scalar_from_int(12345))
    assert not oprf.verify_proof(other_pk, blinded, evaluated, proof)
    assert not oprf.verify_proof(oprf.public_key(sk), blinded, evaluated[::-1], proof)
    assert not oprf.verify_proof(oprf.public_key(sk), blinded, evaluated, proof[:-1] + bytes((proof[-1] ^ 1,)))
    assert not oprf.verify_proof(oprf.public_key(sk), blinded, evaluated, b"\xff" * 64)
