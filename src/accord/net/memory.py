"""In-memory links for simulation: every party in one process, messages copied between inboxes.

Messages still go through the typed codec (the :class:`~accord.runtime.Context` encodes them), so a
simulated run sends exactly the bytes a networked run would, and no party can alias another's
objects.
"""

from __future__ import annotations

from collections.abc import Sequence

from accord.errors import TransportError
from accord.net.base import Link
from accord.net.inbox import Inbox


class MemoryHub:
    """The shared switchboard of a simulated cluster.

    Examples
    --------
    >>> hub = MemoryHub(["a", "b"])
    >>> hub.link("a").send("b", "s", "k", [b"hi"])
    >>> bytes(hub.link("b").recv("a", "s", "k", timeout=1))
    b'hi'
    """

    def __init__(self, parties: Sequence[str]) -> None:
        self.parties = tuple(parties)
        self.inboxes = {p: Inbox(p) for p in self.parties}
        self._links = {p: MemoryLink(self, p) for p in self.parties}

    def link(self, party: str) -> MemoryLink:
        """The link endpoint of ``party``."""
        return self._links[party]


class MemoryLink(Link):
    """One party's endpoint on a :class:`MemoryHub`."""

    def __init__(self, hub: MemoryHub, me: str) -> None:
        self._hub = hub
        self.me = me
        self.peers = tuple(p for p in hub.parties if p != me)
        self._closed = False

    def _check_peer(self, party: str) -> None:
        if party not in self._hub.inboxes or party == self.me:
            raise ValueError(f"{party!r} is not a peer of {self.me!r}; peers are {list(self.peers)}")

    def send(self, to: str, session: str, key: str, parts: Sequence[bytes | memoryview]) -> None:
        self._check_peer(to)
        if self._closed:
            raise TransportError(f"link of {self.me!r} is closed", party=to, step=key)
        self._hub.inboxes[to].put(self.me, session, key, bytearray().join(parts))

    def recv(self, frm: str, session: str, key: str, timeout: float) -> memoryview | bytearray:
        self._check_peer(frm)
        return self._hub.inboxes[self.me].get(frm, session, key, timeout)

    def abort(self, session: str, reason: str) -> None:
        for peer in self.peers:
            self._hub.inboxes[peer].put_abort(self.me, session, reason)

    def forget(self, session: str) -> None:
        self._hub.inboxes[self.me].drop_session(session)

    def close(self) -> None:
        self._closed = True
