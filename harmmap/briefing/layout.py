"""Drawing a briefing page with reportlab: the page frame, the map in British National Grid, its
legend, scale bar, north arrow and London locator, and the tables.

No database here: the page builders get the figures, and a ``fetch`` callable for the wards a map
frame touches (its size is only known once the tables are measured). See docs/briefing.md for the
design: why these greys and hatches, and how the scale is kept exact.

The map is drawn at a stated representative fraction (1:10,000, 1:25,000, ...): one metre of
EPSG:27700 is ``72 / 0.0254 / denominator`` points on the page in both directions, so the scale bar
is right when the PDF is printed at 100% on A4.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

import numpy as np
import shapely
from reportlab import rl_config
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import FILL_EVEN_ODD, Canvas
from reportlab.platypus import Paragraph, Table, TableStyle
from shapely.geometry.base import BaseGeometry
from shapely.ops import polylabel, unary_union

from harmmap.briefing.data import MapWard
from harmmap.domain import ATTRIBUTION
from harmmap.indicators import BY_SLUG

# --- fonts --------------------------------------------------------------------------------------

#: Bitstream Vera, shipped inside reportlab: embedded (subset) in every PDF, so the page looks the same on
#: every printer and its text can be extracted; no system font is needed.
FONT, BOLD = "HarmMapSans", "HarmMapSans-Bold"
_registered = False


def register_fonts() -> None:
    global _registered
    if not _registered:
        pdfmetrics.registerFont(TTFont(FONT, "Vera.ttf"))
        pdfmetrics.registerFont(TTFont(BOLD, "VeraBd.ttf"))
        pdfmetrics.registerFontFamily(FONT, normal=FONT, bold=BOLD, italic=FONT, boldItalic=BOLD)
        # Compressed page streams stay binary: ASCII85 on top would make every PDF 25% bigger and slower.
        rl_config.useA85 = 0
        _registered = True


# --- harm classes -------------------------------------------------------------------------------

#: The web map's decile groups (web/tasking_data.py DECILE_GROUPS), worst first, by London decile.
CLASSES: tuple[tuple[str, tuple[int, ...]], ...] = (
    ("Worst 10% of London wards", (1,)), ("10–20%", (2,)), ("20–40%", (3, 4)), ("40–70%", (5, 6, 7)),
    ("Least harm 30%", (8, 9, 10)))
#: ColorBrewer YlOrRd, 5 classes, worst first: the web map's colours (web/tasking_data.py YLORRD), so a
#: printed page matches the screen. Its lightness falls steadily from class to class, so the order
#: survives a black-and-white printer (each step is 40+ grey levels of 255; see ``grey_levels``); the two
#: worst classes are hatched as well, so they never depend on tone alone.
PALETTE = ("#bd0026", "#f03b20", "#fd8d3c", "#fecc5c", "#ffffb2")
HATCH = {0: "cross", 1: "diagonal"}
NO_SCORE_FILL = "#ffffff"
_CLASS_OF_DECILE = {d: k for k, (_, ds) in enumerate(CLASSES) for d in ds}


def class_of(decile: int | None) -> int | None:
    return None if decile is None else _CLASS_OF_DECILE.get(int(decile))


def grey_levels(palette: Sequence[str] = PALETTE) -> list[float]:
    """Each colour as a greyscale printer renders it (ITU-R BT.601 luma, 0 black to 255 white)."""
    out = []
    for hex_colour in palette:
        r, g, b = (int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
        out.append(0.299 * r + 0.587 * g + 0.114 * b)
    return out


# --- the map's geometry on the page -------------------------------------------------------------

PT_PER_M = 72 / 0.0254          # points in one metre of paper
#: Representative fractions a map is drawn at: the smallest that fits the area is used.
NICE_SCALES = tuple(int(m * 10**e) for e in (3, 4, 5) for m in (1, 1.25, 1.5, 2, 2.5, 3, 4, 5, 6, 7.5, 9))
#: Scale bar lengths (metres) it may take.
BAR_LENGTHS_M = (50, 100, 200, 250, 500, 1_000, 2_000, 2_500, 5_000, 10_000, 20_000)


@dataclass(frozen=True)
class MapView:
    """A map frame on the page (points) showing EPSG:27700 at 1:``denominator``, centred on (cx, cy)."""

    x: float
    y: float
    w: float
    h: float
    cx: float
    cy: float
    denominator: int

    @property
    def pt_per_metre(self) -> float:
        return PT_PER_M / self.denominator

    @property
    def extent(self) -> tuple[float, float, float, float]:
        """The ground the frame shows: (xmin, ymin, xmax, ymax) in metres."""
        half_w, half_h = self.w / 2 / self.pt_per_metre, self.h / 2 / self.pt_per_metre
        return (self.cx - half_w, self.cy - half_h, self.cx + half_w, self.cy + half_h)

    def to_page(self, xy: np.ndarray) -> np.ndarray:
        k = self.pt_per_metre
        return np.column_stack((self.x + self.w / 2 + (xy[:, 0] - self.cx) * k,
                                self.y + self.h / 2 + (xy[:, 1] - self.cy) * k))

    def frame_polygon(self) -> BaseGeometry:
        return shapely.box(*self.extent)


def fit_view(bbox: tuple[float, float, float, float], x: float, y: float, w: float, h: float, *,
             pad: float = 0.08, min_span_m: float = 0.0) -> MapView:
    """The largest nice scale at which ``bbox`` (metres) plus ``pad`` of its size each side fits the frame."""
    xmin, ymin, xmax, ymax = bbox
    span_w = max(xmax - xmin, min_span_m) * (1 + 2 * pad)
    span_h = max(ymax - ymin, min_span_m) * (1 + 2 * pad)
    need = max(span_w / (w / PT_PER_M), span_h / (h / PT_PER_M))
    denominator = next((s for s in NICE_SCALES if s >= need), math.ceil(need / 50_000) * 50_000)
    return MapView(x, y, w, h, (xmin + xmax) / 2, (ymin + ymax) / 2, denominator)


def bar_length_m(view: MapView, max_fraction: float = 0.3) -> int:
    """The longest round length whose bar is at most ``max_fraction`` of the frame's width."""
    limit = view.w * max_fraction / view.pt_per_metre
    fitting = [b for b in BAR_LENGTHS_M if b <= limit]
    return fitting[-1] if fitting else BAR_LENGTHS_M[0]


