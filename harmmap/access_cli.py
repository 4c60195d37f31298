"""``harmmap users``, ``harmmap keys``, ``harmmap audit`` and ``harmmap demo-accounts`` (plug-ins, see pyproject.toml).

Run on the server by an administrator: whoever can run these can already reach the database.
"""

from __future__ import annotations

import csv
import getpass
import os
import sys
from datetime import datetime, timezone

import click

from harmmap import access, accounts, db
from harmmap.access import ROLES, AccessError
from harmmap.config import Settings


def _session():
    return db.session(Settings.from_env())


def _record(conn, action: str, target: str) -> None:
    """Administration is audited too: who ran it (the operating-system user), what, on whom."""
    try:
        who = getpass.getuser()
    except (KeyError, OSError):
        who = f"uid {os.getuid()}"
    accounts.audit(conn, {"principal": who, "principal_kind": "cli", "method": "CLI", "route": action,
                          "path": f"harmmap {action} {target}", "status": 0})


def _when(value: datetime | None) -> str:
    return f"{value:%Y-%m-%d %H:%M}" if value else "-"


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


# --- users ------------------------------------------------------------------------------------------------

@click.group("users")
def users() -> None:
    """People who sign in: add, list, disable, enable, set a password."""


users.user_errors = (AccessError,)  # type: ignore[attr-defined]


@users.command("add")
@click.argument("name")
@click.option("--role", required=True, type=click.Choice(ROLES))
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
@click.option("--no-password", is_flag=True, help="No sign-in at all: the user only owns API keys.")
def users_add(name: str, role: str, password_stdin: bool, no_password: bool) -> None:
    """Add a user with a role (viewer, sergeant, analyst, admin)."""
    password = None if no_password else _read_password(password_stdin)
    with _session() as conn:
        user = accounts.add_user(conn, name, role, password)
        _record(conn, "users add", f"{name} --role {role}")
    click.echo(f"added {user.name} ({user.role})")


@users.command("password")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
def users_password(name: str, password_stdin: bool) -> None:
    """Set a user's password."""
    password = _read_password(password_stdin)
    with _session() as conn:
        accounts.set_password(conn, name, password)
        _record(conn, "users password", name)
    click.echo(f"password set for {name}")


@users.command("list")
@click.option("--csv", "as_csv", is_flag=True)
def users_list(as_csv: bool) -> None:
    """Every user: role, state, last sign-in."""
    with _session() as conn:
        rows = accounts.list_users(conn)
    header = ("name", "role", "state", "password", "created", "last_login")
    table = [(u.name, u.role, "disabled" if u.disabled else "active", "yes" if u.has_password else "no",
              _when(u.created_at), _when(u.last_login_at)) for u in rows]
    _print(header, table, as_csv)


@users.command("disable")
@click.argument("name")
def users_disable(name: str) -> None:
    """Stop a user: no sign-in, open sessions end at their next request, their API keys stop working."""
    with _session() as conn:
        accounts.set_disabled(conn, name, True)
        _record(conn, "users disable", name)
    click.echo(f"disabled {name}")


@users.command("enable")
@click.argument("name")
def users_enable(name: str) -> None:
    """Let a disabled user in again (their revoked keys stay revoked)."""
    with _session() as conn:
        accounts.set_disabled(conn, name, False)
        _record(conn, "users enable", name)
    click.echo(f"enabled {name}")


# --- keys -------------------------------------------------------------------------------------------------

@click.group("keys")
def keys() -> None:
    """API keys for analysts' programs (QGIS, GDAL, R, Python): create, list, revoke."""


keys.user_errors = (AccessError,)  # type: ignore[attr-defined]


@keys.command("create")
@click.option("--user", "user", required=True, help="The person the key belongs to.")
@click.option("--role", required=True, type=click.Choice(ROLES), help="The key's scope (at most the user's role).")
@click.option("--days", default=90, show_default=True, type=int, help="Days until it expires (at most 366).")
@click.option("--note", default="", help="What the key is for, e.g. 'QGIS on laptop 12'.")
def keys_create(user: str, role: str, days: int, note: str) -> None:
    """Create a key and print it ONCE: only its hash is stored."""
    with _session() as conn:
        key, new = accounts.create_key(conn, user, role, days, note)
        _record(conn, "keys create", f"{key.key_id} --user {user} --role {role} --days {days}")
    click.echo(new.token)
    click.echo(f"key {key.key_id} for {key.user} ({key.role}), expires {_when(key.expires_at)} UTC. "
               "It is shown only now: store it safely.", err=True)


@keys.command("list")
@click.option("--user", default=None)
@click.option("--csv", "as_csv", is_flag=True)
def keys_list(user: str | None, as_csv: bool) -> None:
    """Keys (never their secrets): owner, scope, state, expiry, last use."""
    with _session() as conn:
        rows = accounts.list_keys(conn, user)
    now = datetime.now(timezone.utc)
    header = ("id", "user", "role", "state", "created", "expires", "last_used", "note")
    _print(header, [(k.key_id, k.user, k.role, k.state(now), _when(k.created_at), _when(k.expires_at),
                     _when(k.last_used_at), k.note) for k in rows], as_csv)


