"""A keyword-PIR server's state directory: its OPRF key, its table, and the queries it has answered.

``state/server.key`` holds the secret OPRF key (mode 0600), ``state/table.pir`` the encoded table
(:mod:`accord.pir.table`, the same bytes every client downloads), ``state/table.mac`` an HMAC over the
table's id under a key derived from the OPRF key (so a table file swapped in from elsewhere, or one
whose header was altered, is refused even though its digests are consistent), and ``state/answered``
the number of queries answered so far, charged before each run is evaluated: the stated false-match
bound holds up to the table's capacity, after which the server refuses until the table is rebuilt
with a fresh key. Building always draws a fresh key, so two builds' tables cannot be compared.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from accord.crypto import oprf
from accord.crypto import ristretto255 as group
from accord.crypto.random import Rng
from accord.errors import ConfigurationError, InputError, UnsupportedError
from accord.pir import table
from accord.pir.params import TableParams

try:
    import fcntl
except ImportError:  # Windows: no POSIX locks, and so no PIR server state (importing accord still works)
    fcntl = None  # type: ignore[assignment]

KEY_FILE, TABLE_FILE, MAC_FILE, COUNT_FILE, LOCK_FILE = "server.key", "table.pir", "table.mac", "answered", ".lock"
_CHUNK = 4096
Progress = Callable[[str, int, int], None]


def evaluate_keys(sk: bytes, keys: Sequence[bytes], *, threads: int = 1,
                  progress: Progress | None = None) -> np.ndarray:
    """The PRF output ``F_k(key)`` of every key, as ``(n, 64)`` uint8, over ``threads`` threads."""
    out = np.empty((len(keys), oprf.OUTPUT_BYTES), dtype=np.uint8)
    done = [0]

    def work(start: int) -> None:
        stop = min(start + _CHUNK, len(keys))
        rows = b"".join(oprf.evaluate(sk, keys[i], oprf.VOPRF) for i in range(start, stop))
        out[start:stop] = np.frombuffer(rows, dtype=np.uint8).reshape(-1, oprf.OUTPUT_BYTES)
        done[0] += stop - start
        if progress is not None:
            progress("evaluating the PRF on the set", done[0], len(keys))

    with ThreadPoolExecutor(max(1, threads)) as pool:
        list(pool.map(work, range(0, len(keys), _CHUNK)))
    return out


def build(state: Path, keys: Sequence[bytes], labels: np.ndarray, params: TableParams, *,
          kinds: tuple[str, ...], label_columns: tuple[str, ...], rng: Rng, threads: int = 1,
          progress: Progress | None = None, party: str | None = None) -> table.Header:
    """Encode ``keys`` with their ``(n, L)`` labels under a fresh key and store everything in ``state``."""
    if len(set(keys)) != len(keys):
        raise InputError(f"the set holds {len(keys) - len(set(keys))} repeated keys; a PIR table needs one label "
                         "per key (deduplicate first)", party=party)
    state.mkdir(parents=True, exist_ok=True)
    sk = group.random_scalar(rng.bytes)
    outputs = evaluate_keys(sk, keys, threads=threads, progress=progress)
    with _Locked(state):
        _write_private(state / KEY_FILE, sk)
        header = table.write(state / TABLE_FILE, params, oprf.public_key(sk), kinds, label_columns, outputs, labels)
        with table.Table(state / TABLE_FILE) as written:
            _write_private(state / MAC_FILE, _mac(sk, written.id))
        _write_count(state, 0)
    return header


class ServerState:
    """An opened state directory: the key, the table's header and id, checked against each other."""

    def __init__(self, state: Path) -> None:
        self.dir = Path(state)
        try:
            self.sk = (self.dir / KEY_FILE).read_bytes()
            mac = (self.dir / MAC_FILE).read_bytes()
        except OSError as exc:
            raise ConfigurationError(f"{self.dir} is not a built PIR server state ({exc.strerror}: {exc.filename}); "
                                     "build the table first") from None
        with table.Table(self.dir / TABLE_FILE) as t:
            self.header, self.id = t.header, t.id
        try:
            public = oprf.public_key(self.sk)
        except Exception:
            public = b""
        if public != self.header.public_key or not hmac.compare_digest(mac, _mac(self.sk, self.id)):
            raise table.TableError(f"{self.dir}: the table does not belong to this server's key (replaced or altered "
                                   "after it was built); rebuild it")

    def remaining(self) -> int:
        """Queries the table still answers."""
        return max(0, self.header.params.capacity - _read_count(self.dir))

    def charge(self, count: int) -> None:
        """Record ``count`` more answered queries, or refuse if that exceeds the capacity."""
        with _Locked(self.dir):
            used = _read_count(self.dir)
            if used + count > self.header.params.capacity:
                raise ConfigurationError(f"the PIR table has answered {used} of its {self.header.params.capacity} "
                                         f"queries and cannot answer {count} more; rebuild it (a fresh key)")
            _write_count(self.dir, used + count)


def _mac(sk: bytes, table_id: bytes) -> bytes:
    key = hashlib.sha512(b"accord-pir-table-mac|" + sk).digest()[:32]
    return hmac.new(key, table_id, hashlib.sha256).digest()


def _write_private(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _read_count(state: Path) -> int:
    try:
        text = (state / COUNT_FILE).read_text().strip()
    except OSError:
        raise ConfigurationError(f"{state}: the count of answered queries is missing; rebuild the table") from None
    if not text.isdigit():
        raise ConfigurationError(f"{state}/{COUNT_FILE} is corrupt ({text[:20]!r}); rebuild the table")
    return int(text)


def _write_count(state: Path, count: int) -> None:
    _write_private(state / COUNT_FILE, f"{count}\n".encode())


class _Locked:
    """An exclusive lock on the state directory (runs of one server may overlap)."""

    def __init__(self, state: Path) -> None:
        self._path = state / LOCK_FILE

    def __enter__(self) -> None:
        if fcntl is None:
            raise UnsupportedError("a PIR server's state directory needs POSIX file locks (Linux, macOS)")
        self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self._fd, fcntl.LOCK_EX)

    def __exit__(self, *exc: object) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