def _polygons(geom: BaseGeometry) -> list[BaseGeometry]:
    if geom.is_empty:
        return []
    if geom.geom_type == "Polygon":
        return [geom]
    return [g for g in getattr(geom, "geoms", []) if g.geom_type == "Polygon"]


def _path(c: Canvas, view: MapView, geom: BaseGeometry):
    """A reportlab path of a (multi)polygon or (multi)line, transformed to the page."""
    p = c.beginPath()
    parts: list[Any] = []
    for poly in _polygons(geom):
        parts.append(poly.exterior)
        parts.extend(poly.interiors)
    if geom.geom_type in ("LineString", "LinearRing"):
        parts = [geom]
    elif geom.geom_type == "MultiLineString":
        parts = list(geom.geoms)
    for ring in parts:
        xy = view.to_page(np.asarray(ring.coords)[:, :2])
        if len(xy) < 2:
            continue
        p.moveTo(*xy[0])
        for px, py in xy[1:]:
            p.lineTo(px, py)
        if ring.geom_type == "LinearRing":
            p.close()
    return p


# --- drawing helpers ----------------------------------------------------------------------------

def _hatch(c: Canvas, x0: float, y0: float, x1: float, y1: float, kind: str, colour: colors.Color,
           spacing: float = 1.7 * mm, width: float = 0.45) -> None:
    """Diagonal (45°) lines over a box, or crossed ones; clip first."""
    c.setStrokeColor(colour)
    c.setLineWidth(width)
    span = (x1 - x0) + (y1 - y0)
    n = int(span / spacing) + 2
    for i in range(n):
        d = i * spacing
        c.line(x0 + d, y0, x0 + d - (y1 - y0), y1)
        if kind == "cross":
            c.line(x0 + d - (y1 - y0), y0, x0 + d, y1)


