"""Users, API keys, sign-in throttling and the audit log in the database (migration 006).

Used by the web app (web/auth.py) and the ``harmmap users|keys|audit`` commands (harmmap/access_cli.py).
Hashing and roles are in harmmap/access.py. The audit log is only ever INSERTed into and read here.
Statements of more than a line are named files in harmmap/db/queries (``auth_*.sql``, ``audit_*.sql``); the
ones that run on every request (``auth_key_principal``, ``auth_session_principal``, ``audit_insert``) have
the same text every time, so psycopg keeps them prepared on each pooled connection.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import psycopg

from harmmap import access, db
from harmmap.access import AccessError, NewKey, Principal


class AccountError(AccessError):
    """No such user or key, a duplicate, or a key scope above its owner's role."""


# --- users ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class User:
    user_id: int
    name: str
    role: str
    disabled: bool
    has_password: bool
    created_at: datetime
    last_login_at: datetime | None


def add_user(conn: psycopg.Connection, name: str, role: str, password: str | None) -> User:
    access.check_name(name)
    access.check_role(role)
    hashed = access.hash_password(password) if password is not None else None
    row = conn.execute(db.query("auth_user_insert"), {"name": name, "role": role, "password_hash": hashed}).fetchone()
    if row is None:
        raise AccountError(f"user {name!r} already exists")
    return get_user(conn, name)


def get_user(conn: psycopg.Connection, name: str) -> User:
    row = conn.execute(db.query("auth_users"), {"name": name}).fetchone()
    if row is None:
        raise AccountError(f"no user {name!r} (see `harmmap users list`)")
    return User(**row)


def list_users(conn: psycopg.Connection) -> list[User]:
    return [User(**r) for r in conn.execute(db.query("auth_users"), {"name": None})]


def set_password(conn: psycopg.Connection, name: str, password: str) -> None:
    get_user(conn, name)
    conn.execute('UPDATE auth."user" SET password_hash = %s WHERE name = %s', (access.hash_password(password), name))


def password_matches(conn: psycopg.Connection, name: str, password: str) -> bool:
    row = conn.execute(db.query("auth_user_credentials"), {"name": name}).fetchone()
    return access.verify_password(password, row["password_hash"] if row else None)


def set_disabled(conn: psycopg.Connection, name: str, disabled: bool = True) -> User:
    """A disabled user cannot sign in, their open sessions stop at the next request, and their keys stop."""
    conn.execute('UPDATE auth."user" SET disabled = %s WHERE name = %s', (disabled, name))
    return get_user(conn, name)  # no such user: the same error as before, and the UPDATE changed nothing


def sign_in(conn: psycopg.Connection, name: str, password: str) -> Principal | None:
    """The principal for a correct name and password of an enabled user, else None (the same work either way)."""
    row = conn.execute(db.query("auth_user_credentials"), {"name": name}).fetchone()
    ok = access.verify_password(password, row["password_hash"] if row else None)
    if not ok or row is None or row["disabled"]:
        return None
    conn.execute('UPDATE auth."user" SET last_login_at = now() WHERE user_id = %s', (row["user_id"],))
    return Principal(row["name"], row["role"], "session", row["user_id"])


def start_session(conn: psycopg.Connection, principal: Principal, hours: float, remote_addr: str | None) -> str:
    """A new browser session for a signed-in user: the token goes in the signed cookie, its hash here."""
    token = secrets.token_urlsafe(32)
    conn.execute(db.query("auth_session_insert"), {"token_sha256": access.secret_hash(token),
                                                   "user_id": principal.user_id, "seconds": hours * 3600,
                                                   "remote_addr": remote_addr})
    conn.execute("DELETE FROM auth.session WHERE expires_at < now() - interval '30 days'")
    return token


def session_principal(conn: psycopg.Connection, token: str) -> Principal | None:
    """The user of a live session as they are now: None once signed out, expired or disabled; their
    current role, not the one they had at sign-in."""
    row = conn.execute(db.query("auth_session_principal"), {"token_sha256": access.secret_hash(token)}).fetchone()
    return Principal(row["name"], row["role"], "session", row["user_id"]) if row else None


def end_session(conn: psycopg.Connection, token: str) -> None:
    conn.execute("UPDATE auth.session SET ended_at = now() WHERE token_sha256 = %s AND ended_at IS NULL",
                 (access.secret_hash(token),))


# --- API keys ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ApiKey:
    key_id: str
    user: str
    role: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None
    note: str

    def state(self, now: datetime | None = None) -> str:
        now = now or datetime.now(timezone.utc)
        return "revoked" if self.revoked_at else "expired" if self.expires_at <= now else "active"


MAX_KEY_DAYS = 366


