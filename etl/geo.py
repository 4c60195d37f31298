"""Reference geography: ward boundaries (three vintages), boroughs, the ONS ward register, LSOAs,
Census 2021 population and the vintage crosswalks, from ``geodata/manifest.toml``.

Everything is checked before anything is written, and then written in one transaction, so a bad
file stops the load with a message naming the file, the row and the problem, and leaves the
database exactly as it was. Re-loading unchanged files is a no-op (keyed on their SHA-256).
"""

from __future__ import annotations

import hashlib
import re
import time
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import psycopg
import pyogrio
import shapely
from psycopg import sql
from psycopg.types.json import Jsonb

from etl.queries import query as etl_query
from harmmap.db import query, require_schema, sha256_file, vacuum_analyze
from harmmap.domain import SIMPLIFY_TOLERANCES_M

ACCEPTED_EPSG = (4326, 27700)
GEO_LOAD_LOCK = 0x47454F4C  # "GEOL": any fixed number shared by every loader
#: Part of the fingerprint: bump it when the load's method changes, so unchanged files are reloaded.
LOADER_VERSION = 2
#: Generous boxes around Greater London; a layer outside them has the wrong CRS label or coordinates.
LONDON_BOX = {4326: (-0.75, 51.15, 0.55, 51.85), 27700: (480_000, 140_000, 580_000, 215_000)}
MANIFEST_KEYS = {
    "ward_vintage": ("vintage", "label", "file", "code", "name", "borough_code", "borough_name", "boundary_note"),
    "boroughs": ("file", "code", "name"),
    "ward_register": ("file", "code", "name", "borough_code", "borough_name", "easting", "northing"),
    "lsoa21": ("file", "code", "name", "borough_code"),
    "population": ("file", "code", "value"),
    "lsoa21_to_ward2022": ("file", "lsoa_code", "ward_code"),
    "lsoa11_to_lsoa21": ("file", "lsoa11_code", "lsoa21_code", "change", "weight"),
}
WARD_CODE = re.compile(r"^E05\d{6}$")
BOROUGH_CODE = re.compile(r"^E09\d{6}$")
LSOA_CODE = re.compile(r"^E01\d{6}$")


class GeoLoadError(ValueError):
    """A reference file is missing, unreadable or wrong; the message names file, row and problem."""


@dataclass
class GeoReport:
    status: str  # "published" or "unchanged"
    batch_id: int
    rows_read: int = 0
    ward_counts: dict[int, int] = field(default_factory=dict)
    population_totals: dict[int, int] = field(default_factory=dict)
    repaired: list[dict[str, Any]] = field(default_factory=list)
    notes: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    def lines(self) -> list[str]:
        if self.status == "unchanged":
            return [f"reference data unchanged (batch {self.batch_id}); nothing to do (use --force to reload)"]
        out = [f"reference data loaded in {self.seconds:.1f} s (batch {self.batch_id}, {self.rows_read:,} source rows)"]
        for vintage, n in sorted(self.ward_counts.items()):
            out.append(f"  wards {vintage}: {n} wards, population {self.population_totals.get(vintage, 0):,}")
        for r in self.repaired:
            out.append(f"  repaired {r['file']} feature {r['feature']} {r['code']} ({r['name']}): {r['reason']} "
                       f"-> valid, area change {r['area_change_m2']:+.1f} m2")
        for key, value in self.notes.items():
            out.append(f"  {key}: {value}")
        return out


# --- reading and checking (no database) ---------------------------------------------------------

def read_manifest(geodata_dir: Path) -> dict[str, Any]:
    path = geodata_dir / "manifest.toml"
    try:
        manifest = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise GeoLoadError(f"{path}: manifest not found (is HARMMAP_GEODATA_DIR right?)") from None
    except tomllib.TOMLDecodeError as e:
        raise GeoLoadError(f"{path}: not valid TOML: {e}") from None
    for section, keys in MANIFEST_KEYS.items():
        entries = manifest.get(section)
        if not entries:
            raise GeoLoadError(f"manifest.toml: section [{section}] is missing")
        for entry in entries if isinstance(entries, list) else [entries]:
            missing = [k for k in keys if k not in entry]
            if missing:
                raise GeoLoadError(f"manifest.toml: [{section}] lacks {', '.join(missing)}")
    return manifest


