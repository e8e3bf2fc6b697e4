"""How the aggregator reaches its clients: one request per client and stage, one reply each, with a deadline.

A :class:`ClientPool` is the only thing the aggregator's round logic talks to. The simulated pool
(:mod:`accord.fl.simulation`) runs every client in this process; the gRPC pool
(:mod:`accord.fl.grpc_server`) reaches clients that connected out to the aggregator over mutual TLS.
Both encode every message with the typed codec and count bytes per client, so the round logic and
the byte counts are identical in simulation and production.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass
class Exchange:
    """Outcome of one stage: the replies that arrived in time, and why the others did not."""

    replies: dict[str, dict[str, Any]] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)


@dataclass
class Traffic:
    """Bytes the aggregator sent to and received from each client."""

    sent: dict[str, int] = field(default_factory=dict)
    received: dict[str, int] = field(default_factory=dict)

    def add(self, client: str, sent: int, received: int) -> None:
        self.sent[client] = self.sent.get(client, 0) + sent
        self.received[client] = self.received.get(client, 0) + received

    @property
    def total(self) -> int:
        return sum(self.sent.values()) + sum(self.received.values())


class ClientPool(Protocol):
    """The aggregator's view of its clients."""

    traffic: Traffic

    def available(self) -> list[str]:
        """Clients that can be sampled now, in a stable order."""
        ...

    def request(self, round_number: int, stage: str, bodies: Mapping[str, dict[str, Any]],
                timeout: float) -> Exchange:
        """Send ``bodies[client]`` to each client for ``stage`` and collect the replies until ``timeout``.

        A client that does not answer in time, disconnects, or answers with an error is listed in
        :attr:`Exchange.failures` with the reason; a reply is never accepted twice.
        """
        ...

    def close(self) -> None:
        """Tell the clients the job is over and release resources."""
        ...