def _fill_class(c: Canvas, path, bounds: tuple[float, float, float, float], k: int | None) -> None:
    """Fill a shape with its class's colour, and its hatch where it has one."""
    c.setFillColor(colors.HexColor(PALETTE[k]) if k is not None else colors.HexColor(NO_SCORE_FILL))
    c.drawPath(path, stroke=0, fill=1, fillMode=FILL_EVEN_ODD)
    kind = HATCH.get(k) if k is not None else "horizontal"
    if kind is None:
        return
    c.saveState()
    c.clipPath(path, stroke=0, fill=0, fillMode=FILL_EVEN_ODD)
    x0, y0, x1, y1 = bounds
    if kind == "horizontal":  # no score: thin grey lines, unlike any class
        c.setStrokeColor(colors.HexColor("#808080"))
        c.setLineWidth(0.3)
        y = y0
        while y <= y1:
            c.line(x0, y, x1, y)
            y += 1.2 * mm
    else:
        _hatch(c, x0, y0, x1, y1, kind, colors.white)
    c.restoreState()


def label(c: Canvas, x: float, y: float, lines: list[str], *, size: float, bold: bool = False) -> None:
    """Centred text on a white, slightly transparent box: legible over any class when printed grey."""
    font = BOLD if bold else FONT
    width = max(pdfmetrics.stringWidth(t, font, size) for t in lines)
    leading = size * 1.1
    height = leading * len(lines)
    c.saveState()
    c.setFillColor(colors.white)
    c.setFillAlpha(0.78)
    c.rect(x - width / 2 - 1.2, y - height / 2 - 0.8, width + 2.4, height + 1.2, stroke=0, fill=1)
    c.restoreState()
    c.setFillColor(colors.black)
    c.setFont(font, size)
    top = y + height / 2 - size * 0.95
    for i, t in enumerate(lines):
        c.drawCentredString(x, top - i * leading, t)


def _wrap_name(name: str, max_chars: int = 16) -> list[str]:
    """A ward name on one or two lines, split at a space near its middle when it is long."""
    if len(name) <= max_chars or " " not in name:
        return [name]
    words = name.split(" ")
    best = min(range(1, len(words)), key=lambda i: abs(len(" ".join(words[:i])) - len(" ".join(words[i:]))))
    return [" ".join(words[:best]), " ".join(words[best:])]


def label_point(geom: BaseGeometry) -> tuple[float, float] | None:
    polys = sorted(_polygons(geom), key=lambda p: p.area, reverse=True)
    if not polys:
        return None
    p = polylabel(polys[0], tolerance=max(1.0, math.sqrt(polys[0].area) / 50))
    return (p.x, p.y)


# --- the map ------------------------------------------------------------------------------------

#: Line widths (points): the page's ward, borough boundaries, and the page's borough on an overview. Line
#: weight, not colour, tells them apart in greyscale.
FOCUS_WARD_LINE, BOROUGH_LINE, FOCUS_BOROUGH_LINE = 2.4, 1.3, 1.6