def _files(manifest: Mapping[str, Any]) -> list[str]:
    names = [v["file"] for v in manifest["ward_vintage"]]
    names += [manifest[k]["file"] for k in ("boroughs", "ward_register", "lsoa21", "population",
                                             "lsoa21_to_ward2022", "lsoa11_to_lsoa21")]
    return names


def fingerprint(geodata_dir: Path, manifest: Mapping[str, Any]) -> str:
    """SHA-256 over the manifest and every file it names: the identity of one reference data set."""
    h = hashlib.sha256(f"loader {LOADER_VERSION}".encode())
    h.update((geodata_dir / "manifest.toml").read_bytes())
    for name in _files(manifest):
        path = geodata_dir / name
        if not path.is_file():
            raise GeoLoadError(f"{path}: file not found (named in manifest.toml)")
        h.update(name.encode())
        h.update(sha256_file(path).encode())
    return h.hexdigest()


def _read_layer(path: Path, spec: Mapping[str, Any], columns: Iterable[str]) -> tuple[pd.DataFrame, np.ndarray, int]:
    """Attributes (as strings), geometries (shapely) and EPSG code of a vector file."""
    try:
        df = pyogrio.read_dataframe(path, layer=spec.get("layer"))
    except Exception as e:  # pyogrio raises several kinds (DataSourceError, DataLayerError, ...)
        raise GeoLoadError(f"{path.name}: cannot read it as a vector file: {e}") from None
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise GeoLoadError(f"{path.name}: missing column(s) {', '.join(missing)}; found {', '.join(map(str, df.columns))}")
    epsg = df.crs.to_epsg() if df.crs is not None else None
    if epsg not in ACCEPTED_EPSG:
        raise GeoLoadError(f"{path.name}: unknown or unsupported CRS ({df.crs.name if df.crs else 'none'}); "
                           f"expected EPSG:4326 or EPSG:27700")
    geoms = np.asarray(df.geometry.values, dtype=object)
    for i, g in enumerate(geoms):
        if g is None or shapely.is_empty(g):
            raise GeoLoadError(f"{path.name}: feature {i + 1}: empty geometry")
        if shapely.get_type_id(g) not in (3, 6):  # Polygon, MultiPolygon
            raise GeoLoadError(f"{path.name}: feature {i + 1}: geometry is {g.geom_type}, expected a polygon")
    minx, miny, maxx, maxy = LONDON_BOX[epsg]
    bounds = shapely.bounds(geoms)
    outside = (bounds[:, 0] < minx) | (bounds[:, 1] < miny) | (bounds[:, 2] > maxx) | (bounds[:, 3] > maxy)
    if outside.any():
        i = int(np.flatnonzero(outside)[0])
        raise GeoLoadError(f"{path.name}: feature {i + 1}: coordinates {bounds[i, :2].round(3).tolist()} are not in "
                           f"London for EPSG:{epsg}: wrong CRS label, or swapped/garbled coordinates "
                           f"({int(outside.sum())} feature(s) affected)")
    attrs = pd.DataFrame({c: df[c].astype("string").str.strip() for c in columns})
    for c in columns:
        blank = attrs[c].isna() | (attrs[c] == "")
        if blank.any():
            raise GeoLoadError(f"{path.name}: feature {int(np.flatnonzero(blank.to_numpy())[0]) + 1}: {c} is empty")
    return attrs, geoms, epsg


def _read_csv(path: Path, columns: Iterable[str]) -> pd.DataFrame:
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as e:
        raise GeoLoadError(f"{path.name}: cannot read it as CSV: {e}") from None
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise GeoLoadError(f"{path.name}: missing column(s) {', '.join(missing)}; found {', '.join(df.columns)}")
    return df


def _where(file: str, i: int) -> str:
    """How a person finds row i (0-based) of a file: its line in a CSV (header is line 1), else its feature."""
    return f"{file}: line {i + 2}" if file.lower().endswith(".csv") else f"{file}: feature {i + 1}"


