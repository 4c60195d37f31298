"""Stop and search, police.uk's monthly CSV exactly as police.uk publishes it (docs/data-contracts.md,
"stop_search"; real data, OGL): every search into ``etl.stop_search``; the searches for controlled drugs
are rebuilt into the response indicator ``drug_searches`` per 2022 ward and month.

- **Places, never points.** police.uk gives each search an anonymised "snap point"; it is placed in its
  2022 ward and kept in ``etl.stop_search`` only. No coordinate leaves the database: what is published is
  counts per ward, borough and London.
- **No location is not no search.** police.uk keeps searches without a location (about one in twelve
  drug searches in the Met's June 2016 file). They are loaded, counted at force level
  (``harm.indicator_month`` with the force's code :data:`FORCE_AREA` and no ward), and the publish carries
  them into London's totals; they are never dropped and never spread over wards.
- **Real by definition.** A police.uk file is real. The one exception is HarmMap's own demo file
  (``harmmap synth``), whose every row names the policing operation ``SYNTHETIC``: those rows are loaded
  flagged synthetic, so every surface says so. A ``Policing operation`` starting ``SYN-`` (a synthetic
  record's id in a real file) is quarantined.
- **Months.** police.uk dates are UTC date-times; a search counts on its date in London, so 23:30 UTC on
  31 May is 1 June (BST). A file replaces the months it holds (police.uk revises a month by publishing it
  again); any month is accepted, and the index uses what covers its periods.
"""

from __future__ import annotations

import re
from datetime import date

import numpy as np
import pandas as pd
import psycopg
import pyarrow as pa
import pyarrow.compute as pc

from etl.checks import EARLIEST, Verdicts, cell, filled, map_distinct, refuse_synthetic_ids, require_columns, text
from etl.kinds.base import Kind, Prepared
from etl.placing import Geography, empty_placed, lonlat_points, place_points
from etl.queries import query
from etl.quarantine import Rejected
from etl.readers import SourceTable, normalise_column
from harmmap import db

#: police.uk's header, in its order (column names are matched as every contract's are: case and spaces aside).
HEADER = ("Type", "Date", "Part of a policing operation", "Policing operation", "Latitude", "Longitude", "Gender",
          "Age range", "Self-defined ethnicity", "Officer-defined ethnicity", "Legislation", "Object of search",
          "Outcome", "Outcome linked to object of search", "Removal of more than just outer clothing")
COLUMNS = {h: normalise_column(h) for h in HEADER}
SEARCH_TYPES = ("Person search", "Person and Vehicle search", "Vehicle search")
#: The object of search that makes a search count as ``drug_searches``.
DRUGS = "Controlled drugs"
#: What HarmMap's synthetic demo file writes as the policing operation of every row.
SYNTHETIC_OPERATION = "SYNTHETIC"
#: GSS code of the Metropolitan Police force area: the "borough" of force-level rows (no location).
FORCE_AREA = "E23000001"
LONDON_TZ = "Europe/London"
#: The Census 2021 high-level ethnic groups (table TS021), and not stated.
ETHNIC_GROUPS = ("asian", "black", "mixed", "white", "other", "not_stated")
INDICATOR = "drug_searches"


def ethnic_group(self_defined: str) -> str:
    """A police.uk self-defined ethnicity (the 2001 census's 16+1 categories, e.g. ``Black or Black British -
    African (B2)``, or the Census 2021 wording) as a Census 2021 high-level group, so that a force could set
    searches against the TS021 populations (docs/data-contracts.md). Chinese (O1) is Asian in Census 2021.
    "Not Stated (NS)", an empty cell and a label not recognised are ``not_stated``."""
    t = self_defined.strip().lower()
    code = re.search(r"\(([a-z])(\d|s)\)\s*$", t)
    if code:
        letter, number = code.group(1), code.group(2)
        if letter == "o" and number == "1":
            return "asian"
        found = {"a": "asian", "b": "black", "m": "mixed", "w": "white", "o": "other"}.get(letter)
        if found:
            return found
    if t.startswith(("white",)):
        return "white"
    if t.startswith(("black", "african", "caribbean")):
        return "black"
    if t.startswith(("asian", "chinese - ", "chinese (")) or t == "chinese":
        return "asian"
    if t.startswith(("mixed",)):
        return "mixed"
    if t.startswith(("other", "chinese or other", "arab", "any other")):
        return "other"
    return "not_stated"


