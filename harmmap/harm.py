"""From published monthly indicators to the harm index tables: pure, frames in and frames out.

``build_index`` is what ``harmmap index publish`` runs between reading ``harm.indicator_month`` /
``etl.pas_result`` and writing the ``harm.*`` index tables, and what the publish benchmark runs on a
generated national-size set. It loops over periods; everything inside a period is vectorised over wards.
The formulas live in :mod:`harmmap.scoring`, :mod:`harmmap.hotspots` and :mod:`harmmap.targets`; this
module only decides what goes into them (see docs/methodology.md).

Rules decided here:

* The ranked wards are those of the MPS area (``in_area``): the City of London has its own police force,
  so its wards are published with no score, never as "zero harm".
* An indicator is used for a period only when its data cover every month of it (coverage is its first to
  last month with any record London-wide). PAS is quarterly, so it is used for quarters, financial years and
  rolling 12 months ending at a quarter end, never for single months. Weights are renormalised over what a
  period has, and the period says which indicators it used and dropped.
* Borough-only records (no ward) count in the borough and London figures, never in a ward.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd

from harmmap import hotspots, scoring, targets
from harmmap.indicators import ACTIVITY, BY_SLUG, INDICATORS, Indicator
from harmmap.periods import KINDS, Period, complete_periods, month_index
from harmmap.periods import parse as parse_period

LONDON = "london"


@dataclass(frozen=True)
class IndexConfig:
    weights: Mapping[str, float]
    #: First financial year of the strategy's three-year targets.
    baseline: Period
    permutations: int = 999
    kinds: Sequence[str] = KINDS
    #: Each weight is moved by this share for the robustness check.
    robustness_delta: float = 0.2
    #: PAS variance inflation for its weighting and clustering, applied to every survey interval and test.
    design_effect: float = 1.0


@dataclass(frozen=True)
class IndexInputs:
    """What the index is built from. Ward codes are 2022 wards; months are first days of months.

    wards: index ward_code; borough_code, population (Census 2021 usual residents), in_area (bool)
    monthly: indicator, month, borough_code, ward_code (None for borough-only records), value, synthetic
    pas: period_type ("quarter" | "r12"), period_end (first day of the last month), geography_level
        ("ward" | "borough"), geography_code, borough_code, measure, respondents, agree_count, synthetic
    networks: month, borough_code, network_ref, synthetic (one row per disruption location)
    seizures: month, borough_code, value_gbp, synthetic (one row per seizure record)
    """

    wards: pd.DataFrame
    contiguity: hotspots.Contiguity
    monthly: pd.DataFrame
    pas: pd.DataFrame
    networks: pd.DataFrame
    seizures: pd.DataFrame
    #: drug searches (etl.stop_search): month, borough_code (None: no location, force level), ethnic_group,
    #: searches, recorded (outcome link recorded), found (outcome linked), synthetic. See "Stop and search".
    searches: pd.DataFrame | None = None


@dataclass
class IndexTables:
    periods: pd.DataFrame
    ward_index: pd.DataFrame
    ward_indicator: pd.DataFrame
    area_indicator: pd.DataFrame
    targets: pd.DataFrame
    robustness: pd.DataFrame
    #: police activity per 100 trafficking offences, per ward, borough and London (harm.response)
    response: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: slug -> {"first": date, "last": date, "synthetic": bool, "weight": float}
    indicators: dict[str, dict] = field(default_factory=dict)
    #: seconds spent per part of the build (figures, index, hotspots, robustness, targets)
    timings: dict[str, float] = field(default_factory=dict)
    #: the drug searches' find rate per borough and London (harm.search_outcome), and by ethnic group
    #: (harm.search_group): see "Stop and search" below
    search_outcome: pd.DataFrame = field(default_factory=pd.DataFrame)
    search_group: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def synthetic(self) -> bool:
        return bool(self.periods["synthetic"].any()) if len(self.periods) else False


# --- series: one indicator as ward x month and borough x month arrays ------------------------------

@dataclass
class _Series:
    indicator: Indicator
    first: date | None
    last: date | None
    synthetic: bool
    ward: np.ndarray                 # wards x months: counts, pounds or agreeing respondents
    borough: np.ndarray              # boroughs x months: borough-only records (counts) / borough PAS agree
    ward_n: np.ndarray | None = None     # PAS: respondents at quarter-end months
    borough_n: np.ndarray | None = None  # PAS: borough r12 respondents at r12-end months
    borough_r12: np.ndarray | None = None  # PAS: bool, a borough r12 row exists at that month

    def covers(self, p: Period) -> bool:
        if self.first is None or not (self.first <= p.first and p.last <= self.last):
            return False
        if self.indicator.kind == "survey":
            return p.kind != "month" and p.first.month % 3 == 1
        return True


class _Axis:
    def __init__(self, first: date, last: date) -> None:
        self.first, self.last, self.n = first, last, month_index(last) - month_index(first) + 1

    def pos(self, month: date) -> int:
        return month_index(month) - month_index(self.first)

    def positions(self, months: pd.Series) -> np.ndarray:
        m = pd.to_datetime(months)
        return (m.dt.year * 12 + m.dt.month - 1).to_numpy() - month_index(self.first)

    def window(self, p: Period) -> slice:
        return slice(self.pos(p.first), self.pos(p.last) + 1)


def _month_range(inputs: IndexInputs) -> tuple[date, date] | None:
    months = [pd.to_datetime(inputs.monthly["month"])] if len(inputs.monthly) else []
    if len(inputs.pas):
        ends = pd.to_datetime(inputs.pas["period_end"])
        months += [ends, ends - pd.DateOffset(months=2)]
    if not months:
        return None
    allm = pd.concat(months)
    return allm.min().date(), allm.max().date()


def _series(inputs: IndexInputs, axis: _Axis, ward_pos: pd.Series, borough_pos: pd.Series) -> dict[str, _Series]:
    n_w, n_b = len(ward_pos), len(borough_pos)
    out: dict[str, _Series] = {}
    monthly = inputs.monthly
    for ind in INDICATORS:
        ward, borough = np.zeros((n_w, axis.n)), np.zeros((n_b, axis.n))
        if ind.kind == "survey":
            rows = inputs.pas[inputs.pas["measure"] == ind.source]
            wq = rows[(rows["geography_level"] == "ward") & (rows["period_type"] == "quarter")]
            wq = wq[wq["geography_code"].isin(ward_pos.index)]
            ward_n = np.zeros((n_w, axis.n))
            wi, mi = ward_pos.loc[wq["geography_code"]].to_numpy(), axis.positions(wq["period_end"])
            np.add.at(ward, (wi, mi), wq["agree_count"].to_numpy(float))
            np.add.at(ward_n, (wi, mi), wq["respondents"].to_numpy(float))
            br = rows[(rows["geography_level"] == "borough") & (rows["period_type"] == "r12")]
            br = br[br["geography_code"].isin(borough_pos.index)]
            borough_n, has = np.zeros((n_b, axis.n)), np.zeros((n_b, axis.n), bool)
            bi, bm = borough_pos.loc[br["geography_code"]].to_numpy(), axis.positions(br["period_end"])
            borough[bi, bm], borough_n[bi, bm], has[bi, bm] = br["agree_count"], br["respondents"], True
            if len(wq):
                ends = pd.to_datetime(wq["period_end"])
                first, last = (ends.min() - pd.DateOffset(months=2)).date(), ends.max().date()
            else:
                first = last = None
            out[ind.slug] = _Series(ind, first, last, bool(rows["synthetic"].any()), ward, borough,
                                    ward_n, borough_n, has)
            continue
        rows = monthly[monthly["indicator"] == ind.source]
        if len(rows):
            first, last = pd.to_datetime(rows["month"]).min().date(), pd.to_datetime(rows["month"]).max().date()
        else:
            first = last = None
        at_ward = rows["ward_code"].notna() & rows["ward_code"].isin(ward_pos.index)
        wr, br = rows[at_ward], rows[~at_ward & rows["borough_code"].isin(borough_pos.index)]
        np.add.at(ward, (ward_pos.loc[wr["ward_code"]].to_numpy(), axis.positions(wr["month"])),
                  wr["value"].to_numpy(float))
        np.add.at(borough, (borough_pos.loc[br["borough_code"]].to_numpy(), axis.positions(br["month"])),
                  br["value"].to_numpy(float))
        out[ind.slug] = _Series(ind, first, last, bool(rows["synthetic"].any()), ward, borough)
    return out


# --- per period ----------------------------------------------------------------------------------

def _harm_value(ind: Indicator, rate_or_pct: np.ndarray) -> np.ndarray:
    """The indicator the "more harm" way round: percentages of a confidence measure are turned over."""
    return rate_or_pct if ind.harm_direction > 0 else 100.0 - rate_or_pct


def _trend(ind: Indicator, now: tuple[np.ndarray, np.ndarray | None],
           before: tuple[np.ndarray, np.ndarray | None] | None, deff: float = 1.0) -> dict[str, np.ndarray]:
    """value before, change and p-value against an earlier period; NaN / not_tested when not comparable.
    PAS tests use the effective sample size (respondents / design effect ``deff``)."""
    n = len(now[0])
    if before is None:
        nan = np.full(n, np.nan)
        return {"value": nan, "change": nan, "p": nan, "trend": np.full(n, "not_tested", dtype=object)}
    if ind.kind == "count":
        t = scoring.rate_ratio_test(now[0], before[0])
        change, p = t["ratio"].to_numpy() - 1.0, t["p"].to_numpy()
    elif ind.kind == "survey":
        t = scoring.two_proportion_test(now[0] / deff, now[1] / deff, before[0] / deff, before[1] / deff)
        change, p = t["diff"].to_numpy() * 100.0, t["p"].to_numpy()
    else:  # pounds: a few large seizures swing the total, so no test is claimed
        with np.errstate(divide="ignore", invalid="ignore"):
            change = np.where(before[0] > 0, now[0] / before[0] - 1.0, np.nan)
        p = np.full(n, np.nan)
    value = before[0] if ind.kind != "survey" else _pct(before[0], before[1])
    return {"value": value, "change": change, "p": p, "trend": scoring.trend_label(change, p)}


def _stack(blocks: list[dict[str, object]]) -> pd.DataFrame:
    """One frame from many blocks of columns (arrays, or scalars repeated): much cheaper than a data
    frame per block and a concat, which is what dominated the figures for 9,000 wards. A column a
    block lacks is NaN there."""
    names = list(dict.fromkeys(k for b in blocks for k in b))
    sizes = [max(len(v) for v in b.values() if isinstance(v, np.ndarray)) for b in blocks]
    columns = {}
    for name in names:
        parts = []
        for block, n in zip(blocks, sizes):
            v = block.get(name, np.nan)
            parts.append(v if isinstance(v, np.ndarray) else np.full(n, v, dtype=object if isinstance(v, str) else None))
        columns[name] = np.concatenate(parts)
    return pd.DataFrame(columns)


def _pct(agree: np.ndarray, n: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(n > 0, agree / n * 100.0, np.nan)


class _Builder:
    def __init__(self, inputs: IndexInputs, config: IndexConfig, rng: np.random.Generator) -> None:
        self.inputs, self.config, self.rng = inputs, config, rng
        self.timings: dict[str, float] = {}
        wards = inputs.wards
        self.all_codes = wards.index.to_numpy()
        self.ward_pos = pd.Series(np.arange(len(wards)), index=wards.index)
        self.area = wards["in_area"].to_numpy(bool)
        self.codes = self.all_codes[self.area]
        self.ward_borough = wards["borough_code"].to_numpy()[self.area]
        self.population = wards["population"].to_numpy(float)[self.area]
        boroughs = sorted(set(self.ward_borough))
        self.boroughs = np.array(boroughs, dtype=object)
        self.borough_pos = pd.Series(np.arange(len(boroughs)), index=boroughs)
        self.borough_of_ward = self.borough_pos.loc[self.ward_borough].to_numpy()
        self.borough_population = np.bincount(self.borough_of_ward, self.population, len(boroughs))
        rng_months = _month_range(inputs)
        self.axis = _Axis(*rng_months) if rng_months else None
        self.series = _series(inputs, self.axis, self.ward_pos, self.borough_pos) if self.axis else {}

    @contextmanager
    def timed(self, part: str) -> Iterator[None]:
        t = time.perf_counter()
        try:
            yield
        finally:
            self.timings[part] = self.timings.get(part, 0.0) + time.perf_counter() - t

    # sums over a period, for in-area wards and for boroughs (ward sums + borough-only records)
    def ward_sum(self, s: _Series, p: Period) -> tuple[np.ndarray, np.ndarray | None]:
        w = self.axis.window(p)
        agree = s.ward[:, w].sum(axis=1)[self.area]
        n = s.ward_n[:, w].sum(axis=1)[self.area] if s.ward_n is not None else None
        return agree, n

    def borough_sum(self, s: _Series, p: Period) -> tuple[np.ndarray, np.ndarray | None]:
        agree, n = self.ward_sum(s, p)
        nb = len(self.boroughs)
        by_ward = np.bincount(self.borough_of_ward, agree, nb)
        if s.indicator.kind != "survey":
            return by_ward + s.borough[:, self.axis.window(p)].sum(axis=1), None
        n_by_ward = np.bincount(self.borough_of_ward, n, nb)
        end = self.axis.pos(p.last)
        if p.kind in ("r12", "fy") and 0 <= end < self.axis.n:
            # the published borough figure for exactly these 12 months, where the file gave one
            has = s.borough_r12[:, end]
            return np.where(has, s.borough[:, end], by_ward), np.where(has, s.borough_n[:, end], n_by_ward)
        return by_ward, n_by_ward

    def earlier(self, s: _Series, q: Period, fn) -> tuple[np.ndarray, np.ndarray | None] | None:
        if not s.covers(q) or self.axis.pos(q.first) < 0:
            return None
        return fn(s, q)

    def build(self) -> IndexTables:
        periods = []
        if self.axis is not None:
            periods = complete_periods(self.axis.first, self.axis.last, self.config.kinds)
        parts: dict[str, list] = {k: [] for k in ("periods", "ward_index", "ward_indicator",
                                                               "area_indicator", "robustness", "response")}
        for p in periods:
            available = [s for s in self.series.values() if s.covers(p)]
            if not available:
                continue
            self._period(p, available, parts)
        with self.timed("figures"):
            frames = {k: (pd.concat(v, ignore_index=True) if v else pd.DataFrame())
                      for k, v in parts.items() if k != "area_indicator"}
            frames["response"] = frames.get("response", pd.DataFrame())
            frames["area_indicator"] = _stack(parts["area_indicator"]) if parts["area_indicator"] else pd.DataFrame()
        with self.timed("targets"):
            target_frame = self._targets(periods)
        return IndexTables(targets=target_frame, indicators=self._indicator_meta(), timings=self.timings, **frames)

    def _period(self, p: Period, available: list[_Series], parts: dict[str, list]) -> None:
        weights = self.config.weights
        with self.timed("figures"):
            rows, harm_values = self._ward_figures(p, available)
            for s in available:
                parts["area_indicator"].extend(self._areas(p, s))
        values = pd.DataFrame(harm_values, index=self.codes)
        with self.timed("index"):
            if values.shape[1] == 0:  # nothing weighted has data for this period: the figures, no index
                used: dict[str, float] = {}
                score = pd.Series(np.nan, index=self.codes)
                contribution = transformed = pd.DataFrame(index=self.codes)
                coverage = pd.Series(np.nan, index=self.codes)
            else:
                res = scoring.harm_index(values, weights)
                used, score, contribution, transformed = (res.weights_used, res.score, res.contribution,
                                                          res.transformed)
                coverage = res.coverage
            ward_rows = _stack(rows)
            key = pd.MultiIndex.from_arrays([ward_rows["ward_code"], ward_rows["indicator"]])
            for col, frame in (("scored", transformed), ("contribution", contribution)):
                ward_rows[col] = frame.stack().reindex(key).to_numpy() if len(frame.columns) else np.nan
            ward_rows.insert(0, "period", p.label)
            parts["ward_indicator"].append(ward_rows)
            # ranks: in-area wards are ranked; City wards are published unranked
            rank = scoring.rank_desc(score.to_numpy())
            n_ranked = int(np.isfinite(rank).sum())
            within = scoring.ranks_within(score, pd.Series(self.ward_borough, index=self.codes))
            full = pd.Series(np.nan, index=self.all_codes)
            full.loc[self.codes] = score.to_numpy()
        with self.timed("hotspots"):
            gi = hotspots.getis_ord_star(full.to_numpy(), self.inputs.contiguity, rng=self.rng,
                                         permutations=self.config.permutations)
            lisa = hotspots.local_moran(full.to_numpy(), self.inputs.contiguity, rng=self.rng,
                                        permutations=self.config.permutations)
        if len(values.columns):
            with self.timed("robustness"):
                rob = scoring.robustness(values, weights, delta=self.config.robustness_delta)
                rob.insert(0, "period", p.label)
                parts["robustness"].append(rob)
        dropped = sorted(set(k for k, w in weights.items() if w > 0) - set(used))
        synthetic = any(self.series[k].synthetic for k in used)
        idx = pd.DataFrame({"borough_code": self.inputs.wards["borough_code"].to_numpy()}, index=self.all_codes)
        idx["score"] = full
        idx["coverage"] = pd.Series(coverage.to_numpy(), index=self.codes)
        idx["rank_london"] = pd.Series(rank, index=self.codes)
        idx["decile_london"] = pd.Series(scoring.decile(rank, n_ranked), index=self.codes)
        idx["rank_borough"] = within["rank"].reindex(self.codes)
        idx["decile_borough"] = within["decile"].reindex(self.codes)
        idx["gi_z"], idx["gi_p"], idx["hotspot"] = gi["z"].to_numpy(), gi["p_sim"].to_numpy(), gi["cls"].to_numpy()
        idx["lisa_i"], idx["lisa_p"] = lisa["I"].to_numpy(), lisa["p_sim"].to_numpy()
        idx["lisa_cluster"] = lisa["cluster"].to_numpy()
        idx["synthetic"] = synthetic
        idx = idx.rename_axis("ward_code").reset_index()
        idx.insert(0, "period", p.label)
        parts["ward_index"].append(idx)
        with self.timed("response"):
            activity, response = self._response(p, available, idx)
            if response is not None:
                parts["response"].append(response)
        parts["periods"].append(pd.DataFrame([{
            "period": p.label, "kind": p.kind, "first_month": p.first, "last_month": p.last, "weights": used,
            "dropped": dropped, "synthetic": synthetic, "wards_ranked": n_ranked,
            "islands": sorted(gi.index[gi["cls"] == "island"]), "activity": activity}]))

    # --- response against need -------------------------------------------------------------------
    def _response(self, p: Period, available: list[_Series],
                  idx: pd.DataFrame) -> tuple[list[str], pd.DataFrame | None]:
        """Police activity per 100 recorded trafficking offences, per ward, borough and London: the
        diagnostic of where activity goes against need (docs/methodology.md, "Response against need").
        Counted: the response indicators with data for every month of the period."""
        have = {s.indicator.slug: s for s in available}
        counted = [slug for slug in ACTIVITY if slug in have]
        need = have.get("drug_trafficking")
        if not counted or need is None:
            return counted, None
        ward_act = sum(self.ward_sum(have[k], p)[0] for k in counted)
        ward_need = self.ward_sum(need, p)[0]
        b_act = sum(self.borough_sum(have[k], p)[0] for k in counted)
        b_need = self.borough_sum(need, p)[0]
        london_rate = response_rate(np.array([b_act.sum()]), np.array([b_need.sum()]))["per_100"][0]
        synthetic = any(have[k].synthetic for k in counted) or need.synthetic
        blocks = []
        for level, codes, act, nd in (("ward", self.codes, ward_act, ward_need),
                                      ("borough", self.boroughs, b_act, b_need),
                                      ("london", np.array([LONDON], dtype=object),
                                       np.array([b_act.sum()]), np.array([b_need.sum()]))):
            r = response_rate(act, nd, london_rate)
            block = {"period": p.label, "level": level, "area_code": codes, "activity": act, "trafficking": nd,
                     "per_100": r["per_100"], "per_100_lo": r["lo"], "per_100_hi": r["hi"],
                     "vs_london": r["vs_london"], "synthetic": synthetic}
            if level == "ward":
                dec = idx.set_index("ward_code")["decile_london"].reindex(self.codes).to_numpy(float)
                block["need_level"] = need_level(dec)
                block["quadrant"] = quadrant(block["need_level"], r["vs_london"])
            blocks.append(block)
        frame = _stack(blocks)
        for col in ("need_level", "quadrant"):
            frame[col] = frame[col].where(frame["level"] == "ward", None)
        return counted, frame

    def _ward_figures(self, p: Period, available: list[_Series]) -> tuple[list[dict], dict[str, np.ndarray]]:
        """Each indicator per in-area ward: figure, rate or PAS estimates, trends; and the harm values."""
        rows: list[dict] = []
        harm_values: dict[str, np.ndarray] = {}
        for s in available:
            ind = s.indicator
            now = self.ward_sum(s, p)
            cols: dict[str, object] = {"ward_code": self.codes, "indicator": ind.slug, "value": now[0]}
            if ind.kind == "survey":
                agree, n = now
                deff = self.config.design_effect
                lo, hi = scoring.wilson_interval(agree / deff, n / deff)
                eb = scoring.eb_shrink(agree, n, self.ward_borough)
                # a ward with no residents has nobody to survey: no estimate borrowed from its borough
                eb.iloc[np.flatnonzero(~(self.population > 0))] = np.nan
                eb_pct = eb["eb_pct"].to_numpy() * 100.0
                cols.update(respondents=n, pct=_pct(agree, n), pct_lo=lo * 100.0, pct_hi=hi * 100.0,
                            eb_pct=eb_pct, eb_lo=eb["eb_lo"].to_numpy() * 100.0,
                            eb_hi=eb["eb_hi"].to_numpy() * 100.0)
                harm = _harm_value(ind, eb_pct)
            else:
                harm = cols["rate_per_1000"] = scoring.rate_per_1000(now[0], self.population)
            if self.config.weights.get(ind.slug, 0) > 0:
                harm_values[ind.slug] = harm
            for tag, q in (("prev", p.previous), ("yoy", p.year_before)):
                t = _trend(ind, now, self.earlier(s, q, self.ward_sum), self.config.design_effect)
                cols.update({f"{tag}_value": t["value"], f"{tag}_change": t["change"], f"{tag}_p": t["p"],
                             f"{tag}_trend": t["trend"]})
            cols["synthetic"] = s.synthetic
            rows.append(cols)
        return rows, harm_values

    def _areas(self, p: Period, s: _Series) -> list[dict[str, object]]:
        ind = s.indicator
        b_now = self.borough_sum(s, p)
        b_prev = self.earlier(s, p.previous, self.borough_sum)
        b_yoy = self.earlier(s, p.year_before, self.borough_sum)

        def london(v: tuple[np.ndarray, np.ndarray | None] | None) -> tuple[np.ndarray, np.ndarray | None] | None:
            if v is None:
                return None
            return np.array([v[0].sum()]), (None if v[1] is None else np.array([v[1].sum()]))

        out = []
        for level, codes, pop, now, prev, yoy in (
                ("borough", self.boroughs, self.borough_population, b_now, b_prev, b_yoy),
                ("london", np.array([LONDON], dtype=object), np.array([self.population.sum()]),
                 london(b_now), london(b_prev), london(b_yoy))):
            cols: dict[str, object] = {"level": level, "area_code": codes, "indicator": ind.slug, "value": now[0]}
            if ind.kind == "survey":
                deff = self.config.design_effect
                lo, hi = scoring.wilson_interval(now[0] / deff, now[1] / deff)
                cols.update(respondents=now[1], pct=_pct(*now), pct_lo=lo * 100.0, pct_hi=hi * 100.0)
            else:
                cols["rate_per_1000"] = scoring.rate_per_1000(now[0], pop)
            for tag, before in (("prev", prev), ("yoy", yoy)):
                t = _trend(ind, now, before, self.config.design_effect)
                cols.update({f"{tag}_value": t["value"], f"{tag}_change": t["change"], f"{tag}_p": t["p"],
                             f"{tag}_trend": t["trend"]})
            cols["synthetic"] = s.synthetic
            out.append({"period": p.label, **cols})
        return out

    # --- targets ---------------------------------------------------------------------------------
    def _targets(self, periods: list[Period]) -> pd.DataFrame:
        base = self.config.baseline
        out: list[pd.DataFrame] = []
        codes = np.concatenate([self.boroughs, [LONDON]])
        levels = ["borough"] * len(self.boroughs) + ["london"]

        def frame(name: str, baseline_period: str, current_period: str, result: pd.DataFrame,
                  synthetic: bool, mapping: Mapping[str, str]) -> pd.DataFrame:
            f = pd.DataFrame({"level": levels, "area_code": codes, "target": name,
                              "baseline_period": baseline_period, "current_period": current_period})
            for col, src in mapping.items():
                f[col] = result[src].to_numpy() if src in result else np.nan
            f["status"] = result["status"].to_numpy()
            f["synthetic"] = synthetic
            return f

        def with_london(v: tuple[np.ndarray, np.ndarray | None]) -> tuple[np.ndarray, np.ndarray | None]:
            return (np.append(v[0], v[0].sum()), None if v[1] is None else np.append(v[1], v[1].sum()))

        # PAS: +3 points better than the baseline year, three years on; current = latest 12 months
        for slug in ("pas_drug_problem", "pas_tackle_dealing"):
            s = self.series.get(slug)
            r12 = [p for p in periods if p.kind == "r12" and s is not None and s.covers(p)]
            if s is None or not r12 or not s.covers(base):
                continue
            cur = max(r12)
            b_agree, b_n = with_london(self.borough_sum(s, base))
            c_agree, c_n = with_london(self.borough_sum(s, cur))
            res = targets.pas_target(b_agree, b_n, c_agree, c_n, elapsed_years=_years(base, cur),
                                     direction=s.indicator.harm_direction * -1,
                                     design_effect=self.config.design_effect)
            out.append(frame(slug, base.label, cur.label, res, s.synthetic, {
                "baseline": "baseline_pct", "target_value": "target_pct", "expected": "expected_pct",
                "current": "current_pct", "gap": "gap_pp", "gap_lo": "gap_lo", "gap_hi": "gap_hi",
                "prob_on_track": "prob_on_track", "mdc": "mdc_pp"}).assign(role="target"))

        # networks disrupted: distinct networks in the latest 12 months against the 12 months before
        net = self.inputs.networks
        s = self.series.get("network_disruptions")
        r12 = [p for p in periods if p.kind == "r12" and s is not None and s.covers(p) and s.covers(p.previous)]
        if len(net) and r12:
            cur = max(r12)
            cur_n, prev_n = self._networks(cur), self._networks(cur.previous)
            res = targets.count_increase(cur_n, prev_n)
            out.append(frame("networks_disrupted", cur.previous.label, cur.label, res, bool(net["synthetic"].any()), {
                "baseline": "previous", "target_value": "previous", "current": "current", "gap": "change",
                "prob_on_track": "prob_on_track"}).assign(role="earlier_plan_diagnostic"))

        # asset recovery (the earlier plan's +50% in three years): recoveries counted, not pounds, since one
        # large confiscation would otherwise swing it; a diagnostic of that plan, not a target of this one
        sz = self.inputs.seizures
        s = self.series.get("asset_seizures")
        r12 = [p for p in periods if p.kind == "r12" and s is not None and s.covers(p)]
        if len(sz) and r12 and s.covers(base):
            cur = max(r12)
            b_n, c_n = self._recoveries(base), self._recoveries(cur)
            res = targets.value_uplift(b_n, b_n, c_n, c_n, elapsed_years=_years(base, cur))  # Poisson: var = n
            out.append(frame("asset_recoveries", base.label, cur.label, res, bool(sz["synthetic"].any()), {
                "baseline": "baseline", "target_value": "target", "expected": "expected", "current": "current",
                "gap": "gap", "gap_lo": "gap_lo", "gap_hi": "gap_hi", "prob_on_track": "prob_on_track"})
                       .assign(role="earlier_plan_diagnostic"))
        return pd.concat(out, ignore_index=True) if out else pd.DataFrame()

    def _in(self, frame: pd.DataFrame, p: Period) -> pd.DataFrame:
        m = pd.to_datetime(frame["month"])
        return frame[(m >= pd.Timestamp(p.first)) & (m <= pd.Timestamp(p.last))
                     & frame["borough_code"].isin(self.borough_pos.index)]

    def _networks(self, p: Period) -> np.ndarray:
        rows = self._in(self.inputs.networks, p)
        per_borough = rows.groupby("borough_code")["network_ref"].nunique()
        return np.append(per_borough.reindex(self.boroughs, fill_value=0).to_numpy(float),
                         float(rows["network_ref"].nunique()))

    def _recoveries(self, p: Period) -> np.ndarray:
        """Asset recoveries (seizure records) per borough and London."""
        rows = self._in(self.inputs.seizures, p)
        n = rows.groupby("borough_code").size().reindex(self.boroughs, fill_value=0).to_numpy(float)
        return np.append(n, n.sum())

    def _indicator_meta(self) -> dict[str, dict]:
        return {slug: {"first": s.first.isoformat() if s.first else None,
                       "last": s.last.isoformat() if s.last else None,
                       "synthetic": s.synthetic, "weight": float(self.config.weights.get(slug, 0.0)),
                       "label": s.indicator.label}
                for slug, s in self.series.items()}


#: Fewer events than this (activity + trafficking) in an area: "too few events to tell".
MIN_EVENTS = 10


def response_rate(activity: np.ndarray, trafficking: np.ndarray, london: float | None = None) -> dict[str, np.ndarray]:
    """Activity per 100 trafficking offences with its exact 95% interval, and how it compares with London's.

    Conditional on the total, activity ~ Binomial(activity + trafficking, pi) for two Poisson counts, so the
    Clopper-Pearson interval for pi maps to the ratio scale as 100 pi / (1 - pi) (``scoring.rate_ratio_test``).
    ``vs_london``: ``higher`` or ``lower`` when London's rate lies outside the interval, ``similar`` when
    inside, ``too_few`` with fewer than ``MIN_EVENTS`` events, where no comparison would mean anything.
    """
    t = scoring.rate_ratio_test(activity, trafficking)
    per_100 = np.where(trafficking > 0, t["ratio"].to_numpy() * 100.0, np.nan)
    lo, hi = t["lo"].to_numpy() * 100.0, t["hi"].to_numpy() * 100.0
    events = activity + trafficking
    vs = np.full(len(per_100), "similar", dtype=object)
    if london is not None and np.isfinite(london):
        vs[lo > london] = "higher"
        vs[hi < london] = "lower"
    vs[~(events >= MIN_EVENTS)] = "too_few"
    return {"per_100": per_100, "lo": np.where(np.isfinite(lo), lo, np.nan), "hi": np.where(np.isfinite(hi), hi, np.nan),
            "vs_london": vs}


def need_level(decile: np.ndarray) -> np.ndarray:
    """high (need deciles 1-3), low (8-10), middle, or unranked (no score: the City of London)."""
    out = np.full(len(decile), "middle", dtype=object)
    out[decile <= 3] = "high"
    out[decile >= 8] = "low"
    out[~np.isfinite(decile)] = "unranked"
    return out


def quadrant(need: np.ndarray, vs_london: np.ndarray) -> np.ndarray:
    """Need x response: high need with response below London's rate is a candidate for tasking; low need
    with response above it is named as possible over-attention. A ward whose response cannot be told from
    London's (or has too few events) is ``no_signal``: the quadrant is never claimed on noise."""
    out = np.full(len(need), "no_signal", dtype=object)
    out[(need == "high") & (vs_london == "lower")] = "tasking_candidate"
    out[(need == "high") & (vs_london == "higher")] = "need_and_response_high"
    out[(need == "low") & (vs_london == "higher")] = "possible_over_attention"
    out[(need == "low") & (vs_london == "lower")] = "low_need_low_response"
    return out


