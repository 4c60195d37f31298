"""The ``harmmap`` command: the front door for every job.

Core commands live here; ``etl/`` and ``web/`` add theirs through the ``harmmap.commands`` entry
point group (see pyproject.toml), so this package never imports them.
"""

from __future__ import annotations

import sys
from importlib.metadata import entry_points
from pathlib import Path

import click

from harmmap import db
from harmmap.config import Settings, SettingsError
from harmmap.db import backup

EXPECTED_ERRORS = (db.DatabaseUnavailable, db.MigrationError, SettingsError, backup.BackupError)  # NotMigrated is a DatabaseUnavailable


class HarmMapGroup(click.Group):
    """Loads plug-in commands on first use (as FlaskGroup does), and turns the errors a person can
    fix into one line on stderr and exit status 2, no traceback."""

    _plugins_loaded = False

    def _load_plugins(self) -> None:
        if self._plugins_loaded:
            return
        self._plugins_loaded = True
        for ep in entry_points(group="harmmap.commands"):
            if ep.name not in self.commands:
                self.add_command(ep.load(), ep.name)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        self._load_plugins()
        return super().get_command(ctx, name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._load_plugins()
        return super().list_commands(ctx)

    def invoke(self, ctx: click.Context):  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except EXPECTED_ERRORS + tuple(_plugin_errors()) as e:
            click.echo(f"harmmap: {e}", err=True)
            sys.exit(2)


def _plugin_errors() -> list[type[Exception]]:
    """Error classes that plug-ins declare as 'a person can act on this' (attribute ``user_errors``)."""
    found: list[type[Exception]] = []
    for cmd in main.commands.values():
        found.extend(getattr(cmd, "user_errors", ()))
    return found


def settings_from(ctx: click.Context) -> Settings:
    return ctx.ensure_object(dict).setdefault("settings", Settings.from_env())


@click.group(cls=HarmMapGroup)
@click.version_option(package_name="harmmap")
def main() -> None:
    """HarmMap: ward-level drug harm maps, briefings and spatial API for London."""


@main.group("db")
def db_group() -> None:
    """Database: create, migrate, status, backup, restore."""


@db_group.command("init")
@click.pass_context
def db_init(ctx: click.Context) -> None:
    """Create the database if missing, enable PostGIS, apply migrations."""
    settings = settings_from(ctx)
    created = db.ensure_database(settings.database_url, timeout_s=settings.db_timeout_s)
    click.echo(f"database {db.describe(settings.database_url)} {'created' if created else 'exists'}; PostGIS enabled")
    ctx.invoke(db_migrate)


@db_group.command("migrate")
@click.pass_context
def db_migrate(ctx: click.Context) -> None:
    """Apply migrations not yet applied (a second run changes nothing)."""
    settings = settings_from(ctx)
    with db.session(settings) as conn:
        applied = db.migrate(conn)
    click.echo(f"applied {len(applied)} migration(s){': ' + ', '.join(applied) if applied else ''}")


@db_group.command("status")
@click.pass_context
def db_status(ctx: click.Context) -> None:
    """Show the applied migrations and what reference data is loaded."""
    settings = settings_from(ctx)
    with db.session(settings) as conn:
        db.require_schema(conn)
        for r in conn.execute("SELECT version, name, applied_at FROM public.schema_migration ORDER BY version"):
            click.echo(f"migration {r['name']}  applied {r['applied_at']:%Y-%m-%d %H:%M}")
        for r in conn.execute("SELECT vintage, label, ward_count, approximate FROM geo.ward_vintage ORDER BY vintage"):
            flag = " (APPROXIMATE boundaries)" if r["approximate"] else ""
            click.echo(f"wards {r['vintage']}: {r['ward_count']} ({r['label']}){flag}")



@db_group.command("backup")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.pass_context
def db_backup(ctx: click.Context, file: Path) -> None:
    """Write the whole database to FILE with pg_dump (custom format)."""
    settings = settings_from(ctx)
    done = backup.backup(settings.database_url, file, timeout_s=settings.db_timeout_s)
    click.echo(f"backup of {db.describe(settings.database_url)} written to {done.path} "
               f"({done.bytes / 1e6:.1f} MB in {done.seconds:.1f} s)")


@db_group.command("restore")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.pass_context
def db_restore(ctx: click.Context, file: Path) -> None:
    """Replace the database's contents with FILE (from `harmmap db backup`), in one transaction."""
    settings = settings_from(ctx)
    done = backup.restore(settings.database_url, file, timeout_s=settings.db_timeout_s)
    click.echo(f"restored {done.path} into {db.describe(settings.database_url)} in {done.seconds:.1f} s")
