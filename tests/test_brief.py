"""SNT briefing PDFs: /brief/ward/<code>.pdf, /brief/borough/<code>.pdf and ``harmmap brief``, against the
session's demo index. Every PDF is opened with a PDF library (pdfplumber) and rendered with poppler's
pdftoppm; nothing is checked by matching strings in the PDF's bytes."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from dataclasses import replace

import numpy as np
import pdfplumber
import pytest
from click.testing import CliRunner
from pdfminer.pdftypes import resolve1

from harmmap import briefing, db, published
from harmmap.briefing import layout
from harmmap.cli import main
from web import ATTRIBUTION

pytestmark = pytest.mark.db

A4_PT = (595.2756, 841.8898)
CITY_WARD = "E05009288"        # Aldersgate, City of London: not policed by the MPS, no score
LAMBETH = "E09000022"


def query(settings, sql: str, params=None) -> list[dict]:
    with db.connect(settings.database_url) as c:
        return c.execute(sql, params).fetchall()


def default_period(settings) -> str:
    version = query(settings, "SELECT version FROM harm.current")[0]["version"]
    return query(settings, db.query("map_default_period"), {"version": version})[0]["period"]


def get_pdf(client, url: str) -> pdfplumber.PDF:
    resp = client.get(url)
    assert resp.status_code == 200, (url, resp.status_code, resp.get_data(as_text=True)[:300])
    assert resp.mimetype == "application/pdf"
    assert resp.headers["X-Protective-Marking"] == "OFFICIAL-SENSITIVE"
    assert "no-store" in resp.headers["Cache-Control"]
    return pdfplumber.open(io.BytesIO(resp.data))


def flat(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def assert_a4(page) -> None:
    size = sorted((float(page.width), float(page.height)))
    assert size == pytest.approx(sorted(A4_PT), abs=0.5), size


def assert_marked(page, marking: str = "OFFICIAL-SENSITIVE") -> None:
    """The marking is printed at the top and at the bottom of the page."""
    hits = [w for w in page.extract_words() if w["text"] == marking]
    assert any(w["top"] < 60 for w in hits), ("no marking at the top", hits)
    assert any(w["bottom"] > float(page.height) - 60 for w in hits), ("no marking at the bottom", hits)


def assert_fonts_embedded(pdf: pdfplumber.PDF) -> None:
    """Every font object in the file has its font program inside (so it prints the same anywhere)."""
    fonts = []
    for xref in pdf.doc.xrefs:
        for objid in xref.get_objids():
            obj = resolve1(pdf.doc.getobj(objid))
            if isinstance(obj, dict) and obj.get("Type") is not None and obj["Type"].name == "Font":
                fonts.append(obj)
    assert fonts
    for font in fonts:
        if "DescendantFonts" in font:  # a composite font: its descendant carries the descriptor
            continue
        descriptor = resolve1(font.get("FontDescriptor"))
        assert descriptor is not None, font.get("BaseFont")
        assert {"FontFile", "FontFile2", "FontFile3"} & set(descriptor), font.get("BaseFont")


def worst_ward(settings, period: str) -> dict:
    return query(settings, """SELECT i.ward_code, w.ward_name, w.borough_code, w.borough_name
                              FROM harm.current_ward_index i JOIN geo.ward w ON w.vintage = 2022 AND w.ward_code = i.ward_code
                              WHERE i.period = %s ORDER BY i.rank_london LIMIT 1""", (period,))[0]


# --- one ward --------------------------------------------------------------------------------------

def test_ward_pdf_is_one_marked_a4_page_with_title_figures_and_attribution(demo_index, sergeant, settings):
    period = default_period(settings)
    ward = worst_ward(settings, period)
    pdf = get_pdf(sergeant, f"/brief/ward/{ward['ward_code']}.pdf")
    assert len(pdf.pages) == 1
    page = pdf.pages[0]
    assert_a4(page)
    assert_marked(page)
    assert_fonts_embedded(pdf)
    text = flat(page.extract_text())
    assert text.startswith("OFFICIAL-SENSITIVE") and text.endswith("OFFICIAL-SENSITIVE")
    assert ward["ward_name"] in text and ward["borough_name"] in text and period in text
    assert flat(ATTRIBUTION) in text
    assert "approximate at street scale" in text
    assert "SYNTHETIC DATA" in text  # the demo index includes synthetic indicators
    assert "Why it ranks #1 of" in text
    # the publish it came from, and the figures as the index has them
    version = query(settings, "SELECT version FROM harm.current")[0]["version"]
    assert f"Harm index version {version}" in text
    figures = query(settings, """SELECT value, rate_per_1000 FROM harm.current_ward_indicator
                                 WHERE period = %s AND ward_code = %s AND indicator = 'drug_trafficking'""",
                    (period, ward["ward_code"]))[0]
    assert f"{figures['value']:,.0f} · {figures['rate_per_1000']:.2f} per 1,000" in text
    assert ("significant rise" in text) == any(
        r["prev_trend"] == "up" for r in query(settings, """SELECT prev_trend FROM harm.current_ward_indicator
                                                          WHERE period = %s AND ward_code = %s""",
                                              (period, ward["ward_code"])))
    targets = query(settings, "SELECT count(*) AS n FROM harm.current_target WHERE level = 'borough' AND area_code = %s",
                    (ward["borough_code"],))[0]["n"]
    assert targets > 0 and f"{ward['borough_name']} targets" in text
    for legend in ("Worst 10% of London wards", "Least harm 30%", "Borough boundary", "grid north", "London"):
        assert legend in text


def test_period_parameter_picks_the_period_and_its_comparison(demo_index, sergeant, settings):
    ward = worst_ward(settings, default_period(settings))
    text = flat(get_pdf(sergeant, f"/brief/ward/{ward['ward_code']}.pdf?period=FY2024/25").pages[0].extract_text())
    assert "FY2024/25 (April 2024 to March 2025)" in text
    assert "Change on FY2023/24" in text


def test_city_of_london_ward_is_printed_unscored_with_the_reason(demo_index, sergeant):
    text = flat(get_pdf(sergeant, f"/brief/ward/{CITY_WARD}.pdf").pages[0].extract_text())
    assert "Aldersgate" in text and "City of London Police" in text
    assert "Why it ranks" not in text


def test_page_renders_with_ink_on_the_map_and_the_tables(demo_index, sergeant, settings, tmp_path):
    """pdftoppm draws the page; the map frame and the lower half both carry ink, and the map is mostly
    not white (its wards are filled)."""
    ward = worst_ward(settings, default_period(settings))
    resp = sergeant.get(f"/brief/ward/{ward['ward_code']}.pdf")
    (tmp_path / "w.pdf").write_bytes(resp.data)
    subprocess.run([shutil.which("pdftoppm") or "pdftoppm", "-r", "40", "-gray", str(tmp_path / "w.pdf"),
                    str(tmp_path / "w")], check=True)
    grey = read_pgm(next(tmp_path.glob("w*.pgm")))
    h, w = grey.shape
    assert (grey < 128).mean() > 0.03                       # plenty of dark ink on the page
    map_band = grey[int(h * 0.2):int(h * 0.45), int(w * 0.1):int(w * 0.9)]
    assert (map_band < 245).mean() > 0.5, "the map area is blank"
    assert (grey[int(h * 0.55):int(h * 0.9)] < 128).mean() > 0.01, "the tables are blank"


def read_pgm(path) -> np.ndarray:
    """A binary PGM (P5) as a 2-D array: what pdftoppm -gray writes."""
    data = path.read_bytes()
    header = data.split(maxsplit=4)
    assert header[0] == b"P5"
    w, h, maxval = int(header[1]), int(header[2]), int(header[3])
    assert maxval < 256
    return np.frombuffer(header[4][: w * h], dtype=np.uint8).reshape(h, w)


def scale_bar(page) -> float:
    """Points per metre of the page's scale bar (its drawn length over its label), checked against the
    stated 1:N."""
    bar = [r for r in page.rects if abs(r["height"] - 3.2) < 0.05]
    assert len(bar) == 4, bar
    x0, x1 = min(r["x0"] for r in bar), max(r["x1"] for r in bar)
    top = min(r["top"] for r in bar)
    label = page.crop((x0 - 5, top - 12, x1 + 25, top)).extract_text().split()
    amount, unit = float(label[-2]), label[-1]
    bar_pt_per_m = (x1 - x0) / (amount * (1000 if unit == "km" else 1))
    stated = re.search(r"Scale 1:([\d,]+)", page.crop((x0 - 5, top, x1 + 140, top + 14)).extract_text())
    assert bar_pt_per_m == pytest.approx(72 / 0.0254 / int(stated.group(1).replace(",", "")), rel=1e-3)
    return bar_pt_per_m


def drawn_extent(page, width: float) -> tuple[float, float]:
    """Width and height (points) of the longest path drawn with this line width."""
    path = max((c for c in page.curves if abs(c.get("linewidth", 0) - width) < 0.01), key=lambda c: len(c["pts"]))
    return path["x1"] - path["x0"], path["bottom"] - path["top"]


def test_scale_bar_is_true_to_the_map(demo_index, sergeant, settings):
    """The bar's drawn length over its label equals the map's scale, measured two independent ways: the
    stated 1:N, and the ward's outline on the page against its extent in PostGIS (metres)."""
    ward = worst_ward(settings, default_period(settings))
    page = get_pdf(sergeant, f"/brief/ward/{ward['ward_code']}.pdf").pages[0]
    k = scale_bar(page)
    extent = query(settings, """SELECT ST_XMax(geom) - ST_XMin(geom) AS w, ST_YMax(geom) - ST_YMin(geom) AS h
                                FROM geo.ward WHERE vintage = 2022 AND ward_code = %s""", (ward["ward_code"],))[0]
    drawn_w, drawn_h = drawn_extent(page, layout.FOCUS_WARD_LINE)
    assert drawn_w / extent["w"] == pytest.approx(k, rel=0.01)
    assert drawn_h / extent["h"] == pytest.approx(k, rel=0.01)