def _check_codes(file: str, codes: pd.Series, pattern: re.Pattern[str], what: str,
                 names: pd.Series | None = None, unique: bool = True) -> None:
    for i, code in enumerate(codes):
        if code is None or code is pd.NA or not pattern.match(str(code)):
            raise GeoLoadError(f"{_where(file, i)}: {what} code {code!r} is not a GSS code ({pattern.pattern})")
        if names is not None and (names.iloc[i] is pd.NA or not str(names.iloc[i])):
            raise GeoLoadError(f"{_where(file, i)}: {what} {code} has no name")
    if not unique:
        return
    positions = pd.Series(range(len(codes)), index=codes.to_numpy())
    dup = positions[positions.index.duplicated(keep="first")]
    if len(dup):
        code, i = dup.index[0], int(dup.iloc[0])
        first = int(positions[code].iloc[0])
        raise GeoLoadError(f"{_where(file, i)}: duplicate {what} code {code} (also at {_where(file, first).split(': ')[1]})")


def _check_count(file: str, n: int, expected: int | None, what: str) -> None:
    if expected is not None and n != expected:
        raise GeoLoadError(f"{file}: {n} {what}, manifest.toml expects {expected}")


def _int_column(file: str, df: pd.DataFrame, col: str, row_code: pd.Series) -> pd.Series:
    values = pd.to_numeric(df[col], errors="coerce")
    bad = values.isna() | (values < 0) | (values != values.round())
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise GeoLoadError(f"{_where(file, i)} ({row_code.iloc[i]}): {col}={df[col].iloc[i]!r} is not a whole number >= 0")
    return values.astype("int64")


@dataclass
class Layer:
    file: str
    epsg: int
    attrs: pd.DataFrame
    geoms: np.ndarray


