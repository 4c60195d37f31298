"""``harmmap db backup`` / ``harmmap db restore``: the whole database with PostgreSQL's own tools.

``pg_dump -Fc`` writes one custom-format file (compressed, restorable table by table); ``pg_restore
--clean --if-exists --single-transaction`` puts it back, replacing what is there, in one transaction: a
restore that fails half way leaves the database as it was. The password never appears on a command line
(other users can read those in ``ps``): the tools get the URL without it and the password in
``PGPASSWORD``. Every failure a person can fix is a :class:`BackupError` with a one-line message.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from psycopg.conninfo import conninfo_to_dict, make_conninfo

from harmmap import db

#: The first bytes of a pg_dump custom-format file.
MAGIC = b"PGDMP"


class BackupError(RuntimeError):
    """A backup or restore that cannot run or failed; the message says why and what to do."""


@dataclass(frozen=True)
class Outcome:
    path: Path
    bytes: int
    seconds: float


def _tool(name: str) -> str:
    found = shutil.which(name)
    if not found:
        raise BackupError(f"{name} not found on PATH -- install the Debian package postgresql-client-15 "
                          "(scripts/bootstrap.sh installs it)")
    return found


def _conninfo_and_env(url: str) -> tuple[str, dict[str, str]]:
    """The URL without its password, and an environment carrying the password instead."""
    params = conninfo_to_dict(url)
    password = params.pop("password", None)
    env = dict(os.environ)
    if password:
        env["PGPASSWORD"] = str(password)
    return make_conninfo(**params), env


def _run(args: list[str], url: str, env: dict[str, str], what: str) -> None:
    proc = subprocess.run(args, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
        message = lines[-1] if lines else f"exit status {proc.returncode}"
        # The first error is the cause; pg_restore ends with a count of errors.
        first = next((ln for ln in lines if "error" in ln.lower()), message)
        password = conninfo_to_dict(url).get("password")
        if password:
            first = first.replace(str(password), "***")
        raise BackupError(f"{what} of {db.describe(url)} failed: {first.strip()}")


def backup(url: str, path: Path, *, timeout_s: float = 5.0) -> Outcome:
    """Dump the database at ``url`` to ``path`` (written beside it first, then renamed into place, so a
    backup that is interrupted never leaves a partial file under the final name)."""
    pg_dump = _tool("pg_dump")
    db.connect(url, timeout_s=timeout_s).close()  # down or missing: DatabaseUnavailable, in one line
    path = Path(path)
    if path.is_dir():
        raise BackupError(f"{path} is a directory; give a file name, e.g. {path / 'harmmap.dump'}")
    if not path.parent.is_dir():
        raise BackupError(f"cannot write {path}: the directory {path.parent} does not exist")
    partial = path.with_name(f".{path.name}.partial")
    conninfo, env = _conninfo_and_env(url)
    started = time.monotonic()
    try:
        _run([pg_dump, "--format=custom", "--file", str(partial), "--dbname", conninfo], url, env, "backup")
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return Outcome(path, path.stat().st_size, time.monotonic() - started)


def restore(url: str, path: Path, *, timeout_s: float = 5.0) -> Outcome:
    """Restore ``path`` (a ``backup`` file) into the database at ``url``, creating the database if it is
    missing. Objects in the dump replace those of the same name; all of it is one transaction."""
    pg_restore = _tool("pg_restore")
    path = Path(path)
    try:
        with path.open("rb") as f:
            head = f.read(len(MAGIC))
    except OSError as e:
        raise BackupError(f"cannot read {path}: {e.strerror}") from None
    if head != MAGIC:
        raise BackupError(f"{path} is not a HarmMap backup (a pg_dump custom-format file made by "
                          "`harmmap db backup`)")
    db.create_database(url, timeout_s=timeout_s)  # down: DatabaseUnavailable, in one line
    conninfo, env = _conninfo_and_env(url)
    started = time.monotonic()
    _run([pg_restore, "--clean", "--if-exists", "--single-transaction", "--exit-on-error", "--no-owner",
          "--dbname", conninfo, str(path)], url, env, "restore")
    return Outcome(path, path.stat().st_size, time.monotonic() - started)
