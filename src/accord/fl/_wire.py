"""Validation helpers shared by the FL message modules: every check names the peer and the stage."""

from __future__ import annotations

from typing import Any

import numpy as np

from accord.errors import MalformedMessage


class Reader:
    """Reads fields of one decoded message, raising :class:`MalformedMessage` naming ``peer`` and ``stage``."""

    def __init__(self, value: Any, peer: str, stage: str) -> None:
        self.peer = peer
        self.stage = stage
        if not isinstance(value, dict):
            raise self.error(f"expected a map, got {type(value).__name__}")
        self.value = value

    def error(self, why: str) -> MalformedMessage:
        return MalformedMessage(f"{self.peer!r} sent a malformed message at stage {self.stage!r}: {why}",
                                party=self.peer, step=self.stage)

    def sub(self, name: str) -> Reader:
        """A reader over the map held in field ``name``."""
        return Reader(self.get(name, dict), self.peer, self.stage)

    def get(self, name: str, kind: type | tuple[type, ...]) -> Any:
        if name not in self.value:
            raise self.error(f"field {name!r} is missing")
        item = self.value[name]
        if not isinstance(item, kind) or (isinstance(item, bool) and kind is int):
            raise self.error(f"field {name!r} must be {getattr(kind, '__name__', kind)}, got {type(item).__name__}")
        return item

    def integer(self, name: str, low: int, high: int) -> int:
        item = self.get(name, int)
        if not low <= item <= high:
            raise self.error(f"field {name!r} = {item} is outside [{low}, {high}]")
        return item

    def number(self, name: str, low: float, high: float) -> float:
        item = self.get(name, (int, float))
        if isinstance(item, bool) or not (low <= float(item) <= high):
            raise self.error(f"field {name!r} = {item!r} is outside [{low}, {high}]")
        return float(item)

    def raw(self, name: str, size: int | None = None) -> bytes:
        item = self.get(name, bytes)
        if size is not None and len(item) != size:
            raise self.error(f"field {name!r} must hold {size} bytes, got {len(item)}")
        return item

    def names(self, name: str) -> list[str]:
        items = self.get(name, list)
        if not all(isinstance(i, str) for i in items) or len(set(items)) != len(items):
            raise self.error(f"field {name!r} must be a list of distinct names")
        return items

    def array(self, name: str, dtypes: tuple[np.dtype, ...], shape: tuple[int, ...] | None = None,
              finite: bool = False) -> np.ndarray:
        item = self.get(name, np.ndarray)
        return self.check_array(item, name, dtypes, shape, finite)

    def check_array(self, item: Any, name: str, dtypes: tuple[np.dtype, ...], shape: tuple[int, ...] | None,
                    finite: bool = False) -> np.ndarray:
        if not isinstance(item, np.ndarray):
            raise self.error(f"{name} must be an array, got {type(item).__name__}")
        if item.dtype not in dtypes:
            raise self.error(f"{name} has dtype {item.dtype}, expected one of {[str(d) for d in dtypes]}")
        if shape is not None and item.shape != shape:
            raise self.error(f"{name} has shape {item.shape}, expected {shape}")
        if finite and not np.all(np.isfinite(item)):
            raise self.error(f"{name} holds NaN or infinity")
        return item
