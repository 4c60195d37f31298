"""The command line shows need, response and confidence (issue 18): ``harmmap index diagnose`` prints the
marking, the read model's summary and a table of changes with their intervals (or CSV with the marking in every
row), and ``harmmap index show --response`` puts the police response beside need without changing the order.

Against the demo index in real PostGIS; expected figures come from the published tables by SQL.
"""

from __future__ import annotations

import csv
import io

import pytest
from click.testing import CliRunner

from harmmap import db, published
from harmmap.cli import main

pytestmark = pytest.mark.db

PERIOD = "FY2025/26"
MARKING = "OFFICIAL-SENSITIVE"


def cli(settings, *args: str):
    return CliRunner().invoke(main, list(args), env={"HARMMAP_DATABASE_URL": settings.database_url})


def query(settings, text: str, params=None) -> list[dict]:
    with db.connect(settings.database_url) as c:
        return c.execute(text, params).fetchall()


def read_model_summary(settings, area: str, against: str = "previous", period: str = PERIOD) -> str:
    with db.connect(settings.database_url) as conn, published.opened(conn) as snap:
        return snap.diagnostic(snap.period(period), snap.area(area), against).summary


def test_diagnose_help_says_what_it_is_and_how_to_ask():
    result = CliRunner().invoke(main, ["index", "diagnose", "--help"])
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    for words in ("diagnostic, not a target", "--area", "london, a borough (name or E09 code",
                  "--against [previous|baseline]", "[default: previous]", "--period",
                  "the latest financial year", "--csv", "marking in every row", "never says why",
                  "harmmap index diagnose --area Lambeth"):
        assert words in text, words
    index_help = " ".join(CliRunner().invoke(main, ["index", "--help"]).output.split())
    assert "diagnose" in index_help and "diagnostic view" in index_help
    show_help = " ".join(CliRunner().invoke(main, ["index", "show", "--help"]).output.split())
    assert "--response" in show_help and "the order stays by need" in show_help
    bad = CliRunner().invoke(main, ["index", "diagnose", "--against", "lastyear"])
    assert bad.exit_code == 2 and "'lastyear' is not one of 'previous', 'baseline'" in bad.output


def test_diagnose_a_borough_prints_the_marking_the_summary_and_the_changes(demo_index):
    settings = demo_index.settings
    result = cli(settings, "index", "diagnose", "--area", "Lambeth")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == MARKING and lines[-1] == MARKING
    assert lines[1].startswith(f"Diagnostic, not a target: Lambeth, {PERIOD} against FY2024/25")
    assert "SYNTHETIC" in lines[1] and "design effect 1.5" in lines[2]
    # the summary is the read model's, word for word (wrapped for the terminal)
    assert " ".join(result.output.split()).count(" ".join(read_model_summary(settings, "Lambeth").split())) == 1
    header = next(i for i, line in enumerate(lines) if line.startswith("family"))
    for column in ("indicator", "before", "after", "change", "interval_95", "p", "significant", "respondents"):
        assert column in lines[header].split()
    table = {line.split("  ")[0].strip() + "|" + line[lines[header].index("indicator"):].split("  ")[0].strip(): line
             for line in lines[header + 1:-1]}
    values = {r["indicator"]: r for r in query(settings, """SELECT indicator, value, respondents
        FROM harm.current_area_indicator WHERE level = 'borough' AND area_code = 'E09000022'
        AND period = %s""", (PERIOD,))}
    before = {r["indicator"]: r for r in query(settings, """SELECT indicator, value FROM harm.current_area_indicator
        WHERE level = 'borough' AND area_code = 'E09000022' AND period = 'FY2024/25'""")}
    row = table["need|Drug trafficking offences"]
    assert f"{before['drug_trafficking']['value']:,.0f}" in row and f"{values['drug_trafficking']['value']:,.0f}" in row
    assert " to " in row                                              # its interval
    pas = table["confidence|PAS: police tackle drug dealing well"]
    v = values["pas_tackle_dealing"]
    assert f"{100 * v['value'] / v['respondents']:.1f}%" in pas and "pts" in pas and f"{v['respondents']:,}" in pas
    assert "police response|Crack house closures" in table
    assert "need|London: Drug trafficking offences" in table       # London's need, beside the borough's
    assert "not tested" in table["police response|Asset seizure value (GBP)"]


def test_diagnose_a_ward_shows_the_exact_small_counts(demo_index):
    settings = demo_index.settings
    row = query(settings, """SELECT ward_code, value FROM harm.current_ward_indicator WHERE period = %s
                             AND indicator = 'network_disruptions' AND value BETWEEN 1 AND 4
                             ORDER BY ward_code LIMIT 1""", (PERIOD,))[0]
    result = cli(settings, "index", "diagnose", "--area", row["ward_code"], "--period", PERIOD, "--csv")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    mine = {r["indicator"]: r for r in rows if r["scope"] == "area"}
    assert float(mine["network_disruptions"]["after"]) == row["value"]     # exact: this is the server's operator
    assert {r["area_code"] for r in rows} == {row["ward_code"]} and {r["area_level"] for r in rows} == {"ward"}
    assert "fewer than" not in result.stdout
    assert result.stderr.startswith(MARKING + ": In ")