def draw_map(c: Canvas, view: MapView, wards: Sequence[MapWard], boroughs: Sequence[Any], *,
             focus_ward: str | None = None, focus_borough: str | None = None,
             label_wards: Callable[[MapWard], bool] = lambda w: True, dim_outside: bool = False,
             keep_clear: Sequence[tuple[float, float, float, float]] = ()) -> None:
    """Wards filled by harm class, the hotspot outline, borough boundaries, the focus outline, names (none
    in the ``keep_clear`` boxes, where the map's furniture goes)."""
    frame = view.frame_polygon()
    c.saveState()
    p = c.beginPath()
    p.rect(view.x, view.y, view.w, view.h)
    c.clipPath(p, stroke=0, fill=0)
    c.setFillColor(colors.white)
    c.rect(view.x, view.y, view.w, view.h, stroke=0, fill=1)
    for w in wards:
        geom = w.geom.intersection(frame.buffer(view.w / view.pt_per_metre * 0.02))
        if geom.is_empty:
            continue
        path = _path(c, view, geom)
        bx0, by0, bx1, by1 = geom.bounds
        (px0, py0), (px1, py1) = view.to_page(np.array([[bx0, by0], [bx1, by1]]))
        _fill_class(c, path, (px0, py0, px1, py1), class_of(w.decile_london))
        c.setStrokeColor(colors.HexColor("#555555"))
        c.setLineWidth(0.35)
        c.drawPath(path, stroke=1, fill=0)
    if dim_outside and focus_borough:
        inside = [b.geom for b in boroughs if b.code == focus_borough]
        rest = frame.difference(unary_union(inside)) if inside else frame
        c.saveState()
        c.setFillColor(colors.white)
        c.setFillAlpha(0.72)
        c.drawPath(_path(c, view, rest), stroke=0, fill=1, fillMode=FILL_EVEN_ODD)
        c.restoreState()
    hot = [w.geom for w in wards if w.hotspot.startswith("hot_")]
    if hot:
        outline = unary_union(hot).buffer(0)
        c.setStrokeColor(colors.black)
        c.setLineWidth(1.7)
        c.setDash(5, 2.5)
        c.drawPath(_path(c, view, outline.boundary), stroke=1, fill=0)
        c.setDash()
    for b in boroughs:
        if b.geom.intersects(frame):
            c.setStrokeColor(colors.black)
            c.setLineWidth(FOCUS_BOROUGH_LINE if b.code == focus_borough else BOROUGH_LINE)
            c.drawPath(_path(c, view, b.geom.boundary), stroke=1, fill=0)
    for w in wards:
        if w.code == focus_ward:
            path = _path(c, view, w.geom)
            c.setStrokeColor(colors.white)
            c.setLineWidth(4.2)
            c.drawPath(path, stroke=1, fill=0)
            c.setStrokeColor(colors.black)
            c.setLineWidth(FOCUS_WARD_LINE)
            c.drawPath(path, stroke=1, fill=0)
    inner = frame.buffer(-8 / view.pt_per_metre)
    for w in wards:
        if not label_wards(w):
            continue
        visible = w.geom.intersection(inner)
        # a name needs room: skip slivers of wards cut by the frame edge
        if visible.is_empty or visible.area < 0.2 * w.geom.area and w.code != focus_ward:
            continue
        at = label_point(visible)
        if at is None:
            continue
        (px, py), = view.to_page(np.array([at]))
        focus = w.code == focus_ward
        lines = _wrap_name(w.name, 20 if focus else 16)
        size = 7.5 if focus else 5.6
        half = max(pdfmetrics.stringWidth(t, BOLD if focus else FONT, size) for t in lines) / 2 + 2
        if not focus and not (view.x < px - half and px + half < view.x + view.w):
            continue  # a name cut by the frame edge is worse than none
        tall = size * 1.1 * len(lines) / 2 + 1
        if not focus and any(px + half > x0 and px - half < x1 and py + tall > y0 and py - tall < y1
                             for x0, y0, x1, y1 in keep_clear):
            continue  # ... and so is one under the locator, north arrow or scale bar
        label(c, px, py, lines, size=size, bold=focus)
    c.restoreState()
    c.setStrokeColor(colors.black)
    c.setLineWidth(0.8)
    c.rect(view.x, view.y, view.w, view.h, stroke=1, fill=0)