#: An ISO 8601 date-time with its offset (police.uk writes ``+00:00``), or a plain date.
_WITH_OFFSET = r"(?:Z|[+-]\d{2}:?\d{2})$"


def _to_london_days(texts: pd.Series) -> np.ndarray:
    """Distinct date texts as days in London (NaT where not a date): a date-time with an offset is moved to
    London first; one without is London's own."""
    out = pd.Series(pd.NaT, index=texts.index, dtype="datetime64[ns]")
    offset = texts.str.contains(_WITH_OFFSET, regex=True)
    if offset.any():
        utc = pd.to_datetime(texts[offset], utc=True, errors="coerce", format="ISO8601")
        out[offset] = utc.dt.tz_convert(LONDON_TZ).dt.tz_localize(None).dt.normalize()
    if (~offset).any():
        out[~offset] = pd.to_datetime(texts[~offset], errors="coerce", format="ISO8601").dt.normalize()
    return out.to_numpy().astype("datetime64[D]")


def _london_dates(v: Verdicts, raw: pa.Array, today: date) -> np.ndarray:
    """police.uk's ISO 8601 date-times (``2016-05-31T23:01:00+00:00``) as dates in London; a plain date is
    taken as London's. Each distinct text is parsed once, vectorised."""
    encoded = pc.dictionary_encode(raw)
    uniques = pd.Series(encoded.dictionary.to_numpy(zero_copy_only=False), dtype=object)
    values = (_to_london_days(uniques)[encoded.indices.to_numpy(zero_copy_only=False)] if len(uniques)
              else np.array([], "datetime64[D]"))
    v.fail(~filled(raw), "Date is empty")
    bad = np.isnat(values)
    v.fail(bad, lambda i: f"Date {cell(raw, i)!r} is not a date-time (police.uk writes 2016-06-30T22:30:00+00:00)")
    v.fail(~bad & (values > np.datetime64(today, "D")), lambda i: f"Date {values[i]} is in the future")
    v.fail(~bad & (values < np.datetime64(EARLIEST, "D")), lambda i: f"Date {values[i]} is before 2000")
    return values


def _flags(v: Verdicts, table: SourceTable, header: str) -> np.ndarray:
    """A police.uk True/False column as 1, 0 or -1 (empty: not recorded); anything else fails the row."""
    raw = text(table, COLUMNS[header])
    word = map_distinct(raw, lambda d: {"true": 1, "false": 0, "": -1}.get(d.lower(), -2), np.int8)
    v.fail(word == -2, lambda i: f"{header} {cell(raw, i)!r} is not True, False or empty")
    return word


