"""The node's database schema and its versioned migrations (SQLite by default, PostgreSQL through a URL).

Migrations are numbered functions applied in order, each in its own transaction, and recorded in
``schema_migrations``; a node refuses to open a database migrated by a newer accord. A small table
of versions instead of Alembic: the node's schema is a handful of tables with a linear history, and
one code path (SQLAlchemy Core) runs it on both databases without a migration-script directory.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

migrations_table = Table(
    "schema_migrations", metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("name", String(200), nullable=False),
    Column("applied_at", Float, nullable=False),
)
users = Table(
    "users", metadata,
    Column("name", String(64), primary_key=True),
    Column("password_hash", String(256), nullable=False),
    Column("created_at", Float, nullable=False),
)
sessions = Table(
    "sessions", metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("user_name", String(64), nullable=False),
    Column("csrf", String(64), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
)
login_failures = Table(
    "login_failures", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_name", String(64), nullable=False),
    Column("address", String(64), nullable=False),
    Column("at", Float, nullable=False),
)
datasets = Table(
    "datasets", metadata,
    Column("name", String(128), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("location", Text, nullable=False),
    Column("sql_table", String(200)),
    Column("schema", Text, nullable=False),
    Column("rows", BigInteger, nullable=False),
    Column("policy", Text, nullable=False),
    Column("registered_at", Float, nullable=False),
)
jobs = Table(
    "jobs", metadata,
    Column("digest", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("text", Text, nullable=False),
    Column("proposer", String(64), nullable=False),
    Column("proposed_at", Float, nullable=False),
    Column("parties", Text, nullable=False),
    Column("plan", Text, nullable=False),
    Column("violations", Text, nullable=False),
)
decisions = Table(
    "decisions", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("digest", String(64), nullable=False),
    Column("party", String(64), nullable=False),
    Column("decision", String(16), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("at", Float, nullable=False),
    Column("approval", Text),
    Column("reason", Text),
)
runs = Table(
    "runs", metadata,
    Column("id", String(32), primary_key=True),
    Column("digest", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("started_at", Float, nullable=False),
    Column("ended_at", Float),
    Column("pid", Integer),
    Column("workdir", Text, nullable=False),
    Column("error", Text),
    Column("report", Text),
    Column("metrics", Text),
)
audit = Table(
    "audit", metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("entry", Text, nullable=False),
)
peer_nonces = Table(
    "peer_nonces", metadata,
    Column("nonce", String(64), primary_key=True),
    Column("at", Float, nullable=False),
)
imported = Table(
    "imported", metadata,
    Column("source", String(300), primary_key=True),
    Column("at", Float, nullable=False),
)


def _initial(conn: Connection) -> None:
    metadata.create_all(conn, tables=[users, sessions, login_failures, datasets, jobs, decisions, runs, audit,
                                      peer_nonces])


def _imported_events(conn: Connection) -> None:
    imported.create(conn)


# (version, name, apply): append only; never edit an applied migration.
MIGRATIONS: list[tuple[int, str, Callable[[Connection], None]]] = [
    (1, "users, sessions, datasets, jobs, decisions, runs, audit log", _initial),
    (2, "imported DP charges and TEE key releases", _imported_events),
]