def read_all(geodata_dir: Path, manifest: Mapping[str, Any]) -> dict[str, Any]:
    """Read and check every file. Raises GeoLoadError on the first problem; writes nothing."""
    out: dict[str, Any] = {"vintages": []}

    reg_spec = manifest["ward_register"]
    reg = _read_csv(geodata_dir / reg_spec["file"], [reg_spec[k] for k in
                                                      ("code", "name", "borough_code", "borough_name", "easting", "northing")])
    _check_codes(reg_spec["file"], reg[reg_spec["code"]], WARD_CODE, "ward", reg[reg_spec["name"]])
    _check_count(reg_spec["file"], len(reg), reg_spec.get("expected_count"), "wards")
    for col in ("easting", "northing"):
        _int_column(reg_spec["file"], reg, reg_spec[col], reg[reg_spec["code"]])
    out["register"] = reg.rename(columns={reg_spec[k]: k for k in
                                          ("code", "name", "borough_code", "borough_name", "easting", "northing")})
    register_codes = set(out["register"]["code"])

    for spec in manifest["ward_vintage"]:
        cols = [spec[k] for k in ("code", "name", "borough_code", "borough_name")]
        attrs, geoms, epsg = _read_layer(geodata_dir / spec["file"], spec, cols)
        attrs = attrs.rename(columns={spec[k]: k for k in ("code", "name", "borough_code", "borough_name")})
        _check_codes(spec["file"], attrs["code"], WARD_CODE, "ward", attrs["name"])
        _check_codes(spec["file"], attrs["borough_code"], BOROUGH_CODE, "borough", unique=False)
        _check_count(spec["file"], len(attrs), spec.get("expected_count"), "wards")
        if spec.get("register_authority"):
            codes = set(attrs["code"])
            if codes != register_codes:
                extra, missing = sorted(codes - register_codes), sorted(register_codes - codes)
                raise GeoLoadError(f"{spec['file']}: ward codes differ from the ONS register "
                                   f"({reg_spec['file']}): not in register {extra[:5]}, missing {missing[:5]}")
            by_code = out["register"].set_index("code")
            attrs["name"] = attrs["code"].map(by_code["name"])
            attrs["borough_name"] = attrs["code"].map(by_code["borough_name"])
        out["vintages"].append((spec, Layer(spec["file"], epsg, attrs, geoms)))

    b = manifest["boroughs"]
    attrs, geoms, epsg = _read_layer(geodata_dir / b["file"], b, [b["code"], b["name"]])
    attrs = attrs.rename(columns={b["code"]: "code", b["name"]: "name"})
    _check_codes(b["file"], attrs["code"], BOROUGH_CODE, "borough", attrs["name"])
    _check_count(b["file"], len(attrs), b.get("expected_count"), "boroughs")
    out["boroughs"] = Layer(b["file"], epsg, attrs, geoms)
    borough_codes = set(attrs["code"])
    for spec, layer in out["vintages"]:
        unknown = ~layer.attrs["borough_code"].isin(borough_codes)
        if unknown.any():
            i = int(np.flatnonzero(unknown.to_numpy())[0])
            raise GeoLoadError(f"{_where(layer.file, i)}: borough code {layer.attrs['borough_code'].iloc[i]} "
                               f"is not one of the {len(borough_codes)} boroughs in {b['file']}")

    s = manifest["lsoa21"]
    attrs, geoms, epsg = _read_layer(geodata_dir / s["file"], s, [s["code"], s["name"], s["borough_code"]])
    attrs = attrs.rename(columns={s["code"]: "code", s["name"]: "name", s["borough_code"]: "borough_code"})
    _check_codes(s["file"], attrs["code"], LSOA_CODE, "LSOA", attrs["name"])
    _check_count(s["file"], len(attrs), s.get("expected_count"), "LSOAs")

    p = manifest["population"]
    pop = _read_csv(geodata_dir / p["file"], [p["code"], p["value"]])
    _check_codes(p["file"], pop[p["code"]], LSOA_CODE, "LSOA")
    pop_values = _int_column(p["file"], pop, p["value"], pop[p["code"]])
    population = dict(zip(pop[p["code"]], pop_values, strict=True))
    total = int(pop_values.sum())
    if p.get("expected_total") is not None and total != p["expected_total"]:
        raise GeoLoadError(f"{p['file']}: residents add up to {total:,}, manifest.toml expects {p['expected_total']:,}")

    bf = manifest["lsoa21_to_ward2022"]
    best = _read_csv(geodata_dir / bf["file"], [bf["lsoa_code"], bf["ward_code"]])
    _check_codes(bf["file"], best[bf["lsoa_code"]], LSOA_CODE, "LSOA")
    best_fit = dict(zip(best[bf["lsoa_code"]], best[bf["ward_code"]], strict=True))
    for i, w in enumerate(best[bf["ward_code"]]):
        if w not in register_codes:
            raise GeoLoadError(f"{_where(bf['file'], i)}: ward {w!r} is not in the ONS register")

    lsoa_codes = set(attrs["code"])
    for name, codes in ((p["file"], set(population)), (bf["file"], set(best_fit))):
        if codes != lsoa_codes:
            raise GeoLoadError(f"{name}: LSOA codes differ from {s['file']}: "
                               f"extra {sorted(codes - lsoa_codes)[:5]}, missing {sorted(lsoa_codes - codes)[:5]}")
    attrs["population"] = attrs["code"].map(population).astype("int64")
    attrs["ward_code_2022"] = attrs["code"].map(best_fit)
    out["lsoa21"] = Layer(s["file"], epsg, attrs, geoms)

    lk = manifest["lsoa11_to_lsoa21"]
    look = _read_csv(geodata_dir / lk["file"], [lk[k] for k in ("lsoa11_code", "lsoa21_code", "change", "weight")])
    look = look.rename(columns={lk[k]: k for k in ("lsoa11_code", "lsoa21_code", "change", "weight")})
    _check_codes(lk["file"], look["lsoa11_code"], LSOA_CODE, "LSOA 2011", unique=False)
    look["weight"] = pd.to_numeric(look["weight"], errors="coerce")
    for i, row in look.iterrows():
        if row["lsoa21_code"] not in lsoa_codes:
            raise GeoLoadError(f"{_where(lk['file'], i)}: LSOA 2021 {row['lsoa21_code']!r} is not in {s['file']}")
        if not (0 < row["weight"] <= 1):
            raise GeoLoadError(f"{_where(lk['file'], i)}: weight {row['weight']!r} is not in (0, 1]")
        if row["change"] not in ("U", "S", "M", "X"):
            raise GeoLoadError(f"{_where(lk['file'], i)}: change indicator {row['change']!r} is not one of U, S, M, X")
    sums = look.groupby("lsoa11_code")["weight"].transform("sum")
    off = look[(sums - 1).abs() > 1e-4]
    if len(off):
        raise GeoLoadError(f"{lk['file']}: weights for LSOA 2011 {off['lsoa11_code'].iloc[0]} add up to "
                           f"{sums[off.index[0]]:.6f}, not 1")
    # The file rounds weights to 6 decimals; normalise so a 2011 count is carried over whole.
    look["weight"] = look["weight"] / sums
    out["lsoa11_lsoa21"] = look

    out["crosswalk"] = manifest.get("crosswalk", {"pairs": [], "sliver_m": 15.0})
    known = {spec["vintage"] for spec, _ in out["vintages"]}
    for a, b_ in out["crosswalk"]["pairs"]:
        if a not in known or b_ not in known:
            raise GeoLoadError(f"manifest.toml: crosswalk {a}->{b_} names a vintage that is not loaded ({sorted(known)})")
    return out