def create_key(conn: psycopg.Connection, user: str, role: str, days: int = 90, note: str = "",
               key: NewKey | None = None) -> tuple[ApiKey, NewKey]:
    """A new key for ``user`` scoped to ``role`` (at most the user's own role), valid ``days`` days.
    The returned NewKey's token is shown once and never stored."""
    owner = get_user(conn, user)
    access.check_role(role)
    if not access.allows(owner.role, role):
        raise AccountError(f"user {user!r} is {owner.role}: a key cannot have the wider role {role}")
    if not 1 <= days <= MAX_KEY_DAYS:
        raise AccountError(f"--days must be between 1 and {MAX_KEY_DAYS}")
    key = key or access.new_api_key()
    row = conn.execute(db.query("auth_key_insert"), {"key_id": key.key_id, "user_id": owner.user_id, "role": role,
                                                     "secret_sha256": key.secret_sha256, "days": days,
                                                     "note": note}).fetchone()
    if row is None:
        raise AccountError(f"key {key.key_id} already exists")
    return get_key(conn, key.key_id), key


def get_key(conn: psycopg.Connection, key_id: str) -> ApiKey:
    row = conn.execute(db.query("auth_keys"), {"key_id": key_id, "user": None}).fetchone()
    if row is None:
        raise AccountError(f"no API key {key_id!r} (see `harmmap keys list`)")
    return ApiKey(**row)


def list_keys(conn: psycopg.Connection, user: str | None = None) -> list[ApiKey]:
    rows = conn.execute(db.query("auth_keys"), {"key_id": None, "user": user})
    return [ApiKey(**r) for r in rows]


def revoke_key(conn: psycopg.Connection, key_id: str) -> ApiKey:
    get_key(conn, key_id)
    conn.execute("UPDATE auth.api_key SET revoked_at = coalesce(revoked_at, now()) WHERE key_id = %s", (key_id,))
    return get_key(conn, key_id)


def key_principal(conn: psycopg.Connection, token: str) -> Principal | None:
    """The principal for a valid key: known, secret matches, not revoked, not expired, owner enabled.
    ``last_used_at`` is written at most once a minute per key, so a busy client does not write on every call."""
    try:
        key = access.parse_api_key(token)
    except AccessError:
        return None
    row = conn.execute(db.query("auth_key_principal"), {"key_id": key.key_id}).fetchone()
    if row is None or not hmac.compare_digest(bytes(row["secret_sha256"]), key.secret_sha256):
        return None
    if row["stale"]:
        conn.execute("UPDATE auth.api_key SET last_used_at = now() WHERE key_id = %s", (key.key_id,))
    return Principal(row["name"], row["role"], "key", row["user_id"], row["key_id"])


# --- sign-in throttling -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Throttle:
    """At most ``per_account`` failed sign-ins per account name and ``per_address`` per client address in
    ``window``; kept in the database so every worker and restart shares the count."""

    per_account: int = 5
    per_address: int = 20
    window: timedelta = timedelta(minutes=15)

    def retry_after_s(self, conn: psycopg.Connection, account: str, address: str) -> int:
        """0 when a sign-in may be tried now, else the seconds until the oldest counted failure ages out."""
        row = conn.execute(db.query("auth_login_failures"),
                           {"account": account, "address": address, "window": self.window}).fetchone()
        waits = []
        for times, limit in ((row["by_account"] or [], self.per_account), (row["by_address"] or [], self.per_address)):
            if len(times) >= limit:
                waits.append((times[limit - 1] + self.window - row["now"]).total_seconds())
        return max(1, int(max(waits)) + 1) if waits else 0

    def failed(self, conn: psycopg.Connection, account: str, address: str) -> None:
        conn.execute("INSERT INTO auth.login_failure (account, address) VALUES (%s, %s)", (account[:100], address))
        conn.execute("DELETE FROM auth.login_failure WHERE at < now() - interval '1 day'")

    def succeeded(self, conn: psycopg.Connection, account: str) -> None:
        conn.execute("DELETE FROM auth.login_failure WHERE account = %s", (account,))


# --- audit ------------------------------------------------------------------------------------------------

#: The audit log's columns, in the order `harmmap audit --csv` writes them (audit_events.sql selects these;
#: audit_insert.sql writes all but the first two, which the table fills in).
AUDIT_COLUMNS = ("event_id", "at", "principal", "principal_kind", "role", "key_id", "method", "route", "path",
                 "status", "ward", "borough", "period", "remote_addr", "user_agent")


def audit(conn: psycopg.Connection, event: Mapping[str, Any]) -> None:
    """One INSERT; every column not given is NULL. Long values are cut (path 1000, user agent 200, others 100)."""
    row = {c: None for c in AUDIT_COLUMNS[2:]}
    row.update(event)
    for name, limit in (("path", 1000), ("user_agent", 200)):
        if row[name] is not None:
            row[name] = str(row[name])[:limit]
    for name in ("ward", "borough", "period", "principal", "route", "remote_addr"):
        if row[name] is not None:
            row[name] = str(row[name])[:100]
    conn.execute(db.query("audit_insert"), row)


def audit_events(conn: psycopg.Connection, since: datetime | None = None, user: str | None = None,
                 limit: int | None = None) -> Iterator[dict[str, Any]]:
    """Oldest first; with ``limit``, the latest ``limit`` events."""
    rows = conn.execute(db.query("audit_events"), {"since": since, "user": user, "limit": limit})
    yield from rows
