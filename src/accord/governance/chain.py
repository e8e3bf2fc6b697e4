"""Append-only, hash-chained and optionally signed audit entries, and a JSON Lines file that stores them.

Each entry is a JSON object with a sequence number, the previous entry's hash and its own hash
(SHA-256 over the previous hash and the canonical JSON of the entry without its hash and signature).
A signed entry also names its signer and carries the signer's signature over its hash, so the log
proves who wrote it, and, since each hash covers every earlier entry, a signature vouches for the
whole log up to it. Editing, deleting or reordering any entry breaks the chain from that entry on,
which :func:`verify_entries` reports. Removing entries from the *end* leaves a shorter valid chain:
that is caught only against an anchor kept elsewhere (``(seq, hash)`` of a later entry, as peers
receive with each approval, see :mod:`accord.governance.approval`).

Storage is separate from the chain: :class:`AuditLog` keeps entries in a file (the TEE key brokers),
the node keeps them in its database (:mod:`accord.node.store`); both seal entries with
:func:`seal_entry` and check them with :func:`verify_entries`.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from accord.errors import ConfigurationError, CryptoError
from accord.governance.signing import Signer, Verifier

GENESIS = "0" * 64
PURPOSE = "audit-entry"


class TamperedLog(ConfigurationError):
    """An audit log whose chain, signatures or anchors do not verify: edited, removed or reordered entries."""

    exit_code = 11


def entry_hash(previous: str, entry: Mapping[str, Any]) -> str:
    """SHA-256 over the previous hash and the canonical JSON of ``entry`` (without ``hash`` and ``sig``)."""
    body = {k: v for k, v in entry.items() if k not in ("hash", "sig")}
    data = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(previous.encode() + b"\n" + data).hexdigest()


def seal_entry(seq: int, previous: str, event: str, fields: Mapping[str, Any],
               signer: Signer | None = None) -> dict[str, Any]:
    """The entry ``seq`` after the entry whose hash is ``previous``: fields, chain hash and signature."""
    entry: dict[str, Any] = {**fields, "seq": seq, "event": event, "prev": previous}
    if signer is not None:
        entry["signer"] = signer.party
    entry["hash"] = entry_hash(previous, entry)
    if signer is not None:
        entry["sig"] = signer.sign(PURPOSE, entry["hash"].encode())
    return entry


def verify_entries(entries: Iterable[Mapping[str, Any]], where: str, verifier: Verifier | None = None,
                   anchors: Sequence[tuple[int, str]] = (), unit: str = "entry", start: int = 0,
                   previous: str = GENESIS) -> list[dict[str, Any]]:
    """Check the chain (and, given a ``verifier``, every signature and signer); return the entries.

    ``anchors`` are ``(seq, hash)`` pairs known from elsewhere: each must be in the log with that hash,
    which catches entries cut off the end. Raises :class:`TamperedLog` naming the first bad entry
    (as ``entry <seq>``, or ``line <seq + 1>`` with ``unit="line"``). ``start`` and ``previous`` continue
    a check from entry ``start``, whose predecessor has hash ``previous`` (anchors then index from it).
    """
    out = []
    for number, raw in enumerate(entries, start):
        entry = dict(raw)
        at = f"line {number + 1}" if unit == "line" else f"entry {number}"
        stored = entry.get("hash")
        if entry.get("seq") != number or entry.get("prev") != previous or entry_hash(previous, entry) != stored:
            raise TamperedLog(f"audit log {where}: the hash chain breaks at {at} (edited, removed or "
                              "reordered entries)")
        if verifier is not None:
            if entry.get("signer") != verifier.party or not isinstance(entry.get("sig"), str):
                raise TamperedLog(f"audit log {where}: {at} is not signed by {verifier.party!r}")
            try:
                verifier.verify(PURPOSE, str(stored).encode(), entry["sig"])
            except CryptoError:
                raise TamperedLog(f"audit log {where}: the signature of {at} does not verify "
                                  f"with {verifier.party!r}'s certificate") from None
        out.append(entry)
        previous = str(stored)
    for seq, expected in anchors:
        if seq >= start + len(out):
            raise TamperedLog(f"audit log {where} ends at entry {start + len(out) - 1}, but entry {seq} was recorded "
                              f"elsewhere with hash {expected[:16]}...: entries were removed from the end")
        if seq >= start and out[seq - start]["hash"] != expected:
            raise TamperedLog(f"audit log {where}: entry {seq} has hash {out[seq - start]['hash'][:16]}..., but "
                              f"{expected[:16]}... was recorded elsewhere")
    return out


class AuditLog:
    """Appends hash-chained entries to a JSON Lines file ``path`` (created with mode 0600 if missing).

    With a ``signer``, every entry is signed. Opening an existing log verifies it first.
    """

    def __init__(self, path: str | os.PathLike[str], signer: Signer | None = None) -> None:
        self.path = Path(path)
        self.signer = signer
        self._lock = threading.Lock()
        entries = verify_log(self.path) if self.path.exists() else []
        self._seq = len(entries)
        self._last = entries[-1]["hash"] if entries else GENESIS

    def _extra(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        """Fields a subclass adds to every entry (none here)."""
        return {}

    def append(self, event: str, **fields: Any) -> dict[str, Any]:
        """Record one event; returns the stored entry."""
        with self._lock:
            entry = seal_entry(self._seq, self._last, event, {**fields, **self._extra(fields)}, self.signer)
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


def read_log(path: str | os.PathLike[str]) -> Iterable[dict[str, Any]]:
    """The entries of a JSON Lines log, each checked to be a JSON object (not yet verified)."""
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise ConfigurationError(f"cannot read audit log {path}: {exc.strerror}") from None
    for number, line in enumerate(text.splitlines()):
        try:
            entry = json.loads(line)
        except ValueError:
            entry = None
        if not isinstance(entry, dict) or "hash" not in entry:
            raise TamperedLog(f"audit log {path}: line {number + 1} is not an audit entry")
        yield entry


def verify_log(path: str | os.PathLike[str], verifier: Verifier | None = None,
               anchors: Sequence[tuple[int, str]] = ()) -> list[dict[str, Any]]:
    """Read a JSON Lines log and check it (see :func:`verify_entries`)."""
    return verify_entries(read_log(path), str(path), verifier, anchors, unit="line")
