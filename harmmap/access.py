"""Who may see what: roles, the signed-in principal, password and API key hashing.

Pure (no Flask, no database): the web app (web/auth.py) and the command line (harmmap/accounts.py)
both decide with ``allows(role, needed)``. Roles are ordered; each includes the ones below it:

- ``viewer``   tasking officer: the tasking map and its data;
- ``sergeant`` also the A4 briefing PDFs;
- ``analyst``  also the spatial API, vector tiles and exports (CSV);
- ``admin``    also users, API keys, the audit log, ETL and configuration.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import string
from dataclasses import dataclass

ROLES = ("viewer", "sergeant", "analyst", "admin")
_RANK = {role: i for i, role in enumerate(ROLES)}

#: Account names: lower case, digits and . _ @ - (the database checks the same pattern).
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._@-]{1,63}$")


class AccessError(ValueError):
    """A bad role, name, password or key format; the message says which."""


def check_role(role: str) -> str:
    if role not in _RANK:
        raise AccessError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    return role


def allows(role: str | None, needed: str | None) -> bool:
    """Whether ``role`` may use something that needs ``needed`` (None: anyone, even signed out)."""
    if needed is None:
        return True
    if role is None:
        return False
    return _RANK[check_role(role)] >= _RANK[check_role(needed)]


@dataclass(frozen=True)
class Principal:
    """Who is making a request: a signed-in person (``kind="session"``) or an API key (``"key"``).

    ``role`` is the role in force: a key's scope, which is never above its owner's role.
    """

    name: str
    role: str
    kind: str
    user_id: int
    key_id: str | None = None


# --- passwords: scrypt (RFC 7914), from the standard library ------------------------------------------

#: n=2**15, r=8, p=3: one of OWASP's equivalent minimum settings for scrypt (32 MiB per check instead of
#: the 128 MiB of n=2**17, p=1, so a burst of sign-ins cannot exhaust a small server's memory). Stored hashes
#: carry their parameters, so these can be raised later without invalidating anyone's password.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 3
_SCRYPT_MAXMEM = 64 * 1024 * 1024
MIN_PASSWORD_LENGTH = 12


def hash_password(password: str) -> str:
    """``scrypt$n$r$p$salt$hash`` (base64): the parameters travel with the hash, so they can be raised later."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccessError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, maxmem=_SCRYPT_MAXMEM,
                            dklen=32)
    return "$".join(["scrypt", str(SCRYPT_N), str(SCRYPT_R), str(SCRYPT_P), _b64(salt), _b64(digest)])


def verify_password(password: str, stored: str | None) -> bool:
    """Constant-time comparison. With no stored hash (a key-only account, or an unknown name) a dummy hash
    is still computed, so a wrong name takes as long as a wrong password."""
    try:
        scheme, n, r, p, salt, digest = (stored or DUMMY_HASH).split("$")
        if scheme != "scrypt":
            return False
        got = hashlib.scrypt(password.encode(), salt=_unb64(salt), n=int(n), r=int(r), p=int(p),
                             maxmem=_SCRYPT_MAXMEM, dklen=len(_unb64(digest)))
    except (ValueError, TypeError):
        return False
    return stored is not None and hmac.compare_digest(got, _unb64(digest))


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4))


DUMMY_HASH = f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}$" + _b64(b"\0" * 16) + "$" + _b64(b"\0" * 32)


def new_password() -> str:
    """A random password a person can type: 20 characters from letters and digits (119 bits)."""
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(20))


# --- API keys: hm_<id>_<secret> ----------------------------------------------------------------------------

KEY_PREFIX = "hm_"
_KEY_ID_ALPHABET = string.ascii_lowercase + string.digits
_KEY_PATTERN = re.compile(r"^hm_([a-z0-9]{8})_([A-Za-z0-9_-]{43})$")


@dataclass(frozen=True)
class NewKey:
    key_id: str
    secret: str

    @property
    def token(self) -> str:
        """The whole key, shown once: ``hm_<id>_<secret>``."""
        return f"{KEY_PREFIX}{self.key_id}_{self.secret}"

    @property
    def secret_sha256(self) -> bytes:
        return secret_hash(self.secret)


def new_api_key() -> NewKey:
    """256 random bits of secret: a plain SHA-256 is enough to store it (nothing to brute-force), and the
    visible id finds the row without scanning."""
    key_id = "".join(secrets.choice(_KEY_ID_ALPHABET) for _ in range(8))
    return NewKey(key_id, secrets.token_urlsafe(32))


def parse_api_key(token: str) -> NewKey:
    m = _KEY_PATTERN.match(token.strip())
    if not m:
        raise AccessError("not a HarmMap API key (expected hm_<8 characters>_<43 characters>)")
    return NewKey(m.group(1), m.group(2))


def secret_hash(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def check_name(name: str) -> str:
    if not NAME_PATTERN.match(name):
        raise AccessError(f"user name {name!r}: 2-64 characters, lower case letters, digits and . _ @ -")
    return name