def prepare(table: SourceTable, geo: Geography, today: date) -> Prepared:
    """Every search checked, its London date, its ward (or force level), its group and whether it was for drugs."""
    require_columns(table, *[(c,) for c in COLUMNS.values()])
    n = len(table)
    v = Verdicts(n)
    operation_name = text(table, COLUMNS["Policing operation"])
    refuse_synthetic_ids(v, table, COLUMNS["Policing operation"], label="Policing operation",
                         why="is synthetic but police.uk files are real by definition")
    raw_type = text(table, COLUMNS["Type"])
    spelt = {t.lower(): t for t in SEARCH_TYPES}
    search_type = map_distinct(raw_type, lambda t: spelt.get(t.lower()))
    v.fail(search_type == None, lambda i: f"Type {cell(raw_type, i)!r} is not one of {', '.join(SEARCH_TYPES)}"  # noqa: E711
           if cell(raw_type, i) else "Type is empty")
    searched_on = _london_dates(v, text(table, COLUMNS["Date"]), today)
    operation = _flags(v, table, "Part of a policing operation")
    linked = _flags(v, table, "Outcome linked to object of search")
    removal = _flags(v, table, "Removal of more than just outer clothing")

    lat, lon = text(table, COLUMNS["Latitude"]), text(table, COLUMNS["Longitude"])
    has_lat, has_lon = filled(lat), filled(lon)
    v.fail(has_lat != has_lon, lambda i: f"{'Latitude' if has_lat[i] else 'Longitude'} is given without "
                                         f"{'Longitude' if has_lat[i] else 'Latitude'}: give both or neither")
    placed = empty_placed(n)
    xs, ys = np.full(n, np.nan), np.full(n, np.nan)
    lonlat_points(v, lon, lat, has_lat & has_lon, xs, ys)
    place_points(v, xs, ys, geo, placed)

    ok = v.ok
    objects = text(table, COLUMNS["Object of search"])
    drugs = pc.equal(pc.utf8_lower(objects), DRUGS.lower()).to_numpy(zero_copy_only=False)
    synthetic = pc.equal(pc.utf8_upper(operation_name), SYNTHETIC_OPERATION).to_numpy(zero_copy_only=False)
    self_defined = text(table, COLUMNS["Self-defined ethnicity"])
    located = placed.ward >= 0
    ward_codes = np.asarray(geo.ward_list.to_pylist() + [None], dtype=object)
    borough_codes = np.asarray(geo.borough_list.to_pylist() + [None], dtype=object)

    def keep(values) -> np.ndarray:
        """The loaded rows' cells, None where empty."""
        arr = np.asarray(values.to_numpy(zero_copy_only=False), dtype=object)[ok]
        return np.where(arr == "", None, arr)

    def flag(word: np.ndarray) -> np.ndarray:
        out = np.full(int(ok.sum()), None, object)
        w = word[ok]
        out[w == 1], out[w == 0] = True, False
        return out

    day = searched_on[ok]
    records = pd.DataFrame({
        "line": np.asarray(table.places.numbers, np.int64)[ok],
        "month": day.astype("datetime64[M]").astype("datetime64[D]"),
        "searched_on": day,
        "search_type": search_type[ok],
        "operation": flag(operation),
        "operation_name": keep(operation_name),
        "gender": keep(text(table, COLUMNS["Gender"])),
        "age_range": keep(text(table, COLUMNS["Age range"])),
        "self_defined_ethnicity": keep(self_defined),
        "ethnic_group": map_distinct(self_defined, ethnic_group)[ok],
        "officer_defined_ethnicity": keep(text(table, COLUMNS["Officer-defined ethnicity"])),
        "legislation": keep(text(table, COLUMNS["Legislation"])),
        "object_of_search": keep(objects),
        "drugs": drugs[ok],
        "outcome": keep(text(table, COLUMNS["Outcome"])),
        "outcome_linked": flag(linked),
        "removal_more_than_outer": flag(removal),
        "borough_code": borough_codes[placed.borough[ok]],
        "ward_code": ward_codes[placed.ward[ok]],
        "location_method": np.where(located[ok], "point", "force"),
        "x": placed.x[ok], "y": placed.y[ok],
        "synthetic": synthetic[ok],
    })
    months = sorted({str(m)[:7] for m in records["month"].unique()})
    is_drug = records["drugs"].to_numpy(bool)
    notes = {"months": months, "searches": int(len(records)), "drug_searches": int(is_drug.sum()),
             "drug_searches_force_level": int((is_drug & (records["location_method"] == "force")).sum())}
    return Prepared(table, records, v.rejected(table), notes=notes)


def publish(conn: psycopg.Connection, batch_id: int, prepared: Prepared) -> list[Rejected]:
    """Replace the months the file holds with its searches; rebuild ``drug_searches`` from every search loaded."""
    frame = prepared.records.copy()
    frame.insert(0, "batch_id", batch_id)
    months = sorted(pd.to_datetime(frame["month"]).dt.date.unique())
    conn.execute(query("stop_search_delete"), {"months": months})
    db.copy_frame(conn, "etl.stop_search", frame)
    conn.execute(query("monthly_delete"), {"indicators": [INDICATOR]})
    conn.execute(query("stop_search_monthly"), {"indicator": INDICATOR, "force": FORCE_AREA})
    return []


KIND = Kind("stop_search", "police.uk stop and search, monthly CSV (real)", prepare, publish)