def test_overview_scale_bar_and_borough_line_lie_on_its_wards(demo_index, sergeant, settings):
    """On the borough overview the borough's boundary is the outline of its wards: its drawn size over the
    wards' extent in metres is the scale bar's."""
    page = get_pdf(sergeant, f"/brief/borough/{LAMBETH}.pdf").pages[0]
    k = scale_bar(page)
    extent = query(settings, """SELECT ST_XMax(e) - ST_XMin(e) AS w, ST_YMax(e) - ST_YMin(e) AS h
                                FROM (SELECT ST_Extent(geom)::geometry AS e FROM geo.ward
                                      WHERE vintage = 2022 AND borough_code = %s) x""", (LAMBETH,))[0]
    drawn_w, drawn_h = drawn_extent(page, layout.FOCUS_BOROUGH_LINE)
    assert drawn_w / extent["w"] == pytest.approx(k, rel=0.01)
    assert drawn_h / extent["h"] == pytest.approx(k, rel=0.01)


def test_marking_is_configurable(demo_index, settings):
    marked = replace(settings, protective_marking="OFFICIAL")
    ward = worst_ward(settings, default_period(settings))
    with db.connect(settings.database_url) as conn, published.opened(conn) as snap:
        ctx = briefing.open_context(snap, marked, None)
        body = briefing.ward_pdf(snap, ctx, ward["ward_code"])
    page = pdfplumber.open(io.BytesIO(body)).pages[0]
    assert_marked(page, "OFFICIAL")
    assert "OFFICIAL-SENSITIVE" not in page.extract_text()


