"""The synthetic demo set: the five kinds from one seed, written into a directory with their
``_expected_quarantine_<kind>.csv`` sidecars (``harmmap synth``), and the small example files cut from
it (geodata/examples/).

The files follow docs/data-contracts.md exactly, so ``harmmap etl run-all DIR`` loads them like any
analyst's file; a few percent of rows in each are deliberately bad, each with one defect the contract
quarantines, and the sidecar says which line and why (names starting with ``_`` are skipped by
``run-all``). One ``np.random.Generator`` draws everything, kind after kind in a fixed order, so a seed
gives the same bytes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import psycopg

from synth import closures, disruptions, files, pas, seizures, stop_search
from synth.common import (DEFAULT_CRIME_FILE, Calibration, FrameTable, Geography, Source, Table, add_months,
                          read_geography)
from synth.intensity import with_intensity

#: The kinds in the order they are drawn: changing it changes every file of a seed.
SOURCES: dict[str, Source] = {m.SOURCE.kind: m.SOURCE for m in (closures, disruptions, pas, seizures, stop_search)}
KINDS = tuple(SOURCES)
FILE_NAMES = {kind: s.file_name for kind, s in SOURCES.items()}
DEFECTS = {kind: s.defects for kind, s in SOURCES.items()}


def generate(geo: Geography, rng: np.random.Generator, *, start: date, months: int, bad_share: float,
             cal: Calibration = Calibration()) -> dict[str, Table | FrameTable]:
    """Every kind from one generator, in a fixed order (so a seed fixes every file): first the policing
    intensity the response kinds are drawn from (synth/intensity.py), then the kinds."""
    if months < 1:
        raise ValueError("months must be at least 1")
    geo = with_intensity(geo, rng, cal)
    return {kind: s.table(geo, rng, start, months, bad_share, cal) for kind, s in SOURCES.items()}


def write_tables(tables: Mapping[str, Table | FrameTable], out_dir: Path) -> dict[str, Path]:
    """Each table as its kind's file, with its sidecar. Returns {kind: data file}."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {}
    for kind, table in tables.items():
        path = out_dir / FILE_NAMES[kind]
        SOURCES[kind].write(table, path)
        files.write_expected(table, files.expected_quarantine_path(out_dir, kind))
        paths[kind] = path
    return paths


def write_all(conn: psycopg.Connection, out_dir: Path, *, seed: int, start: date = date(2023, 4, 1),
              months: int = 36, bad_share: float = 0.03, crime_file: Path | None = None) -> dict[str, Path]:
    """Write closures.csv, disruptions.geojson, pas.csv, seizures.xlsx and stop_search_synthetic.csv (all rows
    synthetic) into ``out_dir``, with ``_expected_quarantine_<kind>.csv`` beside each (and the stop and search
    file's SYNTHETIC label). Returns {kind: data file}.

    Dates fall in [start, start + months). The period must be over by today, or good rows would be
    quarantined as "in the future". Needs ``harmmap geo load`` (2022 wards) in ``conn``'s database.
    """
    end = add_months(start, months)
    if start < date(2000, 1, 1) or end > date.today() + timedelta(days=1):
        raise ValueError(f"the period {start} to {end - timedelta(days=1)} must lie between 2000 and today")
    geo = read_geography(conn, crime_file or DEFAULT_CRIME_FILE)
    tables = generate(geo, np.random.default_rng(seed), start=start, months=months, bad_share=bad_share)
    return write_tables(tables, out_dir)


# --- example files ------------------------------------------------------------------------------

def cut(table: Table | FrameTable, n_good: int, defects: Sequence[str]) -> Table:
    """About ``n_good`` good rows (the first of each way of writing a row, e.g. each location form, then
    the earliest) and the first bad row with each of ``defects``, kept in file order.

    A duplicate keeps the row it repeats (the loader keeps the first and quarantines the copy)."""
    dup_defects = {"duplicate_source_id", "duplicate_result"}
    source = SOURCES[table.kind]
    if isinstance(table, FrameTable):
        return table.cut(n_good, defects, source.form)

    def form(i: int) -> tuple[Any, ...]:
        return source.form(table.rows[i])

    def key(i: int) -> tuple[Any, ...]:
        return source.key(table.rows[i])

    good = [i for i in range(len(table.rows)) if i not in table.expected]
    keep: set[int] = set()
    forms: set[tuple[Any, ...]] = set()
    for i in good:
        if form(i) not in forms:
            forms.add(form(i))
            keep.add(i)
    for i in good:
        if len(keep) >= n_good:
            break
        keep.add(i)
    wanted = list(defects)
    for i in sorted(table.expected):
        d = table.expected[i]
        if d not in wanted:
            continue
        if d in dup_defects:
            firsts = [g for g in good if g < i and key(g) == key(i)]
            if not firsts:
                continue
            keep.add(firsts[0])
        keep.add(i)
        wanted.remove(d)
    order = sorted(keep)
    return Table(table.kind, table.columns, [table.rows[i] for i in order],
                 {pos: table.expected[i] for pos, i in enumerate(order) if i in table.expected})


def write_examples(conn: psycopg.Connection, out_dir: Path, *, seed: int = 1, n_good: int = 8,
                   crime_file: Path | None = None) -> dict[str, Table]:
    """The small files in geodata/examples/: a few good rows and two bad ones of each kind, cut from
    the default 36-month output for ``seed``."""
    geo = read_geography(conn, crime_file or DEFAULT_CRIME_FILE)
    tables = generate(geo, np.random.default_rng(seed), start=date(2023, 4, 1), months=36, bad_share=0.03)
    out_dir.mkdir(parents=True, exist_ok=True)
    cuts = {kind: cut(t, n_good, SOURCES[kind].example_defects) for kind, t in tables.items()}
    for kind, t in cuts.items():
        SOURCES[kind].write(t, out_dir / SOURCES[kind].file_name)
    return cuts
