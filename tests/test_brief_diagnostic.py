"""The borough briefing's diagnostic page ("why did confidence move here?") and the families on every page
(issue 18), against the session's demo index. PDFs are opened with pdfplumber and drawn with poppler's
pdftoppm; nothing is checked by matching strings in the PDF's bytes."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from dataclasses import replace
from datetime import date

import numpy as np
import pdfplumber
import pytest

from harmmap import briefing, db, published
from harmmap.briefing import layout, pages
from harmmap.diagnostics import count_change, pas_change
from harmmap.disclosure import Disclosure
from harmmap.indicators import BY_SLUG, FAMILY_LABELS, POLICE_SENSITIVE
from web import ATTRIBUTION

LAMBETH = "E09000022"
MARKING = "OFFICIAL-SENSITIVE"


def flat(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def query(settings, text: str, params=None) -> list[dict]:
    with db.connect(settings.database_url) as c:
        return c.execute(text, params).fetchall()


def borough_pack(client, code: str) -> pdfplumber.PDF:
    resp = client.get(f"/brief/borough/{code}.pdf")
    assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
    assert resp.mimetype == "application/pdf"
    return pdfplumber.open(io.BytesIO(resp.data))


def assert_marked_top_and_bottom(page) -> None:
    hits = [w for w in page.extract_words() if w["text"] == MARKING]
    assert any(w["top"] < 60 for w in hits), ("no marking at the top", hits)
    assert any(w["bottom"] > float(page.height) - 60 for w in hits), ("no marking at the bottom", hits)


def ranked_wards(settings, period: str, borough: str) -> list[str]:
    return [r["ward_name"] for r in query(settings, """
        SELECT w.ward_name FROM harm.current_ward_index i
        JOIN geo.ward w ON w.vintage = 2022 AND w.ward_code = i.ward_code
        WHERE i.period = %s AND i.borough_code = %s AND i.rank_borough IS NOT NULL
        ORDER BY i.rank_borough""", (period, borough))]


def read_model(settings, borough: str, disclosure: Disclosure):
    """What the page should say, asked of the read model directly: both windows and the wards."""
    with db.connect(settings.database_url) as conn, published.opened(conn) as snap:
        ctx = briefing.open_context(snap, settings, None, disclosure=disclosure)
        b = snap.borough(borough)
        return ctx.label, briefing.data.borough_diagnostic(snap, ctx, b)


def row_text(page, label: str, *, below: float = 0.0) -> str:
    """The text of the table row whose first cell starts with ``label`` (the first such row below ``below``
    points from the top): the band between the rules above and below it, so cells that wrap onto several
    lines are all in it."""
    words = page.extract_words()
    tokens = label.split()
    at = next(w for i, w in enumerate(words) if w["top"] > below and
              [x["text"] for x in words[i:i + len(tokens)]] == tokens)
    rules = sorted(e["top"] for e in page.horizontal_edges)
    top = max((y for y in rules if y < at["top"] - 0.5), default=0.0)
    bottom = min((y for y in rules if y > at["bottom"] + 0.5), default=float(page.height))
    return flat(page.crop((0, top, float(page.width), bottom)).extract_text())


def top_of(page, text: str) -> float:
    """Where a line of text starting with ``text`` begins (points from the top)."""
    tokens = text.split()
    words = page.extract_words()
    return next(w["top"] for i, w in enumerate(words) if [x["text"] for x in words[i:i + len(tokens)]] == tokens)


def has_words(page, phrase: str) -> bool:
    """Every word of ``phrase`` is on the page (a table cell that wraps puts other cells' lines between them)."""
    words = [w["text"] for w in page.extract_words()]
    return all(words.count(t) >= phrase.split().count(t) for t in phrase.split())


# --- the diagnostic page -------------------------------------------------------------------------

@pytest.mark.db
def test_borough_pack_is_overview_then_diagnostic_then_every_ward(demo_index, sergeant, settings):
    """Page 2 asks why confidence moved: both windows with the read model's summaries word for word, the
    three family headings in each window's table, the wards on need x response, the marking top and
    bottom, the attribution and the synthetic label; page count = 2 + wards, ward pages from page 3."""
    label, diag = read_model(settings, LAMBETH, settings.disclosure_for("sergeant"))
    wards = ranked_wards(settings, label, LAMBETH)
    pdf = borough_pack(sergeant, LAMBETH)
    assert len(pdf.pages) == 2 + len(wards)
    page = pdf.pages[1]
    assert_marked_top_and_bottom(page)
    text = flat(page.extract_text())
    assert "Why did confidence move in Lambeth?" in text
    assert f"Page 2 of {len(pdf.pages)}" in text
    assert flat(ATTRIBUTION) in text and "SYNTHETIC DATA" in text
    assert [d.against for d in diag.windows] == ["previous", "baseline"]
    previous, baseline = diag.windows
    assert f"Against the year before: {label} against {previous.against_period}" in text
    assert f"Against the strategy's baseline year: {label} against {baseline.against_period}" in text
    for d in diag.windows:
        assert d.summary.startswith("In Lambeth,") and flat(d.summary) in text
    for family in FAMILY_LABELS.values():
        assert text.count(family) >= 2, family          # a heading in each window's table
    assert f"design effect {previous.design_effect:g}" in text
    assert "Need x response in Lambeth's wards" in text
    assert "Tasking candidates: high need, police response below London's rate" in text
    assert "Possible over-attention: low need, police response above London's rate" in text
    for w in diag.response.tasking_candidates + diag.response.over_attention:
        assert has_words(page, w.name), w.name
    # each PAS row: both ends, the change in points with its interval, and the verdict in words
    pas = next(c for c in previous.changes if c.indicator == "pas_tackle_dealing")
    row = row_text(page, "PAS: police tackle drug dealing well", below=top_of(page, "Against the year before:"))
    assert f"{pas.after:.1f}% of {pas.respondents_after:,.0f}" in row
    assert f"{pas.change:+.1f} points ({pas.lo:+.1f} to {pas.hi:+.1f})" in row
    assert ("not significant" in row) != pas.significant
    # the pages around it
    assert "Lambeth: borough overview" in flat(pdf.pages[0].extract_text())
    assert f"(#1 of {len(wards)} in Lambeth" in flat(pdf.pages[2].extract_text())
    assert wards[0] in flat(pdf.pages[2].extract_text())


def read_pgm(path) -> np.ndarray:
    """A binary PGM (P5) or PPM (P6), as pdftoppm writes them: (h, w) or (h, w, 3) uint8."""
    data = path.read_bytes()
    magic, w, h, maxval, body = data.split(maxsplit=4)
    assert maxval == b"255"
    w, h = int(w), int(h)
    channels = 3 if magic == b"P6" else 1
    pixels = np.frombuffer(body[: w * h * channels], dtype=np.uint8)
    return pixels.reshape(h, w, channels) if channels == 3 else pixels.reshape(h, w)


@pytest.mark.db
def test_diagnostic_page_has_ink_in_its_tables_and_reads_in_greyscale(demo_index, sergeant, tmp_path):
    """Drawn by pdftoppm: the band from the first table's header to the ward tables carries plenty of dark
    ink; in colour the page has no colour at all (so nothing on it depends on colour); in grey the group
    headings' fill stays light enough for their black text, and significance is said in (bold) words."""
    resp = sergeant.get(f"/brief/borough/{LAMBETH}.pdf")
    (tmp_path / "b.pdf").write_bytes(resp.data)
    page = pdfplumber.open(io.BytesIO(resp.data)).pages[1]
    words = page.extract_words()
    top = next(w for w in words if w["text"] == "Indicator")["top"]
    bottom = next(w for w in words if w["text"] == "Tasking")["top"]
    pdftoppm = shutil.which("pdftoppm") or "pdftoppm"
    dpi = 72
    subprocess.run([pdftoppm, "-r", str(dpi), "-f", "2", "-l", "2", "-gray", str(tmp_path / "b.pdf"),
                    str(tmp_path / "g")], check=True)
    subprocess.run([pdftoppm, "-r", str(dpi), "-f", "2", "-l", "2", str(tmp_path / "b.pdf"), str(tmp_path / "c")],
                   check=True)
    grey = read_pgm(next(tmp_path.glob("g*.pgm")))
    colour = read_pgm(next(tmp_path.glob("c*.ppm"))).astype(int)
    k = dpi / 72
    band = grey[int(top * k):int(bottom * k), int(30 * k):int((float(page.width) - 30) * k)]
    assert band.size and (band < 128).mean() > 0.04, "the diagnostic tables are blank"
    assert np.ptp(colour, axis=2).max() <= 8, "the diagnostic page uses colour"
    assert grey.min() < 60                                           # black text
    assert layout.grey_levels([layout.GROUP_FILL])[0] >= 220         # the heading fill under black text
    bold = {w["text"] for w in page.extract_words(extra_attrs=["fontname"]) if "Bold" in w["fontname"]}
    text = flat(page.extract_text())
    assert "significant" in text and "not significant" in text
    assert {"significant", "Need", "Confidence", "Police"} <= bold | {w.strip(":,()") for w in bold}


def small_borough_count(settings, period: str, before: str) -> dict:
    """A borough whose count of a police activity indicator was 1 to 4 in the window (the demo set has them:
    cannabis factory closures are few in a borough's year)."""
    rows = query(settings, """
        SELECT a.area_code, a.indicator, a.period, a.value, b.borough_name
        FROM harm.current_area_indicator a JOIN geo.borough b ON b.borough_code = a.area_code
        WHERE a.level = 'borough' AND a.period = ANY(%s) AND a.value BETWEEN 1 AND 4
          AND a.indicator IN ('crack_house_closures', 'cannabis_factory_closures', 'network_disruptions',
                              'asset_seizures')
        ORDER BY a.area_code, a.indicator, a.period""", ([period, before],))
    assert rows, "the demo set has no small borough count in the window to hide"
    return rows[0]


@pytest.mark.db
def test_a_small_count_reads_fewer_than_5_for_a_sergeant_and_exact_for_an_analyst(demo_index, sergeant,
                                                                                     analyst, settings):
    """The sergeant's page hides the count, its change, interval and p-value (they give it back); the
    analyst's page has the count. The summary says "fewer than 5" too."""
    label, diag = read_model(settings, LAMBETH, settings.disclosure_for("sergeant"))
    before = diag.windows[0].against_period
    small = small_borough_count(settings, label, before)
    name = BY_SLUG[small["indicator"]].label
    _, hidden = read_model(settings, small["area_code"], settings.disclosure_for("sergeant"))
    assert small["indicator"] in hidden.windows[0].hidden

    def window_row(client) -> tuple[str, str]:
        page = borough_pack(client, small["area_code"]).pages[1]
        return row_text(page, name, below=top_of(page, "Against the year before:")), flat(page.extract_text())

    row, text = window_row(sergeant)
    assert "fewer than 5" in row and "withheld (small count)" in row
    assert f"{small['value']:,.0f}" not in row.replace(name, "").split(), row
    assert "p=" not in row and "p<" not in row
    summary = flat(hidden.windows[0].summary)
    assert summary in text
    assert not re.search(r"\b(from|to|at) [1-4](?![\d,.])", summary), summary   # every 1-4 count is hidden
    exact_row, _ = window_row(analyst)
    assert "fewer than 5" not in exact_row
    assert f"{small['value']:,.0f}" in exact_row.replace(name, "").split(), exact_row


@pytest.mark.db
def test_write_borough_writes_the_diagnostic_second(demo_index, settings, tmp_path):
    result = briefing.write_borough(settings, "Lambeth", None, tmp_path, workers=1)
    names = [p.name for p in result.files]
    stem = f"lambeth_{result.period.replace('/', '-')}"
    assert names[:2] == [f"{stem}_00_overview.pdf", f"{stem}_00b_diagnostic.pdf"]
    assert len(names) == 2 + len(ranked_wards(settings, result.period, LAMBETH))
    with pdfplumber.open(result.files[1]) as pdf:
        assert len(pdf.pages) == 1
        assert_marked_top_and_bottom(pdf.pages[0])
        assert "Why did confidence move in Lambeth?" in flat(pdf.pages[0].extract_text())


# --- the families on the ward page and the overview -----------------------------------------------

@pytest.mark.db
def test_ward_page_and_overview_name_the_families_and_the_targets_as_the_strategy_set_them(demo_index, sergeant,
                                                                                             settings):
    pdf = borough_pack(sergeant, LAMBETH)
    overview = flat(pdf.pages[0].extract_text())
    page = pdf.pages[2]
    # the ward page's tables: beside the map (landscape) or under it (portrait), from their header down
    head = next(w for w in page.extract_words() if w["text"] == "Indicator")
    tables = page.crop((head["x0"] - 1, head["top"] - 1, float(page.width), float(page.height) - 30))
    ward = flat(tables.extract_text())
    for family in FAMILY_LABELS.values():
        assert family in ward, family
    assert flat(POLICE_SENSITIVE) in ward and "Drug possession offences ‡" in ward
    assert "(also read as confidence: a target)" in ward
    targets = query(settings, """SELECT target, role, mdc, gap_lo, gap_hi FROM harm.current_target
                                 WHERE level = 'borough' AND area_code = %s""", (LAMBETH,))
    for t in targets:
        if t["role"] == "target":     # the two PAS measures: the interval and the smallest detectable change
            assert f"{t['mdc']:.1f} points" in overview and has_words(tables, f"{t['mdc']:.1f}")
            assert f"({t['gap_lo']:+.1f} to" in ward and f"{t['gap_hi']:+.1f})" in ward
    assert {t["role"] for t in targets} == {"target", "earlier_plan_diagnostic"}
    assert [w["text"] for w in tables.extract_words()].count("(earlier") == sum(
        t["role"] == "earlier_plan_diagnostic" for t in targets)
    london = query(settings, """SELECT mdc FROM harm.current_target WHERE level = 'london' AND role = 'target'""")
    assert overview.count("London: PAS") == len(london) == 2
    assert all(f"{t['mdc']:.1f} points" in overview for t in london)
    words = [w["text"] for w in pdf.pages[0].extract_words()]
    assert ("Main", "need") in zip(words, words[1:]) and "need family only" in overview


# --- pieces, without a database -------------------------------------------------------------------

def _period(**changes) -> published.Period:
    p = published.Period(version=1, label="FY2025/26", kind="fy", first_month=date(2025, 4, 1),
                         last_month=date(2026, 3, 1), weights={"drug_trafficking": 1.0}, synthetic=False, dropped=[],
                         indicators={})
    return replace(p, **changes)


def _cells(table, row: int) -> list[str]:
    """One row of a reportlab table as plain text."""
    return [flat(c.getPlainText() if hasattr(c, "getPlainText") else str(c or "")) for c in table._cellvalues[row]]


def test_diagnostic_table_groups_by_family_and_hides_a_small_count():
    """A hand-built window: PAS in points with its interval, a count of 3 closures after 9 hidden as
    "fewer than 5" with its change withheld, the families as headings in the strategy's order."""
    layout.register_fonts()
    changes = [count_change("drug_trafficking", 100, 130), count_change("crack_house_closures", 9, 3),
               pas_change("pas_tackle_dealing", 450, 1000, 380, 1000, design_effect=1.5),
               pas_change("pas_drug_problem", 300, 1000, 320, 1000, design_effect=1.5)]
    area = published.Area("borough", "E09000022", "Lambeth")
    d = published.Diagnostic(area, _period(), "previous", "FY2024/25", changes, {}, 1.5, "In Lambeth ...",
                             {"crack_house_closures"})
    table = pages.diagnostic_table(d, 500, Disclosure(), set())
    rows = [_cells(table, i) for i in range(len(table._cellvalues))]
    firsts = [r[0] for r in rows]
    heads = [i for i, r in enumerate(firsts) if any(r.startswith(label) for label in FAMILY_LABELS.values())]
    assert [firsts[i].split(":")[0] for i in heads] == list(FAMILY_LABELS.values())
    crack = next(r for r in rows if r[0].startswith("Crack house closures"))
    assert crack[1] == "9" and crack[2] == "fewer than 5" and crack[3] == "withheld (small count)"
    assert "p=" not in crack[4] and "3" not in crack[1:]
    tackle = next(r for r in rows if r[0].startswith("PAS: police tackle"))
    assert tackle[1] == "45.0% of 1,000" and tackle[2] == "38.0% of 1,000"
    assert tackle[3].startswith("-7.0 points (") and tackle[4].startswith("significant (p=")
    assert "design effect 1.5" in rows[0][4]
    # PAS "problem" is under need, and said to be a target too where confidence is listed
    assert any(r[0].startswith("PAS: drug use or dealing is a problem: the same measure") for r in rows)
    assert not any(r[0].startswith("Stop and search") for r in rows)   # never loaded: no empty row


def test_targets_table_shows_the_interval_and_smallest_detectable_change_and_labels_the_earlier_plan():
    layout.register_fonts()
    pas = {"target": "pas_tackle_dealing", "role": "target", "baseline": 43.8, "baseline_period": "FY2023/24",
           "target_value": 46.8, "expected": 45.8, "current": 45.8, "current_period": "R12-2026-03", "gap": 0.0,
           "gap_lo": -3.98, "gap_hi": 4.0, "mdc": 5.69, "prob_on_track": 0.5, "status": "uncertain",
           "synthetic": False}
    london = {**pas, "mdc": 1.1, "gap_lo": -0.5, "gap_hi": 1.0}
    nets = {"target": "networks_disrupted", "role": "earlier_plan_diagnostic", "baseline": 24.0,
            "baseline_period": "R12-2025-03", "target_value": 24.0, "expected": None, "current": 22.0,
            "current_period": "R12-2026-03", "gap": -2.0, "gap_lo": None, "gap_hi": None, "mdc": None,
            "prob_on_track": 0.38, "status": "uncertain", "synthetic": False}
    table, _ = pages.targets_table([nets, pas], "Lambeth", 500, disclosure=Disclosure(), london=[london])
    rows = [_cells(table, i) for i in range(1, len(table._cellvalues))]
    assert rows[0][0].startswith("London: PAS: police tackle") and rows[0][6] == "1.1 points"
    assert rows[1][0].startswith("PAS: police tackle") and rows[1][5] == "+0.0 points (-4.0 to +4.0)"
    assert rows[1][6] == "5.7 points" and "not a target" not in rows[1][0]
    assert rows[2][0].startswith("Networks disrupted") and rows[2][0].endswith(
        "(earlier plan: a diagnostic, not a target)")
    assert rows[2][6] == "–"