# --- writing (one transaction) -------------------------------------------------------------------

def _table(name: str) -> sql.Identifier:
    """``"geo.ward"`` or ``"lsoa_stage"`` as a (qualified) identifier."""
    return sql.Identifier(*name.split("."))


def _copy(conn: psycopg.Connection, table: str, columns: list[str], rows: Iterable[tuple[Any, ...]]) -> int:
    n = 0
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        _table(table), sql.SQL(", ").join(map(sql.Identifier, columns)))
    with conn.cursor().copy(statement) as copy:
        for row in rows:
            copy.write_row(row)
            n += 1
    return n


def _stage_polygons(conn: psycopg.Connection, stage: str, layer: Layer, cols: list[str]) -> None:
    conn.execute(sql.SQL("CREATE TEMP TABLE {} (row_number int, {}, wkb bytea, geom geometry) ON COMMIT DROP").format(
        sql.Identifier(stage), sql.SQL(", ").join(sql.SQL("{} text").format(sql.Identifier(c)) for c in cols)))
    wkb = shapely.to_wkb(layer.geoms)
    values = layer.attrs[cols].to_numpy(dtype=object)
    _copy(conn, stage, ["row_number", *cols, "wkb"],
          ((i + 1, *values[i], wkb[i]) for i in range(len(wkb))))
    # Transform to British National Grid, then repair in metres (make_valid keeps only polygons).
    conn.execute(sql.SQL(etl_query("geo_stage_transform")).format(stage=sql.Identifier(stage)), {"epsg": layer.epsg})


def _repair(conn: psycopg.Connection, stage: str, layer: Layer) -> list[dict[str, Any]]:
    rows = conn.execute(sql.SQL(etl_query("geo_repair")).format(stage=sql.Identifier(stage))).fetchall()
    repaired = []
    for r in rows:
        if not r["ok"]:
            raise GeoLoadError(f"{_where(layer.file, r['row_number'] - 1)} ({r['code']}): invalid geometry "
                               f"that cannot be repaired ({r['reason']})")
        repaired.append({"file": layer.file, "feature": r["row_number"], "code": r["code"], "name": r["name"],
                         "reason": r["reason"], "area_change_m2": float(r["area_change_m2"] or 0.0)})
    return repaired


def _simplified(conn: psycopg.Connection, vintage: int) -> int:
    """Coverage simplification (shared edges simplified once, so no gaps or slivers between wards).

    PostGIS 3.3 has no ST_CoverageSimplify; shapely's GEOS (>= 3.12) does it. Per-ward
    ST_SimplifyPreserveTopology would open hairline gaps between neighbours at map scale.
    """
    rows = conn.execute(query("ward_geometries"), {"vintage": vintage}).fetchall()
    codes = [r["ward_code"] for r in rows]
    geoms = shapely.from_wkb([r["wkb"] for r in rows])
    n = 0
    for tol in SIMPLIFY_TOLERANCES_M:
        simple = shapely.coverage_simplify(geoms, tol)
        wkb = shapely.to_wkb(simple)
        n += _copy(conn, "pg_temp.simple_stage", ["vintage", "ward_code", "tolerance_m", "wkb"],
                   ((vintage, codes[i], tol, wkb[i]) for i in range(len(codes))))
    return n


