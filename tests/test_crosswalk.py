"""Carrying ward counts across boundary vintages."""

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from etl import crosswalk

pytestmark = pytest.mark.db


def _ward_table(conn, vintage: int, column: str = "population") -> pd.DataFrame:
    rows = conn.execute(f"SELECT ward_code, ward_name, {column} AS value FROM geo.ward WHERE vintage = %s", (vintage,))
    return pd.DataFrame(rows.fetchall(), columns=["ward_code", "ward_name", "value"])


def test_hand_checked_split_of_one_ward(conn):
    # Lambeth's 2018 Bishop's ward: most of it became Waterloo & South Bank, the rest went to Kennington.
    w = crosswalk.weights(conn, 2018, 2022, "area").query("from_code == 'E05000416'").set_index("to_code")["weight"]
    assert set(w.index) == {"E05014118", "E05014105"}
    assert w["E05014118"] == pytest.approx(0.917, abs=0.01)
    frame = pd.DataFrame({"ward_code": ["E05000416"], "offences": [100.0]})
    out = crosswalk.convert(conn, frame, "ward_code", 2018, 2022, "area").frame.set_index("ward_code")
    assert out.loc["E05014118", "offences"] == pytest.approx(100 * w["E05014118"])
    assert out["offences"].sum() == pytest.approx(100.0)


@pytest.mark.parametrize("kind", ["area", "population"])
def test_conversion_keeps_the_total(conn, kind):
    frame = _ward_table(conn, 2018)[["ward_code", "value"]]
    out = crosswalk.convert(conn, frame, "ward_code", 2018, 2022, kind).frame
    assert out["value"].sum() == pytest.approx(frame["value"].sum(), rel=1e-9)
    assert len(out) == 704


def test_population_weights_beat_area_weights_at_reproducing_2022_populations(conn):
    # 2018 ward populations carried to 2022 should land near the 2022 populations computed
    # independently from the ONS best-fit lookup; residents are not spread evenly, so population
    # weights must do better than area weights. (Both vintages use whole LSOAs, so ~7% noise per ward.)
    actual = _ward_table(conn, 2022).set_index("ward_code")["value"]
    mps = actual[actual > 0].index
    r = {}
    for kind in ("area", "population"):
        carried = crosswalk.convert(conn, _ward_table(conn, 2018)[["ward_code", "value"]], "ward_code", 2018, 2022,
                                    kind).frame.set_index("ward_code")["value"]
        r[kind] = np.corrcoef(carried[mps], actual[mps])[0, 1]
    assert r["population"] > r["area"] + 0.05
    assert r["population"] > 0.9


def test_counts_stay_inside_their_borough(conn):
    boroughs = {r["ward_code"]: r["borough_code"] for r in
                conn.execute("SELECT ward_code, borough_code FROM geo.ward WHERE vintage = 2022")}
    source = _ward_table(conn, 2018)[["ward_code", "value"]]
    carried = crosswalk.convert(conn, source, "ward_code", 2018, 2022, "population").frame
    by_borough = carried.groupby(carried["ward_code"].map(boroughs))["value"].sum()
    expected = pd.Series({r["borough_code"]: r["population"] for r in
                          conn.execute("SELECT borough_code, population FROM geo.borough")})
    assert ((by_borough - expected[by_borough.index]).abs() / expected[by_borough.index]).max() < 0.001


def test_2014_to_2022_is_composed_through_2018(conn):
    w = crosswalk.weights(conn, 2014, 2022, "population")
    sums = w.groupby("from_code")["weight"].sum()
    assert len(sums) == 654 and (sums - 1).abs().max() < 1e-9


def test_unknown_ward_code_names_the_row(conn):
    frame = pd.DataFrame({"ward_code": ["E05000416", "E05999999"], "n": [1, 2]})
    with pytest.raises(crosswalk.CrosswalkError, match=r"line 3: 'E05999999' is not a 2018 ward code"):
        crosswalk.convert(conn, frame, "ward_code", 2018, 2022)


def test_missing_count_is_an_error_not_a_zero(conn):
    frame = pd.DataFrame({"ward_code": ["E05000416", "E05000417"], "n": [1.0, None], "flag": [True, False]})
    with pytest.raises(crosswalk.CrosswalkError, match=r"line 3: n is empty"):
        crosswalk.convert(conn, frame, "ward_code", 2018, 2022)
    out = crosswalk.convert(conn, frame.fillna(0), "ward_code", 2018, 2022).frame
    assert "flag" not in out.columns  # a flag is not a count to share out


def test_missing_pair_is_explained(conn):
    with pytest.raises(crosswalk.CrosswalkError, match="no crosswalk from 2022 to 2014"):
        crosswalk.weights(conn, 2022, 2014)


def test_cli_converts_a_csv(settings, geo_loaded, tmp_path, monkeypatch):
    from harmmap.cli import main

    src = tmp_path / "counts_2018.csv"
    src.write_text("ward,name,offences\nE05000416,Bishop's,100\nE05000417,Brixton Hill,10\n")
    out = tmp_path / "counts_2022.csv"
    monkeypatch.setenv("HARMMAP_DATABASE_URL", settings.database_url)
    result = CliRunner().invoke(main, ["geo", "crosswalk", "--from", "2018", "--to", "2022", "--weights", "area",
                                       "--out", str(out), str(src)])
    assert result.exit_code == 0, result.output
    converted = pd.read_csv(out)
    assert converted["offences"].sum() == pytest.approx(110)
    assert "totals offences 110 -> 110" in result.output


def test_cli_reports_a_bad_file_in_one_line(settings, geo_loaded, tmp_path, monkeypatch):
    from harmmap.cli import main

    src = tmp_path / "bad.csv"
    src.write_text("ward,offences\nE05000416,1\nE05099999,2\n")
    monkeypatch.setenv("HARMMAP_DATABASE_URL", settings.database_url)
    result = CliRunner().invoke(main, ["geo", "crosswalk", "--from", "2018", "--to", "2022", str(src)])
    assert result.exit_code == 2
    assert "bad.csv: line 3: 'E05099999' is not a 2018 ward code" in result.output
    assert "Traceback" not in result.output
