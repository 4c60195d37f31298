"""The API's feature collections and the SQL that pages through them.

Each collection is a declaration (``Collection``): where its rows come from, its key (what it is sorted
and paged by, and what its feature id is made of), its properties and its time. Queries are composed
from small named clauses, as pg_featureserv does (``sqlBBoxFilter``, ``sqlWhere``...): identifiers and
expressions are fixed text of this module, every value a request gives is a bound parameter.

Speed: a page is chosen from keys alone (``page`` below: index order, ``LIMIT``, ``OFFSET`` or a keyset
``after``), and only the rows on it are turned into GeoJSON, in PostGIS. Nothing counts the whole result
set unless the request asks for it (``count=true``).

Feature ids: a ward's GSS code (``E05013800``), a borough's (``E09000022``); in the harm index,
need-response and indicator collections, the ward code and the period joined by ``_``, with the financial year's ``/``
written ``-`` so that the id is one URL path segment: ``E05013800_FY2025-26``, ``E05013800_2025-Q1``,
``E05013800_R12-2026-03``, ``E05013800_2025-03``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from psycopg import sql

from harmmap import periods
from harmmap.indicators import FAMILY_LABELS, INDICATORS, Indicator
from web.api.common import CRS84, CRSS, EPSG4326, EPSG27700
from web.errors import Problem

#: The 2022 wards are the current vintage; older vintages keep their own collections.
CURRENT_VINTAGE = 2022
#: When each ward vintage came into use (the London borough elections that introduced it) and ended.
VINTAGE_SPANS = {2014: (date(2014, 5, 22), date(2018, 5, 3)), 2018: (date(2018, 5, 3), date(2022, 5, 5)),
                 2022: (date(2022, 5, 5), None)}
LONDON_BBOX_CRS84 = (-0.5104, 51.2868, 0.334, 51.6919)
#: Collections whose features are one 2022 ward in one period (feature id ``E05013800_FY2025-26``).
PERIOD_KINDS = ("harm", "indicator", "response")


@dataclass(frozen=True)
class Prop:
    """One feature property: its name, its SQL expression over the collection's source, its JSON type."""

    name: str
    expr: str
    type: str = "string"          # string | integer | number | boolean
    filterable: bool = False      # a query parameter of the items resource (equality)
    description: str = ""


@dataclass(frozen=True)
class Collection:
    id: str
    title: str
    description: str
    #: FROM clause (aliases fixed here); rows of the current publish only, restricted by ``where``.
    source: str
    where: str
    #: the sort and paging key, as SQL expressions, and how to build the feature id from it
    keys: tuple[str, ...]
    geom: str                    # EPSG:27700 geometry expression
    props: tuple[Prop, ...]
    static: dict = field(default_factory=dict)   # the where clause's own parameters
    temporal: tuple[str, str] | None = None      # (start, exclusive end) expressions, timestamptz
    needs_index: bool = False
    #: constant temporal extent for the collection document, (start, end) or None
    interval: tuple[str | None, str | None] | None = None
    kind: str = "ward"           # ward | borough | harm | indicator | response
    #: the main table alone (alias t), enough to choose a page when no restriction needs the joined tables
    key_source: str | None = None
    #: the geometry's source (GEOMETRY_SOURCES) and the expression naming a row's geometry in it
    geom_group: str = "ward-2022"
    gid: str = "w.ward_code"
    #: an indicator collection's indicator (its family, caveat and second family come from it)
    indicator: Indicator | None = None

    def feature_id(self, key: tuple) -> str:
        if self.kind in PERIOD_KINDS:
            period, ward = key
            return f"{ward}_{period.replace('/', '-')}"
        return str(key[0])

    def parse_id(self, text: str) -> tuple | None:
        """The key a feature id names, or None if it cannot name a feature of this collection."""
        if self.kind in PERIOD_KINDS:
            m = re.fullmatch(r"(E05\d{6})_(\d{4}-\d{2}|\d{4}-Q[1-4]|FY\d{4}-\d{2}|R12-\d{4}-\d{2})", text)
            if not m:
                return None
            period = re.sub(r"^FY(\d{4})-(\d{2})$", r"FY\1/\2", m[2])
            return (period, m[1])
        pattern = r"E05\d{6}" if self.kind == "ward" else r"E09\d{6}"
        return (text,) if re.fullmatch(pattern, text) else None

    @property
    def filters(self) -> dict[str, Prop]:
        return {p.name: p for p in self.props if p.filterable}


