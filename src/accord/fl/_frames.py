"""Framing shared by both ends of the FL transport: one codec message split into gRPC frames of bounded size.

A frame is one flag byte (1 = last frame of the message) followed by at most ``chunk`` bytes, so a
message of any size streams through gRPC's per-message limit; the reassembler refuses a message
larger than its cap before buffering it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from accord.errors import CodecError
from accord.net import codec

CHUNK = 4 << 20
GRPC_OPTIONS = [("grpc.max_send_message_length", CHUNK + 64), ("grpc.max_receive_message_length", CHUNK + 64),
                ("grpc.keepalive_time_ms", 10_000), ("grpc.keepalive_timeout_ms", 5_000),
                ("grpc.keepalive_permit_without_calls", 1), ("grpc.http2.max_pings_without_data", 0)]
SERVICE = "accord.fl.v1.Aggregator"
CONNECT = f"/{SERVICE}/Connect"


def frames(value: Any, chunk: int = CHUNK) -> Iterator[bytes]:
    """The frames of one codec-encoded value."""
    data = memoryview(codec.encode(value))
    for start in range(0, max(len(data), 1), chunk):
        piece = data[start:start + chunk]
        yield (b"\x01" if start + chunk >= len(data) else b"\x00") + bytes(piece)


class Reassembler:
    """Collects frames into whole messages, refusing any message over ``limit`` bytes."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._parts: list[bytes] = []
        self._size = 0

    def add(self, frame: bytes) -> Any | None:
        """Feed one frame; returns the decoded value when it completes a message, else ``None``."""
        if not frame or frame[0] > 1:
            raise CodecError("bad frame flag")
        self._size += len(frame) - 1
        if self._size > self.limit:
            raise CodecError(f"message exceeds the limit of {self.limit} bytes")
        self._parts.append(frame[1:])
        if frame[0] == 0:
            return None
        data = b"".join(self._parts)
        self._parts, self._size = [], 0
        return codec.decode(data, codec.Limits(max_bytes=self.limit))
