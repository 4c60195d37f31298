"""``harmmap geo ...``, ``harmmap etl ...`` and ``harmmap index ...`` commands (registered through the
harmmap.commands entry point)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from etl import crosswalk, geo
from harmmap import db
from harmmap.cli import settings_from

if TYPE_CHECKING:
    from harmmap.diagnostics import Change


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



# --- harmmap etl ... ------------------------------------------------------------------------------

@click.group("etl")
def etl_group() -> None:
    """Indicator jobs: run, run-all, status, quarantine (see docs/data-contracts.md)."""


def _etl_errors() -> tuple[type[Exception], ...]:
    import psycopg

    from etl.errors import EtlError

    return (EtlError, psycopg.Error)


etl_group.user_errors = _etl_errors()  # type: ignore[attr-defined]


def _run_one(ctx: click.Context, kind: str, path: Path) -> "object":
    from etl import batch

    settings = settings_from(ctx)
    with click.progressbar(length=len(batch.STAGES), label=f"{kind} {path.name}", file=sys.stderr,
                           show_percent=False, show_pos=True,
                           item_show_func=lambda stage: stage or "") as bar:
        def stage(msg: str) -> None:
            bar.update(1, msg)
        report = batch.run(settings, kind, path, log=stage)
        bar.update(len(batch.STAGES) - bar.pos, "done")
    for line in report.lines():
        click.echo(line)
    return report


_no_index = click.option("--no-index", is_flag=True,
                         help="Do not republish the harm index afterwards (run `harmmap index publish` later).")


@etl_group.command("run")
@click.argument("kind")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_no_index
@click.pass_context
def etl_run(ctx: click.Context, kind: str, file: Path, no_index: bool) -> None:
    """Load FILE as KIND: mps_ward_crime, mps_lsoa_drug_annual, closures, disruptions, pas, seizures,
    stop_search.

    Then the harm index is republished, so maps and rankings include what was loaded."""
    report = _run_one(ctx, kind, file)
    if not no_index and getattr(report, "same_as", None) is None:
        publish_index(ctx)


@etl_group.command("run-all")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@_no_index
@click.pass_context
def etl_run_all(ctx: click.Context, directory: Path, no_index: bool) -> None:
    """Load every file in DIRECTORY whose name starts with a kind (closures_2025.csv, pas.xlsx, ...) or is
    named as its publisher names it (2016-06-metropolitan-stop-and-search.csv), then republish the harm
    index once."""
    from etl import kinds

    files = sorted(p for p in directory.iterdir() if p.is_file() and not p.name.startswith(("_", ".")))
    matched = [(kinds.kind_of_file(p), p) for p in files]
    for p in [p for k, p in matched if k is None]:
        click.echo(f"skipped {p.name}: its name does not start with a kind ({', '.join(kinds.KINDS)})", err=True)
    todo = [(k, p) for k, p in matched if k is not None]
    if not todo:
        raise click.ClickException(f"no loadable files in {directory}")
    failed = []
    for kind, path in todo:
        try:
            _run_one(ctx, kind, path)
        except etl_group.user_errors as e:  # type: ignore[attr-defined]
            click.echo(f"{kind} {path.name}: FAILED: {str(e).splitlines()[0]}", err=True)
            failed.append(path.name)
    if not no_index and len(failed) < len(todo):
        publish_index(ctx)
    if failed:
        raise click.ClickException(f"{len(failed)} of {len(todo)} file(s) failed: {', '.join(failed)} "
                                   "(the others were loaded; see harmmap etl status)")


@etl_group.command("status")
@click.option("--csv", "as_csv", is_flag=True, help="CSV instead of a table.")
@click.option("--limit", default=30, show_default=True)
@click.pass_context
def etl_status(ctx: click.Context, as_csv: bool, limit: int) -> None:
    """The most recent runs: read = loaded + quarantined, status, timings."""
    from etl.queries import query

    settings = settings_from(ctx)
    with db.session(settings) as conn:
        db.require_schema(conn)
        rows = conn.execute(query("etl_status"), {"limit": limit}).fetchall()
    _emit(rows, as_csv)


@etl_group.command("quarantine")
@click.option("--batch", "batch_id", type=int, default=None, help="Only this batch.")
@click.option("--csv", "as_csv", is_flag=True, help="CSV with the raw rows (for fixing and re-loading).")
@click.option("--limit", type=int, default=None, help="At most this many rows (default: all with --csv or --batch, else 200).")
@click.pass_context
def etl_quarantine(ctx: click.Context, batch_id: int | None, as_csv: bool, limit: int | None) -> None:
    """Rows that were not loaded, with their line number and the reason."""
    if limit is None:
        limit = 2**31 - 1 if (as_csv or batch_id is not None) else 200
    from etl.queries import query

    settings = settings_from(ctx)
    with db.session(settings) as conn:
        db.require_schema(conn)
        rows = conn.execute(query("etl_quarantine"), {"batch": batch_id, "limit": limit}).fetchall()
    _emit(rows, as_csv)


def _emit(rows: list[dict], as_csv: bool) -> None:
    import csv

    if as_csv:
        if rows:
            writer = csv.DictWriter(sys.stdout, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        return
    if not rows:
        click.echo("nothing to show")
        return
    shown = [{k: ("" if v is None else str(v))[:80] for k, v in r.items() if k != "raw"} for r in rows]
    widths = {k: max(len(k), *(len(r[k]) for r in shown)) for k in shown[0]}
    click.echo("  ".join(k.ljust(w) for k, w in widths.items()))
    for r in shown:
        click.echo("  ".join(r[k].ljust(w) for k, w in widths.items()))


# --- harmmap index ... ----------------------------------------------------------------------------

@click.group("index")
def index_group() -> None:
    """The harm index: publish it, show the worst-affected wards (by need, with the police response beside
    them), and the diagnostic view of why confidence moved in an area."""


def _index_errors() -> tuple[type[Exception], ...]:
    import psycopg

    from etl.errors import EtlError
    from harmmap.periods import PeriodError
    from harmmap.published import ReadError

    return (EtlError, PeriodError, ReadError, psycopg.Error)


index_group.user_errors = _index_errors()  # type: ignore[attr-defined]


def publish_index(ctx: click.Context) -> None:
    from etl import index

    settings = settings_from(ctx)
    report = index.publish(settings, log=lambda stage: click.echo(f"index: {stage}...", err=True))
    for line in report.lines():
        click.echo(line)


@index_group.command("publish")
@click.pass_context
def index_publish(ctx: click.Context) -> None:
    """Rebuild every period's index, ranks, hotspots, trends and targets, and swap them in atomically."""
    publish_index(ctx)