def test_diagnose_csv_has_the_marking_in_every_row_and_londons_need(demo_index):
    settings = demo_index.settings
    result = cli(settings, "index", "diagnose", "--area", "E09000022", "--csv")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert rows and all(r["protective_marking"] == MARKING and r["synthetic"] == "true" for r in rows)
    assert {r["scope"] for r in rows} == {"area", "london"}
    assert {r["family"] for r in rows if r["scope"] == "london"} == {"need"}
    assert {r["family"] for r in rows if r["scope"] == "area"} == {"need", "response", "confidence"}
    for r in rows:
        if r["lo"] and r["hi"] and r["change"]:
            assert float(r["lo"]) <= float(r["change"]) <= float(r["hi"])
        if r["p"] and r["kind"] != "value":
            assert r["significant"] == ("true" if float(r["p"]) < 0.05 else "false")
    trafficking = next(r for r in rows if r["scope"] == "london" and r["indicator"] == "drug_trafficking")
    london = query(settings, """SELECT period, value FROM harm.current_area_indicator WHERE level = 'london'
                                AND indicator = 'drug_trafficking' AND period IN ('FY2025/26', 'FY2024/25')""")
    by_period = {r["period"]: r["value"] for r in london}
    assert float(trafficking["before"]) == by_period["FY2024/25"] and float(trafficking["after"]) == by_period[PERIOD]
    assert float(trafficking["change"]) == pytest.approx(by_period[PERIOD] / by_period["FY2024/25"] - 1)
    assert read_model_summary(settings, "E09000022") in result.stderr


def test_diagnose_london_against_the_baseline(demo_index):
    settings = demo_index.settings
    result = cli(settings, "index", "diagnose", "--against", "baseline")
    assert result.exit_code == 0, result.output
    assert f"London, {PERIOD} against {settings.target_baseline} (baseline)" in result.output
    assert " ".join(read_model_summary(settings, "london", "baseline").split()) in " ".join(result.output.split())
    assert "London: " not in result.output                  # London is the area: no second London table


@pytest.mark.parametrize("args, words", [
    (["--area", "Gotham"], "not a London borough"),
    (["--area", "E05999999"], "not a 2022 London ward"),
    (["--period", "2025-Q4", "--against", "baseline"], "12 months"),
    (["--period", "FY1990/91"], "no index for FY1990/91"),
])
def test_diagnose_says_what_is_wrong_in_one_line(demo_index, args, words):
    result = cli(demo_index.settings, "index", "diagnose", *args)
    assert result.exit_code == 2 and words in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_index_show_response_puts_the_response_beside_need_in_need_order(demo_index):
    settings = demo_index.settings
    plain = cli(settings, "index", "show", "--period", PERIOD, "--top", "15", "--csv")
    with_response = cli(settings, "index", "show", "--period", PERIOD, "--top", "15", "--response", "--csv")
    assert plain.exit_code == 0 and with_response.exit_code == 0, with_response.output
    need = list(csv.DictReader(io.StringIO(plain.stdout)))
    rows = list(csv.DictReader(io.StringIO(with_response.stdout)))
    assert [r["ward_code"] for r in rows] == [r["ward_code"] for r in need]          # the order is need's
    assert all(r["protective_marking"] == MARKING for r in rows)
    response = {r["area_code"]: r for r in query(settings, """SELECT * FROM harm.current_response
                                                               WHERE level = 'ward' AND period = %s""", (PERIOD,))}
    for r in rows:
        expected = response[r["ward_code"]]
        assert float(r["response_per_100"]) == pytest.approx(expected["per_100"], abs=1e-4)
        assert float(r["response_per_100_lo"]) == pytest.approx(expected["per_100_lo"], abs=1e-4)
        assert float(r["response_per_100_hi"]) == pytest.approx(expected["per_100_hi"], abs=1e-4)
        assert (r["vs_london"], r["quadrant"], r["need_level"]) == \
            (expected["vs_london"], expected["quadrant"], expected["need_level"])
    table = cli(settings, "index", "show", "--period", PERIOD, "--top", "5", "--response")
    assert table.exit_code == 0, table.output
    lines = table.output.splitlines()
    assert lines[0] == MARKING and any("not in its rank" in line for line in lines)
    header = next(line for line in lines if line.startswith("rank"))
    assert header.split()[-4:] == ["per_100", "interval_95", "vs_london", "quadrant"]
    assert header.index("top_indicators") < header.index("per_100")                # beside need, after it
