"""Fuzzing every ETL source kind's read and check steps with Hypothesis (docs/security.md, "Tried against it").

For each kind, a file of valid rows is written, and generated rows have cells replaced by hostile text:
SQL and format metacharacters, path traversal, formulas, huge and non-finite numbers, impossible dates,
unicode, empty. ``read_table`` then the kind's ``prepare`` (what ``harmmap etl run`` does before it
writes) must not crash, every row read must be either loaded or quarantined with a reason, a row with a
bad value in a checked column must be quarantined, and an untouched row must not be. Deterministic
(``derandomize``) and bounded (``max_examples``), so it takes seconds.
"""

from __future__ import annotations

import csv
import tempfile
from collections.abc import Callable
from datetime import date
from pathlib import Path

import hypothesis
import pytest
from hypothesis import strategies as st

from etl.errors import EtlError
from etl.kinds import KINDS
from etl.placing import Geography
from etl.readers import read_table
from harmmap import db

TODAY = date(2026, 6, 30)

#: Wrong in any checked column of any kind (none is a code, a date, a choice or a count).
HOSTILE = ["' OR 1=1 --", "'; DROP TABLE etl.batch; --", "1; SELECT pg_sleep(10)", "%s", "%(name)s", "{0}", "\\",
           "=HYPERLINK(\"http://x\")", "../../etc/passwd", "..%2f..%2fetc%2fpasswd", "<script>alert(1)</script>",
           "NaN", "nan", "inf", "-inf", "1e309", "-1e309", "9" * 40, "-1", "-0.5", "0x1F", "𝕏😀", "\u202eevil",
           "null", "None", "[]", "{}", "2023-02-30", "31/13/2023", "1999-12-31", "3000-01-01", "2023-13-01"]
#: Non-empty text a person could type, with no surrogates (a file cannot hold them).
TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\r\n"), max_size=40)


def _hostile_for(column: str, bad: set[str]) -> st.SearchStrategy[str]:
    return st.sampled_from(sorted(bad))


# Per kind: the header, a valid row (i = its position, so keys stay unique), and the checked columns with
# values that must get the row quarantined.
def closures(w: list[str], i: int) -> dict[str, str]:
    return {"source_id": f"CL-{i}", "closure_type": "crack_house", "stage": "closure_notice", "date": "2024-01-15",
            "ward_code": w[i], "ward_vintage": "2022", "synthetic": "true"}


def seizures(w: list[str], i: int) -> dict[str, str]:
    return {"source_id": f"AS-{i}", "date": "2024-01-15", "seizure_count": "2", "value_gbp": "1,250.50",
            "ward_code": w[i], "ward_vintage": "2022", "synthetic": "true"}


def disruptions(w: list[str], i: int) -> dict[str, str]:
    return {"source_id": f"DR-{i}", "date": "2024-01-15", "network_ref": f"NET-{i}", "level": "local",
            "grading": "minor", "ward_code": w[i], "ward_vintage": "2022", "synthetic": "true"}


def pas(w: list[str], i: int) -> dict[str, str]:
    return {"period_type": "quarter", "period_end": "2024-06", "geography_level": "ward", "geography_code": w[i],
            "ward_vintage": "2022", "measure": "drug_problem", "respondents": "30", "agree_count": "17",
            "synthetic": "true"}


def mps_ward_crime(w: list[str], i: int) -> dict[str, str]:
    return {"MajorText": "DRUG OFFENCES", "MinorText": "POSSESSION OF DRUGS", "WardName": "A ward",
            "WardCode": w[i], "LookUp_BoroughName": "A borough", "202401": "3", "202402": "0"}


def mps_lsoa_drug_annual(lsoa: list[str], i: int) -> dict[str, str]:
    return {"LSOA11CD": lsoa[i], "LSOA11NM": "An LSOA", "2019": "10.0", "2020": "0", "2021": "4"}


NEGATIVE_OR_NOT_A_NUMBER = {"-1", "-0.5", "NaN", "nan", "inf", "-inf", "1e309", "-1e309", "abc", "' OR 1=1 --",
                            "0x1F", "𝕏😀"}
KIND_SPECS: dict[str, tuple[Callable[[list[str], int], dict[str, str]], dict[str, set[str]]]] = {
    "closures": (closures, {"source_id": {""}, "closure_type": set(HOSTILE) | {""}, "stage": set(HOSTILE) | {""},
                            "date": set(HOSTILE) | {""}, "ward_code": set(HOSTILE) | {""}}),
    "seizures": (seizures, {"source_id": {""}, "date": set(HOSTILE) | {""},
                            "seizure_count": NEGATIVE_OR_NOT_A_NUMBER | {"0", "1.5", "99999999999", ""},
                            "value_gbp": NEGATIVE_OR_NOT_A_NUMBER - {"0x1F"} | {"1e13", ""},
                            "ward_code": set(HOSTILE) | {""}}),
    "disruptions": (disruptions, {"source_id": {""}, "network_ref": {""}, "level": set(HOSTILE) | {""},
                                  "grading": set(HOSTILE) | {""}, "date": set(HOSTILE) | {""},
                                  "ward_code": set(HOSTILE) | {""}}),
    "pas": (pas, {"period_type": set(HOSTILE) | {""}, "period_end": set(HOSTILE) | {""},
                  "geography_level": set(HOSTILE) | {""}, "geography_code": set(HOSTILE) | {""},
                  "measure": set(HOSTILE) | {""}, "respondents": NEGATIVE_OR_NOT_A_NUMBER | {"0", "2.5", ""},
                  "agree_count": NEGATIVE_OR_NOT_A_NUMBER | {"31", "2.5"}}),
    "mps_ward_crime": (mps_ward_crime, {"WardCode": set(HOSTILE) | {""},
                                        "202401": NEGATIVE_OR_NOT_A_NUMBER}),
    "mps_lsoa_drug_annual": (mps_lsoa_drug_annual, {"LSOA11CD": set(HOSTILE) | {""},
                                                    "2019": NEGATIVE_OR_NOT_A_NUMBER}),
}
ROWS = 6