@index_group.command("show")
@click.option("--period", required=True, help="2025-03, 2025-Q1, FY2025/26 or R12-2026-03.")
@click.option("--top", "top", type=int, default=None, help="The worst N wards (ties at N included). Default 20.")
@click.option("--top-decile", is_flag=True, help="Every ward in the worst 10% instead of the worst N.")
@click.option("--threshold", type=float, default=None, help="Every ward scoring at least this (0-100) instead.")
@click.option("--borough", default=None, help="Rank within this borough (name or E09 code).")
@click.option("--response", "with_response", is_flag=True,
              help="Add each ward's police response beside its need: activity per 100 trafficking offences with "
                   "its 95% interval, compared with London, and its need x response quadrant (the order stays "
                   "by need).")
@click.option("--csv", "as_csv", is_flag=True, help="CSV instead of a table (the marking in every row).")
@click.pass_context
def index_show(ctx: click.Context, period: str, top: int | None, top_decile: bool, threshold: float | None,
               borough: str | None, with_response: bool, as_csv: bool) -> None:
    """The worst-affected wards of a period: score, rank, decile, hotspot class and why."""
    from harmmap import published
    from harmmap.published import WorstRule

    chosen = [top is not None, top_decile, threshold is not None]
    if sum(chosen) > 1:
        raise click.UsageError("choose one of --top, --top-decile and --threshold")
    mode = "top_decile" if top_decile else "threshold" if threshold is not None else "top_n"
    try:
        rule = WorstRule.of(mode, 20 if top is None else top, threshold)
    except ValueError as e:
        raise click.UsageError(str(e)) from None
    settings = settings_from(ctx)
    with db.session(settings) as conn:
        db.require_schema(conn)
        with published.opened(conn) as snap:
            chosen = snap.period(period)
            result = snap.worst(chosen, rule, borough=snap.borough(borough) if borough else None)
            response = snap.response_wards(chosen) if with_response else {}
    within = f" within {result.borough.name}" if result.borough and result.rows else ""
    rows = [{"rank": _int(r.rank), "ward": r.ward_name, "ward_code": r.ward_code, "borough": r.borough_name,
             "score": f"{r.score:.1f}", "decile": _int(r.decile),
             "london_rank": _int(r.rank_london), "hotspot": r.hotspot, "lisa": r.lisa_cluster,
             "top_indicators": r.top_indicators} for r in result.rows]
    if with_response:
        for row in rows:
            row.update(_response_columns(response.get(row["ward_code"]), as_csv))
    if as_csv:
        for row in rows:
            row["synthetic"] = "true" if result.synthetic else "false"
            row["protective_marking"] = settings.protective_marking
    if not as_csv:
        synthetic = " -- includes SYNTHETIC data" if result.synthetic else ""
        click.echo(f"{settings.protective_marking}")
        click.echo(f"Harm index {result.period.label}{within} (version {result.version}){synthetic}")
        click.echo("weights: " + ", ".join(f"{k} {v:.0%}" for k, v in result.weights.items()))
        note = published.response_note(result.weights)
        if note:
            click.echo(note)
        if with_response:
            click.echo("response: police activity per 100 trafficking offences (95% interval, against London's "
                       "rate), beside each ward and not in its rank: a diagnostic, not a target")
        if result.synthetic_indicators:
            click.echo("SYNTHETIC indicators: " + ", ".join(result.synthetic_indicators))
        if result.dropped:
            click.echo("no data for this period (weight shared out): " + ", ".join(result.dropped))
        if result.note:
            click.echo(result.note)
    _emit(rows, as_csv)


