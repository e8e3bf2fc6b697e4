"""Operators of a node: argon2id password hashes, sessions with a CSRF token, rate-limited login.

A session is a random token in an HttpOnly, Secure, SameSite=Strict cookie; the database keeps only
its SHA-256. Every state-changing request must carry the session's CSRF token (a form field or the
``X-CSRF-Token`` header). Login fails the same way for unknown users and wrong passwords, and after
``MAX_FAILURES`` failures within ``WINDOW`` seconds for a user name or a client address, further
attempts are refused without checking the password until the window has passed.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, delete, func, insert, or_, select

from accord.errors import AccordError, ConfigurationError
from accord.node import schema

SESSION_SECONDS = 8 * 3600
MAX_FAILURES = 5
WINDOW = 300.0
_HASHER = PasswordHasher()  # argon2id, 64 MiB, 3 passes (the library's RFC 9106 low-memory profile)
_DUMMY = _HASHER.hash("accord: equal work for unknown users")


class LoginRefused(AccordError):
    """Wrong user name or password, or too many recent failures."""

    exit_code = 7

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class Session:
    """A logged-in operator."""

    user: str
    csrf: str
    token_hash: str


def add_user(conn: Connection, name: str, password: str) -> None:
    """Create an operator, or set a new password for an existing one."""
    if not name or len(name) > 64 or not name.replace("-", "").replace("_", "").replace(".", "").isalnum():
        raise ConfigurationError(f"user name {name!r} must be 1-64 letters, digits, '-', '_' or '.'")
    if len(password) < 10:
        raise ConfigurationError("a password needs at least 10 characters")
    conn.execute(delete(schema.users).where(schema.users.c.name == name))
    conn.execute(insert(schema.users).values(name=name, password_hash=_HASHER.hash(password), created_at=time.time()))


def login(conn: Connection, name: str, password: str, address: str) -> tuple[str, Session]:
    """A new session for ``name``, or :class:`LoginRefused`; the caller records a refusal with
    :func:`record_failure` in its own transaction (this one is rolled back by the error)."""
    now = time.time()
    failures = schema.login_failures
    recent = conn.execute(select(func.count(), func.min(failures.c.at)).where(
        failures.c.at > now - WINDOW, or_(failures.c.user_name == name, failures.c.address == address))).first()
    count, oldest = (recent[0], recent[1]) if recent else (0, None)
    if count >= MAX_FAILURES:
        wait = WINDOW - (now - float(oldest or now))
        raise LoginRefused(f"too many failed logins; try again in {wait:.0f} s", retry_after=max(wait, 1.0))
    stored = conn.execute(select(schema.users.c.password_hash).where(schema.users.c.name == name)).scalar()
    try:
        _HASHER.verify(stored or _DUMMY, password)
        ok = stored is not None
    except (VerificationError, InvalidHashError):
        ok = False
    if not ok:
        raise LoginRefused("wrong user name or password")
    conn.execute(delete(failures).where(failures.c.user_name == name))
    conn.execute(delete(schema.sessions).where(schema.sessions.c.expires_at < now))
    token = secrets.token_urlsafe(32)
    session = Session(name, secrets.token_urlsafe(32), _digest(token))
    conn.execute(insert(schema.sessions).values(token_hash=session.token_hash, user_name=name, csrf=session.csrf,
                                                created_at=now, expires_at=now + SESSION_SECONDS))
    return token, session


def record_failure(conn: Connection, name: str, address: str) -> None:
    """Count a refused login towards the rate limit of its user name and client address."""
    conn.execute(insert(schema.login_failures).values(user_name=name[:64], address=address[:64], at=time.time()))


def find_session(conn: Connection, token: str | None) -> Session | None:
    """The live session of a cookie token, if any."""
    if not token:
        return None
    row = conn.execute(select(schema.sessions).where(schema.sessions.c.token_hash == _digest(token),
                                                     schema.sessions.c.expires_at > time.time())).mappings().first()
    return Session(row["user_name"], row["csrf"], row["token_hash"]) if row else None


def check_csrf(session: Session, token: str | None) -> bool:
    """Whether ``token`` is the session's CSRF token (compared in constant time)."""
    return bool(token) and hmac.compare_digest(session.csrf.encode(), str(token).encode())


def logout(conn: Connection, session: Session) -> None:
    """End a session."""
    conn.execute(delete(schema.sessions).where(schema.sessions.c.token_hash == session.token_hash))


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