def _write(conn: psycopg.Connection, data: Mapping[str, Any], batch_id: int) -> dict[str, Any]:
    info: dict[str, Any] = {"repaired": [], "ward_counts": {}, "population_totals": {}, "notes": {}}
    # Readers keep seeing the old rows until commit (DELETE, not TRUNCATE: no exclusive lock).
    for table in ("geo.crosswalk", "geo.ward_simplified", "geo.ward", "geo.ward_vintage", "geo.borough",
                  "geo.ward_register", "geo.lsoa11_lsoa21", "geo.lsoa21"):
        conn.execute(sql.SQL("DELETE FROM {}").format(_table(table)))

    reg = data["register"]
    _copy(conn, "geo.ward_register", ["ward_code", "ward_name", "borough_code", "borough_name", "point"],
          ((r.code, r.name, r.borough_code, r.borough_name, f"SRID=27700;POINT({r.easting} {r.northing})")
           for r in reg.itertuples()))

    lsoa: Layer = data["lsoa21"]
    _stage_polygons(conn, "lsoa_stage", lsoa, ["code", "name", "borough_code", "population", "ward_code_2022"])
    info["repaired"] += _repair(conn, "lsoa_stage", lsoa)
    conn.execute(etl_query("geo_insert_lsoa21"))
    look = data["lsoa11_lsoa21"]
    _copy(conn, "geo.lsoa11_lsoa21", ["lsoa11_code", "lsoa21_code", "change", "weight"],
          look[["lsoa11_code", "lsoa21_code", "change", "weight"]].itertuples(index=False, name=None))

    boroughs: Layer = data["boroughs"]
    _stage_polygons(conn, "borough_stage", boroughs, ["code", "name"])
    info["repaired"] += _repair(conn, "borough_stage", boroughs)
    conn.execute(etl_query("geo_insert_borough"))

    conn.execute(etl_query("geo_simple_stage"))
    for spec, layer in data["vintages"]:
        vintage = int(spec["vintage"])
        stage = f"ward_stage_{vintage}"
        _stage_polygons(conn, stage, layer, ["code", "name", "borough_code", "borough_name"])
        info["repaired"] += _repair(conn, stage, layer)
        if spec.get("register_authority"):
            method = "Census 2021 usual residents of LSOAs summed into wards by the ONS best-fit lookup"
        else:
            method = ("Census 2021 usual residents of LSOAs, each given whole to the ward containing its "
                      "point on surface")
        conn.execute(etl_query("geo_insert_ward_vintage"),
                     {"vintage": vintage, "label": spec["label"], "file": spec["file"],
                      "approximate": bool(spec.get("approximate", False)), "boundary_note": spec["boundary_note"],
                      "method": method, "batch_id": batch_id})
        conn.execute(sql.SQL(etl_query("geo_insert_ward")).format(stage=sql.Identifier(stage)), {"vintage": vintage})
        if spec.get("register_authority"):
            conn.execute(etl_query("geo_population_best_fit"), {"vintage": vintage})
        else:
            # Each LSOA's point on surface goes to the ward containing it; the few that fall in no
            # ward (generalised LSOA edges at the Thames or the London boundary) go to the nearest.
            moved = conn.execute(etl_query("geo_population_point_on_surface"), {"vintage": vintage}).fetchone()
            if moved["n"]:
                info["notes"][f"population {vintage}"] = (f"{moved['n']} LSOA point(s) fell outside every ward "
                                                          "and were given to the nearest ward")
        stats = conn.execute(etl_query("geo_ward_stats"), {"vintage": vintage}).fetchone()
        conn.execute(etl_query("geo_ward_count"), {"n": stats["n"], "vintage": vintage})
        info["ward_counts"][vintage] = int(stats["n"])
        info["population_totals"][vintage] = int(stats["pop"])
        _simplified(conn, vintage)

    conn.execute(etl_query("geo_insert_simplified"))

    cw = data["crosswalk"]
    for from_v, to_v in cw["pairs"]:
        info["notes"].update(_crosswalk(conn, int(from_v), int(to_v), float(cw.get("sliver_m", 15.0))))
    return info