def _years(base: Period, current: Period) -> float:
    return (month_index(current.last) - month_index(base.last)) / 12.0


def build_index(inputs: IndexInputs, config: IndexConfig, rng: np.random.Generator) -> IndexTables:
    """Every period's index, ranks, hotspots, per-indicator figures with trends, areas, targets, robustness."""
    unknown = set(config.weights) - set(BY_SLUG)
    if unknown:
        raise ValueError(f"unknown indicator(s) in weights: {', '.join(sorted(unknown))}")
    tables = _Builder(inputs, config, rng).build()
    if inputs.searches is not None and len(inputs.searches):
        add_searches(tables, inputs, config)
    return tables


# --- stop and search: the find rate, the groups, and the searches with no location ---------------------
#
# police.uk's stop-and-search files (etl/kinds/stop_search.py) give the response indicator drug_searches,
# which the index treats as any other count. Three things are particular to them and are decided here:
#
# * Searches with no location (about one drug search in twelve in the Met's June 2016 file) are kept at
#   force level: they are in London's drug_searches total (harm.area_indicator) and in London's find rate,
#   never in a borough or ward. London's activity per 100 trafficking offences (harm.response) still counts
#   only the searches placed in a borough, so that boroughs and wards are compared with a London rate made
#   the same way.
# * The find rate: "Outcome linked to object of search" = True, out of the drug searches for which police.uk
#   records the link (True or False; a blank is not recorded, as in the whole Met June 2016 file), with its
#   Wilson 95% interval, per borough and London.
# * Searches by self-defined ethnic group (the Census 2021 high-level groups): counts only. Rates per 1,000
#   and ratios to the White rate need the Census 2021 ethnic group populations (TS021), which are not loaded
#   (docs/data-contracts.md, "Stop and search and proportionality").
#
# Their periods are every complete period of the months the loaded files hold (each unbroken run of months
# on its own), whether or not the index has that period: a 2016 month has a find rate, and no index.