# --- the collections -----------------------------------------------------------------------------

_WARD_PROPS = (
    Prop("ward_code", "w.ward_code", filterable=True, description="ONS GSS code (E05...)"),
    Prop("ward_name", "w.ward_name", filterable=True),
    Prop("borough_code", "w.borough_code", filterable=True, description="ONS GSS code (E09...)"),
    Prop("borough_name", "w.borough_name", filterable=True),
    Prop("vintage", "w.vintage", "integer", description="ward boundary set (year of the elections it came in)"),
    Prop("city_of_london", "w.city_of_london", "boolean", filterable=True,
         description="policed by the City of London Police, not the MPS: no harm score"),
    Prop("population", "w.population", "integer", description="Census 2021 usual residents"),
    Prop("area_ha", "round(w.area_ha::numeric, 2)", "number", description="hectares"),
)

_PERIOD_PROPS = (
    Prop("period", "t.period", filterable=True, description="2025-03, 2025-Q1, FY2025/26 or R12-2026-03"),
    Prop("period_kind", "p.kind", filterable=True, description="month, quarter, fy or r12"),
    Prop("first_month", "to_char(p.first_month, 'YYYY-MM')", description="first month of the period"),
    Prop("last_month", "to_char(p.last_month, 'YYYY-MM')", description="last month of the period (inclusive)"),
    Prop("ward_code", "t.ward_code", filterable=True, description="2022 ward, ONS GSS code"),
    Prop("ward_name", "w.ward_name", filterable=True),
    Prop("borough_code", "w.borough_code", filterable=True),
    Prop("borough_name", "w.borough_name", filterable=True),
)

_HARM_PROPS = _PERIOD_PROPS + (
    Prop("score", "t.score", "number", description="harm index 0-100 (100 = most harm); null: not ranked"),
    Prop("coverage", "t.coverage", "number", description="share of the period's weight this ward has data for"),
    Prop("rank_london", "t.rank_london", "integer", description="1 = most harm in London"),
    Prop("decile_london", "t.decile_london", "integer", True, "1 = the worst 10% of London's wards"),
    Prop("rank_borough", "t.rank_borough", "integer"),
    Prop("decile_borough", "t.decile_borough", "integer", True),
    Prop("hotspot", "t.hotspot", filterable=True,
         description="Getis-Ord Gi* class: hot_99, hot_95, hot_90, cold_..., not_significant, island, no_data"),
    Prop("gi_z", "t.gi_z", "number"),
    Prop("gi_p", "t.gi_p", "number", description="permutation pseudo p-value"),
    Prop("lisa_cluster", "t.lisa_cluster", filterable=True,
         description="Local Moran class: high_high, low_low, high_low, low_high, not_significant, ..."),
    Prop("lisa_i", "t.lisa_i", "number"),
    Prop("lisa_p", "t.lisa_p", "number"),
    Prop("synthetic", "t.synthetic", "boolean", True, "true when a synthetic indicator went into the score"),
)

_INDICATOR_FIGURES = (
    Prop("value", "t.value", "number", description="count, pounds, or agreeing respondents (PAS)"),
    Prop("rate_per_1000", "t.rate_per_1000", "number", description="per 1,000 Census 2021 residents"),
    Prop("respondents", "t.respondents", "integer", description="PAS only"),
    Prop("pct", "t.pct", "number", description="PAS: raw percentage agreeing"),
    Prop("pct_lo", "t.pct_lo", "number", description="PAS: Wilson 95% interval, low"),
    Prop("pct_hi", "t.pct_hi", "number"),
    Prop("eb_pct", "t.eb_pct", "number", description="PAS: empirical-Bayes estimate"),
    Prop("eb_lo", "t.eb_lo", "number"),
    Prop("eb_hi", "t.eb_hi", "number"),
    Prop("scored", "t.scored", "number", description="transformed score 0-100 (weighted indicators)"),
    Prop("contribution", "t.contribution", "number", description="points of the harm index from this indicator"),
    Prop("prev_value", "t.prev_value", "number", description="the previous period of the same kind"),
    Prop("prev_change", "t.prev_change", "number"),
    Prop("prev_p", "t.prev_p", "number"),
    Prop("prev_trend", "t.prev_trend", filterable=True, description="up, down, no_change, not_tested"),
    Prop("yoy_value", "t.yoy_value", "number", description="the same period a year before"),
    Prop("yoy_change", "t.yoy_change", "number"),
    Prop("yoy_p", "t.yoy_p", "number"),
    Prop("yoy_trend", "t.yoy_trend", filterable=True),
    Prop("synthetic", "t.synthetic", "boolean", True, "true when loaded from synthetic files"),
)



