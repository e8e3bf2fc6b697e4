"""A bucketed PSI run's state on disk, so that a run killed mid-way resumes from its completed buckets.

Layout under ``<state dir>/psi/<run>/<party>/``: ``manifest.json`` (the agreed bucket key and count, the call
it belongs to and, once spilling finished, the key kinds), ``spill/<bucket>.arrow`` (this party's rows
of each bucket) and ``out/<bucket>.arrow`` (this party's result of each completed bucket). Every file
is written under a temporary name and renamed when complete, so a bucket counts as done exactly when
its result file exists, whenever the process was killed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from accord.errors import ConfigurationError
from accord.psi.bucket.spill import bucket_path

_RUN = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")
VERSION = 1


@dataclass(frozen=True)
class Manifest:
    """What a run agreed on: the bucket key (hex), the bucket count and the call (to refuse stale state)."""

    key: str
    buckets: int
    call: dict[str, Any]
    kinds: list[str] | None = None  # set once every bucket is spilled
    rows: list[int] | None = None   # this party's rows per bucket, set with ``kinds``
    version: int = VERSION

    @property
    def digest(self) -> bytes:
        """What a party shows its peer to prove it holds the same run: a hash of the key and bucket count."""
        material = b"accord-bucket-run|" + bytes.fromhex(self.key) + self.buckets.to_bytes(8, "big")
        return hashlib.sha256(material).digest()


class RunState:
    """The directory of one bucketed run at one party."""

    def __init__(self, state_dir: Path, run: str, party: str) -> None:
        if not isinstance(run, str) or not _RUN.match(run):
            raise ConfigurationError(f"run name {run!r} must be 1-128 letters, digits, '_', '.' or '-'")
        self.root = state_dir / "psi" / run / party
        self.spill = self.root / "spill"
        self.out = self.root / "out"

    def resumable(self, call: dict[str, Any]) -> Manifest | None:
        """The stored manifest if it belongs to this very call (same inputs and settings), else ``None``."""
        try:
            raw = json.loads((self.root / "manifest.json").read_text())
            manifest = Manifest(**raw)
        except (OSError, ValueError, TypeError):
            return None
        if manifest.version != VERSION or manifest.call != call:
            return None
        return manifest

    def start(self, manifest: Manifest) -> None:
        """Drop any earlier state of this run and record a freshly agreed one."""
        # Not clear(): removing the run's folder could race with the other party creating its own
        # folder in it, when both parties share one state directory (simulation).
        shutil.rmtree(self.root, ignore_errors=True)
        self.out.mkdir(parents=True)
        self.save(manifest)

    def save(self, manifest: Manifest) -> None:
        partial = self.root / "manifest.json.partial"
        partial.write_text(json.dumps(asdict(manifest)))
        partial.replace(self.root / "manifest.json")

    def done(self, buckets: int) -> list[int]:
        """The buckets whose result this party holds."""
        return [b for b in range(buckets) if bucket_path(self.out, b).exists()]

    def drop_results(self, buckets: set[int]) -> None:
        """Forget results of buckets the peer did not complete (both parties run them again)."""
        for b in buckets:
            bucket_path(self.out, b).unlink(missing_ok=True)

    def clear_spill(self) -> None:
        shutil.rmtree(self.spill, ignore_errors=True)

    def disk_bytes(self) -> int:
        """Bytes this run's files take on disk now."""
        return sum(p.stat().st_size for p in self.root.rglob("*") if p.is_file())

    def clear(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
        with contextlib.suppress(OSError):
            self.root.parent.rmdir()  # the run's folder, once the other party's (if hosted here) is gone too
