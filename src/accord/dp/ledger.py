"""A data owner's privacy-budget ledger for one dataset: an SQLite file in the party's state directory.

Every release on the dataset is charged *before* any computation touches the data: :meth:`Ledger.charge`
opens an immediate (write-locking) transaction, composes the new cost with everything already spent
(:func:`accord.dp.accounting.epsilon`), refuses with :class:`~accord.errors.PrivacyBudgetExceeded` if
the cap would be exceeded, and otherwise commits the charge with a full fsync. So two jobs charging at
once are serialised and cannot overspend, a crash after the charge keeps it (the release may or may not
have happened; the ledger assumes it did), and a restart sees every charge. A charge carries a release
id; charging the same id again returns the recorded charge instead of paying twice, so a retried job
step is not billed twice.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from accord.dp.accounting import Cost, cost_from_json, epsilon
from accord.dp.budget import Budget
from accord.errors import ConfigurationError, PrivacyBudgetExceeded

_FORMAT = "accord-dp-ledger-1"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
STATE_ENV = "ACCORD_STATE_DIR"


@dataclass(frozen=True)
class Charge:
    """One recorded release: its id, job, costs, and the dataset's total spent ε after it."""

    release: str
    job: str
    costs: tuple[Cost, ...]
    spent_after: float
    at: float


def _dump(costs: Sequence[Cost]) -> str:
    return json.dumps([json.loads(c.to_json()) for c in costs])


def _load(text: str) -> tuple[Cost, ...]:
    return tuple(cost_from_json(json.dumps(item)) for item in json.loads(text))


def state_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The party's state directory: ``explicit``, else ``$ACCORD_STATE_DIR``, else the XDG state home."""
    if explicit is not None:
        return Path(explicit)
    if os.environ.get(STATE_ENV):
        return Path(os.environ[STATE_ENV])
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "accord"


def ledger_path(dataset: str, directory: str | os.PathLike[str] | None = None) -> Path:
    """Where the ledger of ``dataset`` lives: ``<state dir>/dp/<dataset>.sqlite``."""
    check_dataset(dataset)
    return state_dir(directory) / "dp" / f"{dataset}.sqlite"


def check_dataset(dataset: str) -> None:
    """Refuse dataset names that are not plain file-name-safe identifiers."""
    if not isinstance(dataset, str) or not _NAME.match(dataset):
        raise ConfigurationError(f"dataset name {dataset!r} must be 1-128 letters, digits, '_', '.' or '-'")