def _indicator_props(ind: Indicator) -> tuple[Prop, ...]:
    """An indicator collection's properties: the indicator and its family (with the second family PAS
    "problem" is read in, and possession's caveat), then its figures. The family and the caveat are the
    same in every feature of the collection: bound parameters (``Collection.static``), not SQL text."""
    own = [Prop("indicator", "t.indicator"),
           Prop("family", "%(family)s::text",
                description="need (harm), response (police activity: a diagnostic, not harm and not a target) "
                            "or confidence (the strategy's targets)")]
    if ind.also:
        own.append(Prop("also_family", "%(also_family)s::text",
                        description="the other family this indicator is read in (said wherever it appears twice)"))
    if ind.caveat:
        own.append(Prop("caveat", "%(caveat)s::text", description="read the figures with this caution"))
    return _PERIOD_PROPS + tuple(own) + _INDICATOR_FIGURES


def _indicator_static(ind: Indicator) -> dict[str, str]:
    out = {"indicator": ind.slug, "family": ind.family}
    if ind.also:
        out["also_family"] = ind.also
    if ind.caveat:
        out["caveat"] = ind.caveat
    return out


def _indicator_description(ind: Indicator) -> str:
    """The family first, as every surface names it; then what a response indicator is for, the caveat and
    the second family where there is one."""
    text = (f"{FAMILY_LABELS[ind.family]}. The published indicator {ind.slug} ({ind.label}, {ind.kind}) of every "
            "2022 ward in every period it is published for: figure, rate, uncertainty, contribution to the harm "
            "index, trends. Feature id: ward code and period, e.g. E05013800_FY2025-26.")
    if ind.family == "response":
        text += (" Police activity is a diagnostic, not a target and not harm: it is not in the harm index unless "
                 "its weights put it there (the harm-index collection says so), and it is read against need in "
                 "the need-response collection.")
    if ind.also:
        text += f" Also read as {FAMILY_LABELS[ind.also].lower()}: the same figures, in both families."
    if ind.caveat:
        text += f" Caution: {ind.caveat}"
    return text


#: Police activity against need per 2022 ward and period (harm.current_response, level 'ward'): the area
#: code is the ward's, so these restate _PERIOD_PROPS on t.area_code.
_RESPONSE_PROPS = tuple(Prop(p.name, "t.area_code", p.type, p.filterable, p.description) if p.name == "ward_code"
                        else p for p in _PERIOD_PROPS) + (
    Prop("activity", "t.activity", "number",
         description="police actions counted in the period (the indicators in activity_indicators)"),
    Prop("activity_indicators", "array_to_string(p.activity, ',')",
         description="the response indicators counted as activity: those covering every month of the period"),
    Prop("trafficking", "t.trafficking", "number", description="recorded drug trafficking offences (the need)"),
    Prop("per_100", "t.per_100", "number",
         description="police actions per 100 recorded trafficking offences; null with none recorded"),
    Prop("per_100_lo", "t.per_100_lo", "number",
         description="exact 95% interval, low (Clopper-Pearson on activity / (activity + trafficking))"),
    Prop("per_100_hi", "t.per_100_hi", "number", description="exact 95% interval, high"),
    Prop("vs_london", "t.vs_london", filterable=True,
         description="higher, lower, similar (London's rate inside the interval) or too_few"),
    Prop("need_level", "t.need_level", filterable=True,
         description="high (need deciles 1-3 in London), middle, low (deciles 8-10) or unranked"),
    Prop("quadrant", "t.quadrant", filterable=True,
         description="tasking_candidate (high need, response lower than London's), possible_over_attention (low "
                     "need, response higher), need_and_response_high, low_need_low_response or no_signal"),
    Prop("synthetic", "t.synthetic", "boolean", True, "true when synthetic activity went into the figures"),
)

