"""The node's state: a SQLAlchemy engine over SQLite (default) or PostgreSQL, migrations, and the audit log.

Every change that the audit log records is written in the same transaction as its audit entry, so
the log and the state cannot disagree. Write transactions are serialised (SQLite ``BEGIN
IMMEDIATE``; a PostgreSQL transaction-level advisory lock), which keeps the audit chain linear when
two operators act at once. Opening a database checks it: a corrupt SQLite file, a database migrated
by a newer accord, or an audit log that does not verify stops the node with a clear error.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, exc, func, insert, select
from sqlalchemy.engine import make_url

from accord.errors import ConfigurationError, UnsupportedError
from accord.governance.chain import GENESIS, TamperedLog, seal_entry, verify_entries
from accord.governance.signing import Signer, Verifier
from accord.node import schema

_LOCK_ID = 7_352_031  # PostgreSQL advisory lock serialising the node's write transactions


class Store:
    """The node's database at ``url`` (``sqlite:///path`` or ``postgresql+psycopg://...``), migrated."""

    def __init__(self, url: str, signer: Signer) -> None:
        self.url = url
        self.signer = signer
        try:
            parsed = make_url(url)
        except exc.ArgumentError:
            raise ConfigurationError(f"database URL {url!r} is not a SQLAlchemy URL (sqlite:///node.sqlite or "
                                     "postgresql+psycopg://user@host/db)") from None
        self.sqlite = parsed.get_backend_name() == "sqlite"
        self.where = str(parsed.database) if self.sqlite else parsed.render_as_string(hide_password=True)
        self.engine = self._engine(url)
        self._checked: tuple[int, str, str] = (0, GENESIS, GENESIS)  # entries checked; the last one's hash, prev
        try:
            self._check()
            self.migrate()
        except exc.DBAPIError as err:
            self.engine.dispose()
            raise ConfigurationError(f"node database {self.where} cannot be opened: {_reason(err)}") from None

    def _engine(self, url: str) -> Engine:
        if not self.sqlite:
            try:
                return create_engine(url, pool_pre_ping=True)
            except ImportError as err:  # the URL's database driver (psycopg for postgresql+psycopg)
                raise UnsupportedError(f"node database {self.where} needs its driver ({err.name or err}): "
                                       "pip install 'accord[postgres]'") from None
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _connect(dbapi: Any, _record: Any) -> None:
            dbapi.isolation_level = None  # transactions are begun below, IMMEDIATE for writes
            dbapi.execute("PRAGMA journal_mode=WAL")
            dbapi.execute("PRAGMA synchronous=FULL")

        @event.listens_for(engine, "begin")
        def _begin(conn: Connection) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("write") else "BEGIN")

        return engine

    def _check(self) -> None:
        if self.sqlite:
            with self.engine.connect() as conn:
                result = conn.exec_driver_sql("PRAGMA quick_check").scalar()
            if result != "ok":
                raise ConfigurationError(f"node database {self.where} is corrupt ({result}); restore it from a "
                                         "backup")

    def migrate(self) -> None:
        """Apply every migration this database lacks; refuse one migrated by a newer accord."""
        with self.write() as conn:
            schema.migrations_table.create(conn, checkfirst=True)
            done = set(conn.execute(select(schema.migrations_table.c.version)).scalars())
            known = {v for v, _, _ in schema.MIGRATIONS}
            if done - known:
                raise ConfigurationError(f"node database {self.where} has schema version {max(done)}, newer than "
                                         f"this accord knows ({max(known)}): upgrade accord")
        for version, name, apply in schema.MIGRATIONS:
            with self.write() as conn:
                exists = conn.execute(select(schema.migrations_table.c.version)
                                      .where(schema.migrations_table.c.version == version)).first()
                if exists is None:
                    apply(conn)
                    conn.execute(insert(schema.migrations_table).values(version=version, name=name,
                                                                        applied_at=time.time()))

    def version(self) -> int:
        """The schema version in force."""
        with self.read() as conn:
            return int(conn.execute(select(func.max(schema.migrations_table.c.version))).scalar() or 0)

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A serialised write transaction (committed on success, rolled back on error)."""
        with self.engine.connect().execution_options(write=True) as conn, conn.begin():
            if not self.sqlite:
                conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_LOCK_ID})")
            yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read transaction."""
        with self.engine.connect() as conn, conn.begin():
            yield conn

    # ------------------------------------------------------------------------------ audit
    def audit(self, conn: Connection, event: str, **fields: Any) -> dict[str, Any]:
        """Append a signed entry to the audit log inside the write transaction ``conn``."""
        head = conn.execute(select(schema.audit.c.seq, schema.audit.c.entry)
                            .order_by(schema.audit.c.seq.desc()).limit(1)).first()
        seq, previous = (head[0] + 1, json.loads(head[1])["hash"]) if head else (0, GENESIS)
        entry = seal_entry(seq, previous, event, {"at": round(time.time(), 3), **fields}, self.signer)
        conn.execute(insert(schema.audit).values(seq=seq, entry=json.dumps(entry, sort_keys=True)))
        return entry

    def audit_head(self, conn: Connection) -> tuple[int, str]:
        """``(seq, hash)`` of the latest audit entry, ``(-1, GENESIS)`` when empty."""
        head = conn.execute(select(schema.audit.c.seq, schema.audit.c.entry)
                            .order_by(schema.audit.c.seq.desc()).limit(1)).first()
        return (int(head[0]), json.loads(head[1])["hash"]) if head else (-1, GENESIS)

    def audit_entries(self, limit: int | None = None, since: int = 0) -> list[dict[str, Any]]:
        """The audit log, oldest first (from entry ``since``; the latest ``limit`` entries when given)."""
        query = select(schema.audit.c.entry).where(schema.audit.c.seq >= since) \
            .order_by(schema.audit.c.seq.desc() if limit else schema.audit.c.seq)
        with self.read() as conn:
            rows = [json.loads(r) for r in conn.execute(query.limit(limit) if limit else query).scalars()]
        return rows[::-1] if limit else rows

    def verify_audit(self, verifier: Verifier | None = None, anchors: Sequence[tuple[int, str]] = ()
                     ) -> list[dict[str, Any]]:
        """Check the whole audit log's chain and signatures (see :func:`~accord.governance.chain.verify_entries`)."""
        entries = verify_entries(self.audit_entries(), f"of node database {self.where}",
                                 verifier or self.signer.verifier(), anchors)
        self._checked = (len(entries), entries[-1]["hash"], entries[-1]["prev"]) if entries else (0, GENESIS, GENESIS)
        return entries

    def verify_new_audit(self) -> int:
        """Check the entries appended since the last check (and that the last checked one is unchanged);
        returns the log's length. The console uses this; start-up and ``accord audit verify`` check all."""
        count, last, before = self._checked
        since = max(count - 1, 0)
        entries = self.audit_entries(since=since)
        if count and (not entries or entries[0].get("hash") != last):
            raise TamperedLog(f"audit log of node database {self.where}: entry {count - 1} changed since it was "
                              "checked")
        verified = verify_entries(entries, f"of node database {self.where}", self.signer.verifier(), start=since,
                                  previous=before)
        if verified:
            self._checked = (since + len(verified), verified[-1]["hash"], verified[-1]["prev"])
        return self._checked[0]

    def close(self) -> None:
        """Release the database connections."""
        self.engine.dispose()


def _reason(err: exc.DBAPIError) -> str:
    text = str(err.orig) if err.orig is not None else str(err)
    if "not a database" in text or "malformed" in text:
        return f"{text} (the file is corrupt or not a node database; restore it from a backup)"
    return text