def draw_scale_bar(c: Canvas, view: MapView, x: float, y: float) -> float:
    """A true scale bar from (x, y) on the page: four segments, alternately black and white, labelled in
    metres or kilometres, with the representative fraction under it. Returns its length in points."""
    length_m = bar_length_m(view)
    length_pt = length_m * view.pt_per_metre
    seg = length_pt / 4
    c.setFillColor(colors.white)
    c.setFillAlpha(0.85)
    caption = f"Scale 1:{view.denominator:,} at A4 (print at 100%)"
    c.rect(x - 3, y - 12, max(length_pt + 30, pdfmetrics.stringWidth(caption, FONT, 6) + 6), 25, stroke=0, fill=1)
    c.setFillAlpha(1)
    c.setStrokeColor(colors.black)
    c.setLineWidth(0.5)
    for i in range(4):
        c.setFillColor(colors.black if i % 2 == 0 else colors.white)
        c.rect(x + i * seg, y, seg, 3.2, stroke=1, fill=1)

    def fmt(metres: float) -> str:
        return f"{metres / 1000:g} km" if length_m >= 1000 else f"{metres:g} m"

    c.setFillColor(colors.black)
    c.setFont(FONT, 6)
    c.drawCentredString(x, y + 5, "0")
    c.drawCentredString(x + length_pt / 2, y + 5, fmt(length_m / 2).split(" ")[0])
    c.drawCentredString(x + length_pt, y + 5, fmt(length_m))
    c.drawString(x, y - 8, caption)
    return length_pt


def draw_north_arrow(c: Canvas, x: float, y: float, size: float = 9 * mm) -> None:
    """An arrow pointing up the page: grid north of the British National Grid (within 1° of true north
    across London)."""
    c.setFillColor(colors.white)
    c.setFillAlpha(0.85)
    c.rect(x - size * 0.55, y - 3.5 * mm, size * 1.1, size + 6.5 * mm, stroke=0, fill=1)
    c.setFillAlpha(1)
    c.setStrokeColor(colors.black)
    c.setLineWidth(0.6)
    half = size * 0.32
    p = c.beginPath()
    p.moveTo(x, y + size)
    p.lineTo(x - half, y)
    p.lineTo(x, y + size * 0.28)
    p.close()
    c.setFillColor(colors.black)
    c.drawPath(p, stroke=1, fill=1)
    p = c.beginPath()
    p.moveTo(x, y + size)
    p.lineTo(x + half, y)
    p.lineTo(x, y + size * 0.28)
    p.close()
    c.setFillColor(colors.white)
    c.drawPath(p, stroke=1, fill=1)
    c.setFillColor(colors.black)
    c.setFont(BOLD, 8)
    c.drawCentredString(x, y + size + 1.2 * mm, "N")
    c.setFont(FONT, 4.8)
    c.drawCentredString(x, y - 2.6 * mm, "grid north")


