"""The receiving half shared by every link: per-(sender, session, key) queues with waiting.

Messages that arrive before anyone asks for them are buffered (a fast peer may run ahead); a receive
waits on a condition variable with a deadline and, while it waits, learns of aborts reported by the
peer and of transport failures, so a dead or failing peer ends the wait early with a clear error.

A link that faces untrusted peers (the gRPC link) asks :meth:`Inbox.admits` and :meth:`Inbox.reserve`
before it accepts a message's bytes: only the start-up handshake and, once :meth:`Inbox.admit` has
named it, the current job's sessions are accepted, and the bytes held for one peer (buffered plus
arriving) stay under a cap.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable

from accord.errors import PeerAborted, PeerTimeout, ProtocolAbort, TransportError
from accord.net.base import HANDSHAKE_SESSION

_FINISHED_KEPT = 100_000
DEFAULT_MAX_BUFFERED = 4 << 30
"""Bytes one peer may have buffered at this party (received, not yet consumed) by default: 4 GiB."""


class Inbox:
    """Thread-safe message buffer of one party.

    Parameters
    ----------
    me:
        The owning party, used in error messages.
    max_buffered:
        Most bytes :meth:`reserve` lets one peer hold here (default :data:`DEFAULT_MAX_BUFFERED`).
    """

    def __init__(self, me: str, *, max_buffered: int = DEFAULT_MAX_BUFFERED) -> None:
        self.me = me
        self.max_buffered = max_buffered
        self._queues: dict[tuple[str, str, str], deque[memoryview | bytearray]] = {}
        self._aborted: dict[tuple[str, str], str] = {}
        self._failed: dict[str, TransportError | ProtocolAbort] = {}
        self._closed = False
        self._finished: OrderedDict[str, None] = OrderedDict()  # recently dropped sessions
        self._job: str | None = None
        self._held: dict[str, int] = {}  # bytes buffered per sender
        self._arriving: dict[str, int] = {}  # bytes reserved for messages still arriving, per sender
        self._cond = threading.Condition()

    def admit(self, job: str) -> None:
        """Accept the sessions of job session ``job`` (itself and its runs ``job#<n>``) from now on."""
        with self._cond:
            self._job = job

    def admits(self, session: str) -> bool:
        """Whether messages of ``session`` are accepted: the handshake's, or the admitted job's."""
        with self._cond:
            job = self._job
        return session == HANDSHAKE_SESSION or (job is not None and (session == job or session.startswith(job + "#")))

    def reserve(self, frm: str, nbytes: int) -> str | None:
        """Make room for a message of ``nbytes`` from ``frm``; the reason to refuse it, or ``None``.

        Pair every successful reservation with :meth:`release` once the message is delivered or lost.
        """
        with self._cond:
            held = self._held.get(frm, 0) + self._arriving.get(frm, 0)
            if held + nbytes > self.max_buffered:
                return (f"party {frm!r} would have {held + nbytes} bytes buffered at {self.me!r}, more than the "
                        f"limit of {self.max_buffered} (max_buffered in the cluster file)")
            self._arriving[frm] = self._arriving.get(frm, 0) + nbytes
            return None

    def release(self, frm: str, nbytes: int) -> None:
        """End a reservation of :meth:`reserve` (the message, if delivered, is counted by :meth:`put`)."""
        with self._cond:
            self._arriving[frm] -= nbytes

    def buffered(self, frm: str) -> int:
        """Bytes from ``frm`` buffered here and not yet received by the protocol."""
        with self._cond:
            return self._held.get(frm, 0)

    def put(self, frm: str, session: str, key: str, payload: memoryview | bytearray) -> None:
        """Deliver one message (a straggler for a session already dropped is discarded)."""
        with self._cond:
            if session in self._finished:
                return
            self._queues.setdefault((frm, session, key), deque()).append(payload)
            self._held[frm] = self._held.get(frm, 0) + memoryview(payload).nbytes
            self._cond.notify_all()

    def put_abort(self, frm: str, session: str, reason: str) -> None:
        """Record that ``frm`` gave up on ``session``; waiting receives raise.

        A session id without ``#`` covers every run of the job (``"<job>#<run>"``).
        """
        with self._cond:
            self._aborted[(frm, session)] = reason
            self._cond.notify_all()

    def fail_peer(self, frm: str, error: TransportError | ProtocolAbort) -> None:
        """Record that the link to ``frm`` is broken or refused; waiting and future receives raise ``error``."""
        with self._cond:
            self._failed.setdefault(frm, error)
            self._cond.notify_all()

    def close(self) -> None:
        """Wake every waiter; further receives fail."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def get(
        self,
        frm: str,
        session: str,
        key: str,
        timeout: float,
        check: Callable[[], None] | None = None,
        poll: float = 1.0,
    ) -> memoryview | bytearray:
        """Take the next message from ``frm`` for ``(session, key)``, waiting up to ``timeout`` seconds.

        ``check`` is called about every ``poll`` seconds while waiting; it raises to end the wait
        (the gRPC link uses it to notice a peer whose server has gone away).
        """
        deadline = time.monotonic() + timeout
        slot = (frm, session, key)
        with self._cond:
            while True:
                queue = self._queues.get(slot)
                if queue:
                    payload = queue.popleft()
                    if not queue:
                        del self._queues[slot]
                    self._held[frm] -= memoryview(payload).nbytes
                    return payload
                aborted = self._abort_of(frm, session)
                if aborted is not None:
                    who, reason = aborted
                    raise PeerAborted(
                        f"party {who!r} aborted while {self.me!r} waited for step {key!r}"
                        f"{'' if who == frm else f' from {frm!r}'}: {reason}", party=who, step=key,
                    )
                if frm in self._failed:
                    error = self._failed[frm]
                    raise type(error)(f"{error} (while {self.me!r} waited for step {key!r})",
                                      party=frm, step=key)
                if self._closed:
                    raise TransportError(f"link of {self.me!r} closed while waiting for {frm!r} at step {key!r}",
                                         party=frm, step=key)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise PeerTimeout(
                        f"party {frm!r} sent nothing for step {key!r} within {timeout:g} s "
                        f"(party {self.me!r} gave up waiting)", party=frm, step=key,
                    )
                self._cond.wait(min(remaining, poll))
                if check is not None:
                    self._cond.release()
                    try:
                        check()
                    finally:
                        self._cond.acquire()

    def _abort_of(self, frm: str, session: str) -> tuple[str, str] | None:
        """The abort that ends a wait on ``frm`` in ``session``: ``frm``'s own first, else any peer's.

        A run is all or nothing, so an abort from any party ends every wait of the run. Without this, in a
        run of three or more parties, a party waiting on a peer that itself stopped because a third party
        aborted (and does not echo aborts back) would wait for the full receive timeout.
        """
        job = session.split("#")[0]
        for sender in (frm, *(s for s, _ in self._aborted if s != frm)):
            reason = self._aborted.get((sender, session)) or self._aborted.get((sender, job))
            if reason is not None:
                return sender, reason
        return None

    def drop_session(self, session: str) -> None:
        """Forget buffered messages and aborts of a finished session, and refuse its stragglers."""
        with self._cond:
            self._finished[session] = None
            while len(self._finished) > _FINISHED_KEPT:
                self._finished.popitem(last=False)
            for slot in [s for s in self._queues if s[1] == session]:
                self._held[slot[0]] -= sum(memoryview(p).nbytes for p in self._queues.pop(slot))
            for sender in [s for s in self._aborted if s[1] == session]:
                del self._aborted[sender]