_PERIOD_SOURCE = ("{table} t JOIN harm.current_period p ON p.version = t.version AND p.period = t.period "
                  "JOIN geo.ward w ON w.vintage = 2022 AND w.ward_code = t.ward_code")
_PERIOD_TIME = ("p.first_month::timestamp AT TIME ZONE 'UTC'",
                "(p.last_month + interval '1 month')::timestamp AT TIME ZONE 'UTC'")


def _wards(vintage: int, cid: str) -> Collection:
    start, end = VINTAGE_SPANS[vintage]
    current = " (the current boundaries)" if vintage == CURRENT_VINTAGE else ""
    return Collection(
        id=cid, title=f"Wards, {vintage} boundaries{current}",
        description=(f"London's electoral wards as drawn for the {vintage} borough elections{current}, with "
                     "Census 2021 populations. Feature id: the ward's GSS code."),
        source="geo.ward w", where="w.vintage = %(vintage)s", static={"vintage": vintage},
        keys=("w.ward_code",), geom="w.geom", props=_WARD_PROPS,
        temporal=(sql_date(start), sql_date(end)), interval=(_iso(start), _iso(end)), kind="ward",
        geom_group=f"ward-{vintage}")


def sql_date(d: date | None) -> str:
    return "NULL::timestamptz" if d is None else f"timestamptz '{d.isoformat()} 00:00:00+00'"


def _iso(d: date | None) -> str | None:
    return None if d is None else f"{d.isoformat()}T00:00:00Z"


def _build() -> dict[str, Collection]:
    out = [_wards(CURRENT_VINTAGE, "wards"), _wards(2018, "wards-2018"), _wards(2014, "wards-2014")]
    out.append(Collection(
        id="boroughs", title="London boroughs",
        description="The 32 London boroughs and the City of London, with Census 2021 populations. "
                    "Feature id: the borough's GSS code.",
        source="geo.borough b", where="true", keys=("b.borough_code",), geom="b.geom", kind="borough",
        geom_group="borough", gid="b.borough_code",
        props=(Prop("borough_code", "b.borough_code", filterable=True),
               Prop("borough_name", "b.borough_name", filterable=True),
               Prop("city_of_london", "b.city_of_london", "boolean", True),
               Prop("population", "b.population", "integer", description="Census 2021 usual residents"),
               Prop("area_ha", "round(b.area_ha::numeric, 2)", "number"))))
    out.append(Collection(
        id="harm-index", title="Harm index per ward and period",
        description=("The published harm index of every 2022 ward in every period (months, quarters, financial "
                     "years, rolling 12 months): score, London and borough rank and decile, Gi* hotspot and "
                     "Local Moran class. By default the index is built from need (harm) indicators only; this "
                     "document's weight_families say which families the published weights draw on, and "
                     "response_note says so when police activity is weighted in. Filter with period=FY2025/26. "
                     "Feature id: ward code and period, e.g. E05013800_FY2025-26."),
        source=_PERIOD_SOURCE.format(table="harm.current_ward_index"), where="t.version = %(version)s",
        key_source="harm.current_ward_index t",
        keys=("t.period", "t.ward_code"), geom="w.geom", props=_HARM_PROPS, temporal=_PERIOD_TIME,
        needs_index=True, kind="harm"))
    out.append(Collection(
        id="need-response", title="Police response against need per ward and period",
        description=("Police activity (closures, network disruptions, asset seizures, drug searches) per 100 "
                     "recorded drug trafficking offences, for every MPS-policed 2022 ward in every period it is "
                     "published for, with its exact 95% interval, how it compares with London's rate, the ward's "
                     "need level and its place on need x response. A diagnostic, not a target: high need with "
                     "response lower than London's is a candidate for tasking; low need with response higher is "
                     "named as possible over-attention. Police activity is never counted as harm by default. "
                     "Filter with period=FY2025/26. Feature id: ward code and period, e.g. E05013800_FY2025-26."),
        source=("harm.current_response t JOIN harm.current_period p ON p.version = t.version AND p.period = t.period "
                "JOIN geo.ward w ON w.vintage = 2022 AND w.ward_code = t.area_code"),
        where="t.version = %(version)s AND t.level = 'ward'", key_source="harm.current_response t",
        keys=("t.period", "t.area_code"), geom="w.geom", props=_RESPONSE_PROPS, temporal=_PERIOD_TIME,
        needs_index=True, kind="response", gid="w.ward_code"))
    for ind in INDICATORS:
        out.append(Collection(
            id=f"indicator-{ind.slug}", title=f"{ind.label} per ward and period", description=_indicator_description(ind),
            source=_PERIOD_SOURCE.format(table="harm.current_ward_indicator"),
            key_source="harm.current_ward_indicator t",
            where="t.version = %(version)s AND t.indicator = %(indicator)s", static=_indicator_static(ind),
            keys=("t.period", "t.ward_code"), geom="w.geom", props=_indicator_props(ind), temporal=_PERIOD_TIME,
            needs_index=True, kind="indicator", indicator=ind))
    return {c.id: c for c in out}


