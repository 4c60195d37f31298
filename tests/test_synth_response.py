"""The synthetic police response has its own driver (synth/intensity.py), so the demo can show need and
response apart: the pure pieces by hand, the real 2016 PAS spread re-derived here, the synthetic stop and
search file, and on the demo index (real MPS offences, synthetic seed 5) that the default index does not
follow response and that the need x response quadrants have wards in them."""

from __future__ import annotations

import csv
import math
from datetime import date

import numpy as np
import pandas as pd
import pytest
import shapely
from scipy import stats

from harmmap.config import REPO_ROOT
from harmmap.indicators import ACTIVITY
from synth import common, dataset, intensity, pas, stop_search

PAS_2016 = REPO_ROOT / "geodata" / "survey" / "mopac_pas_neighbourhoods_2016.csv"
PERIOD = "FY2025/26"


# --- the policing intensity ------------------------------------------------------------------------------

def test_the_smooth_field_is_standardised_reproducible_and_smooth():
    xs, ys = np.meshgrid(np.arange(500_000, 560_000, 1000.0), np.arange(160_000, 200_000, 1000.0))
    x, y = xs.ravel(), ys.ravel()
    a = intensity.smooth_field(x, y, np.random.default_rng(3), 5000)
    assert a.mean() == pytest.approx(0, abs=1e-9) and a.std() == pytest.approx(1)
    assert np.array_equal(a, intensity.smooth_field(x, y, np.random.default_rng(3), 5000))
    grid = a.reshape(xs.shape)
    near = np.corrcoef(grid[:, :-1].ravel(), grid[:, 1:].ravel())[0, 1]     # 1 km apart
    far = np.corrcoef(grid[:, :-30].ravel(), grid[:, 30:].ravel())[0, 1]    # 30 km apart
    assert near > 0.9 and abs(far) < 0.5  # exp(-1/50) = 0.98 for the kernel at 1 km; about 0 at 30 km


def _toy_wards() -> pd.DataFrame:
    boxes = [shapely.box(530_000 + 2000 * i, 180_000, 532_000 + 2000 * i, 182_000) for i in range(6)]
    return pd.DataFrame({"borough_code": ["E09000007"] * 2 + ["E09000003"] * 2 + ["E09000006"] * 2,
                         "population": [10_000, 30_000, 20_000, 20_000, 10_000, 10_000],
                         "trafficking": [0.0, 30.0, 2.0, 2.0, 50.0, 1.0], "geom": boxes},
                        index=[f"E0590000{i}" for i in range(6)])


def test_operation_boroughs_double_the_intensity_and_the_mean_is_one():
    wards = _toy_wards()
    cal = common.Calibration(intensity_field_sd=0.0, intensity_need_link=0.0, operation_boroughs=1)
    got, operations = intensity.policing_intensity(wards, np.random.default_rng(0), cal)
    assert len(operations) == 1
    inside = wards["borough_code"].isin(operations)
    assert np.allclose(got[inside] / got[~inside].iloc[0], 2.0) and np.allclose(got[~inside], got[~inside].iloc[0])
    assert (got * wards["population"]).sum() / wards["population"].sum() == pytest.approx(1.0)


def test_the_link_to_need_is_weak_and_goes_the_right_way():
    wards = _toy_wards()
    cal = common.Calibration(intensity_field_sd=0.0, operation_boroughs=0)
    got, _ = intensity.policing_intensity(wards, np.random.default_rng(0), cal)
    rate = common.shrunk_rate(wards["trafficking"], wards["population"], cal.shrink_weight)
    # log intensity = 0.15 x standardised log rate: the highest-need ward gets exp(0.15 x its z) more
    z = (np.log(rate) - np.log(rate).mean()) / np.log(rate).std(ddof=0)
    assert np.allclose(np.log(got / got.iloc[0]), cal.intensity_need_link * (z - z.iloc[0]))
    assert got.max() / got.min() < 1.6


# --- PAS "tackle dealing": the spread between areas from the real 2016 neighbourhoods -----------------------

def test_the_real_2016_spread_is_rederived_by_hand():
    with PAS_2016.open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f))
    question, measure = rows[0], rows[1]
    col = next(i for i, q in enumerate(question) if "tackle drug dealing" in q.lower())
    assert measure[col] == "% Well to some extent"
    pct = [float(r[col]) for r in rows[2:] if r and r[col].strip()]
    assert (len(pct), min(pct), max(pct), round(sum(pct) / len(pct), 1)) == (106, 43, 77, 60.4)
    logits = [math.log(p / (100 - p)) for p in pct]
    mean = sum(logits) / len(logits)
    observed = sum((v - mean) ** 2 for v in logits) / len(logits)
    n = 12_800 / 106                                   # interviews a neighbourhood in a year (MOPAC)
    noise = sum(1 / (n * p / 100 * (1 - p / 100)) for p in pct) / len(pct)
    spread = pas.tackle_spread(PAS_2016, 12_800)
    assert spread.neighbourhoods == 106 and spread.mean_pct == pytest.approx(60.4, abs=0.01)
    assert spread.observed_logit_sd == pytest.approx(math.sqrt(observed))
    assert spread.sampling_var == pytest.approx(noise)
    assert spread.true_logit_sd == pytest.approx(math.sqrt(observed - noise))
    assert 0.21 < spread.true_logit_sd < 0.23 and 0.5 < spread.between_borough_share < 0.65