class Ledger:
    """The budget ledger of one dataset.

    Parameters
    ----------
    path:
        The SQLite file (see :func:`ledger_path`); created with ``cap`` if it does not exist.
    dataset:
        The dataset's name; opening a ledger file of another dataset is refused.
    cap:
        The (ε, δ) the dataset may spend in total. Required to create a ledger; when given for an
        existing one it must equal the recorded cap (change it with :meth:`set_cap`).
    timeout:
        Seconds to wait for another job that holds the ledger's lock.
    """

    def __init__(self, path: str | os.PathLike[str], dataset: str, *, cap: Budget | None = None,
                 timeout: float = 10.0) -> None:
        check_dataset(dataset)
        self.path = Path(path)
        self.dataset = dataset
        self.timeout = timeout
        if not self.path.exists():
            if cap is None:
                raise ConfigurationError(f"dataset {dataset!r} has no privacy ledger at {self.path}: give a cap "
                                         "(budget) to create one")
            self._create(cap)
        with self._transaction(write=False) as db:
            meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
        if meta.get("format") != _FORMAT:
            raise ConfigurationError(f"{self.path} is not an accord privacy ledger (format {meta.get('format')!r})")
        if meta.get("dataset") != dataset:
            raise ConfigurationError(f"{self.path} is the ledger of dataset {meta.get('dataset')!r}, not of "
                                     f"{dataset!r}")
        self.cap = Budget(float(meta["epsilon"]), float(meta["delta"]))
        if cap is not None and cap != self.cap:
            raise ConfigurationError(f"dataset {dataset!r}: the ledger's cap is {self.cap}, not {cap}; change it "
                                     "with Ledger.set_cap or `accord dp ledger --set-cap`")

    # ------------------------------------------------------------------------------- storage
    def _connect(self) -> sqlite3.Connection:
        try:
            db = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None)
            db.execute("PRAGMA synchronous=FULL")
            return db
        except sqlite3.Error as exc:
            raise self._error(exc) from None

    def _error(self, exc: sqlite3.Error) -> ConfigurationError:
        text = str(exc)
        if "locked" in text or "busy" in text:
            return ConfigurationError(f"dataset {self.dataset!r}: privacy ledger {self.path} stayed locked by "
                                      f"another job for {self.timeout:g} s")
        return ConfigurationError(f"dataset {self.dataset!r}: privacy ledger {self.path} is unreadable or "
                                  f"corrupt ({text})")

    @contextmanager
    def _transaction(self, write: bool) -> Iterator[sqlite3.Connection]:
        db = self._connect()
        try:
            db.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            yield db
            db.execute("COMMIT")
        except sqlite3.Error as exc:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise self._error(exc) from None
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        finally:
            db.close()

    def _create(self, cap: Budget) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        partial = self.path.with_name(f".{self.path.name}.{os.getpid()}.new")
        partial.unlink(missing_ok=True)
        db = sqlite3.connect(partial, isolation_level=None)
        try:
            db.executescript(
                "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
                "CREATE TABLE charges (seq INTEGER PRIMARY KEY, release TEXT UNIQUE NOT NULL, job TEXT NOT NULL, "
                "cost TEXT NOT NULL, spent_after REAL NOT NULL, at REAL NOT NULL);")
            db.executemany("INSERT INTO meta VALUES (?, ?)", [
                ("format", _FORMAT), ("dataset", self.dataset), ("epsilon", repr(cap.epsilon)),
                ("delta", repr(cap.delta))])
        finally:
            db.close()
        os.chmod(partial, 0o600)
        try:
            os.link(partial, self.path)  # fails if another process created the ledger meanwhile
        except FileExistsError:
            pass
        finally:
            partial.unlink(missing_ok=True)

    # -------------------------------------------------------------------------------- queries
    def charges(self) -> list[Charge]:
        """Every charge, oldest first."""
        with self._transaction(write=False) as db:
            rows = db.execute("SELECT release, job, cost, spent_after, at FROM charges ORDER BY seq").fetchall()
        return [Charge(r, j, _load(c), s, a) for r, j, c, s, a in rows]

    def spent(self) -> float:
        """ε spent so far at the cap's δ."""
        return epsilon([cost for charge in self.charges() for cost in charge.costs], self.cap.delta)

    def remaining(self) -> float:
        """ε left at the cap's δ."""
        return max(0.0, self.cap.epsilon - self.spent())

    # ------------------------------------------------------------------------------- spending
    def check(self, costs: Cost | Sequence[Cost]) -> float:
        """The total ε after spending ``costs``, or :class:`~accord.errors.PrivacyBudgetExceeded`; records nothing."""
        with self._transaction(write=False) as db:
            past = [cost for (text,) in db.execute("SELECT cost FROM charges ORDER BY seq") for cost in _load(text)]
        return self._within_cap(past, _as_list(costs), "")

    def charge(self, costs: Cost | Sequence[Cost], *, release: str, job: str = "") -> Charge:
        """Record ``costs`` for the release id ``release`` if the cap allows it; otherwise refuse.

        Raises :class:`~accord.errors.PrivacyBudgetExceeded` (and records nothing) when the composed
        spending would pass the cap. A release id is used once: charging it again is refused, since a
        second release under the same id would be a second, uncharged look at the data.
        """
        if not release:
            raise ValueError("a charge needs a release id")
        new = _as_list(costs)
        with self._transaction(write=True) as db:
            if db.execute("SELECT 1 FROM charges WHERE release = ?", (release,)).fetchone() is not None:
                raise ConfigurationError(f"dataset {self.dataset!r}: release {release!r} was already charged; each "
                                         "release needs its own id")
            past = [cost for (text,) in db.execute("SELECT cost FROM charges ORDER BY seq") for cost in _load(text)]
            total = self._within_cap(past, new, release)
            now = time.time()
            db.execute("INSERT INTO charges (release, job, cost, spent_after, at) VALUES (?, ?, ?, ?, ?)",
                       (release, job, _dump(new), total, now))
        return Charge(release, job, tuple(new), total, now)

    def _within_cap(self, past: list[Cost], new: list[Cost], release: str) -> float:
        total = epsilon([*past, *new], self.cap.delta)
        if total > self.cap.epsilon * (1 + 1e-9):
            before = epsilon(past, self.cap.delta)
            what = "; ".join(c.describe() for c in new)
            raise PrivacyBudgetExceeded(
                f"dataset {self.dataset!r}: release {release or '(check)'} ({what}) would raise the privacy loss to "
                f"ε={total:.4g} at δ={self.cap.delta:g}, over the cap ε={self.cap.epsilon:g} (spent so far "
                f"ε={before:.4g}); nothing was computed or charged")
        return total

    def set_cap(self, cap: Budget) -> None:
        """Change the dataset's cap (an owner's decision; lowering it below what is spent stops new releases)."""
        with self._transaction(write=True) as db:
            db.execute("UPDATE meta SET value = ? WHERE key = 'epsilon'", (repr(cap.epsilon),))
            db.execute("UPDATE meta SET value = ? WHERE key = 'delta'", (repr(cap.delta),))
        self.cap = cap

    def __repr__(self) -> str:
        return f"<Ledger {self.dataset!r} cap ε={self.cap.epsilon:g} δ={self.cap.delta:g} at {self.path}>"


def _as_list(costs: Cost | Sequence[Cost]) -> list[Cost]:
    items = [costs] if isinstance(costs, Cost) else list(costs)
    if not items or not all(isinstance(c, Cost) for c in items):
        raise TypeError("expected one or more privacy Cost records")
    return items
