"""The typed codec: every supported value round-trips; every malformed message is refused cleanly."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from accord.errors import CodecError
from accord.net import codec

DTYPES = ["bool", "<i1", "<i2", "<i4", "<i8", "<u1", "<u2", "<u4", "<u8", "<f4", "<f8"]

arrays = st.sampled_from(DTYPES).flatmap(
    lambda dt: hnp.arrays(np.dtype(dt), hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=5))
)
scalars = (
    st.none() | st.booleans() | st.integers() | st.integers(min_value=-(2**300), max_value=2**300)
    | st.floats(allow_nan=False) | st.text() | st.binary()
)
values = st.recursive(
    scalars | arrays,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)


def assert_same(a, b):
    if isinstance(a, np.ndarray):
        assert isinstance(b, np.ndarray) and a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)
    elif isinstance(a, (list, tuple)):
        assert isinstance(b, list) and len(a) == len(b)
        for x, y in zip(a, b):
            assert_same(x, y)
    elif isinstance(a, dict):
        assert isinstance(b, dict) and list(a) == list(b)
        for k in a:
            assert_same(a[k], b[k])
    else:
        assert type(a) is type(b) and a == b


@given(values)
def test_round_trip(value):
    data = codec.encode(value)
    assert_same(value, codec.decode(data))
    assert_same(value, codec.decode(bytearray(data)))


@given(values)
@settings(max_examples=60)
def test_every_truncation_is_rejected(value):
    data = codec.encode(value)
    for cut in range(len(data)):
        with pytest.raises(CodecError):
            codec.decode(data[:cut])


@given(values, st.binary(min_size=1, max_size=4))
def test_trailing_bytes_are_rejected(value, extra):
    with pytest.raises(CodecError, match="trailing"):
        codec.decode(codec.encode(value) + extra)


@given(st.binary(max_size=64))
def test_arbitrary_bytes_decode_or_raise_codec_error(data):
    try:
        codec.decode(bytes((codec.MAGIC, codec.VERSION)) + data)
    except CodecError:
        pass


def test_decoded_arrays_are_writable():
    out = codec.decode(codec.encode(np.arange(4, dtype=np.uint64)))
    out[0] = 7
    assert out[0] == 7


def test_big_endian_and_non_contiguous_arrays_are_normalised():
    a = np.arange(12, dtype=">i4").reshape(3, 4)[:, ::2]
    out = codec.decode(codec.encode(a))
    np.testing.assert_array_equal(out, a)
    assert out.dtype == np.dtype("<i4")


@pytest.mark.parametrize("data, message", [
    (b"", "shorter"),
    (b"\x00\x01\x00", "magic"),
    (bytes((codec.MAGIC, 99, 0)), "version"),
    (bytes((codec.MAGIC, codec.VERSION, 0x7F)), "unknown value tag"),
    (bytes((codec.MAGIC, codec.VERSION, 9, 200, 0)), "dtype"),
    (bytes((codec.MAGIC, codec.VERSION, 3, 2, 0, 0, 0, 0, 0, 0, 0, 0)), "sign"),
    (bytes((codec.MAGIC, codec.VERSION, 3, 1)) + (0).to_bytes(8, "little"), "negative zero"),
    (bytes((codec.MAGIC, codec.VERSION, 3, 0)) + (2).to_bytes(8, "little") + b"\x01\x00", "non-minimal"),
    (bytes((codec.MAGIC, codec.VERSION, 9, 1, 1)) + (2).to_bytes(8, "little") + b"\x00\x02", "boolean"),
    (bytes((codec.MAGIC, codec.VERSION, 5)) + (2).to_bytes(8, "little") + b"\xff\xfe", "UTF-8"),
    (bytes((codec.MAGIC, codec.VERSION, 8)) + (2).to_bytes(8, "little")
     + (1).to_bytes(8, "little") + b"k\x00" + (1).to_bytes(8, "little") + b"k\x00", "repeats the key"),
    (bytes((codec.MAGIC, codec.VERSION, 7)) + (2**62).to_bytes(8, "little"), "items"),
    (bytes((codec.MAGIC, codec.VERSION, 9, 9, 2)) + (2**40).to_bytes(8, "little") * 2, "size limit"),
])
def test_malformed_messages_name_the_problem(data, message):
    with pytest.raises(CodecError, match=message):
        codec.decode(data)


def test_limits_are_enforced():
    deep = []
    for _ in range(40):
        deep = [deep]
    with pytest.raises(CodecError, match="deeper"):
        codec.encode(deep)
    small = codec.Limits(max_bytes=100)
    with pytest.raises(CodecError, match="exceeds"):
        codec.decode(codec.encode(b"x" * 200), small)
    with pytest.raises(CodecError, match="integer"):
        codec.decode(codec.encode(1 << 100), codec.Limits(max_int_bytes=4))


@pytest.mark.parametrize("value", [object(), {1: "a"}, np.array(["a"]), np.array([1 + 2j]), {1.5}])
def test_unsupported_values_are_refused(value):
    with pytest.raises(CodecError):
        codec.encode(value)


def test_large_arrays_are_encoded_without_copying():
    a = np.zeros(1 << 20, dtype=np.uint64)
    parts = codec.encode_parts(a)
    assert any(isinstance(p, memoryview) and p.nbytes == a.nbytes for p in parts)
    assert codec.encoded_size(parts) == len(codec.encode(a))
