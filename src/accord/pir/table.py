"""The encoded table a keyword-PIR server builds once and every client downloads: format, integrity, lookup.

Each entry is the server's PRF output of one key, ``F = F_k(key)`` (RFC 9497 VOPRF): its first
``T`` bytes are the entry's tag, and its label is encrypted with a pad derived from ``F`` (SHAKE-256).
Without the key, tags and pads are pseudo-random; a client can compute ``F`` only for keys it has the
server evaluate obliviously, so it reads exactly the labels of the keys it asked for.

File layout (one file, byte for byte what the client stores)::

    MAGIC | u32 header length | header (canonical JSON) | index | entries

Entries (``T + L`` bytes each) are sorted by tag and grouped in blocks of ``block`` entries. The index
holds, per block, its first tag (a fence) and the SHA-256 of its bytes; the header holds the SHA-256 of
the index; the table's id is the SHA-256 of magic and header. The server announces the id with every
query, so a client's copy is checked end to end: id -> header -> index -> each block a lookup reads.
A truncated file fails the size check before anything is read; a changed byte fails a digest.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from accord.errors import ConfigurationError, CryptoError
from accord.pir.params import MAX_LABEL_BYTES, MAX_TAG_BYTES, SUITE, TableParams

MAGIC = b"accord-pir-table-v1\n"
_LEN = struct.Struct(">I")
_DIGEST = 32
_MAX_HEADER = 1 << 20
_PAD_DOMAIN = b"accord-pir-label-pad|"


class TableError(ConfigurationError):
    """A table file is truncated, tampered with, of another table, or not a table at all."""


@dataclass(frozen=True)
class Header:
    """What a table file says about itself (all public: the client holds the same file)."""

    params: TableParams
    public_key: bytes
    kinds: tuple[str, ...]
    label_columns: tuple[str, ...]
    index_digest: bytes

    def to_bytes(self) -> bytes:
        """Canonical JSON (sorted keys, no spaces), so equal headers have equal ids."""
        p = self.params
        doc = {"suite": SUITE, "n": p.n, "tag_bytes": p.tag_bytes, "label_bytes": p.label_bytes,
               "capacity": p.capacity, "max_batch": p.max_batch, "block": p.block,
               "public_key": self.public_key.hex(), "kinds": list(self.kinds),
               "label_columns": list(self.label_columns), "index_digest": self.index_digest.hex()}
        return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()

    @classmethod
    def from_bytes(cls, raw: bytes, source: str) -> Header:
        """Parse and range-check a header; :class:`TableError` naming ``source`` otherwise."""
        try:
            doc = json.loads(raw)
            params = TableParams(n=_int(doc["n"], 1, 1 << 40), tag_bytes=_int(doc["tag_bytes"], 8, MAX_TAG_BYTES),
                                 label_bytes=_int(doc["label_bytes"], 0, MAX_LABEL_BYTES),
                                 capacity=_int(doc["capacity"], 1, 1 << 60),
                                 max_batch=_int(doc["max_batch"], 1, 1 << 60), block=_int(doc["block"], 1, 1 << 20))
            header = cls(params=params, public_key=bytes.fromhex(doc["public_key"]),
                         kinds=tuple(_strs(doc["kinds"])), label_columns=tuple(_strs(doc["label_columns"])),
                         index_digest=bytes.fromhex(doc["index_digest"]))
            if doc["suite"] != SUITE or len(header.public_key) != 32 or len(header.index_digest) != _DIGEST:
                raise ValueError("unknown suite or key size")
        except (ValueError, KeyError, TypeError) as exc:
            raise TableError(f"{source}: not a PIR table header ({exc})") from None
        return header

    @property
    def blocks(self) -> int:
        """Number of digest blocks."""
        return -(-self.params.n // self.params.block)

    @property
    def entry_bytes(self) -> int:
        """Bytes per entry: tag and sealed label."""
        return self.params.tag_bytes + self.params.label_bytes


def _int(value: object, lo: int, hi: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
        raise ValueError(f"{value!r} is not an integer in [{lo}, {hi}]")
    return value


def _strs(value: object) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError("expected a list of strings")
    return value


def pads(outputs: np.ndarray, length: int) -> np.ndarray:
    """The label pad of each PRF output (``(n, 64)`` uint8): SHAKE-256 of a domain tag and the output."""
    out = np.empty((len(outputs), length), dtype=np.uint8)
    if length:
        for i, row in enumerate(outputs):
            out[i] = np.frombuffer(hashlib.shake_256(_PAD_DOMAIN + row.tobytes()).digest(length), dtype=np.uint8)
    return out


def sort_key(tags: np.ndarray) -> np.ndarray:
    """The first 8 tag bytes as big-endian integers: the order of tags, up to ties among them."""
    return np.ascontiguousarray(tags[:, :8]).view(">u8").reshape(-1).astype(np.uint64)


def write(path: Path, params: TableParams, public_key: bytes, kinds: tuple[str, ...],
          label_columns: tuple[str, ...], outputs: np.ndarray, labels: np.ndarray) -> Header:
    """Encode and write a table atomically (temporary file, fsync, rename); returns its header."""
    t, length = params.tag_bytes, params.label_bytes
    tags = np.ascontiguousarray(outputs[:, :t])
    entries = np.concatenate([tags, labels ^ pads(outputs, length)], axis=1)
    order = np.lexsort(tags.T[::-1])
    entries = entries[order]
    if len(entries) > 1 and (entries[1:, :t] == entries[:-1, :t]).all(axis=1).any():
        raise CryptoError("two keys share a tag (probability below 2^-40): rebuild the table")
    raw = entries.tobytes()
    size = params.block * entries.shape[1]
    index = b"".join(raw[start:start + t] + hashlib.sha256(raw[start:start + size]).digest()
                     for start in range(0, len(raw), size))
    header = Header(params, public_key, kinds, label_columns, hashlib.sha256(index).digest())
    head = header.to_bytes()
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        fh.write(MAGIC + _LEN.pack(len(head)) + head + index)
        fh.write(raw)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return header


class Table:
    """A table file opened for lookups (the client's copy) or for streaming (the server's).

    Opening checks the magic, the header, the size implied by the header and the index digest; each
    block is checked against the index when a lookup first reads it.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        source = str(self.path)
        try:
            self._fh = open(self.path, "rb")
        except OSError as exc:
            raise TableError(f"cannot open PIR table {source}: {exc.strerror}") from None
        try:
            prefix = self._fh.read(len(MAGIC) + _LEN.size)
            if len(prefix) != len(MAGIC) + _LEN.size or not prefix.startswith(MAGIC):
                raise TableError(f"{source} is not a PIR table (bad magic)")
            (head_len,) = _LEN.unpack(prefix[len(MAGIC):])
            if head_len > _MAX_HEADER:
                raise TableError(f"{source}: header length {head_len} is implausible")
            head = self._fh.read(head_len)
            self.header = Header.from_bytes(head, source)
            self.id = hashlib.sha256(MAGIC + head).digest()
            h = self.header
            index_len = h.blocks * (h.params.tag_bytes + _DIGEST)
            self._entries_at = len(prefix) + head_len + index_len
            expected = self._entries_at + h.params.n * h.entry_bytes
            actual = os.fstat(self._fh.fileno()).st_size
            if actual != expected:
                raise TableError(f"{source} holds {actual} bytes but its header describes {expected}: the file is "
                                 f"{'truncated' if actual < expected else 'longer than its table'}")
            index = self._fh.read(index_len)
            if hashlib.sha256(index).digest() != h.index_digest:
                raise TableError(f"{source}: the block index does not match its digest (the file was altered)")
        except BaseException:
            self._fh.close()
            raise
        rows = np.frombuffer(index, dtype=np.uint8).reshape(h.blocks, h.params.tag_bytes + _DIGEST)
        self._fences = rows[:, :h.params.tag_bytes]
        self._fence_keys = sort_key(self._fences)
        self._digests = rows[:, h.params.tag_bytes:]
        self._cache: dict[int, np.ndarray] = {}

    def close(self) -> None:
        """Release the file."""
        self._fh.close()

    def __enter__(self) -> Table:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def block(self, b: int) -> np.ndarray:
        """Block ``b`` as ``(entries, T + L)`` uint8, checked against its digest."""
        if b in self._cache:
            return self._cache[b]
        h = self.header
        first = b * h.params.block
        count = min(h.params.block, h.params.n - first)
        raw = os.pread(self._fh.fileno(), count * h.entry_bytes, self._entries_at + first * h.entry_bytes)
        if len(raw) != count * h.entry_bytes or hashlib.sha256(raw).digest() != self._digests[b].tobytes():
            raise TableError(f"{self.path}: block {b} does not match its digest (the file was altered)")
        rows = np.frombuffer(raw, dtype=np.uint8).reshape(count, h.entry_bytes)
        if rows[0, :h.params.tag_bytes].tobytes() != self._fences[b].tobytes():
            raise TableError(f"{self.path}: block {b} does not start with its fence (the file was altered)")
        if len(self._cache) < 4096:
            self._cache[b] = rows
        return rows

    def lookup(self, tags: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For each ``(m, T)`` tag: whether the table holds it, and its sealed label (zeros when absent)."""
        h = self.header
        t = h.params.tag_bytes
        found = np.zeros(len(tags), dtype=bool)
        sealed = np.zeros((len(tags), h.params.label_bytes), dtype=np.uint8)
        keys = sort_key(tags)
        first = np.maximum(np.searchsorted(self._fence_keys, keys, side="left") - 1, 0)
        last = np.maximum(np.searchsorted(self._fence_keys, keys, side="right") - 1, 0)
        for i, tag in enumerate(tags):
            for b in range(int(first[i]), int(last[i]) + 1):  # one block unless a fence ties the tag's first bytes
                rows = self.block(b)
                hit = np.flatnonzero((rows[:, :t] == tag).all(axis=1))
                if hit.size:
                    found[i] = True
                    sealed[i] = rows[hit[0], t:]
                    break
        return found, sealed

    def verify(self) -> None:
        """Check every block (what a server does before sending its table)."""
        for b in range(self.header.blocks):
            self.block(b)
            self._cache.pop(b, None)

    def chunks(self, size: int) -> Iterator[bytes]:
        """The whole file in pieces of at most ``size`` bytes."""
        offset = 0
        total = self._entries_at + self.header.params.n * self.header.entry_bytes
        while offset < total:
            piece = os.pread(self._fh.fileno(), min(size, total - offset), offset)
            if not piece:
                raise TableError(f"{self.path} shrank while being read")
            yield piece
            offset += len(piece)

    @property
    def size(self) -> int:
        """The file's size in bytes."""
        return self._entries_at + self.header.params.n * self.header.entry_bytes
