"""Accounts: users who sign in (readers and editors), API tokens, and the audit log of what they did."""

from __future__ import annotations

import hashlib
import re
import secrets
import sqlite3
from dataclasses import dataclass

from werkzeug.security import check_password_hash, generate_password_hash

from .errors import AccountError
from .store import Store, utc_now

ROLES: tuple[str, ...] = ("reader", "editor")
MIN_PASSWORD_LENGTH = 10
_NAME = re.compile(r"[A-Za-z0-9._@-]{1,64}")
# Checked against when a name is unknown, so that answering "no such user" takes as long as a
# wrong password. Same method and parameters as the hashes generate_password_hash makes below.
_DUMMY_HASH = (
    "scrypt:32768:8:1$elWetyrd1dMUv6WJ$af0be0715f0823cc3959f9cdac13a3e2c47d2908673be1fc5a20263384375eac"
    "4b7dc8de15fecb9488a1b872c14eef46236a1f4e7ae1202cd01f1c94addd29c2"
)


@dataclass(frozen=True)
class User:
    """A person who can sign in: name, role (one of ROLES) and when the account was made."""

    name: str
    role: str
    created_at: str

    @property
    def is_editor(self) -> bool:
        return self.role == "editor"


@dataclass(frozen=True)
class ApiToken:
    """An API token as listed: its name and dates; the token itself is never kept."""

    name: str
    created_at: str
    last_used_at: str | None


@dataclass(frozen=True)
class AuditEntry:
    """One recorded action: when (UTC), who, what, on which target, and a short detail."""

    id: int
    at: str
    user: str
    action: str
    target: str
    detail: str


def check_name(name: str, what: str = "user") -> str:
    """`name` when it is 1-64 letters, digits, '.', '_', '-' or '@'; AccountError otherwise."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise AccountError(f"A {what} name must be 1 to 64 letters, digits, '.', '_', '-' or '@'.")
    return name


def check_role(role: str) -> str:
    if role not in ROLES:
        raise AccountError(f"The role must be one of {', '.join(ROLES)}, not {role!r}.")
    return role


def _check_password(password: str) -> str:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"A password must be at least {MIN_PASSWORD_LENGTH} characters long.")
    return password


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class Accounts:
    """Users with scrypt-hashed passwords, API tokens kept as SHA-256 digests, and the audit log."""

    def __init__(self, store: Store) -> None:
        self._store = store

    # -- users -------------------------------------------------------------------------------

    def add_user(self, name: str, password: str, role: str) -> User:
        """A new user; AccountError for a bad name, role or password, or a name already taken."""
        check_name(name)
        check_role(role)
        password_hash = generate_password_hash(_check_password(password), method="scrypt")
        user = User(name=name, role=role, created_at=utc_now())
        try:
            with self._store.transaction() as conn:
                conn.execute(
                    "INSERT INTO users (name, password_hash, role, created_at) VALUES (?, ?, ?, ?)",
                    (user.name, password_hash, user.role, user.created_at),
                )
        except sqlite3.IntegrityError:
            raise AccountError(f"A user named {name!r} already exists.") from None
        return user

    def remove_user(self, name: str) -> None:
        with self._store.transaction() as conn:
            if not conn.execute("DELETE FROM users WHERE name = ?", (name,)).rowcount:
                raise AccountError(f"No user is named {name!r}.")

    def set_password(self, name: str, password: str) -> None:
        password_hash = generate_password_hash(_check_password(password), method="scrypt")
        with self._store.transaction() as conn:
            updated = conn.execute("UPDATE users SET password_hash = ? WHERE name = ?", (password_hash, name))
            if not updated.rowcount:
                raise AccountError(f"No user is named {name!r}.")

    def users(self) -> list[User]:
        rows = self._store.connection().execute("SELECT name, role, created_at FROM users ORDER BY name")
        return [User(r["name"], r["role"], r["created_at"]) for r in rows]

    def get_user(self, name: str) -> User | None:
        row = (
            self._store.connection()
            .execute("SELECT name, role, created_at FROM users WHERE name = ?", (name,))
            .fetchone()
        )
        return User(row["name"], row["role"], row["created_at"]) if row else None

    def authenticate(self, name: str, password: str) -> User | None:
        """The user when `password` is theirs, else None; as slow for an unknown name as for a wrong password."""
        row = (
            self._store.connection()
            .execute("SELECT name, role, created_at, password_hash FROM users WHERE name = ?", (name,))
            .fetchone()
        )
        if row is None:
            check_password_hash(_DUMMY_HASH, password)
            return None
        if not check_password_hash(row["password_hash"], password):
            return None
        return User(row["name"], row["role"], row["created_at"])

    # -- API tokens --------------------------------------------------------------------------

    def create_token(self, name: str) -> str:
        """A new API token called `name`, returned this once: only its SHA-256 digest is stored."""
        check_name(name, "token")
        token = secrets.token_urlsafe(32)
        try:
            with self._store.transaction() as conn:
                conn.execute(
                    "INSERT INTO api_tokens (name, digest, created_at) VALUES (?, ?, ?)",
                    (name, _digest(token), utc_now()),
                )
        except sqlite3.IntegrityError:
            raise AccountError(f"A token named {name!r} already exists.") from None
        return token

    def revoke_token(self, name: str) -> None:
        with self._store.transaction() as conn:
            if not conn.execute("DELETE FROM api_tokens WHERE name = ?", (name,)).rowcount:
                raise AccountError(f"No token is named {name!r}.")

    def tokens(self) -> list[ApiToken]:
        rows = self._store.connection().execute("SELECT name, created_at, last_used_at FROM api_tokens ORDER BY name")
        return [ApiToken(r["name"], r["created_at"], r["last_used_at"]) for r in rows]

    def token_name(self, token: str) -> str | None:
        """The name of the live token `token`, noting its use; None for an unknown or revoked token."""
        if not token:
            return None
        digest = _digest(token)
        # Read first, so that requests with bad tokens never take the write lock.
        row = self._store.connection().execute("SELECT name FROM api_tokens WHERE digest = ?", (digest,)).fetchone()
        if row is None:
            return None
        with self._store.transaction() as conn:
            used = conn.execute("UPDATE api_tokens SET last_used_at = ? WHERE digest = ?", (utc_now(), digest))
        return row["name"] if used.rowcount else None  # revoked in between

    # -- audit log ---------------------------------------------------------------------------

    def record(self, user: str, action: str, target: str, detail: str = "") -> None:
        """Append to the audit log: who did what to which target, stamped now (UTC)."""
        with self._store.transaction() as conn:
            conn.execute(
                "INSERT INTO audit_log (at, user, action, target, detail) VALUES (?, ?, ?, ?, ?)",
                (utc_now(), user, action, target, detail),
            )

    def audit_log(self, limit: int = 200) -> list[AuditEntry]:
        """The newest `limit` entries, newest first."""
        rows = self._store.connection().execute(
            "SELECT id, at, user, action, target, detail FROM audit_log ORDER BY id DESC LIMIT ?", (limit,)
        )
        return [AuditEntry(r["id"], r["at"], r["user"], r["action"], r["target"], r["detail"]) for r in rows]
