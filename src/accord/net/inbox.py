"""The receiving half shared by every link: per-(sender, session, key) queues with waiting.

Messages that arrive before anyone asks for them are buffered (a fast peer may run ahead); a receive
waits on a condition variable with a deadline and, while it waits, learns of aborts reported by the
peer and of transport failures, so a dead or failing peer ends the wait early with a clear error.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable

from accord.errors import PeerAborted, PeerTimeout, TransportError

_FINISHED_KEPT = 100_000


class Inbox:
    """Thread-safe message buffer of one party.

    Parameters
    ----------
    me:
        The owning party, used in error messages.
    """

    def __init__(self, me: str) -> None:
        self.me = me
        self._queues: dict[tuple[str, str, str], deque[memoryview | bytearray]] = {}
        self._aborted: dict[tuple[str, str], str] = {}
        self._failed: dict[str, TransportError] = {}
        self._closed = False
        self._finished: OrderedDict[str, None] = OrderedDict()  # recently dropped sessions
        self._cond = threading.Condition()

    def put(self, frm: str, session: str, key: str, payload: memoryview | bytearray) -> None:
        """Deliver one message (a straggler for a session already dropped is discarded)."""
        with self._cond:
            if session in self._finished:
                return
            self._queues.setdefault((frm, session, key), deque()).append(payload)
            self._cond.notify_all()

    def put_abort(self, frm: str, session: str, reason: str) -> None:
        """Record that ``frm`` gave up on ``session``; waiting receives raise.

        A session id without ``#`` covers every run of the job (``"<job>#<run>"``).
        """
        with self._cond:
            self._aborted[(frm, session)] = reason
            self._cond.notify_all()

    def fail_peer(self, frm: str, error: TransportError) -> None:
        """Record that the link to ``frm`` is broken; waiting and future receives raise ``error``."""
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
                    return payload
                reason = self._aborted.get((frm, session)) or self._aborted.get((frm, session.split("#")[0]))
                if reason is not None:
                    raise PeerAborted(
                        f"party {frm!r} aborted while {self.me!r} waited for step {key!r}: {reason}",
                        party=frm, step=key,
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

    def drop_session(self, session: str) -> None:
        """Forget buffered messages and aborts of a finished session, and refuse its stragglers."""
        with self._cond:
            self._finished[session] = None
            while len(self._finished) > _FINISHED_KEPT:
                self._finished.popitem(last=False)
            for slot in [s for s in self._queues if s[1] == session]:
                del self._queues[slot]
            for sender in [s for s in self._aborted if s[1] == session]:
                del self._aborted[sender]
