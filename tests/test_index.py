"""Publishing the harm index in the real throwaway PostGIS database, and `harmmap index show`.

The data is the session's demo index (tests/conftest.py): the real MPS ward crime file and a
synthetic set (seed 5) loaded through `harmmap etl run-all --no-index`, the index built once and
published; the same tables are reused to test a failed and a repeated publish.
"""

from __future__ import annotations

import pandas as pd
import pytest
from click.testing import CliRunner

from etl import index
from harmmap import db
from harmmap.cli import main

pytestmark = pytest.mark.db

INDEX_STATE = """
    SELECT (SELECT version FROM harm.current) AS current,
           md5(coalesce((SELECT string_agg(concat_ws(',', period, ward_code, score, rank_london, hotspot), '|'
                         ORDER BY period, ward_code) FROM harm.ward_index), '')) AS ward_index,
           md5(coalesce((SELECT string_agg(concat_ws(',', period, ward_code, indicator, value, contribution), '|'
                         ORDER BY period, ward_code, indicator) FROM harm.ward_indicator), '')) AS ward_indicator,
           md5(coalesce((SELECT string_agg(concat_ws(',', period, area_code, indicator, value), '|'
                         ORDER BY period, area_code, indicator) FROM harm.area_indicator), '')) AS area_indicator,
           (SELECT count(*) FROM harm.publish) AS versions"""


def query(settings, sql: str, params=None) -> list[dict]:
    with db.connect(settings.database_url) as c:
        return c.execute(sql, params).fetchall()



@pytest.fixture
def loaded(demo_index):
    return demo_index.settings


@pytest.fixture
def rebuilt(demo_index):
    return demo_index.tables


def cli(settings, *args: str):
    return CliRunner().invoke(main, list(args), env={"HARMMAP_DATABASE_URL": settings.database_url})


def test_publish_keeps_one_current_version_with_every_period_kind(loaded):
    state = query(loaded, "SELECT p.version, p.synthetic, p.periods, p.wards FROM harm.publish p "
                          "JOIN harm.current c USING (version)")
    assert len(state) == 1 and query(loaded, "SELECT count(*) AS n FROM harm.publish")[0]["n"] == 1
    assert state[0]["synthetic"] is True and state[0]["wards"] == 704
    kinds = {r["kind"]: r["n"] for r in query(loaded, "SELECT kind, count(*) AS n FROM harm.current_period GROUP BY kind")}
    # synthetic files cover April 2023 - March 2026: 36 months, 12 quarters, 3 financial years, 25 rolling years
    assert kinds == {"month": 36, "quarter": 12, "fy": 3, "r12": 25}
    ranked = query(loaded, "SELECT count(rank_london) AS ranked, count(*) AS wards FROM harm.current_ward_index "
                           "WHERE period = 'FY2025/26'")[0]
    assert ranked == {"ranked": 679, "wards": 704}   # the 25 City of London wards are published unranked


def test_london_totals_equal_the_loaded_monthly_figures(loaded, demo_index):
    fy = query(loaded, """SELECT indicator, value FROM harm.current_area_indicator
                          WHERE period = 'FY2025/26' AND level = 'london'""")
    got = {r["indicator"]: r["value"] for r in fy}
    monthly = demo_index.inputs.monthly
    months = pd.to_datetime(monthly["month"])
    in_fy = monthly[(months >= "2025-04-01") & (months <= "2026-03-01") & (monthly["borough_code"] != "E09000001")]
    for indicator, value in in_fy.groupby("indicator")["value"].sum().items():
        if indicator != "drug_offences":
            assert got[indicator] == pytest.approx(value), indicator
    # and the real MPS trafficking count is what the source CSV says for those 12 months
    source = pd.read_csv(loaded.geodata_dir / "crime/mps_ward_level_crime_2024-03_to_2026-03.csv")
    months = [f"{y}{m:02d}" for y, m in [(2025, m) for m in range(4, 13)] + [(2026, m) for m in range(1, 4)]]
    trafficking = source[source["MinorText"] == "TRAFFICKING OF DRUGS"][months].to_numpy().sum()
    assert got["drug_trafficking"] == trafficking


def test_each_wards_contributions_add_up_to_its_score(loaded):
    rows = query(loaded, """SELECT i.ward_code, i.score, sum(c.contribution) AS total
                            FROM harm.current_ward_index i JOIN harm.current_ward_indicator c USING (period, ward_code)
                            WHERE i.period = 'FY2025/26' AND i.score IS NOT NULL GROUP BY 1, 2""")
    assert len(rows) == 679
    assert all(r["total"] == pytest.approx(r["score"]) for r in rows)