COLLECTIONS: dict[str, Collection] = _build()


# --- query composition ---------------------------------------------------------------------------

@dataclass
class Query:
    """A request's restrictions on one collection, parsed and checked."""

    collection: Collection
    version: int | None
    crs: str = CRS84
    bbox: tuple[float, float, float, float] | None = None
    bbox_srid: int = 4326
    start: object = None
    end: object = None
    equals: dict[str, object] = field(default_factory=dict)
    after: tuple | None = None
    key: tuple | None = None          # one feature

    def params(self) -> dict[str, object]:
        p: dict[str, object] = dict(self.collection.static, version=self.version)
        if self.bbox is not None:
            p.update(minx=self.bbox[0], miny=self.bbox[1], maxx=self.bbox[2], maxy=self.bbox[3], bbox_srid=self.bbox_srid)
        p.update(t_start=self.start, t_end=self.end)
        for i, value in enumerate(self.equals.values()):
            p[f"eq{i}"] = value
        for i, value in enumerate(self.after or ()):
            p[f"after{i}"] = value
        for i, value in enumerate(self.key or ()):
            p[f"key{i}"] = value
        return p


def bbox_filter(c: Collection, srid: int) -> sql.Composable:
    # Transform the box, not the column, so the GiST index on the EPSG:27700 geometry is used. A box in
    # degrees is densified first, so that its edges (straight in its own CRS) stay where they were.
    # A box in EPSG:27700 stays a rectangle there, so a feature whose own bounding box lies inside it
    # intersects it without the exact test (`@`, bounding-box containment): most features of a page do.
    box = sql.SQL("ST_MakeEnvelope(%(minx)s, %(miny)s, %(maxx)s, %(maxy)s, %(bbox_srid)s)")
    if srid != 27700:
        box = sql.SQL("ST_Transform(ST_Segmentize({box}, 0.005), 27700)").format(box=box)
        return sql.SQL("ST_Intersects({geom}, {box})").format(geom=sql.SQL(c.geom), box=box)
    return sql.SQL("{geom} && {box} AND ({geom} @ {box} OR ST_Intersects({geom}, {box}))").format(
        geom=sql.SQL(c.geom), box=box)


def time_filter(c: Collection, q: Query) -> sql.Composable:
    if c.temporal is None:
        return sql.SQL("true")      # no time: datetime does not restrict (documented)
    start, end = (sql.SQL(e) for e in c.temporal)
    parts = []
    if q.end is not None:
        parts.append(sql.SQL("({start} IS NULL OR {start} <= %(t_end)s)").format(start=start))
    if q.start is not None:
        parts.append(sql.SQL("({end} IS NULL OR {end} > %(t_start)s)").format(end=end))
    return sql.SQL(" AND ").join(parts) if parts else sql.SQL("true")


