"""Printable A4 briefing PDFs for Safer Neighbourhood Teams: one ward, or a borough (an overview page, the
diagnostic page "why did confidence move here?", then one page per ward in rank order).

Usable without Flask: ``web/brief.py`` serves these PDFs and ``harmmap brief`` (``cli.py`` here, a
plug-in) writes a borough's files in parallel. Everything is read from the published index in one
snapshot (harmmap/published.py, the read model the map and the API use); a batch's worker processes share
the parent's snapshot (``pg_export_snapshot``), so every page of a run comes from the same publish. Page design, greyscale
and the scale bar: docs/briefing.md.
"""

from __future__ import annotations

import io
import multiprocessing
import multiprocessing.util
import os
import re
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from reportlab.pdfgen.canvas import Canvas

from harmmap import db, published
from harmmap.briefing import data, layout, pages
from harmmap.briefing.data import BriefingError, Context, UnknownWard, load_context
from harmmap.config import Settings
from harmmap.disclosure import Disclosure
from harmmap.published import Snapshot

__all__ = ["BriefingError", "UnknownWard", "Context", "load_context", "open_context",
           "ward_pdf", "borough_pdf", "write_borough", "BatchResult"]

LONDON_TIME = ZoneInfo("Europe/London")


def now() -> datetime:
    return datetime.now(LONDON_TIME)


def open_context(snap: Snapshot, settings: Settings, period: str | None, *,
                 disclosure: Disclosure | None = None) -> Context:
    """What every page of a run shares, read from ``snap``. Without ``disclosure`` the pages are for their
    readers, sergeants (``settings.disclosure_for("sergeant")``: suppressed by default)."""
    return load_context(snap, marking=settings.protective_marking, period=period, produced_at=now(),
                        disclosure=disclosure or settings.disclosure_for("sergeant"))


def _canvas(buffer: io.BytesIO | str, ctx: Context, title: str) -> Canvas:
    layout.register_fonts()
    c = Canvas(buffer, pagesize=layout.page_size("portrait"), initialFontName=layout.FONT, pageCompression=1)
    c.setTitle(title)
    c.setAuthor("HarmMap")
    c.setSubject(f"{ctx.marking} - harm index {ctx.label}, version {ctx.version}"
                 + (" - includes SYNTHETIC data" if ctx.synthetic else ""))
    c.setCreator("HarmMap briefing (reportlab)")
    return c


def _fetch(snap: Snapshot, ctx: Context) -> pages.Fetch:
    """What a map frame shows: its wards, and the outlines of their boroughs."""
    def fetch(frame: tuple[float, float, float, float], tolerance_m: float):
        wards = data.map_wards(snap.conn, ctx, frame, tolerance_m)
        return wards, data.borough_outlines(snap.conn, ctx, {w.borough_code for w in wards})
    return fetch


def _ward_bbox(snap: Snapshot, code: str) -> tuple[float, float, float, float]:
    bbox = data.extent(snap.conn, ward=code)
    if bbox is None:
        raise UnknownWard(f"{code[:20]!r} is not a 2022 London ward code (E05...)")
    return bbox


def draw_ward(c: Canvas, snap: Snapshot, ctx: Context, ward_code: str, *, page: int = 1,
              pages_total: int = 1) -> layout.MapView:
    summary = data.ward_summary(snap, ctx, ward_code)
    bbox = _ward_bbox(snap, summary["ward_code"])
    return pages.ward_page(c, ctx, summary, data.targets(snap.conn, ctx, summary["borough_code"]), bbox,
                           _fetch(snap, ctx), page=page, pages=pages_total)


def ward_pdf(snap: Snapshot, ctx: Context, ward_code: str) -> bytes:
    """One ward's briefing page as PDF bytes (UnknownWard for a code that is not a 2022 ward)."""
    buffer = io.BytesIO()
    summary = data.ward_summary(snap, ctx, ward_code)
    c = _canvas(buffer, ctx, f"{summary['ward_name']} - {ctx.label} briefing")
    draw_ward(c, snap, ctx, summary["ward_code"])
    c.save()
    return buffer.getvalue()


@dataclass
class BoroughPlan:
    code: str
    name: str
    rows: list[dict]            # ranked wards, worst first (published.WorstWard as dicts)
    unranked: list[str]         # ward codes with no rank (the City of London)


def plan_borough(snap: Snapshot, ctx: Context, borough: str) -> BoroughPlan:
    where = snap.borough(borough)
    rows = [asdict(r) for r in data.borough_wards(snap, ctx, where).rows]
    unranked = [] if rows else [r["ward_code"] for r in snap.conn.execute(db.query("brief_borough_wards"),
                                                                           {"borough": where.code})]
    return BoroughPlan(where.code, where.name, rows, unranked)


def draw_overview(c: Canvas, snap: Snapshot, ctx: Context, plan: BoroughPlan, *, page: int = 1,
                  pages_total: int = 1) -> layout.MapView:
    bbox = data.extent(snap.conn, borough=plan.code)
    if bbox is None:
        raise BriefingError(f"borough {plan.code} has no 2022 wards loaded")
    return pages.borough_page(c, ctx, (plan.code, plan.name), plan.rows, data.targets(snap.conn, ctx, plan.code),
                              bbox, _fetch(snap, ctx), page=page, pages=pages_total,
                              london_targets=data.targets(snap.conn, ctx, "london", level="london"))