@keys.command("revoke")
@click.argument("key_id")
def keys_revoke(key_id: str) -> None:
    """Revoke a key by its id (the 8 characters after hm_): it stops at once."""
    with _session() as conn:
        key = accounts.revoke_key(conn, key_id)
        _record(conn, "keys revoke", key_id)
    click.echo(f"revoked {key.key_id} ({key.user}, {key.role})")


# --- audit ------------------------------------------------------------------------------------------------

@click.command("audit")
@click.option("--since", type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"]), default=None,
              help="From this UTC date or time.")
@click.option("--user", default=None, help="Only this user's requests.")
@click.option("--limit", type=int, default=None, help="Only the latest N (the table: 50 unless --csv).")
@click.option("--csv", "as_csv", is_flag=True, help="Every column, as CSV, for export.")
def audit(since: datetime | None, user: str | None, limit: int | None, as_csv: bool) -> None:
    """Who saw what, when and from where (the append-only audit log)."""
    since_utc = since.replace(tzinfo=timezone.utc) if since else None
    with _session() as conn:
        events = accounts.audit_events(conn, since_utc, user, limit if limit or as_csv else 50)
        if as_csv:
            out = csv.writer(sys.stdout, lineterminator="\n")
            out.writerow(accounts.AUDIT_COLUMNS)
            for e in events:
                out.writerow(["" if e[c] is None else e[c].isoformat() if isinstance(e[c], datetime) else e[c]
                              for c in accounts.AUDIT_COLUMNS])
            return
        header = ("at (UTC)", "who", "role", "status", "method", "route", "ward", "borough", "period", "from")
        rows = [(f"{e['at'].astimezone(timezone.utc):%Y-%m-%d %H:%M:%S}", e["principal"] or "-", e["role"] or "-",
                 e["status"], e["method"], e["route"], e["ward"] or "", e["borough"] or "", e["period"] or "",
                 e["remote_addr"] or "") for e in events]
    _print(header, rows, False)


# --- demo accounts (make demo) ----------------------------------------------------------------------------

DEMO_KEY_NOTE = "demo analyst key (make demo)"


@click.command("demo-accounts")
def demo_accounts() -> None:
    """One account per role (viewer, sergeant, analyst, admin) and an analyst API key, for `make demo`.

    The password is HARMMAP_DEMO_PASSWORD, or generated and printed once; the key HARMMAP_DEMO_API_KEY
    likewise. A second run changes nothing unless those variables are set to something new.
    """
    settings = Settings.from_env()
    if settings.is_production:
        raise AccessError("demo accounts are refused when HARMMAP_ENVIRONMENT=production")
    password = os.environ.get("HARMMAP_DEMO_PASSWORD") or None
    given_key = os.environ.get("HARMMAP_DEMO_API_KEY") or None
    with db.session(settings) as conn:
        existing = {u.name for u in accounts.list_users(conn)}
        generated = None
        if not set(ROLES) <= existing and password is None:
            password = generated = access.new_password()
        for role in ROLES:
            if role not in existing:
                accounts.add_user(conn, role, role, password)
            elif password is not None and not accounts.password_matches(conn, role, password):
                accounts.set_password(conn, role, password)
        live = [k for k in accounts.list_keys(conn, "analyst") if k.note == DEMO_KEY_NOTE and k.state() == "active"]
        new_key = None
        if given_key is not None:
            key = access.parse_api_key(given_key)
            if not any(k.key_id == key.key_id for k in live):
                accounts.create_key(conn, "analyst", "analyst", accounts.MAX_KEY_DAYS, DEMO_KEY_NOTE, key=key)
        elif not live:
            _, new_key = accounts.create_key(conn, "analyst", "analyst", accounts.MAX_KEY_DAYS, DEMO_KEY_NOTE)
    names = ", ".join(ROLES)
    if generated:
        click.echo(f"demo accounts {names}: password {generated}  (shown once; set HARMMAP_DEMO_PASSWORD to choose one)")
    elif password:
        click.echo(f"demo accounts {names}: password from HARMMAP_DEMO_PASSWORD")
    else:
        click.echo(f"demo accounts {names} exist (their password was printed when they were made; "
                   "set HARMMAP_DEMO_PASSWORD to reset it)")
    if new_key:
        click.echo(f"demo analyst API key: {new_key.token}  (shown once; set HARMMAP_DEMO_API_KEY to choose one)")
    elif given_key:
        click.echo("demo analyst API key: HARMMAP_DEMO_API_KEY")


demo_accounts.user_errors = (AccessError,)  # type: ignore[attr-defined]


def _print(header: tuple[str, ...], rows: list[tuple], as_csv: bool) -> None:
    if as_csv:
        out = csv.writer(sys.stdout, lineterminator="\n")
        out.writerow(header)
        out.writerows(rows)
        return
    widths = [max([len(h)] + [len(str(r[i])) for r in rows]) for i, h in enumerate(header)]
    for line in [header, *rows]:
        click.echo("  ".join(str(v).ljust(w) for v, w in zip(line, widths)).rstrip())