def where(q: Query) -> sql.Composable:
    c = q.collection
    parts: list[sql.Composable] = [sql.SQL(c.where)]
    if q.bbox is not None:
        parts.append(bbox_filter(c, q.bbox_srid))
    if q.start is not None or q.end is not None:
        parts.append(time_filter(c, q))
    for i, name in enumerate(q.equals):
        parts.append(sql.SQL("{expr} = {value}").format(expr=sql.SQL(c.filters[name].expr),
                                                        value=sql.Placeholder(f"eq{i}")))
    if q.after is not None:
        parts.append(sql.SQL("({keys}) > ({values})").format(
            keys=sql.SQL(", ").join(sql.SQL(k) for k in c.keys),
            values=sql.SQL(", ").join(sql.Placeholder(f"after{i}") for i in range(len(c.keys)))))
    if q.key is not None:
        parts.extend(sql.SQL("{k} = {v}").format(k=sql.SQL(k), v=sql.Placeholder(f"key{i}"))
                     for i, k in enumerate(c.keys))
    return sql.SQL(" AND ").join(parts)


def geometry_expr(c: Collection, crs: str) -> tuple[sql.Composable, int]:
    """The collection's geometry in ``crs`` (axes in its order) and the decimals that keep it to ~1 cm."""
    return _transformed(sql.SQL(c.geom), crs)


def _transformed(geom: sql.Composable, crs: str) -> tuple[sql.Composable, int]:
    srid, swap, places = CRSS[crs]
    if srid != 27700:
        geom = sql.SQL("ST_Transform({g}, {srid})").format(g=geom, srid=sql.Literal(srid))
    if swap:
        geom = sql.SQL("ST_FlipCoordinates({g})").format(g=geom)
    return geom, places


def properties_json(c: Collection) -> sql.Composable:
    pairs = sql.SQL(", ").join(sql.SQL("{n}, {e}").format(n=sql.Literal(p.name), e=sql.SQL(p.expr)) for p in c.props)
    return sql.SQL("json_build_object({pairs})").format(pairs=pairs)


#: page_sql's statements by the shape of their query (what it restricts, not the values): composing one
#: takes longer than the database needs for a page, so each shape is composed once per worker.
_PAGE_SQL: dict[tuple, bytes] = {}


def page_sql(q: Query, *, paged: bool = True, wkt: bool = False) -> bytes:
    """``_page_sql``'s statement for ``q``, composed once per shape of query (the values are parameters)."""
    shape = (q.collection.id, q.crs, q.bbox is not None and q.bbox_srid, q.start is not None, q.end is not None,
             tuple(q.equals), q.after is not None, q.key is not None, paged, wkt)
    text = _PAGE_SQL.get(shape)
    if text is None:
        text = _PAGE_SQL[shape] = _page_sql(q, paged=paged, wkt=wkt).as_bytes(None)
    return text


def _page_sql(q: Query, *, paged: bool, wkt: bool) -> sql.Composable:
    """The rows of one page (or one feature) in key order: keys, properties as JSON text, and the id of
    the geometry (``gid``), which ``geometry_sql`` encodes; ``%(limit)s`` and ``%(offset)s`` are parameters,
    so the statement is prepared once and reused for every page.

    Keys are chosen first, from the index, and only the page's rows are joined back and encoded, so a
    deep ``OFFSET`` skips keys, not JSON.
    """
    c = q.collection
    keys = sql.SQL(", ").join(sql.SQL("{e} AS {n}").format(e=sql.SQL(k), n=sql.Identifier(f"k{i}"))
                              for i, k in enumerate(c.keys))
    key_names = sql.SQL(", ").join(sql.Identifier(f"k{i}") for i in range(len(c.keys)))
    join_on = sql.SQL(" AND ").join(sql.SQL("{e} = pg.{n}").format(e=sql.SQL(k), n=sql.Identifier(f"k{i}"))
                                    for i, k in enumerate(c.keys))
    extra: sql.Composable = sql.SQL("")
    if wkt:
        g, places = geometry_expr(c, q.crs)
        extra = sql.SQL(", ST_AsText({g}, {p}) AS wkt, {props} AS props_obj").format(
            g=g, p=sql.Literal(places), props=properties_json(c))
    page = sql.SQL("SELECT {keys} FROM {source} WHERE {where} ORDER BY {names}").format(
        keys=keys, source=sql.SQL(page_source(q)), where=where(q), names=key_names)
    if paged:
        page = sql.SQL("{page} LIMIT %(limit)s OFFSET %(offset)s").format(page=page)
    return sql.SQL(
        "WITH pg AS MATERIALIZED ({page}) "
        "SELECT {key_names}, {id} AS fid, {gid} AS gid, {props}::text AS props{extra} "
        "FROM pg JOIN {source} ON {join_on} WHERE {static} ORDER BY {key_names}").format(
        page=page, key_names=key_names, id=_id_sql(c), gid=sql.SQL(c.gid), props=properties_json(c),
        extra=extra, source=sql.SQL(c.source), join_on=join_on, static=sql.SQL(c.where))