SEARCH_INDICATOR = "drug_searches"
ETHNIC_GROUPS = ("asian", "black", "mixed", "white", "other", "not_stated")


def month_runs(months: Sequence[date]) -> list[tuple[date, date]]:
    """Unbroken runs of consecutive months, as (first, last): files loaded for 2016-06 and for 2023-04 to
    2026-03 are two runs, and no period spans the gap (a month with no file is unknown, not zero)."""
    ordered = sorted({m.replace(day=1) for m in months})
    runs: list[tuple[date, date]] = []
    for m in ordered:
        if runs and month_index(m) == month_index(runs[-1][1]) + 1:
            runs[-1] = (runs[-1][0], m)
        else:
            runs.append((m, m))
    return runs


def find_rate(found: np.ndarray, recorded: np.ndarray) -> dict[str, np.ndarray]:
    """Percent of the searches with the outcome link recorded whose outcome was linked to the object of the
    search, with its Wilson 95% interval (``scoring.wilson_interval``); NaN where none was recorded."""
    found, recorded = np.asarray(found, float), np.asarray(recorded, float)
    lo, hi = scoring.wilson_interval(found, recorded)
    with np.errstate(divide="ignore", invalid="ignore"):
        pct = np.where(recorded > 0, found / recorded * 100.0, np.nan)
    return {"pct": pct, "lo": lo * 100.0, "hi": hi * 100.0}


