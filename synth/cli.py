"""``harmmap synth`` (registered through the harmmap.commands entry point)."""

from __future__ import annotations

from pathlib import Path

import click

from harmmap import db
from harmmap.cli import settings_from


@click.command("synth")
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True, help="Directory to write into.")
@click.pass_context
def synth(ctx: click.Context, seed: int, out: Path) -> None:
    """Write SYNTHETIC demo files (closures, disruptions, PAS, seizures, police.uk-format stop and search) in
    the data contracts."""
    from synth import dataset

    settings = settings_from(ctx)
    out.mkdir(parents=True, exist_ok=True)
    with db.session(settings) as conn:
        db.require_schema(conn)
        try:
            written = dataset.write_all(conn, out, seed=seed)
        except ValueError as e:
            raise click.ClickException(str(e)) from None
    for kind, path in written.items():
        click.echo(f"{kind}: {path} (SYNTHETIC)")