#: Where each collection's geometry lives: (table with alias, condition, id column, geometry column).
GEOMETRY_SOURCES = {
    "ward-2022": ("geo.ward w", "w.vintage = 2022", "w.ward_code", "w.geom"),
    "ward-2018": ("geo.ward w", "w.vintage = 2018", "w.ward_code", "w.geom"),
    "ward-2014": ("geo.ward w", "w.vintage = 2014", "w.ward_code", "w.geom"),
    "borough": ("geo.borough b", "true", "b.borough_code", "b.geom"),
}


def geometry_sql(group: str, crs: str) -> sql.Composable:
    """GeoJSON geometries (text, built in PostGIS) of some ids of one geometry source, in ``crs``."""
    table, cond, gid, geom = GEOMETRY_SOURCES[group]
    g, places = _transformed(sql.SQL(geom), crs)
    # options 0: no "crs" member inside the geometry (RFC 7946; the CRS is in the Content-Crs header)
    return sql.SQL("SELECT {gid} AS gid, ST_AsGeoJSON({g}, {p}, 0) AS geometry FROM {table} "
                   "WHERE {cond} AND {gid} = ANY(%(gids)s)").format(
        gid=sql.SQL(gid), g=g, p=sql.Literal(places), table=sql.SQL(table), cond=sql.SQL(cond))


def page_source(q: Query) -> str:
    """The main table alone when every restriction is on its own columns (the page is then read in key
    order from its primary key), else the whole source. Every row of the main table has its period and
    its 2022 ward (foreign key, and the index is only built for 2022 wards), so both choose the same rows."""
    c = q.collection
    if c.key_source is None or q.bbox is not None or q.start is not None or q.end is not None:
        return c.source
    if any(not c.filters[name].expr.startswith("t.") for name in q.equals):
        return c.source
    return c.key_source


def _id_sql(c: Collection) -> sql.Composable:
    if c.kind in PERIOD_KINDS:
        return sql.SQL("(pg.k1 || '_' || replace(pg.k0, '/', '-'))")
    return sql.SQL("pg.k0::text")


def count_sql(q: Query) -> sql.Composable:
    return sql.SQL("SELECT count(*) AS n FROM {source} WHERE {where}").format(source=sql.SQL(q.collection.source),
                                                                            where=where(q))


def extent_sql(c: Collection) -> sql.Composable:
    return sql.SQL("SELECT ST_XMin(e) AS minx, ST_YMin(e) AS miny, ST_XMax(e) AS maxx, ST_YMax(e) AS maxy "
                   "FROM (SELECT ST_Transform(ST_SetSRID(ST_Extent({g})::geometry, 27700), 4326) AS e "
                   "FROM {source} WHERE {where}) x").format(g=sql.SQL(c.geom), source=sql.SQL(c.source),
                                                            where=sql.SQL(c.where))


def parse_filter(c: Collection, name: str, text: str) -> object:
    prop = c.filters[name]
    if prop.type == "integer":
        if not re.fullmatch(r"[+-]?\d{1,9}", text):
            raise Problem(f"{name} must be a whole number, not {text[:30]!r}")
        return int(text)
    if prop.type == "boolean":
        if text.lower() not in ("true", "false"):
            raise Problem(f"{name} must be true or false, not {text[:30]!r}")
        return text.lower() == "true"
    if len(text) > 100:
        raise Problem(f"{name} is too long (at most 100 characters)")
    if name == "period":       # the same spellings the map and the CLI accept (FY2025-26, 2025Q1...)
        try:
            return periods.parse(text).label
        except periods.PeriodError as e:
            raise Problem(f"period: {e}") from None
    return text


__all__ = ["COLLECTIONS", "Collection", "Query", "Prop", "page_sql", "geometry_sql", "count_sql", "extent_sql", "EPSG4326",
           "EPSG27700", "CRS84", "LONDON_BBOX_CRS84", "parse_filter"]