def draw_locator(c: Canvas, x: float, y: float, w: float, h: float, boroughs: Sequence[Any], *,
                 borough: str | None, extent: tuple[float, float, float, float] | None,
                 ward: BaseGeometry | None = None) -> None:
    """A small London: every borough outlined, the page's borough grey, the ward black, the map frame as
    a box. The outlines are drawn once per PDF (a form XObject) and reused on every page."""
    c.setFillColor(colors.white)
    c.setStrokeColor(colors.black)
    c.setLineWidth(0.6)
    c.rect(x, y, w, h, stroke=1, fill=1)
    if not boroughs:
        return
    bx0, by0, bx1, by1 = shapely.total_bounds([b.geom for b in boroughs])
    pad = 2 * mm
    k = min((w - 2 * pad) / (bx1 - bx0), (h - 2 * pad - 6) / (by1 - by0))  # points per metre: not a round scale

    def local(xy: np.ndarray) -> np.ndarray:
        return np.column_stack((w / 2 + (xy[:, 0] - (bx0 + bx1) / 2) * k,
                                3 + (h - 3) / 2 + (xy[:, 1] - (by0 + by1) / 2) * k))

    inset = _InsetView(local)
    forms = c.__dict__.setdefault("_harmmap_forms", set())
    name = f"london-{round(w * 10)}x{round(h * 10)}"
    if name not in forms:
        c.beginForm(name)
        c.setFillColor(colors.white)
        c.setStrokeColor(colors.HexColor("#707070"))
        c.setLineWidth(0.25)
        for b in boroughs:
            c.drawPath(_path(c, inset, b.geom), stroke=1, fill=1, fillMode=FILL_EVEN_ODD)
        c.setStrokeColor(colors.black)
        c.setLineWidth(0.6)
        c.drawPath(_path(c, inset, unary_union([b.geom for b in boroughs]).boundary), stroke=1, fill=0)
        c.setFillColor(colors.black)
        c.setFont(FONT, 5)
        c.drawString(1.5 * mm, 1.5 * mm, "London")
        c.endForm()
        forms.add(name)
    c.saveState()
    c.translate(x, y)
    c.doForm(name)
    for b in boroughs:
        if b.code == borough:
            c.setFillColor(colors.HexColor("#8c8c8c"))
            c.setStrokeColor(colors.black)
            c.setLineWidth(0.4)
            c.drawPath(_path(c, inset, b.geom), stroke=1, fill=1, fillMode=FILL_EVEN_ODD)
    if ward is not None:
        c.setFillColor(colors.black)
        c.drawPath(_path(c, inset, ward), stroke=0, fill=1)
    if extent is not None:
        (ex0, ey0), (ex1, ey1) = local(np.array([[extent[0], extent[1]], [extent[2], extent[3]]]))
        c.setStrokeColor(colors.black)
        c.setLineWidth(0.9)
        c.rect(ex0, ey0, ex1 - ex0, ey1 - ey0, stroke=1, fill=0)
    c.restoreState()


class _InsetView:
    """The locator's transform in the one method ``_path`` uses."""

    def __init__(self, fn: Callable[[np.ndarray], np.ndarray]) -> None:
        self.to_page = fn


LEGEND_ROW = 4.4 * mm


def legend_height(items: int, columns: int) -> float:
    return 10 + 3.2 * mm + math.ceil(items / columns) * LEGEND_ROW + 1 * mm


def draw_legend(c: Canvas, x: float, y: float, w: float, *, focus_label: str | None, hotspot: bool,
                columns: int) -> float:
    """The key: the five classes, no score, the hotspot outline, borough boundary and the focus ward.
    Drawn downwards from (x, y) in ``columns`` columns; returns the height used."""
    items: list[tuple[str, Callable[[float, float, float, float], None]]] = []

    def swatch(k: int | None) -> Callable[[float, float, float, float], None]:
        def draw(sx: float, sy: float, sw: float, sh: float) -> None:
            p = c.beginPath()
            p.rect(sx, sy, sw, sh)
            _fill_class(c, p, (sx, sy, sx + sw, sy + sh), k)
            c.setStrokeColor(colors.HexColor("#555555"))
            c.setLineWidth(0.35)
            c.rect(sx, sy, sw, sh, stroke=1, fill=0)
        return draw

    def line(width: float, dash: tuple[float, float] | None) -> Callable[[float, float, float, float], None]:
        def draw(sx: float, sy: float, sw: float, sh: float) -> None:
            c.setStrokeColor(colors.black)
            c.setLineWidth(width)
            if dash:
                c.setDash(*dash)
            c.line(sx, sy + sh / 2, sx + sw, sy + sh / 2)
            c.setDash()
        return draw

    for k, (label, _) in enumerate(CLASSES):
        items.append((label, swatch(k)))
    items.append(("No score (City of London Police area)", swatch(None)))
    items.append(("Hotspot: Gi* cluster, 90%+ confidence" if hotspot else "Hotspot (none in view)",
                  line(1.7, (5, 2.5))))
    items.append(("Borough boundary", line(BOROUGH_LINE, None)))
    if focus_label:
        items.append((focus_label, line(FOCUS_WARD_LINE, None)))
    c.setFillColor(colors.black)
    c.setFont(BOLD, 7)
    c.drawString(x, y - 7, "Harm index class (London deciles)")
    rows = math.ceil(len(items) / columns)
    col_w = w / columns
    row_h = LEGEND_ROW
    top = y - 10 - 3.2 * mm
    for i, (label, draw) in enumerate(items):
        col, row = divmod(i, rows)
        sx, sy = x + col * col_w, top - row * row_h
        draw(sx, sy, 6 * mm, 3.2 * mm)
        c.setFillColor(colors.black)
        c.setFont(FONT, 6.3)
        c.drawString(sx + 7.5 * mm, sy + 0.8, label)
    return legend_height(len(items), columns)