@pytest.fixture(scope="module")
def geography(settings, geo_loaded) -> tuple[Geography, list[str], list[str]]:
    with db.connect(settings.database_url) as conn:
        geo = Geography(conn)
    wards = sorted(geo.ward_borough)[:ROWS]
    lsoas = sorted(geo.lsoa11_to_ward["lsoa11_code"].unique())[:ROWS]
    return geo, wards, lsoas


def _edits(bad: dict[str, set[str]], columns: list[str]) -> st.SearchStrategy:
    """Per row: None (untouched), a checked column with a bad value (must be quarantined), or any column
    with any text (may or may not be acceptable; must not crash)."""
    checked = st.sampled_from(sorted(bad)).flatmap(lambda c: st.tuples(st.just("bad"), st.just(c), _hostile_for(c, bad[c])))
    free = st.tuples(st.just("free"), st.sampled_from(columns), st.one_of(TEXT, st.sampled_from(HOSTILE)))
    return st.lists(st.one_of(st.none(), checked, free), min_size=1, max_size=ROWS)


def _write(path: Path, rows: list[dict[str, str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def _prepare(kind: str, path: Path, geo: Geography) -> tuple[int, int, list]:
    source = read_table(path)
    prepared = KINDS[kind].prepare(source, geo, TODAY)
    if prepared.chunks is not None:
        loaded = sum(len(c) for c in prepared.chunks)
    elif "_position" in prepared.records:
        loaded = prepared.records["_position"].nunique()
    else:  # a wide MPS file gives records per ward, month or year, not per row: the run counts read - rejected
        loaded = source.rows_read - len(source.unparsed) - len(prepared.rejected)
    return source.rows_read, loaded, source.unparsed + prepared.rejected


@pytest.mark.db
@pytest.mark.parametrize("kind", sorted(KIND_SPECS))
def test_every_bad_row_is_quarantined_with_a_reason_and_nothing_crashes(kind, geography):
    geo, wards, lsoas = geography
    template, bad = KIND_SPECS[kind]
    keys = lsoas if kind == "mps_lsoa_drug_annual" else wards
    columns = list(template(keys, 0))

    @hypothesis.given(edits=_edits(bad, columns))
    @hypothesis.settings(max_examples=25, deadline=None, derandomize=True, database=None,
                         suppress_health_check=list(hypothesis.HealthCheck))
    def check(edits):
        rows, must_fail, untouched = [], set(), set()
        for i, edit in enumerate(edits):
            row = template(keys, i)
            if edit is None:
                untouched.add(i)
            else:
                how, col, value = edit
                row[col] = value
                if how == "bad":
                    must_fail.add(i)
            rows.append(row)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / f"{kind}.csv"
            _write(path, rows)
            try:
                read, loaded, rejected = _prepare(kind, path, geo)
            except EtlError as e:   # the whole file refused, with a message a person can act on
                assert str(e) and kind.startswith("mps_"), e
                return
        assert read == len(rows) == loaded + len(rejected)
        assert all(r.reason.strip() for r in rejected)
        assert len({r.place for r in rejected}) == len(rejected)    # no row counted twice
        lines = {int(r.place.split()[-1]) - 2 for r in rejected}   # line 1 is the header
        assert must_fail <= lines, (must_fail - lines, [r.reason for r in rejected], rows)
        assert not untouched & lines, ([r.reason for r in rejected], rows)

    check()


@pytest.mark.db
def test_unreadable_files_are_refused_with_a_message(geography, tmp_path):
    geo, *_ = geography
    for name, body in (("closures.csv", b"\xff\xfe\x00\x00garbage"), ("closures.xlsx", b"not a zip"),
                       ("closures.geojson", b"{\"type\": \"FeatureCollection\", \"features\": ["),
                       ("closures.csv", b"source_id,source_id\n1,2\n"), ("closures.txt", b"x"),
                       ("closures.csv", b"")):
        path = tmp_path / name
        path.write_bytes(body)
        with pytest.raises(EtlError) as e:
            _prepare("closures", path, geo)
        assert name.split(".")[0] in str(e.value) or "column" in str(e.value), e.value
