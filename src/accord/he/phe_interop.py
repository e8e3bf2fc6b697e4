"""Exchange keys and ciphertexts with python-paillier (``phe``), the de-facto Python Paillier library.

Formats (those of phe 1.5's ``pheutil``):

- public key: a JSON Web Key ``{"kty": "DAJ", "alg": "PAI-GN1", "key_ops": ["encrypt"], "n": <base64url
  big-endian n>, "kid": ...}``; phe uses g = n + 1 like accord, so ``n`` is the whole key;
- ciphertext: ``{"v": "<decimal ciphertext>", "e": <exponent>}``, where the plaintext is the decoded
  integer times ``16 ** e`` and negative integers are encoded as ``n - |v|`` with phe's overflow
  band between ``n // 3`` and ``n - n // 3``, the same convention as accord's.

accord's fixed point has ``2 ** -frac_bits`` resolution, so a ciphertext with exponent ``e <= 0``
imports with ``frac_bits = -4 e``, and an export first raises ``frac_bits`` to a multiple of 4. Every
export is re-randomised (:func:`ciphertexts_to_json`).
phe does not publish a DJN base, so a key imported from a JWK gets a fresh ``h_s`` drawn locally
(:func:`accord.he.paillier.djn_base`); accord's DJN ciphertexts are ordinary Paillier ciphertexts
that phe decrypts as they are. phe is not imported here: only its formats are.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import numpy as np
from gmpy2 import mpz

from accord.crypto.random import Rng
from accord.errors import MalformedMessage
from accord.he.cipher_array import CipherArray
from accord.he.engine import Paillier
from accord.he.paillier import PaillierPublicKey, check_key_bits, djn_base

_MAX_EXPONENT = 1024


def public_key_to_jwk(public_key: PaillierPublicKey, kid: str = "accord Paillier public key") -> dict[str, Any]:
    """The public key as phe's JWK (``phe.PaillierPublicKey(n)`` on the other side)."""
    raw = int(public_key.n).to_bytes((public_key.bits + 7) // 8, "big")
    return {"kty": "DAJ", "alg": "PAI-GN1", "key_ops": ["encrypt"],
            "n": base64.urlsafe_b64encode(raw).decode().rstrip("="), "kid": kid}


def public_key_from_jwk(jwk: dict[str, Any] | str, *, rng: Rng | None = None, party: str | None = None,
                        allow_insecure_key_size: bool = False) -> PaillierPublicKey:
    """A public key from phe's JWK (a dict or its JSON text), with a locally drawn DJN base."""
    def bad(why: str) -> MalformedMessage:
        return MalformedMessage(f"party {party!r} sent an invalid Paillier JWK: {why}", party=party, step="jwk")

    try:
        data = json.loads(jwk) if isinstance(jwk, str) else jwk
    except json.JSONDecodeError as exc:
        raise bad(f"not JSON ({exc})") from None
    if not isinstance(data, dict) or data.get("kty") != "DAJ" or data.get("alg") != "PAI-GN1":
        raise bad('expected "kty": "DAJ" and "alg": "PAI-GN1"')
    encoded = data.get("n")
    if not isinstance(encoded, str) or not encoded:
        raise bad('"n" must be a base64url string')
    try:
        n = int.from_bytes(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)), "big")
    except ValueError as exc:
        raise bad(f'"n" is not base64url ({exc})') from None
    if n < 3 or n % 2 == 0:
        raise bad("n must be an odd modulus")
    check_key_bits(n.bit_length(), allow_insecure_key_size=allow_insecure_key_size,
                   what=f"the JWK from party {party!r}")
    return PaillierPublicKey(n, djn_base(n, rng or Rng()))


def ciphertexts_to_json(array: CipherArray) -> list[dict[str, Any]]:
    """phe's ``{"v", "e"}`` object for every element of ``array`` (C order), re-randomised.

    Every exported ciphertext gets a fresh factor ``s^n`` (``s`` uniform, from the engine's CSPRNG),
    as every other path to a key owner does: the key owner can recover a ciphertext's randomness, and
    that of a computed ciphertext is a product of its inputs' randomness raised to the plaintext
    factors applied, which would tell it those factors. Exporting the same array twice therefore
    gives two unlinkable lists.
    """
    frac = -(-array.frac_bits // 4) * 4
    aligned = array.rescale(frac).rerandomize()
    return [{"v": str(int(c)), "e": -frac // 4} for c in aligned.values]


def ciphertexts_from_json(items: list[dict[str, Any]] | str, engine: Paillier, *, party: str | None = None,
                          shape: tuple[int, ...] | None = None) -> CipherArray:
    """Ciphertexts in phe's ``{"v", "e"}`` format (a list, or its JSON text) as one array under ``engine``.

    Elements with different exponents are aligned to the finest one (a homomorphic multiplication
    by a power of 16), as phe does when adding them. Their values are taken to lie in the range
    ``engine.encoding`` declares (``|x| < 2**int_bits``); decryption raises if one does not.
    """
    def bad(why: str) -> MalformedMessage:
        return MalformedMessage(f"party {party!r} sent invalid phe ciphertexts: {why}", party=party,
                                step="phe ciphertexts")

    try:
        data = json.loads(items) if isinstance(items, str) else items
    except json.JSONDecodeError as exc:
        raise bad(f"not JSON ({exc})") from None
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list):
        raise bad("expected a list of {'v', 'e'} objects")
    pk = engine.public_key
    values, exponents = [], []
    for i, item in enumerate(data):
        if not isinstance(item, dict) or set(item) - {"v", "e"} or not isinstance(item.get("v"), str):
            raise bad(f"element {i} is not a {{'v': str, 'e': int}} object")
        e = item.get("e")
        if not isinstance(e, int) or isinstance(e, bool) or abs(e) > _MAX_EXPONENT:
            raise bad(f"element {i} has exponent {e!r}; expected an integer within ±{_MAX_EXPONENT}")
        text = item["v"]
        if not text.isdigit() or len(text) > 2 * len(str(int(pk.nsq))):
            raise bad(f"element {i} is not a decimal integer")
        values.append(mpz(text))
        exponents.append(e)
    pk.check_ciphertexts(values, party=party, step="phe ciphertexts")
    frac = max([-4 * e for e in exponents] + [0])
    # Move every element to the common scale: multiply its plaintext by 2**(frac + 4e) >= 1.
    factors = [1 << (frac + 4 * e) for e in exponents]
    aligned = engine.powers(values, factors) if any(f != 1 for f in factors) else values
    out_shape = (len(values),) if shape is None else tuple(shape)
    if int(np.prod(out_shape, dtype=object)) != len(values):
        raise bad(f"{len(values)} ciphertexts do not fill shape {out_shape}")
    # phe declares no range; the importer's encoding does (and decryption enforces it).
    return CipherArray(engine, list(aligned), out_shape, frac, engine.encoding.int_bits + frac)
