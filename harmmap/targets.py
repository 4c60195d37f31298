"""Progress against the force's three-year drug strategy targets, with the uncertainty in each.

Pure functions: arrays, Series or scalars in, one ``pandas.DataFrame`` row per area out (London
and the 33 boroughs, or any other set); no connection, Flask or clock. Pass Series indexed by
area code (``E12000007`` London, ``E09…`` boroughs) to keep the codes; all Series given to one call
must share the same index. Scalars are broadcast.

Every target compares "where we are" with "where a straight line from the baseline to the
target says we should be by now", and answers three ways:

- ``gap`` (positive = ahead of the trajectory) with a 95% interval ``gap_lo``..``gap_hi``;
- ``prob_on_track``: the probability that the true gap is >= 0 (normal approximation, or the
  Bayesian posterior for counts); 0.5 means "could go either way";
- ``status``: ``on_track`` if the whole interval is >= 0, ``off_track`` if it is all < 0,
  ``uncertain`` if it straddles 0 (the data cannot tell yet), and ``no_data`` (or ``no_baseline``)
  when there is nothing to compare.

Targets (baseline year + 3 years):

- PAS (MOPAC Public Attitude Survey): 3 percentage points better on "drug use or dealing is a
  problem locally" (``drug_problem``: better is *down*, direction -1) and on "police tackle
  dealing well" (``tackle_dealing``: better is *up*, direction +1). :func:`pas_target`.
- Drug networks disrupted: more than the year before. :func:`count_increase`.
- Asset recoveries (£): up 50% per borough by the end of the three years. :func:`value_uplift`.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import stats

#: Direction of improvement for each PAS measure: +1 higher is better, -1 lower is better.
PAS_DIRECTION: Mapping[str, int] = {"drug_problem": -1, "tackle_dealing": +1}

#: Two-sided 95% normal quantile, 1.959964.
Z95 = float(stats.norm.ppf(0.975))

Values = ArrayLike | pd.Series | float


#: Standard normal quantile for 80% power, scipy.stats.norm.ppf(0.8).
Z80: float = 0.8416212335729143


def pas_target(
    baseline_agree: Values,
    baseline_n: Values,
    current_agree: Values,
    current_n: Values,
    *,
    elapsed_years: Values,
    direction: int,
    target_pp: float = 3.0,
    horizon_years: float = 3.0,
    design_effect: float = 1.0,
) -> pd.DataFrame:
    """A PAS percentage against a straight-line path to ``target_pp`` points better in ``horizon_years``.

    Parameters
    ----------
    baseline_agree, current_agree : counts
        Respondents agreeing, in the baseline and the current 12 months (weighted counts may be
        fractional); the same (agree, n) convention as ``scoring.wilson_interval``.
    baseline_n, current_n : counts
        Respondents asked. 0 -> ``no_data``. Percentages are 100 * agree / n.
    elapsed_years : years since the end of the baseline year (capped at ``horizon_years``).
    direction : +1 if higher is better (``tackle_dealing``), -1 if lower is better (``drug_problem``);
        see ``PAS_DIRECTION``.
    target_pp : improvement in percentage points over the whole horizon.
    design_effect : variance inflation for the survey's weighting and clustering (1 = simple
        random sampling, the default). Weighting usually makes it > 1; pass it if it is known.

    Returns
    -------
    pandas.DataFrame
        ``baseline_pct`` b = 100 * agree / n, ``target_pct`` = b + direction * target_pp,
        ``expected_pct`` e = b + direction * target_pp * min(elapsed / horizon, 1),
        ``current_pct`` c, ``gap_pp`` =
        direction * (c - e) (positive = ahead), ``gap_lo``/``gap_hi`` = gap -/+ 1.96 SE with
        SE = 100 * sqrt(deff * (p_b (1 - p_b) / n_b + p_c (1 - p_c) / n_c)) (two independent
        samples; the target is fixed from b, so b's sampling error counts), ``prob_on_track`` =
        Phi(gap / SE), ``status``; ``mdc_pp``, the minimum detectable change (80% power, 5% two-sided)
        = (1.96 + 0.84) * 100 * sqrt(deff * p_b (1 - p_b) (1/n_b + 1/n_c)).
    """
    if direction not in (-1, 1):
        raise ValueError(f"direction must be +1 (higher is better) or -1 (lower is better), not {direction}")
    if design_effect < 1 and not np.isclose(design_effect, 1):
        raise ValueError(f"design_effect is a variance inflation (>= 1), got {design_effect}")
    f = _frame(
        x_b=baseline_agree, n_b=baseline_n, x_c=current_agree, n_c=current_n, elapsed=elapsed_years
    )
    for x, n in (("x_b", "n_b"), ("x_c", "n_c")):
        bad = (f[x] < 0) | (f[x] > f[n])
        if bad.any():
            first = f.loc[bad, [x, n]].iloc[0].tolist()
            raise ValueError(f"need 0 <= agree <= n (counts of respondents); got agree, n = {first}")
    with np.errstate(divide="ignore", invalid="ignore"):
        f["b"] = np.where(f.n_b > 0, 100 * f.x_b / f.n_b, np.nan)
        f["c"] = np.where(f.n_c > 0, 100 * f.x_c / f.n_c, np.nan)
    frac = _fraction_elapsed(f.elapsed, horizon_years)

    target = f.b + direction * target_pp
    expected = f.b + direction * target_pp * frac
    gap = direction * (f.c - expected)
    p_b, p_c = f.b / 100, f.c / 100
    with np.errstate(divide="ignore", invalid="ignore"):
        se = 100 * np.sqrt(design_effect * (p_b * (1 - p_b) / f.n_b + p_c * (1 - p_c) / f.n_c))
    missing = f[["b", "c", "elapsed"]].isna().any(axis=1)  # n = 0 gives NaN percentages
    # The smallest change the survey could detect here: 80% power, 5% two-sided, at the baseline
    # proportion, the two samples' sizes and the design effect (so "on track" is never claimed on noise).
    with np.errstate(divide="ignore", invalid="ignore"):
        mdc = (Z95 + Z80) * 100 * np.sqrt(design_effect * p_b * (1 - p_b) * (1 / f.n_b + 1 / f.n_c))
    out = pd.DataFrame(
        {"baseline_pct": f.b, "target_pct": target, "expected_pct": expected, "current_pct": f.c,
         "gap_pp": gap, "mdc_pp": mdc},
        index=f.index,
    )
    return _judge(out, "gap_pp", gap, se, missing)


def count_increase(current: Values, previous: Values) -> pd.DataFrame:
    """A count (e.g. drug networks disrupted) against "more than last year".

    Under "no change" both years' counts are Poisson with the same mean, so given their total
    N = current + previous, current ~ Binomial(N, 1/2) (the exact conditional test for two
    Poisson counts with equal exposure).

    Returns
    -------
    pandas.DataFrame
        ``previous``, ``current``, ``change`` = current - previous, ``ratio`` = current / previous
        (NaN when previous is 0), ``p_increase`` = P(X >= current | N, 1/2) (one-sided: evidence
        of an increase), ``prob_on_track``, ``status``:

        - ``on_track``: current > previous and p_increase < 0.05;
        - ``off_track``: current < previous and P(X <= current | N, 1/2) < 0.05;
        - ``uncertain``: otherwise (including no change);
        - ``no_data``: both 0 (or missing).

        ``prob_on_track`` is the posterior probability that this year's underlying rate is higher
        than last year's, with independent Jeffreys priors (Gamma(1/2, 0)) on the two Poisson
        rates: then lambda_c / (lambda_c + lambda_p) ~ Beta(current + 1/2, previous + 1/2), and
        prob_on_track = P(Beta(current + 1/2, previous + 1/2) > 1/2). It is 0.5 when the counts
        are equal. 1 - prob_on_track is close to the *mid-p* version of the exact test, so it is a
        little bolder than ``status``: 30 vs 18 gives p_increase = 0.056 ("uncertain") but
        prob_on_track = 0.959. ``status`` is the conservative call. Small counts cannot be
        significant at all: an increase needs a total of at least 5 (0.5^5 = 0.031).
    """
    f = _frame(previous=previous, current=current)
    for col in ("previous", "current"):
        x = f[col].dropna()
        if ((x < 0) | (x != np.round(x))).any():
            raise ValueError(f"{col} must be whole counts >= 0")
    missing = f.isna().any(axis=1) | ((f.previous == 0) & (f.current == 0))
    cur = f.current.fillna(0).to_numpy()
    prev = f.previous.fillna(0).to_numpy()
    total = cur + prev
    p_increase = stats.binom.sf(cur - 1, total, 0.5)   # P(X >= current)
    p_decrease = stats.binom.cdf(cur, total, 0.5)      # P(X <= current)
    prob = stats.beta.sf(0.5, cur + 0.5, prev + 0.5)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(prev > 0, cur / prev, np.nan)
    status = np.where(
        (cur > prev) & (p_increase < 0.05), "on_track",
        np.where((cur < prev) & (p_decrease < 0.05), "off_track", "uncertain"),
    ).astype(object)
    status[missing.to_numpy()] = "no_data"
    out = pd.DataFrame(
        {"previous": f.previous, "current": f.current, "change": f.current - f.previous,
         "ratio": ratio, "p_increase": p_increase, "prob_on_track": prob, "status": status},
        index=f.index,
    )
    out.loc[missing, ["ratio", "p_increase", "prob_on_track"]] = np.nan
    out["status"] = out["status"].astype(str)
    return out


def value_uplift(
    baseline_total: Values,
    baseline_var: Values,
    current_total: Values,
    current_var: Values,
    *,
    elapsed_years: Values,
    uplift: float = 0.5,
    horizon_years: float = 3.0,
) -> pd.DataFrame:
    """A money total (asset recoveries, £) against a straight-line path to ``1 + uplift`` times baseline.

    Parameters
    ----------
    baseline_total, current_total : £ recovered in the baseline year and in the current year.
    baseline_var, current_var : £² — the variance of each total. A year's total is a sum over a
        random (Poisson) number of recoveries, so var(T) is estimated by the sum of the squared
        values, sum_i v_i^2 (compound Poisson), e.g.
        ``recoveries.groupby("borough_code").value_gbp.agg(lambda v: (v ** 2).sum())``.
        One large confiscation order therefore makes a borough's total very uncertain, as it is.
    elapsed_years : years since the end of the baseline year (capped at ``horizon_years``).

    Returns
    -------
    pandas.DataFrame
        ``baseline`` B, ``target`` = B (1 + uplift), ``expected`` = B (1 + uplift * frac) with
        frac = min(elapsed / horizon, 1), ``current`` C, ``gap`` = C - expected (£),
        ``gap_lo``/``gap_hi`` = gap -/+ 1.96 SE with SE = sqrt(var_C + (1 + uplift frac)^2 var_B)
        (the expected path scales the baseline, so does its variance), ``prob_on_track`` =
        Phi(gap / SE), ``status`` (``no_baseline`` when B is 0: no percentage target exists).
    """
    f = _frame(
        b=baseline_total, var_b=baseline_var, c=current_total, var_c=current_var, elapsed=elapsed_years
    )
    if (f[["b", "c", "var_b", "var_c"]] < 0).any().any():
        raise ValueError("totals and variances must be >= 0")
    frac = _fraction_elapsed(f.elapsed, horizon_years)
    scale = 1 + uplift * frac
    expected = f.b * scale
    gap = f.c - expected
    se = np.sqrt(f.var_c + scale**2 * f.var_b)
    missing = f.isna().any(axis=1)
    out = pd.DataFrame(
        {"baseline": f.b, "target": f.b * (1 + uplift), "expected": expected, "current": f.c, "gap": gap},
        index=f.index,
    )
    out = _judge(out, "gap", gap, se, missing)
    no_baseline = (f.b == 0) & ~missing
    out.loc[no_baseline, ["gap_lo", "gap_hi", "prob_on_track"]] = np.nan
    status = out["status"].astype(object)
    status[no_baseline] = "no_baseline"
    out["status"] = status.astype(str)
    return out


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def _frame(**columns: Values) -> pd.DataFrame:
    """Columns broadcast to one float frame; the index of the Series given (all must agree)."""
    index = None
    for name, value in columns.items():
        if isinstance(value, pd.Series):
            if index is None:
                index = value.index
            elif not value.index.equals(index):
                raise ValueError(f"{name}'s index differs from the other inputs' (align them first)")
    arrays = [v.to_numpy(dtype=float) if isinstance(v, pd.Series) else np.asarray(v, dtype=float)
              for v in columns.values()]
    try:
        arrays = np.broadcast_arrays(*[np.atleast_1d(a) for a in arrays])
    except ValueError:
        raise ValueError("inputs have different lengths") from None
    if arrays[0].ndim != 1:
        raise ValueError("inputs must be one value per area (1-D)")
    if index is not None and len(index) != len(arrays[0]):
        raise ValueError("inputs have different lengths")
    return pd.DataFrame(dict(zip(columns, arrays)), index=index)


def _fraction_elapsed(elapsed: pd.Series, horizon_years: float) -> pd.Series:
    if horizon_years <= 0:
        raise ValueError(f"horizon_years must be > 0, got {horizon_years}")
    if (elapsed < 0).any():
        raise ValueError("elapsed_years must be >= 0")
    return (elapsed / horizon_years).clip(upper=1.0)


def _judge(
    out: pd.DataFrame, gap_col: str, gap: pd.Series, se: pd.Series, missing: pd.Series
) -> pd.DataFrame:
    """Add the 95% interval, the probability the gap is >= 0, and the status, to ``out``."""
    gap, se = gap.to_numpy(dtype=float), np.asarray(se, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        prob = stats.norm.cdf(gap / se)
    # No sampling error (e.g. 0% or 100% in both years): the gap is known exactly.
    exact = se == 0
    prob[exact] = np.where(gap[exact] > 0, 1.0, np.where(gap[exact] < 0, 0.0, 0.5))
    out = out.copy()
    out["gap_lo"] = gap - Z95 * se
    out["gap_hi"] = gap + Z95 * se
    out["prob_on_track"] = prob
    status = np.where(
        out.gap_lo >= 0, "on_track", np.where(out.gap_hi < 0, "off_track", "uncertain")
    ).astype(object)
    status[missing.to_numpy()] = "no_data"
    out["status"] = status
    out.loc[missing, [gap_col, "gap_lo", "gap_hi", "prob_on_track"]] = np.nan
    out["status"] = out["status"].astype(str)
    return out


__all__ = ["PAS_DIRECTION", "Z95", "count_increase", "pas_target", "value_uplift"]