def search_periods(searches: pd.DataFrame, kinds: Sequence[str] = KINDS) -> list[Period]:
    """Every complete period of each unbroken run of the months the searches fall in."""
    months = [pd.Timestamp(m).date() for m in pd.unique(searches["month"])]
    return [p for first, last in month_runs(months) for p in complete_periods(first, last, kinds)]


def search_tables(searches: pd.DataFrame, boroughs: Sequence[str],
                  kinds: Sequence[str] = KINDS) -> tuple[pd.DataFrame, pd.DataFrame]:
    """harm.search_outcome and harm.search_group rows (without version) for every search period.

    ``boroughs`` are the boroughs published (the MPS area's); London is their searches plus those with no
    location. Counts are whole searches; every borough and group is listed, with 0 where there were none.
    """
    frame = searches.copy()
    frame["month"] = pd.to_datetime(frame["month"])
    force = frame["borough_code"].isna()
    in_area = frame["borough_code"].isin(list(boroughs))
    frame = frame[force | in_area]
    codes = list(boroughs)
    outcome_parts, group_parts = [], []
    for p in search_periods(frame, kinds):
        window = frame[(frame["month"] >= pd.Timestamp(p.first)) & (frame["month"] <= pd.Timestamp(p.last))]
        if window.empty:
            continue
        located = window[window["borough_code"].notna()]
        by_b = located.groupby("borough_code")[["searches", "recorded", "found"]].sum().reindex(codes, fill_value=0)
        total = window[["searches", "recorded", "found"]].sum()
        unlocated = int(window.loc[window["borough_code"].isna(), "searches"].sum())
        synthetic = bool(window["synthetic"].any())
        levels = ["borough"] * len(codes) + ["london"]
        searches_n = np.append(by_b["searches"].to_numpy(float), total["searches"])
        recorded = np.append(by_b["recorded"].to_numpy(float), total["recorded"])
        found = np.append(by_b["found"].to_numpy(float), total["found"])
        rate = find_rate(found, recorded)
        outcome_parts.append(pd.DataFrame({
            "period": p.label, "level": levels, "area_code": codes + [LONDON],
            "searches": searches_n.astype(int), "unlocated": [0] * len(codes) + [unlocated],
            "recorded": recorded.astype(int), "found": found.astype(int),
            "find_pct": rate["pct"], "find_lo": rate["lo"], "find_hi": rate["hi"], "synthetic": synthetic}))
        groups = located.groupby(["borough_code", "ethnic_group"])["searches"].sum()
        full = pd.MultiIndex.from_product([codes, ETHNIC_GROUPS], names=["borough_code", "ethnic_group"])
        groups = groups.reindex(full, fill_value=0).reset_index()
        london = window.groupby("ethnic_group")["searches"].sum().reindex(list(ETHNIC_GROUPS), fill_value=0)
        group_parts.append(pd.DataFrame({
            "period": p.label, "level": ["borough"] * len(groups) + ["london"] * len(ETHNIC_GROUPS),
            "area_code": groups["borough_code"].tolist() + [LONDON] * len(ETHNIC_GROUPS),
            "ethnic_group": groups["ethnic_group"].tolist() + list(ETHNIC_GROUPS),
            "searches": np.append(groups["searches"].to_numpy(), london.to_numpy()).astype(int),
            "synthetic": synthetic}))
    outcome = pd.concat(outcome_parts, ignore_index=True) if outcome_parts else pd.DataFrame()
    group = pd.concat(group_parts, ignore_index=True) if group_parts else pd.DataFrame()
    return outcome, group