# --- a borough -------------------------------------------------------------------------------------

def test_borough_pdf_is_an_overview_then_every_ward_in_rank_order(demo_index, sergeant, settings):
    period = default_period(settings)
    ranked = query(settings, """SELECT w.ward_name FROM harm.current_ward_index i
                                JOIN geo.ward w ON w.vintage = 2022 AND w.ward_code = i.ward_code
                                WHERE i.period = %s AND i.borough_code = %s AND i.rank_borough IS NOT NULL
                                ORDER BY i.score DESC, i.ward_code""", (period, LAMBETH))
    pdf = get_pdf(sergeant, f"/brief/borough/{LAMBETH}.pdf")
    assert len(pdf.pages) == 2 + len(ranked)      # the overview, the diagnostic page, then every ward
    assert_fonts_embedded(pdf)
    for i, page in enumerate(pdf.pages):
        assert_a4(page)
        assert_marked(page)
        text = flat(page.extract_text())
        assert flat(ATTRIBUTION) in text and "SYNTHETIC DATA" in text
        assert f"Page {i + 1} of {len(pdf.pages)}" in text
        if i == 0:
            assert "Lambeth: borough overview" in text
            # the overview's table lists every ward, worst first: its "Ward" column, read top to bottom
            words = page.extract_words()
            head = next(w for w in words if w["text"] == "Ward")
            score = next(w for w in words if w["text"] == "Score" and abs(w["top"] - head["top"]) < 2)
            column = page.crop((head["x0"] - 1, head["bottom"] + 1, score["x0"] - 1, float(page.height) - 40))
            listed = flat(column.extract_text())
            assert listed.startswith(" ".join(r["ward_name"] for r in ranked)), listed
        elif i == 1:
            assert "Why did confidence move in Lambeth?" in text
        else:
            assert ranked[i - 2]["ward_name"] in text and "Why it ranks" in text
            assert f"(#{i - 1} of {len(ranked)} in Lambeth" in text


def test_borough_accepts_a_name(demo_index, sergeant):
    pdf = get_pdf(sergeant, "/brief/borough/lambeth.pdf")
    assert "Lambeth: borough overview" in flat(pdf.pages[0].extract_text())


