"""RFC 9497 oblivious PRF over ristretto255 with SHA-512: the OPRF (mode 0) and VOPRF (mode 1) suites.

The client learns ``F(k, x) = H(x, k * H_G(x))`` for inputs of its choice without the server learning
``x``; the server's key ``k`` stays secret. In VOPRF mode the server also proves, with a batched
discrete-log-equality proof (RFC 9497 section 2.2), that every evaluation used the key of its public
key ``k * G``, so a client detects a server that answers with another key instead of accepting wrong
outputs.

Every randomised step has a deterministic twin taking its randomness as an argument (``blind`` takes
the blinding scalar, :func:`generate_proof` the proof nonce), which is how the RFC's vectors are
checked; callers draw those scalars with :func:`accord.crypto.ristretto255.random_scalar`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from accord.crypto import ristretto255 as group
from accord.errors import CryptoError

OPRF, VOPRF = 0, 1
OUTPUT_BYTES = 64
PROOF_BYTES = 2 * group.SCALAR_BYTES
_IDENTIFIER = b"ristretto255-SHA512"


def context_string(mode: int) -> bytes:
    """``"OPRFV1-" || I2OSP(mode, 1) || "-" || identifier`` (RFC 9497 section 3.1)."""
    if mode not in (OPRF, VOPRF):
        raise ValueError(f"mode must be {OPRF} (OPRF) or {VOPRF} (VOPRF), got {mode!r}")
    return b"OPRFV1-" + bytes((mode,)) + b"-" + _IDENTIFIER


def _i2osp2(value: int) -> bytes:
    return value.to_bytes(2, "big")


def _prefixed(*parts: bytes) -> bytes:
    return b"".join(_i2osp2(len(p)) + p for p in parts)


def derive_key_pair(seed: bytes, info: bytes, mode: int) -> tuple[bytes, bytes]:
    """``DeriveKeyPair`` (RFC 9497 section 3.2.1): a deterministic ``(skS, pkS)`` from a 32-byte seed."""
    derive_input = seed + _prefixed(info)
    dst = b"DeriveKeyPair" + context_string(mode)
    for counter in range(256):
        sk = group.hash_to_scalar(derive_input + bytes((counter,)), dst)
        if int.from_bytes(sk, "little"):
            return sk, group.base_mult(sk)
    raise CryptoError("DeriveKeyPair found no non-zero scalar")  # probability 2^-64000


def public_key(sk: bytes) -> bytes:
    """``pkS = skS * G``."""
    return group.base_mult(sk)


def hash_input(x: bytes, mode: int) -> bytes:
    """``HashToGroup(x)`` with the suite's domain separation tag."""
    return group.hash_to_group(x, b"HashToGroup-" + context_string(mode))


def blind(x: bytes, scalar: bytes, mode: int) -> bytes:
    """The client's blinded element ``scalar * HashToGroup(x)`` (``Blind`` with the blind given)."""
    return group.mult(scalar, hash_input(x, mode))


def blind_evaluate(sk: bytes, blinded: bytes) -> bytes:
    """The server's evaluated element ``skS * blinded``; :class:`CryptoError` for an invalid element."""
    return group.mult(sk, blinded)


def finalize(x: bytes, scalar: bytes, evaluated: bytes) -> bytes:
    """The PRF output from the server's evaluated element: unblind, then hash with the input."""
    return _finalize_hash(x, group.mult(group.invert(scalar), evaluated))


def evaluate(sk: bytes, x: bytes, mode: int) -> bytes:
    """The PRF output computed directly with the key (``Evaluate``): what the server tabulates offline."""
    return _finalize_hash(x, group.mult(sk, hash_input(x, mode)))


def _finalize_hash(x: bytes, unblinded: bytes) -> bytes:
    return hashlib.sha512(_prefixed(x, unblinded) + b"Finalize").digest()


# ------------------------------------------------------------------------------------------- VOPRF proofs
def _composites(pk: bytes, blinded: Sequence[bytes], evaluated: Sequence[bytes], mode: int,
                sk: bytes | None) -> tuple[bytes, bytes]:
    """``ComputeComposites`` (client) or, given ``sk``, ``ComputeCompositesFast`` (server): ``(M, Z)``."""
    ctx = context_string(mode)
    seed = hashlib.sha512(_prefixed(pk, b"Seed-" + ctx)).digest()
    dst = b"HashToScalar-" + ctx
    m = z = b""
    for i, (c, d) in enumerate(zip(blinded, evaluated)):
        di = group.hash_to_scalar(_i2osp2(len(seed)) + seed + _i2osp2(i) + _prefixed(c, d) + b"Composite", dst)
        term = group.mult(di, c)
        m = term if not m else group.add(term, m)
        if sk is None:
            dterm = group.mult(di, d)
            z = dterm if not z else group.add(dterm, z)
    if not m:
        raise ValueError("a proof covers at least one element")
    return m, (group.mult(sk, m) if sk is not None else z)


def _challenge(pk: bytes, m: bytes, z: bytes, t2: bytes, t3: bytes, mode: int) -> int:
    transcript = _prefixed(pk, m, z, t2, t3) + b"Challenge"
    return group.scalar_to_int(group.hash_to_scalar(transcript, b"HashToScalar-" + context_string(mode)))


def generate_proof(sk: bytes, blinded: Sequence[bytes], evaluated: Sequence[bytes], nonce: bytes) -> bytes:
    """The VOPRF proof ``c || s`` that every ``evaluated[i] = sk * blinded[i]``, with proof nonce ``nonce``."""
    pk = public_key(sk)
    m, z = _composites(pk, blinded, evaluated, VOPRF, sk)
    c = _challenge(pk, m, z, group.base_mult(nonce), group.mult(nonce, m), VOPRF)
    s = (group.scalar_to_int(nonce) - c * group.scalar_to_int(sk)) % group.ORDER
    return group.scalar_from_int(c) + group.scalar_from_int(s)


def verify_proof(pk: bytes, blinded: Sequence[bytes], evaluated: Sequence[bytes], proof: bytes) -> bool:
    """Whether ``proof`` shows that the evaluations used the key of ``pk`` (``VerifyProof``)."""
    if len(proof) != PROOF_BYTES or len(blinded) != len(evaluated) or not blinded:
        return False
    try:
        c, s = group.scalar_to_int(proof[:32]), group.scalar_to_int(proof[32:])
        m, z = _composites(pk, blinded, evaluated, VOPRF, None)
        t2 = _combine(s, group.base_mult(group.scalar_from_int(1)), c, pk)
        t3 = _combine(s, m, c, z)
    except CryptoError:
        return False
    return _challenge(pk, m, z, t2, t3, VOPRF) == c


def _combine(s: int, a: bytes, c: int, b: bytes) -> bytes:
    """``s * a + c * b`` (the scalars of an honest proof are non-zero; a zero one fails the check)."""
    if not s or not c:
        raise CryptoError("degenerate proof scalar")
    return group.add(group.mult(group.scalar_from_int(s), a), group.mult(group.scalar_from_int(c), b))
