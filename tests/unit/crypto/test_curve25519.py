"""The PSI group against published vectors: RFC 7748 (X25519) and RFC 9380 (hash to curve25519)."""

from __future__ import annotations

import numpy as np
import pytest

from accord.crypto import curve25519
from accord.crypto.random import Rng
from accord.errors import CryptoError


def _point(hex_le: str) -> np.ndarray:
    return np.frombuffer(bytes.fromhex(hex_le), dtype=np.uint8).reshape(1, 32)


def test_x25519_matches_rfc7748(vectors):
    for v in vectors("rfc7748_x25519.json"):
        out = curve25519.scalarmult(bytes.fromhex(v["scalar"]), _point(v["input"]))
        assert out.tobytes().hex() == v["output"]


def test_expand_message_xmd_matches_rfc9380(vectors):
    suite = vectors("rfc9380_expand_message_xmd_sha512.json")
    for t in suite["tests"]:
        out = curve25519.expand_message_xmd(t["msg"].encode(), suite["DST"].encode(), int(t["len_in_bytes"], 16))
        assert out.hex() == t["uniform_bytes"]


def test_hash_to_curve_matches_rfc9380_j41(vectors):
    suite = vectors("rfc9380_curve25519_ro.json")
    dst = suite["dst"].encode()
    for v in suite["vectors"]:
        msg = v["msg"].encode()
        u0, u1 = curve25519.hash_to_field(msg, dst)
        assert (int(u0), int(u1)) == (int(v["u0"], 16), int(v["u1"], 16))
        for u, qx, qy in ((u0, v["Q0_x"], v["Q0_y"]), (u1, v["Q1_x"], v["Q1_y"])):
            assert tuple(map(int, curve25519.map_to_curve(u))) == (int(qx, 16), int(qy, 16))
        x, _ = curve25519.hash_to_point(msg, dst)
        assert curve25519.clear_cofactor(int(x)) == int(v["P_x"], 16)
        row = curve25519.hash_to_curve([msg], dst)
        assert int.from_bytes(row.tobytes(), "little") == int(x)


def test_blinding_commutes_and_lands_in_the_prime_order_subgroup():
    rng = Rng(seed=b"commute")
    points = curve25519.hash_to_curve([b"alice", b"bob", b"carol"], b"test")
    a, b = rng.bytes(32), rng.bytes(32)
    ab = curve25519.scalarmult(b, curve25519.scalarmult(a, points))
    ba = curve25519.scalarmult(a, curve25519.scalarmult(b, points))
    np.testing.assert_array_equal(ab, ba)
    assert len({row.tobytes() for row in ab}) == 3


def test_threaded_scalarmult_matches_serial():
    rng = Rng(seed=b"threads")
    points = curve25519.hash_to_curve([str(i).encode() for i in range(9000)], b"test")
    k = rng.bytes(32)
    np.testing.assert_array_equal(curve25519.scalarmult(k, points), curve25519.scalarmult(k, points, threads=2))


def test_low_order_points_are_refused():
    with pytest.raises(CryptoError, match="low order"):
        curve25519.scalarmult(b"\x09" * 32, np.zeros((1, 32), dtype=np.uint8))


@pytest.mark.parametrize("scalar, points", [(b"short", np.zeros((1, 32), np.uint8)),
                                            (b"\x01" * 32, np.zeros((1, 31), np.uint8))])
def test_bad_shapes_are_refused(scalar, points):
    with pytest.raises(ValueError):
        curve25519.scalarmult(scalar, points)