def carry_force_level(area_indicator: pd.DataFrame, searches: pd.DataFrame, london_population: float) -> None:
    """Add the drug searches with no location to London's drug_searches rows of ``area_indicator`` (in place):
    the figure, its rate per 1,000 residents and its changes on the previous period and a year before (the
    same exact test as every count). Boroughs and wards are untouched: such a search is in no borough."""
    if area_indicator.empty or searches.empty:
        return
    force = searches[searches["borough_code"].isna()]
    if force.empty:
        return
    per_month = force.groupby(pd.to_datetime(force["month"]))["searches"].sum()

    def in_window(label: str) -> float:
        q = parse_period(label)
        return float(per_month[(per_month.index >= pd.Timestamp(q.first))
                               & (per_month.index <= pd.Timestamp(q.last))].sum())

    rows = np.flatnonzero(((area_indicator["level"] == "london") & (area_indicator["indicator"] == SEARCH_INDICATOR))
                          .to_numpy())
    for i in rows:
        label = area_indicator["period"].iat[i]
        p = parse_period(label)
        value = float(area_indicator["value"].iat[i]) + in_window(label)
        area_indicator.loc[area_indicator.index[i], "value"] = value
        area_indicator.loc[area_indicator.index[i], "rate_per_1000"] = float(
            scoring.rate_per_1000(np.array([value]), np.array([london_population]))[0])
        for tag, q in (("prev", p.previous), ("yoy", p.year_before)):
            before = area_indicator[f"{tag}_value"].iat[i]
            if before is None or not np.isfinite(float(before)):
                continue
            before = float(before) + in_window(q.label)
            t = scoring.rate_ratio_test(np.array([value]), np.array([before]))
            change, pv = t["ratio"].to_numpy() - 1.0, t["p"].to_numpy()
            for col, v in ((f"{tag}_value", before), (f"{tag}_change", float(change[0])), (f"{tag}_p", float(pv[0])),
                           (f"{tag}_trend", scoring.trend_label(change, pv)[0])):
                area_indicator.loc[area_indicator.index[i], col] = v


def add_searches(tables: IndexTables, inputs: IndexInputs, config: IndexConfig) -> None:
    """The stop-and-search parts of a publish (in place): the find rate and the groups for every search
    period, and the searches with no location carried into London's drug_searches total."""
    wards = inputs.wards[inputs.wards["in_area"].astype(bool)]
    boroughs = sorted(set(wards["borough_code"]))
    tables.search_outcome, tables.search_group = search_tables(inputs.searches, boroughs, config.kinds)
    carry_force_level(tables.area_indicator, inputs.searches, float(wards["population"].sum()))
