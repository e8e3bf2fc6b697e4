"""An append-only, hash-chained audit log of key releases and refusals (JSON Lines in the owner's state).

Each line is one JSON object with a sequence number, the previous line's hash and its own hash
(SHA-256 over the previous hash and the canonical JSON of the entry without its hash). Editing,
deleting or reordering any line breaks the chain from that line on, which :func:`verify_log`
reports; appending is the only operation. The chain makes tampering evident, not impossible: an
owner who needs more anchors the latest hash elsewhere (a ticket, a transparency log).
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path
from typing import Any

from accord.errors import ConfigurationError
from accord.tee.claims import SIMULATION_WARNING

GENESIS = "0" * 64


def _entry_hash(previous: str, entry: dict[str, Any]) -> str:
    body = json.dumps(entry, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(previous.encode() + b"\n" + body).hexdigest()


class AuditLog:
    """Appends hash-chained entries to ``path`` (created with mode 0600 if missing)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        entries = verify_log(self.path) if self.path.exists() else []
        self._seq = len(entries)
        self._last = entries[-1]["hash"] if entries else GENESIS

    def append(self, event: str, **fields: Any) -> dict[str, Any]:
        """Record one event (``release`` or ``refusal`` for brokers); returns the stored entry."""
        with self._lock:
            entry = {"seq": self._seq, "event": event, "prev": self._last, **fields}
            if fields.get("evidence_kind") == "simulated":
                entry["warning"] = SIMULATION_WARNING
            entry["hash"] = _entry_hash(self._last, entry)
            line = json.dumps(entry, sort_keys=True) + "\n"
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, line.encode())
                os.fsync(fd)
            finally:
                os.close(fd)
            self._seq += 1
            self._last = entry["hash"]
            return entry


def verify_log(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Read the log and check its chain; raise :class:`ConfigurationError` at the first broken line."""
    entries = []
    previous = GENESIS
    for number, line in enumerate(Path(path).read_text().splitlines()):
        try:
            entry = json.loads(line)
            stored = entry.pop("hash")
        except (ValueError, KeyError, AttributeError):
            raise ConfigurationError(f"audit log {path}: line {number + 1} is not an audit entry") from None
        if entry.get("seq") != number or entry.get("prev") != previous or _entry_hash(previous, entry) != stored:
            raise ConfigurationError(f"audit log {path}: the hash chain breaks at line {number + 1} (edited, "
                                     "removed or reordered entries)")
        entries.append({**entry, "hash": stored})
        previous = stored
    return entries