def draw_diagnostic(c: Canvas, snap: Snapshot, ctx: Context, plan: BoroughPlan, *, page: int = 1,
                    pages_total: int = 1) -> None:
    """The borough's "why did confidence move?" page (the read model's diagnostic, both windows)."""
    diag = data.borough_diagnostic(snap, ctx, published.Borough(plan.code, plan.name))
    pages.diagnostic_page(c, ctx, diag, page=page, pages=pages_total)


def ward_order(plan: BoroughPlan) -> list[str]:
    """The ward pages of a borough: ranked wards worst first, then any unranked ones."""
    return [r["ward_code"] for r in plan.rows] + plan.unranked


#: Pages of a borough's pack before its ward pages: the overview, then the diagnostic page.
FRONT_PAGES = 2


def borough_pdf(snap: Snapshot, ctx: Context, borough: str) -> bytes:
    """A borough's overview page, its diagnostic page, then one page per ward in rank order, as one PDF."""
    plan = plan_borough(snap, ctx, borough)
    order = ward_order(plan)
    total = FRONT_PAGES + len(order)
    buffer = io.BytesIO()
    c = _canvas(buffer, ctx, f"{plan.name} - {ctx.label} briefing")
    draw_overview(c, snap, ctx, plan, page=1, pages_total=total)
    draw_diagnostic(c, snap, ctx, plan, page=2, pages_total=total)
    for i, code in enumerate(order, start=FRONT_PAGES + 1):
        draw_ward(c, snap, ctx, code, page=i, pages_total=total)
    c.save()
    return buffer.getvalue()


# --- a borough in parallel (harmmap brief) ------------------------------------------------------

def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


@dataclass
class BatchResult:
    borough_code: str
    borough_name: str
    period: str
    version: int
    synthetic: bool
    files: list[Path] = field(default_factory=list)
    workers: int = 1
    seconds: float = 0.0


_worker: dict = {}


def _worker_start(url: str, snapshot_id: str, ctx: Context) -> None:
    conn = db.connect(url)
    _worker.update(snap=published.begin(conn, snapshot_id), ctx=ctx)
    # close it when the pool stops the worker (multiprocessing runs these before the process exits)
    multiprocessing.util.Finalize(None, conn.close, exitpriority=10)


def _worker_page(kind: str, code: str, path: str, plan: BoroughPlan | None) -> str:
    snap, ctx = _worker["snap"], _worker["ctx"]
    c = _canvas(path, ctx, f"{code} - {ctx.label} briefing")
    if kind == "overview":
        assert plan is not None
        draw_overview(c, snap, ctx, plan)
    elif kind == "diagnostic":
        assert plan is not None
        draw_diagnostic(c, snap, ctx, plan)
    else:
        draw_ward(c, snap, ctx, code)
    c.save()
    return path


def write_borough(settings: Settings, borough: str, period: str | None, out_dir: Path, *,
                  workers: int | None = None,
                  progress: Callable[[int, int, str], None] = lambda done, total, name: None,
                  disclosure: Disclosure | None = None) -> BatchResult:
    """Write a borough's overview, its diagnostic page and one PDF per ward into ``out_dir``, ``workers``
    processes at a time (default: every core). Each worker has its own connection on the parent's exported
    snapshot. The files sort in the pack's order: ``_00_overview``, ``_00b_diagnostic``, then ``_NN_`` by rank."""
    started = time.perf_counter()
    workers = max(1, workers or os.cpu_count() or 1)
    out_dir.mkdir(parents=True, exist_ok=True)
    with db.connect(settings.database_url, timeout_s=settings.db_timeout_s) as conn:
        snap = published.begin(conn)
        ctx = open_context(snap, settings, period, disclosure=disclosure)
        snapshot_id = conn.execute(db.query("export_snapshot")).fetchone()["id"]
        plan = plan_borough(snap, ctx, borough)
        stem = f"{slug(plan.name)}_{ctx.label.replace('/', '-')}"
        names = {r["ward_code"]: r["ward_name"] for r in plan.rows}
        jobs: list[tuple[str, str, str, BoroughPlan | None]] = [
            ("overview", plan.code, str(out_dir / f"{stem}_00_overview.pdf"), plan),
            ("diagnostic", plan.code, str(out_dir / f"{stem}_00b_diagnostic.pdf"), plan)]
        for i, code in enumerate(ward_order(plan), start=1):
            jobs.append(("ward", code, str(out_dir / f"{stem}_{i:02d}_{code}_{slug(names.get(code, code))}.pdf"), None))
        result = BatchResult(plan.code, plan.name, ctx.label, ctx.version, ctx.synthetic, workers=workers)
        # fork: the workers start at once with everything imported; the parent's connection stays open
        # (its transaction holds the exported snapshot) and is never used by a child.
        method = "fork" if "fork" in multiprocessing.get_all_start_methods() else None
        with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context(method),
                                 initializer=_worker_start,
                                 initargs=(settings.database_url, snapshot_id, ctx)) as pool:
            futures = [pool.submit(_worker_page, *job) for job in jobs]
            for future in as_completed(futures):
                path = Path(future.result())
                result.files.append(path)
                progress(len(result.files), len(jobs), path.name)
    result.files.sort()
    result.seconds = time.perf_counter() - started
    return result