# --- page frame ---------------------------------------------------------------------------------

@dataclass
class PageHead:
    title: str
    subtitle: str
    page: int
    pages: int


def _marking_bar(c: Canvas, marking: str, x: float, y: float, w: float) -> None:
    c.setStrokeColor(colors.black)
    c.setLineWidth(0.8)
    c.setFillColor(colors.white)
    c.rect(x, y, w, 5.5 * mm, stroke=1, fill=1)
    c.setFillColor(colors.black)
    c.setFont(BOLD, 10)
    c.drawCentredString(x + w / 2, y + 1.6 * mm, marking)


STYLE = ParagraphStyle("brief", fontName=FONT, fontSize=6.6, leading=8)
STYLE_BOLD = ParagraphStyle("brief-bold", parent=STYLE, fontName=BOLD)
STYLE_NOTE = ParagraphStyle("brief-note", parent=STYLE, fontSize=6, leading=7.2)
STYLE_WHY = ParagraphStyle("brief-why", parent=STYLE, fontSize=7.8, leading=9.6)
MARGIN = 10 * mm


def page_size(orientation: str) -> tuple[float, float]:
    return landscape(A4) if orientation == "landscape" else A4


def draw_page_frame(c: Canvas, ctx: Any, head: PageHead, orientation: str) -> tuple[float, float, float, float]:
    """Marking top and bottom, title, period, when produced and from which publish; the synthetic label;
    the attribution and boundary note. Returns the box left for content: (x0, y0, x1, y1)."""
    register_fonts()
    pw, ph = page_size(orientation)
    c.setPageSize((pw, ph))
    c.setTitle(head.title)
    x0, x1 = MARGIN, pw - MARGIN
    width = x1 - x0
    top = ph - MARGIN
    _marking_bar(c, ctx.marking, x0, top - 5.5 * mm, width)
    _marking_bar(c, ctx.marking, x0, MARGIN, width)
    y = top - 5.5 * mm - 7.5 * mm
    produced = ctx.produced_at.strftime("%d %b %Y %H:%M %Z").strip()
    published = ctx.published_at.strftime("%d %b %Y %H:%M") if ctx.published_at else "unknown"
    right = (f"Produced {produced}", f"Harm index version {ctx.version}, published {published}",
             f"Page {head.page} of {head.pages}")
    # a long title ("Why did confidence move in City of London?") gets smaller type, never runs under the right
    room = width - max(pdfmetrics.stringWidth(t, FONT, 6.6) for t in right) - 3 * mm
    size = 15.0
    while size > 9 and pdfmetrics.stringWidth(head.title, BOLD, size) > room:
        size -= 0.5
    c.setFillColor(colors.black)
    c.setFont(BOLD, size)
    c.drawString(x0, y, head.title)
    c.setFont(FONT, 8.2)
    c.drawString(x0, y - 4.5 * mm, head.subtitle)
    c.setFont(FONT, 6.6)
    for dy, text in zip((4 * mm, 1.3 * mm, -1.4 * mm), right):
        c.drawRightString(x1, y + dy, text)
    y -= 7.5 * mm
    if ctx.synthetic:
        names = ", ".join(BY_SLUG[s].label if s in BY_SLUG else s for s in ctx.synthetic_indicators)
        text = ("<b>SYNTHETIC DATA.</b> This page includes synthetic (made-up) figures for demonstration: "
                f"{escape(names) or 'some indicators'}. They are not real and must not be used for tasking. "
                "Drug offence counts are real MPS open data.")
        para = Paragraph(text, ParagraphStyle("synth", parent=STYLE, fontSize=7, leading=8.4))
        _, h = para.wrap(width - 4 * mm, 40 * mm)
        c.setLineWidth(1.6)
        c.setStrokeColor(colors.black)
        c.setFillColor(colors.HexColor("#eeeeee"))
        c.rect(x0, y - h - 2.4 * mm, width, h + 2.4 * mm, stroke=1, fill=1)
        para.drawOn(c, x0 + 2 * mm, y - h - 1.2 * mm)
        y -= h + 2.4 * mm + 2 * mm
    foot = Paragraph(
        f"{escape(ATTRIBUTION)}<br/>Boundaries: {escape(ctx.boundary_note) or 'see geodata/SOURCES.md'} "
        "Ward and borough outlines on this map are approximate at street scale and are not a legal boundary. "
        f"Harm index {escape(ctx.label)}: only published ward aggregates are shown; no premises or address.",
        STYLE_NOTE)
    _, fh = foot.wrap(width, 40 * mm)
    foot.drawOn(c, x0, MARGIN + 5.5 * mm + 1.5 * mm)
    return (x0, MARGIN + 5.5 * mm + fh + 3 * mm, x1, y)


