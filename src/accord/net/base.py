"""The link interface: ordered, tagged point-to-point messages between named parties.

A :class:`Link` belongs to one party and carries opaque byte messages to and from its peers.
Messages are addressed by ``(session, key)``: the session isolates one job from another, the key
is a protocol step (``"3.psi.ecdh/blinded"``). Messages between two parties with the same session
and key are delivered in order and exactly once. Every receive has a timeout. Protocols never use a
link directly; they go through :class:`accord.runtime.Context`, which encodes values with the typed
codec (decoding within the link's :attr:`Link.limits`) and counts bytes and rounds.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

from accord.net import codec

HANDSHAKE_SESSION = "hello"
"""The session of the start-up handshake: the only one a link accepts before :meth:`Link.admit`."""


class Link(ABC):
    """One party's endpoint for messages to and from its peers."""

    me: str
    peers: tuple[str, ...]
    limits: codec.Limits = codec.DEFAULT_LIMITS
    """Bounds on each incoming message; receivers decode with them."""

    @abstractmethod
    def send(self, to: str, session: str, key: str, parts: Sequence[bytes | memoryview]) -> None:
        """Queue one message (the concatenation of ``parts``) for ``to``; returns without waiting.

        The parts are copied or fully consumed before this returns, so callers may reuse buffers.
        """

    @abstractmethod
    def recv(self, frm: str, session: str, key: str, timeout: float) -> memoryview | bytearray:
        """Block until the next message from ``frm`` under ``(session, key)`` arrives and return it.

        Raises :class:`~accord.errors.PeerTimeout` after ``timeout`` seconds,
        :class:`~accord.errors.PeerUnavailable` when the peer is known to be gone, and
        :class:`~accord.errors.PeerAborted` when the peer reported a failure of this session.
        """

    @abstractmethod
    def abort(self, session: str, reason: str) -> None:
        """Tell every peer that this party gave up on ``session`` (best effort, never raises)."""

    def admit(self, job: str) -> None:  # noqa: B027 - optional hook with a no-op default
        """Accept messages of job session ``job`` and its runs (``job#<n>``) from now on.

        Links that face untrusted peers refuse every other session except the handshake's.
        """

    def forget(self, session: str) -> None:  # noqa: B027 - optional hook with a no-op default
        """Drop buffered messages of a finished session."""

    def flush(self, timeout: float) -> None:  # noqa: B027 - optional hook with a no-op default
        """Wait until queued messages have been delivered (links that send asynchronously override)."""

    @abstractmethod
    def close(self) -> None:
        """Release sockets and threads; pending receives fail."""