def _crosswalk(conn: psycopg.Connection, from_v: int, to_v: int, sliver_m: float) -> dict[str, str]:
    """Area- and population-weighted crosswalk between two vintages (weights sum to 1 per source ward).

    population weight of (s, t) = residents of s living in t, assuming residents spread evenly over
    each LSOA: sum over LSOAs l of pop(l) * area(l n s n t) / area(l). A source ward whose overlaps
    hold no LSOA area (none in London today) falls back to its area weights, and the note says so.
    """
    conn.execute(etl_query("geo_crosswalk_pairs"), {"from": from_v, "to": to_v, "sliver": sliver_m})
    conn.execute(etl_query("geo_crosswalk_insert"), {"from": from_v, "to": to_v})
    stats = conn.execute(etl_query("geo_crosswalk_stats"), {"from": from_v, "to": to_v}).fetchone()
    conn.execute(etl_query("geo_crosswalk_done"))
    if stats["sources"] != stats["wards"]:
        raise GeoLoadError(f"crosswalk {from_v}->{to_v}: only {stats['sources']} of {stats['wards']} wards overlap "
                           f"a {to_v} ward")
    return {f"crosswalk {from_v}->{to_v}": f"{stats['pairs']} ward pairs for {stats['sources']} wards"}


#: The reference tables vacuumed and analysed after a load.
ANALYZED = ("geo.ward_vintage", "geo.ward", "geo.ward_simplified", "geo.borough", "geo.ward_register", "geo.lsoa21",
            "geo.lsoa11_lsoa21", "geo.crosswalk")


def load(conn: psycopg.Connection, geodata_dir: Path, *, force: bool = False,
         progress: Callable[[str], None] = lambda _: None) -> GeoReport:
    """Load (or re-load) all reference geography in one transaction, committed here; then vacuum and
    analyse the tables it replaced."""
    started = time.perf_counter()
    require_schema(conn)
    manifest = read_manifest(geodata_dir)
    sha = fingerprint(geodata_dir, manifest)
    if not force:
        prev = conn.execute(etl_query("geo_previous"), {"sha": sha}).fetchone()
        if prev and prev["same"] and prev["loaded"]:
            conn.commit()
            return GeoReport("unchanged", prev["batch_id"])
    progress("reading and checking files")
    data = read_all(geodata_dir, manifest)
    rows_read = (len(data["register"]) + sum(len(layer.attrs) for _, layer in data["vintages"])
                 + len(data["boroughs"].attrs) + len(data["lsoa21"].attrs) + len(data["lsoa11_lsoa21"]))
    progress("writing to PostGIS (one transaction)")
    try:
        report = _publish(conn, geodata_dir, data, sha, rows_read, started)
    except (psycopg.DataError, psycopg.IntegrityError, psycopg.errors.InternalError_) as e:
        raise GeoLoadError(f"the database refused the reference data ({type(e).__name__}: "
                           f"{e.diag.message_primary}); nothing was changed") from None
    conn.commit()
    vacuum_analyze(conn, ANALYZED)  # the load's own updates leave a dead copy of every ward
    return report


def _publish(conn: psycopg.Connection, geodata_dir: Path, data: Mapping[str, Any], sha: str, rows_read: int,
             started: float) -> GeoReport:
    with conn.transaction():
        # One reference load at a time; a second waits here, then replaces the first's result whole.
        conn.execute(etl_query("geo_lock"), {"lock": GEO_LOAD_LOCK})
        batch_id = conn.execute(etl_query("geo_batch_open"), {"sha": sha}).fetchone()["batch_id"]
        info = _write(conn, data, batch_id)
        for spec, _ in data["vintages"]:
            conn.execute(etl_query("geo_vintage_sha"),
                         {"sha": sha256_file(geodata_dir / spec["file"]), "vintage": spec["vintage"]})
        seconds = time.perf_counter() - started
        notes = {"repaired": info["repaired"], "ward_counts": info["ward_counts"],
                 "population_totals": info["population_totals"], "notes": info["notes"], "seconds": round(seconds, 2)}
        conn.execute(etl_query("geo_batch_published"), {"read": rows_read, "notes": Jsonb(notes), "batch_id": batch_id})
    return GeoReport("published", batch_id, rows_read, info["ward_counts"], info["population_totals"],
                     info["repaired"], info["notes"], time.perf_counter() - started)