@index_group.command("diagnose")
@click.option("--area", default="london", show_default=True,
              help="london, a borough (name or E09 code, e.g. Lambeth) or a 2022 ward (E05 code).")
@click.option("--period", default=None,
              help="2025-03, 2025-Q1, FY2025/26 or R12-2026-03 (default: the latest financial year).")
@click.option("--against", type=click.Choice(["previous", "baseline"]), default="previous", show_default=True,
              help="previous: the period before, of the same length; baseline: the strategy's baseline financial "
                   "year (HARMMAP_TARGET_BASELINE; 12-month periods only).")
@click.option("--csv", "as_csv", is_flag=True,
              help="CSV of the changes (the marking in every row; the summary goes to stderr).")
@click.pass_context
def index_diagnose(ctx: click.Context, area: str, period: str | None, against: str, as_csv: bool) -> None:
    """Why did confidence move here? A diagnostic, not a target.

    For London, a borough or a ward: the change in each PAS measure (points, 95% interval, significance at
    the survey's effective sample size), beside the change in each police response and need indicator over
    the same months (exact tests) and London's need changes, with a summary of what moved together. It
    never says why. Figures are exact: this runs on the server, as `index show` does.

    \b
    harmmap index diagnose --area Lambeth
    harmmap index diagnose --area E05014095 --period FY2025/26 --against baseline --csv > brixton.csv
    """
    from harmmap import published
    from harmmap.diagnostics import ALPHA

    settings = settings_from(ctx)
    with db.session(settings) as conn:
        db.require_schema(conn)
        with published.opened(conn) as snap:
            chosen = snap.period(period)
            d = snap.diagnostic(chosen, snap.area(area), against)
    marking = settings.protective_marking
    window = f"{d.period.label} against {d.against_period or 'nothing published'} ({against})"
    if as_csv:
        import csv

        click.echo(f"{marking}: {d.summary}", err=True)
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(["scope", "area_level", "area_code", "area_name", "period", "against", "against_period",
                         "family", "indicator", "label", "kind", "before", "after", "change", "lo", "hi", "p",
                         "significant", "respondents_before", "respondents_after", "synthetic",
                         "protective_marking"])
        scoped = [("area", c) for c in d.changes]
        if d.area.level != "london":
            scoped += [("london", c) for c in d.london.values() if c.family == "need"]
        for scope, c in scoped:
            writer.writerow([scope, d.area.level, d.area.code, d.area.name, d.period.label, against,
                             d.against_period or "", c.family, c.indicator, c.label, c.kind, _raw(c.before),
                             _raw(c.after), _raw(c.change), _raw(c.lo), _raw(c.hi), _raw(c.p),
                             ("true" if c.significant else "false") if c.tested else "",
                             _whole(c.respondents_before), _whole(c.respondents_after),
                             "true" if d.period.synthetic else "false", marking])
        return
    import textwrap

    synthetic = " -- includes SYNTHETIC data" if d.period.synthetic else ""
    click.echo(marking)
    click.echo(f"Diagnostic, not a target: {d.area.name}, {window} (index version {d.period.version}){synthetic}")
    click.echo(f"PAS intervals and tests use the effective sample size: respondents / design effect "
               f"{d.design_effect:g}; significant means p < {ALPHA:g}.")
    click.echo("")
    click.echo(textwrap.fill(d.summary, width=100))
    click.echo("")
    rows = [_change_row(c) for c in d.changes]
    if d.area.level != "london" and d.changes:
        rows += [_change_row(c, "London: ") for c in d.london.values() if c.family == "need"]
    _emit(rows, False)
    click.echo(marking)


