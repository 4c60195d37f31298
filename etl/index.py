"""Publish the harm index: read what the jobs published, build the index (pure), swap it in atomically.

Reading happens in one REPEATABLE READ snapshot, so the index is built from one consistent state of the
indicator tables even while a job runs. Writing happens in one transaction that inserts a new version
and moves ``harm.current`` to it, then deletes the older versions: readers see the old index or the new
one, never half of either. The version number is what the web app puts in ETags.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import psycopg
import shapely

from etl.errors import EtlError
from etl.queries import query as etl_query
from harmmap import db, hotspots, periods
from harmmap.config import Settings
from harmmap.harm import SEARCH_INDICATOR, IndexConfig, IndexInputs, IndexTables, build_index, month_runs

# Serialises publishes (a second one waits); the data swap itself is a single transaction anyway.
_PUBLISH_LOCK = 0x48494458  # "HIDX"

ANALYZED = ("harm.publish", "harm.current", "harm.period", "harm.ward_index", "harm.ward_indicator",
            "harm.area_indicator", "harm.target", "harm.robustness", "harm.response", "harm.search_outcome",
            "harm.search_group")
#: The tables of IndexTables a publish writes, and where.
WRITTEN = {"periods": "harm.period", "ward_index": "harm.ward_index", "ward_indicator": "harm.ward_indicator",
           "area_indicator": "harm.area_indicator", "robustness": "harm.robustness", "targets": "harm.target",
           "response": "harm.response", "search_outcome": "harm.search_outcome", "search_group": "harm.search_group"}

_INT_COLUMNS = ("rank_london", "decile_london", "rank_borough", "decile_borough", "respondents", "wards_ranked",
                "searches", "unlocated", "recorded", "found")


@dataclass
class PublishReport:
    version: int
    periods: int
    wards: int
    synthetic: bool
    seconds: dict[str, float] = field(default_factory=dict)
    weights: dict[str, float] = field(default_factory=dict)
    rows: int = 0          # rows written, all tables

    def lines(self) -> list[str]:
        label = " (includes SYNTHETIC data)" if self.synthetic else ""
        timing = ", ".join(f"{k} {v:.1f} s" for k, v in self.seconds.items())
        return [f"harm index version {self.version} published: {self.periods} periods x {self.wards} wards{label}",
                f"  weights: {', '.join(f'{k}={v:g}' for k, v in self.weights.items())}",
                f"  {timing}"]


def config_from(settings: Settings) -> IndexConfig:
    return IndexConfig(weights=settings.weights, baseline=periods.parse(settings.target_baseline),
                       permutations=settings.hotspot_permutations, design_effect=settings.pas_design_effect)


def read_inputs(conn: psycopg.Connection) -> IndexInputs:
    """Everything the index needs, in one snapshot."""
    conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")

    def frame(name: str) -> pd.DataFrame:
        cur = conn.execute(db.query(name))
        return pd.DataFrame(cur.fetchall(), columns=[c.name for c in cur.description])

    wards = frame("index_wards")
    if wards.empty:
        raise EtlError("no 2022 wards in geo.ward: run `harmmap geo load` first")
    contiguity = hotspots.queen_contiguity(wards["ward_code"].tolist(),
                                           shapely.from_wkb([bytes(b) for b in wards["wkb"]]))
    searches = _etl_frame(conn, "index_searches")
    inputs = IndexInputs(
        wards=wards.set_index("ward_code")[["borough_code", "population", "in_area"]],
        contiguity=contiguity, monthly=searches_for_index(frame("index_monthly"), searches), pas=frame("index_pas"),
        networks=frame("index_networks"), seizures=frame("index_seizures"), searches=searches)
    if inputs.monthly.empty and inputs.pas.empty:
        raise EtlError("no indicators loaded yet: run `harmmap etl run-all DIR` first")
    return inputs


def _etl_frame(conn: psycopg.Connection, name: str) -> pd.DataFrame:
    """A query of etl/queries as a frame (the ETL's own record tables, read in the same snapshot)."""
    cur = conn.execute(etl_query(name))
    return pd.DataFrame(cur.fetchall(), columns=[c.name for c in cur.description])


def searches_for_index(monthly: pd.DataFrame, searches: pd.DataFrame) -> pd.DataFrame:
    """``monthly`` with drug_searches kept only for the latest unbroken run of months the loaded police.uk
    files hold that overlaps the other indicators' months (none: drug_searches is left out of the index).

    The index takes an indicator's months from its first to its last as covered, and a month with no file is
    unknown, not zero: the real June 2016 file beside the 2023-26 demo months must not make 2016-2023 read as
    years with no searches, nor open a 2016 period of its own. Every run keeps its find rates and groups
    (harm.search_outcome, harm.search_group)."""
    is_search = (monthly["indicator"] == SEARCH_INDICATOR).to_numpy()
    if not is_search.any():
        return monthly
    months = pd.to_datetime(monthly["month"])
    others = months[~is_search]
    runs = month_runs([pd.Timestamp(m).date() for m in pd.unique(searches["month"])]) if len(searches) else []
    overlapping = [(a, b) for a, b in runs if len(others)
                   and pd.Timestamp(a) <= others.max() and pd.Timestamp(b) >= others.min()]
    keep = ~is_search
    if overlapping:
        first, last = overlapping[-1]
        keep |= is_search & (months >= pd.Timestamp(first)).to_numpy() & (months <= pd.Timestamp(last)).to_numpy()
    return monthly if keep.all() else monthly[keep].reset_index(drop=True)


def _for_copy(frame: pd.DataFrame, version: int) -> pd.DataFrame:
    out = frame.copy()
    out.insert(0, "version", version)
    for col in _INT_COLUMNS:
        if col in out:
            out[col] = pd.array(np.round(out[col].to_numpy(float)), dtype="Int64") if len(out) else out[col]
    return out


def write(conn: psycopg.Connection, tables: IndexTables, settings: Settings, seconds: float) -> int:
    """Insert a new version and make it current, in the caller's transaction."""
    conn.execute("SELECT pg_advisory_xact_lock(%s)", (_PUBLISH_LOCK,))
    config = config_from(settings)
    version = conn.execute(
        """INSERT INTO harm.publish (seconds, weights, indicators, parameters, synthetic, periods, wards)
           VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING version""",
        (seconds, json.dumps(dict(config.weights)), json.dumps(tables.indicators),
         json.dumps({"permutations": config.permutations, "seed": settings.hotspot_seed,
                     "fdr_alphas": [0.01, 0.05, 0.10], "target_baseline": config.baseline.label,
                     "robustness_delta": config.robustness_delta, "pas_design_effect": config.design_effect}),
         tables.synthetic, len(tables.periods),
         int(tables.ward_index["ward_code"].nunique()) if len(tables.ward_index) else 0)).fetchone()["version"]
    for name, table in WRITTEN.items():
        frame = getattr(tables, name)
        if len(frame):
            db.copy_frame(conn, table, _for_copy(frame, version))
    conn.execute("""INSERT INTO harm.current (version) VALUES (%s)
                    ON CONFLICT (one) DO UPDATE SET version = EXCLUDED.version""", (version,))
    conn.execute("DELETE FROM harm.publish WHERE version <> %s", (version,))
    return version


def publish(settings: Settings, *, log: Callable[[str], None] = lambda _: None) -> PublishReport:
    """Read, build and swap in a new harm index version."""
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    with db.connect(settings.database_url, timeout_s=settings.db_timeout_s) as conn:
        db.require_schema(conn)
        log("read")
        with conn.transaction():
            inputs = read_inputs(conn)
        timings["read"] = time.perf_counter() - t0
        log("build")
        t1 = time.perf_counter()
        tables = build_index(inputs, config_from(settings), np.random.default_rng(settings.hotspot_seed))
        timings["build"] = time.perf_counter() - t1
        if tables.periods.empty:
            raise EtlError("no period has any indicator data: nothing to publish")
        log("publish")
        t2 = time.perf_counter()
        with conn.transaction():
            version = write(conn, tables, settings, time.perf_counter() - t0)
        # Without fresh statistics the web app's period and ward queries pick sequential scans; the
        # version this replaced is dead rows (every publish, without autovacuum, would add its size).
        db.vacuum_analyze(conn, ANALYZED)
        timings["write"] = time.perf_counter() - t2
    rows = sum(len(getattr(tables, name)) for name in WRITTEN)
    return PublishReport(version=version, periods=len(tables.periods),
                         wards=int(tables.ward_index["ward_code"].nunique()), synthetic=tables.synthetic,
                         seconds=timings, weights=dict(settings.weights), rows=rows)
