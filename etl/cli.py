"""``harmmap geo ...`` commands (registered through the harmmap.commands entry point)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from etl import crosswalk, geo
from harmmap import db
from harmmap.cli import settings_from


@click.group("geo")
def geo_group() -> None:
    """Reference geography: wards, boroughs, population, crosswalks."""


geo_group.user_errors = (geo.GeoLoadError, crosswalk.CrosswalkError)  # type: ignore[attr-defined]


@geo_group.command("load")
@click.option("--force", is_flag=True, help="Reload even if the files have not changed.")
@click.pass_context
def load(ctx: click.Context, force: bool) -> None:
    """Load geodata/ (per geodata/manifest.toml) into PostGIS in one transaction."""
    settings = settings_from(ctx)
    with db.session(settings) as conn:
        report = geo.load(conn, settings.geodata_dir, force=force,
                          progress=lambda msg: click.echo(f"geo load: {msg}...", err=True))
    for line in report.lines():
        click.echo(line)


@geo_group.command("crosswalk")
@click.option("--from", "from_vintage", type=int, required=True, help="Vintage of the file's ward codes.")
@click.option("--to", "to_vintage", type=int, required=True, help="Vintage to convert to.")
@click.option("--weights", type=click.Choice(["population", "area"]), default="population", show_default=True)
@click.option("--code-column", default=None, help="Column holding ward codes (default: found by its E05 codes).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Output CSV (default stdout).")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_context
def crosswalk_cmd(ctx: click.Context, from_vintage: int, to_vintage: int, weights: str,
                  code_column: str | None, out: Path | None, file: Path) -> None:
    """Carry a ward-coded count file (CSV) from one ward vintage to another."""
    settings = settings_from(ctx)
    with db.session(settings) as conn:
        db.require_schema(conn)
        result = crosswalk.convert_file(conn, file, from_vintage, to_vintage, weights=weights, code_column=code_column)
    if out:
        try:
            result.frame.to_csv(out, index=False)
        except OSError as e:
            raise crosswalk.CrosswalkError(f"cannot write {out}: {e.strerror or e}") from None
    else:
        result.frame.to_csv(sys.stdout, index=False)
    click.echo(result.summary, err=True)