@pytest.mark.parametrize(("url", "status", "words"), [
    ("/brief/ward/E05999999.pdf", 404, "not a 2022 London ward"),
    ("/brief/ward/not-a-ward.pdf", 404, "not a ward code"),
    ("/brief/borough/Atlantis.pdf", 404, "not a London borough"),
    ("/brief/ward/E05009288.pdf?period=FY1999/00", 400, "published periods of that kind"),
    ("/brief/borough/E09000022.pdf?period=soon", 400, "is not a period"),
])
def test_bad_requests_are_problem_json(demo_index, sergeant, url, status, words):
    resp = sergeant.get(url)
    assert resp.status_code == status
    assert resp.mimetype == "application/problem+json"
    body = resp.get_json()
    assert body["status"] == status and words in body["detail"]


def test_old_ward_link_redirects_to_the_pdf(demo_index, sergeant):
    resp = sergeant.get("/brief/ward/E05009288?period=FY2025/26")
    assert resp.status_code == 308
    assert resp.headers["Location"].endswith("/brief/ward/E05009288.pdf?period=FY2025/26")


# --- the command line ------------------------------------------------------------------------------

def test_cli_writes_the_overview_and_one_pdf_per_ward_in_parallel(demo_index, settings, tmp_path):
    period = default_period(settings)
    n = query(settings, """SELECT count(*) AS n FROM harm.current_ward_index
                           WHERE period = %s AND borough_code = %s AND rank_borough IS NOT NULL""",
              (period, LAMBETH))[0]["n"]
    result = CliRunner().invoke(main, ["brief", "--borough", "Lambeth", "--period", period, "--out", str(tmp_path),
                                       "--workers", "2"], env={"HARMMAP_DATABASE_URL": settings.database_url})
    assert result.exit_code == 0, result.output
    files = sorted(tmp_path.glob("*.pdf"))
    assert len(files) == 2 + n                  # the overview, the diagnostic page, one per ward
    assert files[0].name == f"lambeth_{period.replace('/', '-')}_00_overview.pdf"
    assert files[1].name == f"lambeth_{period.replace('/', '-')}_00b_diagnostic.pdf"
    assert "2 workers" in result.output and "SYNTHETIC" in result.output
    for path in files:
        with pdfplumber.open(path) as pdf:
            assert len(pdf.pages) == 1
            assert_marked(pdf.pages[0])
            assert_a4(pdf.pages[0])


def test_cli_unknown_borough_is_one_line_and_exit_2(demo_index, settings, tmp_path):
    result = CliRunner().invoke(main, ["brief", "--borough", "Atlantis", "--out", str(tmp_path)],
                                env={"HARMMAP_DATABASE_URL": settings.database_url})
    assert result.exit_code == 2
    assert "not a London borough" in result.output
    assert not list(tmp_path.glob("*.pdf"))


# --- greyscale -------------------------------------------------------------------------------------

def test_classes_stay_in_order_and_apart_in_greyscale():
    """Worst class darkest; each class at least 35 grey levels (of 255) from the next; the two worst hatched."""
    levels = layout.grey_levels()
    assert levels == sorted(levels)
    assert min(np.diff(levels)) >= 35
    assert set(layout.HATCH) == {0, 1}


def test_synthetic_label_only_when_the_period_uses_synthetic_data(demo_index, settings):
    """The demo period is synthetic and says so; the same page for a period that were not has no label."""
    ward = worst_ward(settings, default_period(settings))
    with db.connect(settings.database_url) as conn, published.opened(conn) as snap:
        ctx = briefing.open_context(snap, settings, None)
        assert ctx.synthetic
        labelled = flat(pdfplumber.open(io.BytesIO(briefing.ward_pdf(snap, ctx, ward["ward_code"]))).pages[0].extract_text())
        real = replace(ctx, period=replace(ctx.period, synthetic=False), synthetic_indicators=[])
        plain = flat(pdfplumber.open(io.BytesIO(briefing.ward_pdf(snap, real, ward["ward_code"]))).pages[0].extract_text())
    assert "SYNTHETIC DATA" in labelled and "SYNTHETIC DATA" not in plain
    assert flat(ATTRIBUTION) in plain


def test_cli_writes_one_ward(demo_index, settings, tmp_path):
    ward = worst_ward(settings, default_period(settings))
    result = CliRunner().invoke(main, ["brief", "--ward", ward["ward_code"], "--period", "FY2024/25", "--out", str(tmp_path)],
                                env={"HARMMAP_DATABASE_URL": settings.database_url})
    assert result.exit_code == 0, result.output
    (path,) = tmp_path.glob("*.pdf")
    assert path.name == f"{ward['ward_code']}_FY2024-25.pdf"
    with pdfplumber.open(path) as pdf:
        text = flat(pdf.pages[0].extract_text())
    assert ward["ward_name"] in text and "FY2024/25" in text
