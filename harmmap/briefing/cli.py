"""``harmmap brief`` (registered through the harmmap.commands entry point): a borough's briefing PDFs,
written in parallel on every core, or one ward's."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from harmmap import periods, published


@click.command("brief")
@click.option("--borough", help="Borough name or E09 code: its overview and one PDF per ward.")
@click.option("--ward", "ward_code", help="One ward (E05 code of the 2022 set) instead of a borough.")
@click.option("--period", help="Published period, e.g. FY2025/26 (default: the period the map opens on).")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Directory for the PDFs (made if missing).")
@click.option("--workers", type=click.IntRange(min=1), help="Processes (default: every core).")
@click.option("--exact", is_flag=True,
              help="Exact small counts (as an analyst sees them) instead of \"fewer than 5\" (as sergeants do).")
def brief(borough: str | None, ward_code: str | None, period: str | None, out_dir: Path,
          workers: int | None, exact: bool) -> None:
    """Printable A4 briefing PDFs for Safer Neighbourhood Teams.

    The PDFs are for sergeants, so small counts read "fewer than 5" as they do on /brief
    (HARMMAP_DISCLOSURE_*); --exact is for whoever runs this on the server, who can read the database anyway.
    """
    from harmmap import briefing, db
    from harmmap.config import Settings

    if bool(borough) == bool(ward_code):
        raise click.UsageError("give either --borough or --ward")
    settings = Settings.from_env()
    disclosure = settings.disclosure_for("admin" if exact else "sergeant")
    if ward_code:
        out_dir.mkdir(parents=True, exist_ok=True)
        with db.connect(settings.database_url, timeout_s=settings.db_timeout_s) as conn:
            snap = published.begin(conn)
            ctx = briefing.open_context(snap, settings, period, disclosure=disclosure)
            pdf = briefing.ward_pdf(snap, ctx, ward_code)
        path = out_dir / f"{ward_code.strip().upper()}_{ctx.label.replace('/', '-')}.pdf"
        path.write_bytes(pdf)
        click.echo(f"{settings.protective_marking}: {path}")
        _synthetic_note(ctx.synthetic)
        return
    bar: list = []

    def progress(done: int, total: int, name: str) -> None:
        if not bar:
            bar.append(click.progressbar(length=total, label=f"brief {borough}", file=sys.stderr,
                                         show_pos=True, show_percent=False, item_show_func=lambda s: s or ""))
            bar[0].__enter__()
        bar[0].update(1, name)

    try:
        result = briefing.write_borough(settings, borough or "", period, out_dir, workers=workers, progress=progress,
                                        disclosure=disclosure)
    finally:
        if bar:
            bar[0].__exit__(None, None, None)
    click.echo(f"{settings.protective_marking}: {len(result.files)} PDFs for {result.borough_name}, "
               f"{result.period} (index version {result.version}) in {out_dir} "
               f"({result.seconds:.1f} s, {result.workers} worker{'s' if result.workers > 1 else ''})")
    for path in result.files:
        click.echo(f"  {path.name}")
    _synthetic_note(result.synthetic)


def _synthetic_note(synthetic: bool) -> None:
    if synthetic:
        click.echo("note: this period includes SYNTHETIC data; every page says so.")


def _user_errors() -> tuple[type[Exception], ...]:
    return (published.ReadError, periods.PeriodError)


brief.user_errors = _user_errors()  # type: ignore[attr-defined]
