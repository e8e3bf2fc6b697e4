"""The protocol author's view of a run: who I am, who my peers are, how to talk to them.

A protocol is an SPMD function ``fn(ctx, ...)`` that every participating party runs with its own
:class:`Context`. ``send`` and ``recv`` move typed values (through :mod:`accord.net.codec`) to and
from peers under a tag; ``sub`` opens a child context with its own tag namespace, so two protocols
(or two calls of one protocol) never read each other's messages, and its own cost counters, so the
job report can break bytes and rounds down by operation.

Rounds are counted the way latency accrues: a party starts a new round when it sends after having
received (or sends for the first time). Messages to several peers in one flight count once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from accord.crypto.random import Rng
from accord.errors import MalformedMessage
from accord.net import codec
from accord.net.base import Link


@dataclass
class Counters:
    """Cost of one party in one protocol run (or one kind of sub-operation)."""

    bytes_sent: int = 0
    bytes_received: int = 0
    messages_sent: int = 0
    rounds: int = 0
    calls: int = 0
    seconds: float = 0.0

    def add(self, other: Counters) -> None:
        """Accumulate ``other`` into this counter."""
        self.bytes_sent += other.bytes_sent
        self.bytes_received += other.bytes_received
        self.messages_sent += other.messages_sent
        self.rounds += other.rounds
        self.calls += other.calls
        self.seconds += other.seconds

    def to_dict(self) -> dict[str, float | int]:
        """Plain-data form for JSON reports."""
        return {
            "bytes_sent": self.bytes_sent, "bytes_received": self.bytes_received,
            "messages_sent": self.messages_sent, "rounds": self.rounds, "calls": self.calls,
            "seconds": round(self.seconds, 6),
        }


@dataclass
class _Tracker:
    """Round detection for one party in one scope: a send after a receive opens a new round."""

    counters: Counters = field(default_factory=Counters)
    last_was_send: bool = False

    def on_send(self, nbytes: int) -> None:
        if not self.last_was_send:
            self.counters.rounds += 1
            self.last_was_send = True
        self.counters.bytes_sent += nbytes
        self.counters.messages_sent += 1

    def on_recv(self, nbytes: int) -> None:
        self.last_was_send = False
        self.counters.bytes_received += nbytes


class Accounting:
    """All costs one party incurred in one protocol run: the total and a breakdown by operation."""

    def __init__(self) -> None:
        self.total = _Tracker()
        self.ops: dict[str, _Tracker] = {}
        self._lock = threading.Lock()

    def tracker(self, op: str) -> _Tracker:
        """The tracker of operation kind ``op`` (created on first use)."""
        with self._lock:
            return self.ops.setdefault(op, _Tracker())


class Context:
    """One party's handle on a protocol run.

    Attributes
    ----------
    me:
        This party's name.
    parties:
        Every party taking part in this run, in the same order at every party.
    peers:
        ``parties`` without ``me``.
    rng:
        This party's CSPRNG (:class:`accord.crypto.random.Rng`).
    timeout:
        Default seconds a :meth:`recv` waits before raising :class:`~accord.errors.PeerTimeout`.
    path:
        The tag namespace of this context, e.g. ``"psi.ecdh/blind#2"``.
    """

    def __init__(
        self,
        me: str,
        parties: Sequence[str],
        link: Link,
        session: str,
        rng: Rng,
        *,
        timeout: float,
        path: str,
        op: str,
        accounting: Accounting | None = None,
        progress: Callable[[str, int, int], None] | None = None,
        options: dict[str, Any] | None = None,
    ) -> None:
        if me not in parties:
            raise ValueError(f"{me!r} is not one of the parties {list(parties)}")
        self.me = me
        self.parties = tuple(parties)
        self.peers = tuple(p for p in self.parties if p != me)
        self.rng = rng
        self.timeout = timeout
        self.path = path
        self.op = op
        self.session = session
        self.options = dict(options or {})
        self._link = link
        self.accounting = accounting or Accounting()
        self._op_tracker = self.accounting.tracker(op)
        self._children: dict[str, int] = {}
        self._progress = progress

    @property
    def link(self) -> Link:
        """The party's link (lower tier: for relaying a run's messages to the party's own worker processes)."""
        return self._link

    # ------------------------------------------------------------------------------ messaging
    def _key(self, tag: str) -> str:
        return f"{self.path}/{tag}"

    def _check_peer(self, peer: str) -> None:
        if peer not in self.peers:
            raise ValueError(f"{peer!r} is not a peer of {self.me!r} in {self.path}; peers are {list(self.peers)}")

    def send(self, peer: str, value: Any, tag: str) -> None:
        """Send ``value`` (anything the typed codec carries) to ``peer`` under ``tag``; does not block."""
        self._check_peer(peer)
        parts = codec.encode_parts(value)
        nbytes = codec.encoded_size(parts)
        self._link.send(peer, self.session, self._key(tag), parts)
        self.accounting.total.on_send(nbytes)
        self._op_tracker.on_send(nbytes)

    def recv(self, peer: str, tag: str, timeout: float | None = None) -> Any:
        """Receive the next value ``peer`` sent under ``tag``, waiting at most ``timeout`` seconds."""
        self._check_peer(peer)
        key = self._key(tag)
        raw = self._link.recv(peer, self.session, key, self.timeout if timeout is None else timeout)
        nbytes = memoryview(raw).nbytes
        self.accounting.total.on_recv(nbytes)
        self._op_tracker.on_recv(nbytes)
        try:
            return codec.decode(raw, self._link.limits)
        except Exception as exc:
            raise MalformedMessage(f"party {peer!r} sent an undecodable message for step {key!r}: {exc}",
                                   party=peer, step=key) from None

    def send_all(self, value: Any, tag: str) -> None:
        """Send the same ``value`` to every peer (one round)."""
        for peer in self.peers:
            self.send(peer, value, tag)

    def recv_all(self, tag: str, timeout: float | None = None) -> dict[str, Any]:
        """Receive one value under ``tag`` from every peer."""
        return {peer: self.recv(peer, tag, timeout) for peer in self.peers}

    def exchange(self, value: Any, tag: str, timeout: float | None = None) -> dict[str, Any]:
        """Send ``value`` to every peer and receive theirs (one round for everyone)."""
        self.send_all(value, tag)
        return self.recv_all(tag, timeout)

    # --------------------------------------------------------------------------- structure
    def sub(self, name: str, parties: Sequence[str] | None = None) -> Context:
        """A child context for a sub-protocol named ``name``, optionally among a subset of parties.

        Each call opens a fresh namespace (``name#1``, ``name#2``, ...); because every party runs the
        same code, the numbering agrees across parties. Costs are counted under ``name``.
        """
        if "/" in name or "#" in name:
            raise ValueError(f"sub-protocol name {name!r} must not contain '/' or '#'")
        count = self._children.get(name, 0) + 1
        self._children[name] = count
        members = self.parties if parties is None else tuple(parties)
        if self.me not in members or not set(members) <= set(self.parties):
            raise ValueError(f"sub-protocol {name!r}: parties {list(members)} must include {self.me!r} "
                             f"and be among {list(self.parties)}")
        return Context(
            self.me, members, self._link, self.session, self.rng, timeout=self.timeout,
            path=f"{self.path}/{name}#{count}", op=name, accounting=self.accounting,
            progress=self._progress, options=self.options,
        )

    def progress(self, step: str, done: int, total: int) -> None:
        """Report progress of a long local step (shown by the CLI as a progress bar)."""
        if self._progress is not None:
            self._progress(f"{self.me}: {step}", done, total)

    def timed(self, phase: str | None = None) -> _Timer:
        """Context manager adding a block's elapsed time to this operation's counters, or to ``phase``'s.

        Phases show up in the job report beside the operations, so a protocol can say where its
        time goes (``with ctx.timed("encrypt"): ...``).
        """
        tracker = self._op_tracker if phase is None else self.accounting.tracker(phase)
        return _Timer(tracker.counters)


class _Timer:
    def __init__(self, counters: Counters) -> None:
        self._counters = counters

    def __enter__(self) -> None:
        self._counters.calls += 1
        self._start = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        self._counters.seconds += time.perf_counter() - self._start