def _change_row(c: Change, prefix: str = "") -> dict[str, str]:
    """One change as a table row: PAS in % and points, counts as totals and a relative change, pounds untested."""
    from harmmap.indicators import FAMILY_LABELS

    if c.kind == "survey":
        fig = lambda x: "" if x is None else f"{x:.1f}%"  # noqa: E731
        chg = lambda x: "" if x is None else f"{x:+.1f} pts"  # noqa: E731
    elif c.kind == "value":
        fig = lambda x: "" if x is None else f"£{x:,.0f}"  # noqa: E731
        chg = lambda x: "" if x is None else f"{x:+.0%}"  # noqa: E731
    else:
        fig = lambda x: "" if x is None else f"{x:,.0f}"  # noqa: E731
        chg = lambda x: "" if x is None else f"{x:+.0%}"  # noqa: E731
    if c.kind == "count" and not c.before and not c.after:
        interval, verdict = "none either year", "no"
    elif c.tested:
        interval, verdict = f"{chg(c.lo) or '..'} to {chg(c.hi) or '..'}", "yes" if c.significant else "no"
    else:
        interval, verdict = "not tested", "not tested"
    respondents = ""
    if c.kind == "survey" and c.respondents_before and c.respondents_after:
        respondents = f"{c.respondents_before:,.0f} / {c.respondents_after:,.0f}"
    change = chg(c.change) or ("new" if not c.before and (c.after or 0) > 0 else "")
    return {"family": FAMILY_LABELS.get(c.family, c.family).split(" (")[0].lower(),
            "indicator": prefix + c.label, "before": fig(c.before), "after": fig(c.after), "change": change,
            "interval_95": interval, "p": "" if c.p is None else ("<0.001" if c.p < 0.001 else f"{c.p:.3f}"),
            "significant": verdict, "respondents": respondents}


def _whole(value: float | None) -> str:
    return "" if value is None else f"{value:.0f}"


def _raw(value: object) -> str:
    """A figure in full for CSV; blank for none."""
    if value is None:
        return ""
    x = float(value)  # type: ignore[arg-type]
    return "" if x != x else repr(x)


def _response_columns(r: dict | None, as_csv: bool) -> dict[str, str]:
    """A ward's police response against need, as index show's extra columns (blank when not computed)."""
    if r is None:
        r = {}
    per_100, lo, hi = r.get("per_100"), r.get("per_100_lo"), r.get("per_100_hi")
    if as_csv:
        return {"response_per_100": _num(per_100, 4), "response_per_100_lo": _num(lo, 4),
                "response_per_100_hi": _num(hi, 4), "vs_london": r.get("vs_london") or "",
                "need_level": r.get("need_level") or "", "quadrant": r.get("quadrant") or ""}
    interval = f"{_num(lo, 1) or '?'}-{_num(hi, 1) or '?'}" if lo is not None or hi is not None else ""
    return {"per_100": _num(per_100, 1), "interval_95": interval, "vs_london": r.get("vs_london") or "",
            "quadrant": r.get("quadrant") or ""}


def _num(value: object, places: int) -> str:
    """A figure with ``places`` decimals; blank for none (NULL or NaN)."""
    try:
        x = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return ""
    return "" if x != x else f"{x:.{places}f}"


def _int(value: object) -> str:
    try:
        return str(int(value))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return ""
