"""An API key for one benchmark run: made at the start, revoked at the end (and audited).

The API and the map data need a signed-in user or a key (web/auth.py), so a benchmark that loads them
with wrk or a browser must send one, as an analyst or an officer would.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from harmmap import accounts, db
from harmmap.config import Settings


@contextmanager
def run_key(settings: Settings, user: str, purpose: str, role: str = "analyst") -> Iterator[str]:
    """The token of a fresh one-day key of ``user`` (made if missing) for ``role``, revoked afterwards."""
    with db.connect(settings.database_url) as conn:
        try:
            accounts.get_user(conn, user)
        except accounts.AccountError:
            accounts.add_user(conn, user, role, None)
        key, new = accounts.create_key(conn, user, role, 1, purpose)
    try:
        yield new.token
    finally:
        with db.connect(settings.database_url) as conn:
            accounts.revoke_key(conn, key.key_id)
