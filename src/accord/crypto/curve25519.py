"""The Curve25519 group for ECDH-style protocols: RFC 9380 hash-to-curve and batched X25519.

Group choice. PSI needs a group where DDH holds, a hash onto it, and fast commutative exponentiation.
We use Curve25519 in Montgomery x-only form with X25519 scalar multiplication (RFC 7748) from
libsodium, reached through PyNaCl, which installs from wheels everywhere and releases the GIL, so
threads scale over cores (32k multiplications/s per core here versus 12-14k/s for ristretto255,
which PyNaCl does not expose at all). The curve has cofactor 8; X25519 clamps every scalar to a
multiple of 8, so ``X25519(k, P)`` lies in the prime-order subgroup whatever point ``P`` is, and
``X25519(a, X25519(b, P)) == X25519(b, X25519(a, P))`` because clamped scalars multiply.
libsodium rejects results equal to the identity (a low-order input), which we surface as a
:class:`~accord.errors.CryptoError`.

Hashing. :func:`hash_to_curve` is RFC 9380's ``curve25519_XMD:SHA-512_ELL2_RO_`` (expand_message_xmd
with SHA-512, two Elligator 2 maps, point addition) except for the final ``clear_cofactor``, which
the clamped scalar of the first blinding performs. It is written here with gmpy2 because PyNaCl's
bundled libsodium exposes only a non-standard single-map encoding (``from_uniform``), not the random
oracle construction the DH-PSI security argument assumes. :func:`clear_cofactor` exists so tests can
compare with the RFC's published outputs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import gmpy2
import numpy as np
from nacl.bindings import crypto_scalarmult
from nacl.exceptions import RuntimeError as NaclRuntimeError

from accord.errors import CryptoError

P = (1 << 255) - 19
_P = gmpy2.mpz(P)
_A = gmpy2.mpz(486662)
_Z = gmpy2.mpz(2)
_SQRT_M1 = gmpy2.powmod(2, (P - 1) // 4, _P)
_C2 = gmpy2.powmod(2, (P + 3) // 8, _P)  # RFC 9380 G.2.1 constant c2 = 2^((p + 3) / 8)
_EXP_C4 = gmpy2.mpz((P - 5) // 8)
_L = 48  # bytes per field element: ceil((255 + 128) / 8)
POINT_BYTES = 32
SCALAR_BYTES = 32


def expand_message_xmd(msg: bytes, dst: bytes, length: int) -> bytes:
    """RFC 9380 section 5.3.1 with SHA-512."""
    if len(dst) > 255:
        dst = hashlib.sha512(b"H2C-OVERSIZE-DST-" + dst).digest()
    ell = -(-length // 64)
    if ell > 255 or length > 65535:
        raise ValueError(f"expand_message_xmd cannot produce {length} bytes")
    dst_prime = dst + bytes((len(dst),))
    b0 = hashlib.sha512(bytes(128) + msg + length.to_bytes(2, "big") + b"\x00" + dst_prime).digest()
    blocks = [hashlib.sha512(b0 + b"\x01" + dst_prime).digest()]
    for i in range(2, ell + 1):
        prev = bytes(x ^ y for x, y in zip(b0, blocks[-1]))
        blocks.append(hashlib.sha512(prev + bytes((i,)) + dst_prime).digest())
    return b"".join(blocks)[:length]


def hash_to_field(msg: bytes, dst: bytes, count: int = 2) -> list[gmpy2.mpz]:
    """RFC 9380 section 5.2 for GF(2^255 - 19) with L = 48."""
    uniform = expand_message_xmd(msg, dst, count * _L)
    return [gmpy2.mpz(int.from_bytes(uniform[i * _L : (i + 1) * _L], "big")) % _P for i in range(count)]


def map_to_curve(u: gmpy2.mpz) -> tuple[gmpy2.mpz, gmpy2.mpz]:
    """Elligator 2 onto curve25519 with one exponentiation (RFC 9380 appendix G.2.1): returns (x, y).

    Uses that g(x2) = 2 u^2 g(x1), so the square root candidate of g(x1) also yields one of g(x2).
    """
    tv1 = 2 * u * u % _P
    xd = (tv1 + 1) % _P  # never 0: -1 is a square mod p and 2 u^2 is not
    x1n = -_A % _P
    tv2 = xd * xd % _P
    gxd = tv2 * xd % _P
    gx1 = ((_A * tv1 % _P) * x1n + tv2) * x1n % _P
    tv3 = gxd * gxd % _P
    tv2 = tv3 * tv3 % _P
    tv3 = tv3 * gxd * gx1 % _P
    y11 = gmpy2.powmod(tv2 * tv3 % _P, _EXP_C4, _P) * tv3 % _P
    check = y11 * y11 * gxd % _P
    if check == gx1 or check == (-gx1) % _P:  # g(x1) is a square: x = x1, sgn0(y) = 1
        xn, y = x1n, (y11 if check == gx1 else y11 * _SQRT_M1 % _P)
        if not y & 1:
            y = _P - y
    else:  # g(x2) = 2 u^2 g(x1) is a square: x = x2, sgn0(y) = 0
        xn = x1n * tv1 % _P
        y21 = y11 * u % _P * _C2 % _P
        y = y21 if y21 * y21 * gxd % _P == gx1 * tv1 % _P else y21 * _SQRT_M1 % _P
        if y & 1:
            y = _P - y
    return xn * gmpy2.invert(xd, _P) % _P, y


def _add(p1: tuple[gmpy2.mpz, gmpy2.mpz], p2: tuple[gmpy2.mpz, gmpy2.mpz]) -> tuple[gmpy2.mpz, gmpy2.mpz]:
    """Affine addition on y^2 = x^3 + A x^2 + x (B = 1)."""
    (x1, y1), (x2, y2) = p1, p2
    if x1 == x2:
        if (y1 + y2) % _P == 0:
            raise CryptoError("hash-to-curve hit the identity (probability 2^-250): change the input domain")
        slope = (3 * x1 * x1 + 2 * _A * x1 + 1) * gmpy2.invert(2 * y1, _P) % _P
    else:
        slope = (y2 - y1) * gmpy2.invert((x2 - x1) % _P, _P) % _P
    x3 = (slope * slope - _A - x1 - x2) % _P
    y3 = (slope * (x1 - x3) - y1) % _P
    return x3, y3


def hash_to_point(msg: bytes, dst: bytes) -> tuple[gmpy2.mpz, gmpy2.mpz]:
    """RFC 9380 ``hash_to_curve`` for curve25519 without the final ``clear_cofactor``: Q0 + Q1."""
    u0, u1 = hash_to_field(msg, dst)
    return _add(map_to_curve(u0), map_to_curve(u1))


def hash_to_curve(msgs: Sequence[bytes], dst: bytes) -> np.ndarray:
    """Hash each message to a curve point; returns an ``(n, 32)`` uint8 array of X25519 u-coordinates.

    The points are not yet in the prime-order subgroup; the first clamped X25519 multiplication
    clears the cofactor.
    """
    out = bytearray(POINT_BYTES * len(msgs))
    for i, msg in enumerate(msgs):
        x, _ = hash_to_point(msg, dst)
        out[POINT_BYTES * i : POINT_BYTES * (i + 1)] = int(x).to_bytes(POINT_BYTES, "little")
    return np.frombuffer(out, dtype=np.uint8).reshape(len(msgs), POINT_BYTES)


def clear_cofactor(x: int) -> int:
    """x-coordinate of [8]P from x(P) by three x-only doublings (used to check RFC 9380 vectors)."""
    xx = gmpy2.mpz(x)
    for _ in range(3):
        numerator = (xx * xx - 1) ** 2 % _P
        denominator = 4 * xx * (xx * xx + _A * xx + 1) % _P
        xx = numerator * gmpy2.invert(denominator, _P) % _P
    return int(xx)


def scalarmult(scalar: bytes, points: np.ndarray, *, threads: int = 1, chunk: int = 4096) -> np.ndarray:
    """X25519 of ``scalar`` with each row of ``points`` (``(n, 32)`` uint8); returns ``(n, 32)`` uint8.

    ``threads`` > 1 splits the batch over threads (libsodium releases the GIL).
    """
    if len(scalar) != SCALAR_BYTES:
        raise ValueError(f"an X25519 scalar has {SCALAR_BYTES} bytes, got {len(scalar)}")
    pts = np.ascontiguousarray(points, dtype=np.uint8)
    if pts.ndim != 2 or pts.shape[1] != POINT_BYTES:
        raise ValueError(f"points must have shape (n, {POINT_BYTES}), got {pts.shape}")
    n = len(pts)
    out = np.empty_like(pts)
    raw = pts.tobytes()

    def work(start: int, stop: int) -> None:
        buf = bytearray(POINT_BYTES * (stop - start))
        for i in range(start, stop):
            try:
                product = crypto_scalarmult(scalar, raw[POINT_BYTES * i : POINT_BYTES * (i + 1)])
            except NaclRuntimeError:
                raise CryptoError(f"point {i} has low order (the result would be the identity)") from None
            buf[POINT_BYTES * (i - start) : POINT_BYTES * (i - start + 1)] = product
        out[start:stop] = np.frombuffer(buf, dtype=np.uint8).reshape(-1, POINT_BYTES)

    if threads <= 1 or n < 2 * chunk:
        work(0, n)
    else:
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(lambda s: work(s, min(s + chunk, n)), range(0, n, chunk)))
    return out