# --- tables -------------------------------------------------------------------------------------

def cell_style(size: float = 6.6) -> ParagraphStyle:
    """The paragraph style of table cells at a font size (smaller when a long table must fit)."""
    return STYLE if size == STYLE.fontSize else ParagraphStyle(f"brief-{size}", parent=STYLE, fontSize=size,
                                                                leading=size * 1.2)


def table(data: list[list[Any]], widths: Sequence[float], *, header_rows: int = 1, size: float = 6.6) -> Table:
    head = cell_style(size)
    data = [[P(f"<b>{escape(cell)}</b>", head) if isinstance(cell, str) and i < header_rows else cell for cell in row]
            for i, row in enumerate(data)]
    t = Table(data, colWidths=list(widths), repeatRows=header_rows)
    pad = 1.4 if size >= 6.6 else 0.9
    t.setStyle(TableStyle([
        ("FONT", (0, 0), (-1, -1), FONT, size, size * 1.2),
        ("BACKGROUND", (0, 0), (-1, header_rows - 1), colors.HexColor("#e6e6e6")),
        ("LINEBELOW", (0, 0), (-1, header_rows - 1), 0.7, colors.black),
        ("LINEBELOW", (0, header_rows), (-1, -1), 0.25, colors.HexColor("#9a9a9a")),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("TOPPADDING", (0, 0), (-1, -1), pad),
        ("BOTTOMPADDING", (0, 0), (-1, -1), pad),
        ("LEFTPADDING", (0, 0), (-1, -1), 2.2),
        ("RIGHTPADDING", (0, 0), (-1, -1), 2.2),
    ]))
    return t


def P(text: str, style: ParagraphStyle = STYLE) -> Paragraph:
    return Paragraph(text, style)


def scaled(fractions: Sequence[float], width: float) -> list[float]:
    total = sum(fractions)
    return [f / total * width for f in fractions]


#: The fill of a row that heads a group of a table (a family of indicators): light enough that its bold text
#: reads on any printer; the rule above it and the bold type, not the tone, mark it.
GROUP_FILL = "#efefef"


def group_rows(t: Table, rows: Sequence[int]) -> Table:
    """Make ``rows`` of ``t`` group headings: one cell across the table, ruled above, on a light grey."""
    commands: list[tuple] = []
    for r in rows:
        commands += [("SPAN", (0, r), (-1, r)), ("BACKGROUND", (0, r), (-1, r), colors.HexColor(GROUP_FILL)),
                     ("LINEABOVE", (0, r), (-1, r), 0.6, colors.black)]
    if commands:
        t.setStyle(TableStyle(commands))
    return t
