"""Record what one party receives in a simulated run, to assert what never reaches it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from accord.net import codec
from accord.net.memory import MemoryLink


def tap(monkeypatch: pytest.MonkeyPatch, party: str) -> list[tuple[str, Any]]:
    """Every ``(key, decoded value)`` that ``party`` receives from now on, in order."""
    received: list[tuple[str, Any]] = []
    original = MemoryLink.recv

    def spy(self, frm, session, key, timeout):
        raw = original(self, frm, session, key, timeout)
        if self.me == party:
            received.append((key, codec.decode(bytes(raw))))
        return raw

    monkeypatch.setattr(MemoryLink, "recv", spy)
    return received


def leaves(value: Any) -> Iterator[Any]:
    """The non-container values inside nested dicts and lists."""
    if isinstance(value, dict):
        for v in value.values():
            yield from leaves(v)
    elif isinstance(value, list):
        for v in value:
            yield from leaves(v)
    else:
        yield value


def arrays(received: list[tuple[str, Any]]) -> list[np.ndarray]:
    """Every numpy array in the recorded messages."""
    return [v for _, msg in received for v in leaves(msg) if isinstance(v, np.ndarray)]


def tap_aggregator(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str, Any]]:
    """Every ``(stage, client, reply body)`` a federated aggregator receives through a simulated pool."""
    from accord.fl.simulation import SimulatedPool

    received: list[tuple[str, str, Any]] = []
    original = SimulatedPool.request

    def spy(self, round_number, stage, bodies, timeout):
        exchange = original(self, round_number, stage, bodies, timeout)
        received.extend((stage, client, body) for client, body in exchange.replies.items())
        return exchange

    monkeypatch.setattr(SimulatedPool, "request", spy)
    return received
