"""The typed wire codec: the only way values cross a party boundary.

Nothing received from a peer is ever unpickled or evaluated. A message is a version header followed by
one value in a small tag-length-value grammar:

=====  ===========================================================================
tag    value
=====  ===========================================================================
0x00   ``None``
0x01   ``False``
0x02   ``True``
0x03   int of any size: sign byte, u64 length, little-endian magnitude
0x04   float: IEEE-754 binary64, little-endian
0x05   str: u64 length, UTF-8 bytes
0x06   bytes: u64 length, raw bytes
0x07   list: u64 count, then the items (tuples are sent as lists)
0x08   map with str keys: u64 count, then key (as a str body) and value pairs
0x09   numpy array: dtype code, u8 ndim, u64 dims, raw little-endian C-order data
=====  ===========================================================================

Decoding checks every length against the bytes that remain and against :class:`Limits` before it
allocates anything, rejects unknown tags, dtypes and trailing bytes, and raises :class:`CodecError`.
Large arrays are encoded without copying (the encoder returns buffer views) and decoded as views of
the received buffer.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from accord.errors import CodecError

MAGIC = 0xAC
VERSION = 1

_NONE, _FALSE, _TRUE, _INT, _FLOAT, _STR, _BYTES, _LIST, _MAP, _ARRAY = range(10)

# Stable codes for the dtypes that may cross the wire. Append only: never reuse a code.
_DTYPES: dict[int, np.dtype] = {
    1: np.dtype("bool"),
    2: np.dtype("<i1"),
    3: np.dtype("<i2"),
    4: np.dtype("<i4"),
    5: np.dtype("<i8"),
    6: np.dtype("<u1"),
    7: np.dtype("<u2"),
    8: np.dtype("<u4"),
    9: np.dtype("<u8"),
    10: np.dtype("<f4"),
    11: np.dtype("<f8"),
}
_CODES = {dt: code for code, dt in _DTYPES.items()}
_U64 = struct.Struct("<Q")
_F64 = struct.Struct("<d")


@dataclass(frozen=True)
class Limits:
    """Bounds a decoder enforces on peer data.

    Parameters
    ----------
    max_bytes:
        Largest message accepted, in bytes (default 2 GiB). The largest messages of accord's protocols
        grow with the data: 32 bytes per key for ECDH PSI, about 30 for KKRT PSI (its OT-extension
        batches stay at 8 MiB), 8 per secret-shared ring element, 512 per Paillier-2048 ciphertext; so
        2 GiB carries PSI over some 60 million keys per party. Raise it (``max_message`` in the
        cluster file) for more; messages are chunked on the wire, so this is a memory bound only.
    max_depth:
        Deepest nesting of lists and maps (default 32).
    max_items:
        Most list items and map entries in one message, all levels together (default 10 million).
    max_int_bytes:
        Longest integer magnitude in bytes (default 64 KiB, i.e. 524,288 bits).
    """

    max_bytes: int = 2 << 30
    max_depth: int = 32
    max_items: int = 10_000_000
    max_int_bytes: int = 1 << 16


DEFAULT_LIMITS = Limits()


def encode_parts(value: Any) -> list[bytes | memoryview]:
    """Encode ``value`` as a list of buffers whose concatenation is the message.

    Array payloads are returned as views of the array's memory, so the caller must not mutate an
    array until the parts are consumed (use :func:`encode` for an independent copy).
    """
    parts: list[bytes | memoryview] = [bytes((MAGIC, VERSION))]
    _encode(value, parts, 0)
    return parts


def encode(value: Any) -> bytes:
    """Encode ``value`` into one ``bytes`` message."""
    return b"".join(encode_parts(value))


def encoded_size(parts: Sequence[bytes | memoryview]) -> int:
    """Total length in bytes of the parts returned by :func:`encode_parts`."""
    return sum(memoryview(p).nbytes for p in parts)


def _encode(value: Any, out: list[bytes | memoryview], depth: int) -> None:
    if depth > DEFAULT_LIMITS.max_depth:
        raise CodecError(f"value nests deeper than {DEFAULT_LIMITS.max_depth} levels")
    if value is None:
        out.append(bytes((_NONE,)))
    elif value is True or value is False or isinstance(value, np.bool_):
        out.append(bytes((_TRUE if value else _FALSE,)))
    elif isinstance(value, (int, np.integer)) or type(value).__name__ == "mpz":
        ivalue = int(value)
        magnitude = abs(ivalue)
        body = magnitude.to_bytes((magnitude.bit_length() + 7) // 8, "little")
        out.append(bytes((_INT, 1 if ivalue < 0 else 0)) + _U64.pack(len(body)) + body)
    elif isinstance(value, (float, np.floating)):
        out.append(bytes((_FLOAT,)) + _F64.pack(float(value)))
    elif isinstance(value, str):
        body = value.encode("utf-8")
        out.append(bytes((_STR,)) + _U64.pack(len(body)) + body)
    elif isinstance(value, (bytes, bytearray, memoryview)):
        view = memoryview(value).cast("B")
        out.append(bytes((_BYTES,)) + _U64.pack(view.nbytes))
        out.append(view)
    elif isinstance(value, np.ndarray):
        _encode_array(value, out)
    elif isinstance(value, Mapping):
        out.append(bytes((_MAP,)) + _U64.pack(len(value)))
        for key, item in value.items():
            if not isinstance(key, str):
                raise CodecError(f"map keys must be str, got {type(key).__name__} key {key!r}")
            body = key.encode("utf-8")
            out.append(_U64.pack(len(body)) + body)
            _encode(item, out, depth + 1)
    elif isinstance(value, (list, tuple)):
        out.append(bytes((_LIST,)) + _U64.pack(len(value)))
        for item in value:
            _encode(item, out, depth + 1)
    else:
        raise CodecError(
            f"cannot send a {type(value).__name__}: the codec carries None, bool, int, float, str, bytes, "
            "numpy arrays, lists and str-keyed maps"
        )


def _encode_array(array: np.ndarray, out: list[bytes | memoryview]) -> None:
    dtype = array.dtype.newbyteorder("<") if array.dtype.byteorder == ">" else array.dtype
    code = _CODES.get(np.dtype(dtype))
    if code is None:
        raise CodecError(f"numpy dtype {array.dtype} cannot be sent; use one of {sorted(map(str, _CODES))}")
    if array.ndim > 255:
        raise CodecError(f"array has {array.ndim} dimensions; at most 255 are supported")
    array = np.require(array, dtype=dtype, requirements="C")
    header = bytes((_ARRAY, code, array.ndim)) + b"".join(_U64.pack(d) for d in array.shape)
    out.append(header)
    if array.nbytes:
        out.append(array.data.cast("B"))


def decode(data: bytes | bytearray | memoryview, limits: Limits = DEFAULT_LIMITS) -> Any:
    """Decode one message produced by :func:`encode` / :func:`encode_parts`.

    Arrays are returned as views into ``data`` when it is writable (``bytearray``) and as copies when
    it is not, so the result is always safe to modify.
    """
    view = memoryview(data).cast("B")
    if view.nbytes > limits.max_bytes:
        raise CodecError(f"message of {view.nbytes} bytes exceeds the limit of {limits.max_bytes} bytes")
    if view.nbytes < 2:
        raise CodecError("message is shorter than its 2-byte header")
    if view[0] != MAGIC:
        raise CodecError(f"bad magic byte 0x{view[0]:02x} (expected 0x{MAGIC:02x}): not an accord message")
    if view[1] != VERSION:
        raise CodecError(f"unsupported codec version {view[1]} (this build speaks version {VERSION})")
    reader = _Reader(view, limits)
    value = reader.value(0)
    if reader.pos != view.nbytes:
        raise CodecError(f"{view.nbytes - reader.pos} trailing bytes after the value")
    return value


class _Reader:
    def __init__(self, view: memoryview, limits: Limits) -> None:
        self.view = view
        self.pos = 2
        self.limits = limits
        self.items = 0

    def take(self, n: int) -> memoryview:
        if n < 0 or self.pos + n > self.view.nbytes:
            raise CodecError(f"message truncated: needs {n} bytes at offset {self.pos}, has "
                             f"{self.view.nbytes - self.pos}")
        chunk = self.view[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def u64(self) -> int:
        return _U64.unpack(self.take(8))[0]

    def count(self, what: str) -> int:
        n = self.u64()
        self.items += n
        if self.items > self.limits.max_items:
            raise CodecError(f"{what} count {n} pushes the message past {self.limits.max_items} items")
        return n

    def text(self) -> str:
        try:
            return str(self.take(self.u64()), "utf-8")
        except UnicodeDecodeError as exc:
            raise CodecError(f"string is not valid UTF-8: {exc}") from None

    def value(self, depth: int) -> Any:
        if depth > self.limits.max_depth:
            raise CodecError(f"message nests deeper than {self.limits.max_depth} levels")
        tag = self.take(1)[0]
        if tag == _NONE:
            return None
        if tag == _FALSE:
            return False
        if tag == _TRUE:
            return True
        if tag == _INT:
            sign = self.take(1)[0]
            if sign > 1:
                raise CodecError(f"bad integer sign byte {sign}")
            length = self.u64()
            if length > self.limits.max_int_bytes:
                raise CodecError(f"integer of {length} bytes exceeds {self.limits.max_int_bytes} bytes")
            magnitude = int.from_bytes(self.take(length), "little")
            if length and self.view[self.pos - 1] == 0:
                raise CodecError("integer has a non-minimal encoding (leading zero byte)")
            if sign and magnitude == 0:
                raise CodecError("integer encodes negative zero")
            return -magnitude if sign else magnitude
        if tag == _FLOAT:
            return _F64.unpack(self.take(8))[0]
        if tag == _STR:
            return self.text()
        if tag == _BYTES:
            return bytes(self.take(self.u64()))
        if tag == _LIST:
            n = self.count("list")
            return [self.value(depth + 1) for _ in range(n)]
        if tag == _MAP:
            n = self.count("map")
            out: dict[str, Any] = {}
            for _ in range(n):
                key = self.text()
                if key in out:
                    raise CodecError(f"map repeats the key {key!r}")
                out[key] = self.value(depth + 1)
            return out
        if tag == _ARRAY:
            return self.array()
        raise CodecError(f"unknown value tag 0x{tag:02x} at offset {self.pos - 1}")

    def array(self) -> np.ndarray:
        code, ndim = self.take(2)
        dtype = _DTYPES.get(code)
        if dtype is None:
            raise CodecError(f"unknown array dtype code {code}")
        shape = tuple(self.u64() for _ in range(ndim))
        count = 1
        for dim in shape:
            count *= dim
            if count > self.limits.max_bytes:
                raise CodecError(f"array shape {shape} exceeds the message size limit")
        raw = self.take(count * dtype.itemsize)
        if self.view.readonly:
            array = np.frombuffer(bytearray(raw), dtype=dtype) if count else np.empty(0, dtype)
        else:
            array = np.frombuffer(raw, dtype=dtype) if count else np.empty(0, dtype)
        if dtype == np.bool_ and count and int(array.view(np.uint8).max()) > 1:
            raise CodecError("boolean array holds bytes other than 0 and 1")
        return array.reshape(shape)
