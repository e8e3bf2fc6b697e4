"""Where a party's results go: checked before any protocol, staged while the job runs, moved in at the end.

A party's output location is checked (created if missing, and writable) before the job starts, so a
typo in a directory name stops every party before PSI instead of after it. Results are written to a
staging directory beside the output directory (mode 0700) and moved into place, owner-readable only
(0600), only if the whole job succeeds; a failed, interrupted or terminated job removes the staging
directory and leaves no partial output.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path

from accord.errors import ConfigurationError

FILE_MODE = 0o600
STAGING_MODE = 0o700


class Outputs:
    """The staging areas of the parties hosted here; ``record(party, path)`` notes each committed file."""

    def __init__(self, final: Mapping[str, Path], record: Callable[[str, str], None]) -> None:
        tag = secrets.token_hex(4)
        self.final = dict(final)
        self.stage = {n: out.parent / f".{out.name}.partial-{tag}" for n, out in self.final.items()}
        self._record = record

    def prepare(self, party: str) -> None:
        """Check ``party``'s output directory and create its staging area, or raise a ConfigurationError."""
        final, stage = self.final[party], self.stage[party]
        if final.exists() and not (final.is_dir() and os.access(final, os.W_OK | os.X_OK)):
            raise ConfigurationError(f"party {party!r}: output directory {final} is not a writable directory")
        try:
            stage.parent.mkdir(parents=True, exist_ok=True)
            stage.mkdir(mode=STAGING_MODE)
        except OSError as exc:
            raise ConfigurationError(f"party {party!r}: cannot create output directory {final.parent}: "
                                     f"{exc.strerror}") from None

    def path(self, party: str, *parts: str) -> Path:
        """A file (or directory, for a trailing ``""``) in ``party``'s staging area."""
        target = self.stage[party].joinpath(*parts)
        (target if not parts or parts[-1] == "" else target.parent).mkdir(parents=True, exist_ok=True)
        return target

    def commit(self) -> None:
        """Move every staged file into its party's output directory, readable by the owner only."""
        for party, stage in self.stage.items():
            if not stage.exists():
                continue
            for file in sorted(p for p in stage.rglob("*") if p.is_file()):
                target = self.final[party] / file.relative_to(stage)
                target.parent.mkdir(parents=True, exist_ok=True)
                file.chmod(FILE_MODE)
                os.replace(file, target)
                self._record(party, str(target))
            shutil.rmtree(stage, ignore_errors=True)

    def discard(self) -> None:
        """Remove the staging areas of a failed job: no partial output is left behind."""
        for stage in self.stage.values():
            shutil.rmtree(stage, ignore_errors=True)


def check_output_file(path: Path, party: str) -> None:
    """Check that ``party`` can write the file ``path`` (creating its directory), before any protocol runs."""
    directory = path.parent
    if path.is_dir():
        raise ConfigurationError(f"party {party!r}: output {path} is a directory; name a file")
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigurationError(f"party {party!r}: cannot create output directory {directory}: "
                                 f"{exc.strerror}") from None
    if not os.access(directory, os.W_OK | os.X_OK):
        raise ConfigurationError(f"party {party!r}: output directory {directory} is not writable")