def test_index_show_prints_the_worst_twenty_with_why(loaded):
    result = cli(loaded, "index", "show", "--period", "FY2025/26", "--top", "20")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "OFFICIAL-SENSITIVE" and "SYNTHETIC" in lines[1]
    header = next(i for i, line in enumerate(lines) if line.startswith("rank"))
    for column in ("score", "decile", "hotspot", "top_indicators"):
        assert column in lines[header]
    body = lines[header + 1:]
    assert len(body) >= 20 and body[0].split()[0] == "1"
    worst = query(loaded, """SELECT ward_code FROM harm.current_ward_index WHERE period = 'FY2025/26'
                             ORDER BY score DESC NULLS LAST LIMIT 1""")[0]["ward_code"]
    assert worst in body[0]


def test_index_show_within_a_borough_ranks_there(loaded):
    result = cli(loaded, "index", "show", "--period", "FY2025/26", "--top", "5", "--borough", "Lambeth", "--csv")
    assert result.exit_code == 0, result.output
    shown = pd.read_csv(pd.io.common.StringIO(result.output))
    assert list(shown["rank"]) == [1, 2, 3, 4, 5] and set(shown["borough"]) == {"Lambeth"}
    lambeth = query(loaded, """SELECT ward_code FROM harm.current_ward_index WHERE period = 'FY2025/26'
                               AND borough_code = 'E09000022' ORDER BY score DESC NULLS LAST LIMIT 5""")
    assert list(shown["ward_code"]) == [r["ward_code"] for r in lambeth]


def test_index_show_says_what_is_wrong_in_one_line(loaded):
    for args, words in ((["--period", "FY2019/20"], "no index for FY2019/20"),
                        (["--period", "next year"], "is not a period"),
                        (["--period", "FY2025/26", "--borough", "Gotham"], "not a London borough")):
        result = cli(loaded, "index", "show", *args)
        assert result.exit_code == 2 and words in result.output and "Traceback" not in result.output


def test_a_failed_publish_leaves_the_published_index_as_it_was(loaded, rebuilt, monkeypatch):
    before = query(loaded, INDEX_STATE)[0]
    real_copy = db.copy_frame

    def failing_copy(conn, table, frame):
        if table == "harm.area_indicator":   # after periods, ward_index and ward_indicator were written
            raise RuntimeError("disk full (injected)")
        real_copy(conn, table, frame)

    monkeypatch.setattr(db, "copy_frame", failing_copy)
    with pytest.raises(RuntimeError, match="injected"), db.connect(loaded.database_url) as conn, conn.transaction():
        index.write(conn, rebuilt, loaded, seconds=0.0)
    assert query(loaded, INDEX_STATE)[0] == before


def test_republishing_moves_to_a_new_version_and_drops_the_old(loaded, rebuilt):
    before = query(loaded, INDEX_STATE)[0]
    with db.connect(loaded.database_url) as conn, conn.transaction():
        version = index.write(conn, rebuilt, loaded, seconds=0.0)
    after = query(loaded, INDEX_STATE)[0]
    assert version == after["current"] > before["current"] and after["versions"] == 1
    # the same tables again: the same rows under the new version
    assert (after["ward_index"], after["ward_indicator"]) == (before["ward_index"], before["ward_indicator"])


def test_the_sql_in_the_methodology_reproduces_every_published_score(loaded):
    text = (loaded.geodata_dir.parent / "docs/methodology.md").read_text(encoding="utf-8")
    block = next(b for b in text.split("```sql\n")[1:] if b.startswith("-- reproduce:")).split("```")[0]
    by_hand = {r["ward_code"]: r["score"] for r in query(loaded, block, {"period": "FY2025/26"})}
    published = {r["ward_code"]: r["score"] for r in query(
        loaded, "SELECT ward_code, score FROM harm.current_ward_index WHERE period = 'FY2025/26' AND score IS NOT NULL")}
    assert len(published) == 679 and by_hand.keys() == published.keys()
    assert all(by_hand[w] == pytest.approx(published[w], abs=1e-9) for w in published)


def test_publish_with_nothing_loaded_says_what_to_run(loaded, clear_loaded_indicators):
    clear_loaded_indicators()   # the indicator tables only: the published index (harm.*) stays
    result = cli(loaded, "index", "publish")
    assert result.exit_code == 2 and "no indicators loaded yet" in result.output and "etl run-all" in result.output