def test_synthetic_tackle_dealing_spreads_between_wards_as_the_real_neighbourhoods_do():
    rng = np.random.default_rng(11)
    spread = pas.tackle_spread(PAS_2016, 12_800)
    z = rng.normal(0, 1, 20_000)
    boroughs = rng.integers(0, 32, 20_000)
    effect = pas.tackle_logit_effects(z, boroughs, 32, rng, spread, need_share=0.5)
    assert effect.std() == pytest.approx(spread.true_logit_sd, rel=0.15)   # 32 borough draws: some noise
    assert np.corrcoef(effect, z)[0, 1] == pytest.approx(-math.sqrt(0.5), abs=0.08)  # down where offences are high


# --- the synthetic stop and search file (a toy geography, no database) --------------------------------------

def _toy_geography() -> common.Geography:
    wards = _toy_wards().assign(drug_offences=lambda w: w["trafficking"] * 3)
    return common.Geography(wards, ("E05000111",))


def test_the_synthetic_stop_and_search_file_is_police_uks_format_labelled_synthetic(tmp_path):
    tables = dataset.generate(_toy_geography(), np.random.default_rng(4), start=date(2024, 1, 1), months=12,
                              bad_share=0.03)
    path = dataset.write_tables(tables, tmp_path)["stop_search"]
    assert path.name == "stop_search_synthetic.csv"
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert list(frame.columns) == stop_search.HEADER
    expected = {int(r["line_or_feature"]): r["defect"]
                for r in csv.DictReader((tmp_path / "_expected_quarantine_stop_search.csv").open())}
    good = frame.drop(index=[line - 2 for line in expected])
    assert (good["Policing operation"] == "SYNTHETIC").all()
    syn = frame.loc[[line - 2 for line, d in expected.items() if d == "synthetic_id_in_real_format"], "Policing operation"]
    assert syn.str.startswith("SYN-").all()
    label = stop_search.label_path(path).read_text()
    assert label.startswith("SYNTHETIC DATA") and path.name in label
    # the real month per resident: 10,490 searches for 8,791,193 residents, here 100,000 residents
    per_month = len(good) / 12
    expect = 10_490 * 100_000 / 8_791_193
    assert abs(per_month - expect) < 4 * math.sqrt(expect / 12)
    drugs = good["Object of search"] == "Controlled drugs"
    assert 0.55 < drugs.mean() < 0.70                        # 6,572 of 10,490 in the real file
    assert 0.03 < (good.loc[drugs, "Latitude"] == "").mean() < 0.15   # 547 of 6,572 with no location
    linked = good.loc[drugs, "Outcome linked to object of search"]
    nothing = good.loc[drugs, "Outcome"].str.startswith("Nothing found")
    assert (linked[nothing] == "False").all() and set(linked) == {"True", "False"}


# --- the demo index: need and response apart (database) ---------------------------------------------------

@pytest.fixture(scope="module")
def demo(demo_index_built):
    return demo_index_built


def _response_and_score(tables, inputs) -> pd.DataFrame:
    wi = tables.ward_indicator
    act = wi[(wi["period"] == PERIOD) & wi["indicator"].isin(ACTIVITY)].groupby("ward_code")["value"].sum()
    idx = tables.ward_index[tables.ward_index["period"] == PERIOD].set_index("ward_code")
    pop = inputs.wards["population"]
    frame = pd.DataFrame({"activity": act, "score": idx["score"], "population": pop}).dropna()
    frame = frame[frame["population"] > 0]
    frame["per_1000"] = frame["activity"] / frame["population"] * 1000
    return frame


@pytest.mark.db
def test_the_default_index_does_not_follow_the_synthetic_response(demo):
    frame = _response_and_score(demo.tables, demo.inputs)
    assert len(frame) > 600
    rho = stats.spearmanr(frame["per_1000"], frame["score"]).statistic
    assert abs(rho) < 0.3, rho
    # the index does follow need: the check above could fail, and would with response drawn from trafficking
    traffic = demo.tables.ward_indicator
    traffic = traffic[(traffic["period"] == PERIOD) & (traffic["indicator"] == "drug_trafficking")]
    need = traffic.set_index("ward_code")["rate_per_1000"].reindex(frame.index)
    assert stats.spearmanr(need, frame["score"]).statistic > 0.8


@pytest.mark.db
def test_the_quadrants_name_tasking_candidates_and_possible_over_attention(demo):
    r = demo.tables.response
    wards = r[(r["period"] == PERIOD) & (r["level"] == "ward")]
    counts = wards["quadrant"].value_counts()
    assert counts.get("tasking_candidate", 0) >= 10, counts
    assert counts.get("possible_over_attention", 0) >= 10, counts
    assert "drug_searches" in demo.tables.periods.set_index("period").loc[PERIOD, "activity"]


@pytest.mark.db
def test_the_demo_shows_synthetic_drug_searches_and_their_find_rate(demo):
    meta = demo.tables.indicators["drug_searches"]
    assert meta["synthetic"] is True and meta["first"] == "2023-04-01" and meta["last"] == "2026-03-01"
    out = demo.tables.search_outcome
    london = out[(out["period"] == PERIOD) & (out["level"] == "london")].iloc[0]
    assert london["synthetic"] and london["unlocated"] > 0 and london["recorded"] == london["searches"]
    assert 15 < london["find_pct"] < 40 and london["find_lo"] < london["find_pct"] < london["find_hi"]
    area = demo.tables.area_indicator
    value = area[(area["period"] == PERIOD) & (area["level"] == "london") & (area["indicator"] == "drug_searches")]
    assert value["value"].iloc[0] == london["searches"]   # London's figure keeps the searches with no location
