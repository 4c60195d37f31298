"""Pure scoring for the ward harm index: rates, survey shrinkage, ranks, deciles, trends, robustness.

Everything here takes arrays or frames and returns arrays or frames: no database, no Flask, no
clock, no random numbers. Functions are vectorised over wards (9,000 wards x ~80 periods), so
the only Python loops are over indicators or weight perturbations, never over wards.

Conventions
-----------
* Proportions are 0..1 (``eb_pct`` and ``raw_pct`` too, despite the names: multiply by 100 to
  display); rates are per 1,000 residents.
* "Higher = more harm" for every indicator fed to :func:`harm_index`.
* Missing is NaN, never 0 and never inf: a ward without a value drops out of the ranks instead of
  topping or tailing them.
* Ranks are float arrays (1 = worst) so that NaN can mean "not ranked"; deciles likewise.
* Where inputs are pandas objects, their index is carried to DataFrame outputs; if several pandas
  inputs are given they must share one index (a misaligned pair is a ValueError, not a silent
  positional mix-up).

References
----------
Wilson, E. B. (1927) Probable inference, the law of succession, and statistical inference. JASA 22:209-212.
Newcombe, R. G. (1998) Interval estimation for the difference between independent proportions:
comparison of eleven methods. Statistics in Medicine 17:873-890.
Marshall, R. J. (1991) Mapping disease and mortality rates using empirical Bayes estimators.
Applied Statistics 40:283-294.
MHCLG (2019) The English Indices of Deprivation 2019: Technical Report (exponential transformation).
Sherman, L., Neyroud, P. W. & Neyroud, E. (2016) The Cambridge Crime Harm Index. Policing 10(3):171-183.
Spearman, C. (1904) The proof and measurement of association between two things. Am. J. Psychol. 15:72-101.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from scipy import stats

__all__ = [
    "Z95",
    "IndexResult",
    "rate_per_1000",
    "wilson_interval",
    "eb_shrink",
    "rank_normalise",
    "exponential_transform",
    "harm_index",
    "rank_desc",
    "decile",
    "ranks_within",
    "WorstRule",
    "worst_affected",
    "rate_ratio_test",
    "two_proportion_test",
    "trend_label",
    "robustness",
]

#: Two-sided 95% standard normal quantile, scipy.stats.norm.ppf(0.975).
Z95: float = 1.959963984540054

#: Exponential transform constants (IoD 2019 Technical Report): X = -23 ln(1 - R (1 - exp(-100/23))).
_EXP_SCALE = 23.0
_EXP_MAX = 100.0
_EXP_SPAN = -math.expm1(-_EXP_MAX / _EXP_SCALE)  # 1 - exp(-100/23) = 0.98706...

#: Floor for the EB prior strength a + b when the between-ward variance is as large as a
#: proportion's can be (phi >= m(1 - m)): effectively no shrinkage.
_MIN_PRIOR_STRENGTH = 1e-6

# --------------------------------------------------------------------------------------------
# helpers


def _float(x: Any) -> np.ndarray:
    """Array of float64 (pandas nullable NA becomes NaN)."""
    if isinstance(x, (pd.Series, pd.Index)):
        return x.to_numpy(dtype=float, na_value=np.nan)
    return np.asarray(x, dtype=float)


def _common_index(*objs: Any) -> pd.Index | None:
    """The index shared by the pandas inputs, or None if there are none; mismatches are an error."""
    indexes = [o.index for o in objs if isinstance(o, (pd.Series, pd.DataFrame))]
    if not indexes:
        return None
    first = indexes[0]
    for other in indexes[1:]:
        if not first.equals(other):
            raise ValueError("pandas inputs have different indexes; align them (e.g. on ward_code) first")
    return first


def _same_length(**arrays: np.ndarray) -> int:
    lengths = {name: a.shape for name, a in arrays.items()}
    shapes = set(lengths.values())
    if len(shapes) != 1:
        raise ValueError(f"inputs must have the same shape, got {lengths}")
    (shape,) = shapes
    if len(shape) != 1:
        raise ValueError(f"inputs must be one-dimensional, got shape {shape}")
    return shape[0]


def _frame(columns: dict[str, np.ndarray], index: pd.Index | None) -> pd.DataFrame:
    return pd.DataFrame(columns, index=index)


def _level_quantiles(level: float) -> tuple[float, float]:
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    alpha = 1.0 - level
    return alpha / 2.0, 1.0 - alpha / 2.0


# --------------------------------------------------------------------------------------------
# rates and proportions


def rate_per_1000(count: Any, population: Any) -> np.ndarray:
    """Events per 1,000 residents: ``count / population * 1000``.

    Parameters
    ----------
    count : array-like of float
        Events in the period (may be fractional after a boundary crosswalk). Must be >= 0.
    population : array-like of float
        Residents (ONS mid-year estimate for the ward and vintage).

    Returns
    -------
    numpy.ndarray of float
        Rate per 1,000 residents; NaN where population <= 0 or is NaN (or count is NaN). A ward with
        no residents (e.g. a City or park ward) would otherwise give inf and top every ranking.

    Raises
    ------
    ValueError
        Negative counts (a data error, not a rate).
    """
    c = _float(count)
    p = _float(population)
    c, p = np.broadcast_arrays(c, p)
    if np.any(c < 0):
        raise ValueError("count must be >= 0; negative event counts are a data error")
    out = np.full(c.shape, np.nan)
    ok = p > 0  # False for NaN too
    np.divide(c, p, out=out, where=ok)
    out[ok] *= 1000.0
    return out


def wilson_interval(agree: Any, n: Any, z: float = Z95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for the proportion ``agree / n``.

    ``centre = (p + z^2/(2n)) / (1 + z^2/n)``,
    ``half = z * sqrt(p(1 - p)/n + z^2/(4 n^2)) / (1 + z^2/n)``, interval ``centre -/+ half``.
    Unlike the Wald interval it stays inside [0, 1] and is not zero-width at 0/n or n/n, which
    matters for small wards (Wilson 1927; Newcombe 1998 recommends it).

    Parameters
    ----------
    agree : array-like
        Respondents agreeing (0 <= agree <= n; weighted counts may be fractional).
    n : array-like
        Respondents.
    z : float
        Standard normal quantile; the default gives a two-sided 95% interval.

    Returns
    -------
    (lo, hi) : tuple of numpy.ndarray
        Bounds as proportions 0..1; NaN where n == 0 or an input is NaN.
    """
    x = _float(agree)
    m = _float(n)
    x, m = np.broadcast_arrays(x, m)
    if np.any(m < 0) or np.any(x < 0) or np.any(x > m):
        raise ValueError("need 0 <= agree <= n and n >= 0")
    lo = np.full(x.shape, np.nan)
    hi = np.full(x.shape, np.nan)
    ok = m > 0
    xs, ns = x[ok], m[ok]
    p = xs / ns
    z2 = z * z
    denom = 1.0 + z2 / ns
    centre = (p + z2 / (2.0 * ns)) / denom
    half = z * np.sqrt(p * (1.0 - p) / ns + z2 / (4.0 * ns * ns)) / denom
    lo[ok] = np.where(xs == 0, 0.0, np.clip(centre - half, 0.0, 1.0))
    hi[ok] = np.where(xs == ns, 1.0, np.clip(centre + half, 0.0, 1.0))
    return lo, hi


def eb_shrink(agree: Any, n: Any, group: Any, *, level: float = 0.95) -> pd.DataFrame:
    """Empirical-Bayes beta-binomial shrinkage of ward survey proportions towards their borough.

    A ward with 12 respondents all agreeing is weak evidence of a 100% problem; shrinkage pulls
    each ward's proportion towards its borough's pooled rate in proportion to how little data it
    has, so small wards do not top the ranking by chance (Marshall 1991, method of moments,
    adapted from Poisson rates to binomial proportions).

    Per group g (borough), over its k wards with n_i > 0, with p_i = x_i / n_i:

    * ``m = sum(x_i) / sum(n_i)`` -- the pooled rate (prior mean);
    * ``s2 = sum(n_i (p_i - m)^2) / sum(n_i)`` -- respondent-weighted variance of ward rates;
    * ``nbar = sum(n_i) / k``;
    * ``phi = s2 - m(1 - m) / nbar`` -- between-ward variance after removing sampling noise;
    * if ``k < 2`` or ``phi <= 0``: complete pooling, ``A = inf``;
      otherwise ``A = max(m(1 - m) / phi - 1, 1e-6)`` (prior strength a + b, in respondents);
    * ``a = m A``, ``b = (1 - m) A`` (the Beta(a, b) prior);
    * ``B_i = n_i / (n_i + A)`` (0 under complete pooling or when n_i = 0);
    * ``eb_pct_i = B_i p_i + (1 - B_i) m = (x_i + a) / (n_i + a + b)``.

    Interval: the equal-tailed ``level`` interval of the posterior Beta(x_i + a, n_i - x_i + b),
    i.e. ``scipy.stats.beta.ppf([0.025, 0.975], x_i + a, n_i - x_i + b)``; a ward with n_i = 0 gets
    the prior's interval (the spread of wards in its borough). Under complete pooling every ward in
    the group shares one rate, so each gets the group's pooled Wilson interval for
    ``sum(x) / sum(n)``. These intervals treat a and b as known, so they are somewhat too narrow
    (the usual naive-EB caveat); they are for display, not for testing.

    Parameters
    ----------
    agree : array-like
        Respondents agreeing (may be fractional if survey-weighted), 0 <= agree <= n.
    n : array-like
        Respondents; 0 means the ward had no respondents.
    group : array-like
        Group label per ward (borough_code). A ward with a missing label, or a NaN agree or n,
        is left out of every group and gets NaN in every column (but ``raw_pct`` where computable).
    level : float
        Interval coverage, default 0.95.

    Returns
    -------
    pandas.DataFrame
        Indexed like the (pandas) inputs, else 0..N-1, with float columns ``raw_pct`` (x/n, NaN when
        n == 0), ``prior_mean`` (m), ``prior_strength`` (A; inf under complete pooling),
        ``shrink_weight`` (B_i), ``eb_pct``, ``eb_lo``, ``eb_hi``; proportions 0..1. Rows of a
        group with no respondents at all are NaN throughout.
    """
    index = _common_index(agree, n, group)
    x = _float(agree)
    m_ = _float(n)
    labels = np.asarray(group, dtype=object)
    size = _same_length(agree=x, n=m_, group=labels)
    if np.any(m_ < 0) or np.any(x < 0) or np.any(x > m_):
        raise ValueError("need 0 <= agree <= n and n >= 0")
    q_lo, q_hi = _level_quantiles(level)

    codes, uniques = pd.factorize(labels, use_na_sentinel=True)
    codes = np.where(np.isnan(x) | np.isnan(m_), -1, codes)
    g = len(uniques)
    has = (codes >= 0) & (m_ > 0)  # wards that inform their group's prior
    c_has = codes[has]
    xs, ns = x[has], m_[has]

    k = np.bincount(c_has, minlength=g).astype(float)
    sum_x = np.bincount(c_has, weights=xs, minlength=g)
    sum_n = np.bincount(c_has, weights=ns, minlength=g)
    with np.errstate(invalid="ignore", divide="ignore"):
        m = sum_x / sum_n  # NaN for groups with no respondents
        s2 = np.bincount(c_has, weights=ns * (xs / ns - m[c_has]) ** 2, minlength=g) / sum_n
        nbar = sum_n / k
        phi = s2 - m * (1.0 - m) / nbar
        # k < 2 already gives phi <= 0 (one ward: s2 = 0); said explicitly as in the method
        pooled = (k < 2) | ~(phi > 0)
        A = np.where(pooled, np.inf, np.maximum(m * (1.0 - m) / phi - 1.0, _MIN_PRIOR_STRENGTH))
    A = np.where(np.isfinite(A) | np.isnan(m), A, np.inf)  # non-finite A => complete pooling
    A = np.where(np.isnan(m), np.nan, A)
    pooled = np.isinf(A)
    pool_lo, pool_hi = wilson_interval(np.nan_to_num(sum_x), np.nan_to_num(sum_n), z=stats.norm.ppf(q_hi))

    # Broadcast the group quantities to wards (groupless wards get NaN).
    known = codes >= 0
    safe = np.where(known, codes, 0)

    def per_ward(v: np.ndarray) -> np.ndarray:
        return np.where(known, v[safe] if g else np.nan, np.nan)

    m_w, A_w, pooled_w = per_ward(m), per_ward(A), per_ward(pooled.astype(float)) == 1.0
    with np.errstate(invalid="ignore", divide="ignore"):
        raw = np.where(m_ > 0, x / m_, np.nan)
        B = np.where(pooled_w, 0.0, m_ / (m_ + A_w))
        B = np.where(np.isnan(m_w), np.nan, B)
        eb = np.where(m_ > 0, B * raw, 0.0) + (1.0 - B) * m_w

        a = m_w * A_w
        b = (1.0 - m_w) * A_w
        post = ~pooled_w & ~np.isnan(m_w)
        lo = np.full(size, np.nan)
        hi = np.full(size, np.nan)
        lo[post] = stats.beta.ppf(q_lo, x[post] + a[post], m_[post] - x[post] + b[post])
        hi[post] = stats.beta.ppf(q_hi, x[post] + a[post], m_[post] - x[post] + b[post])
        lo[pooled_w] = per_ward(pool_lo)[pooled_w]
        hi[pooled_w] = per_ward(pool_hi)[pooled_w]

    return _frame(
        {
            "raw_pct": raw,
            "prior_mean": m_w,
            "prior_strength": A_w,
            "shrink_weight": B,
            "eb_pct": eb,
            "eb_lo": lo,
            "eb_hi": hi,
        },
        index,
    )


# --------------------------------------------------------------------------------------------
# ranks and the index


def rank_normalise(values: Any) -> np.ndarray:
    """Scale values to their rank share ``R = rank / N`` in (0, 1]; R = 1 is the highest (most harm).

    Ranks are ascending (the smallest value gets 1, the largest N), ties take their average rank,
    N counts the non-NaN values. This is the IoD's step before the exponential transform: it puts
    indicators in different units (rates per 1,000; survey percentages) on one scale.

    Parameters
    ----------
    values : array-like, 1-D or 2-D
        A 2-D input is normalised column by column (rows = wards, columns = indicators).

    Returns
    -------
    numpy.ndarray of float
        Same shape; NaN where the value is NaN.

    Examples
    --------
    >>> rank_normalise([1, 2, 2, 4]).tolist()   # ranks 1, 2.5, 2.5, 4 over N = 4
    [0.25, 0.625, 0.625, 1.0]
    """
    v = _float(values)
    if v.ndim not in (1, 2):
        raise ValueError(f"values must be 1-D or 2-D, got shape {v.shape}")
    if v.size == 0:
        return v.copy()
    ranks = stats.rankdata(v, axis=0, method="average", nan_policy="omit").astype(float)
    count = np.sum(~np.isnan(v), axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(np.isnan(v), np.nan, ranks / count)


def exponential_transform(r: Any) -> np.ndarray:
    """IoD 2019 exponential transform of a rank share: ``X = -23 ln(1 - R (1 - exp(-100/23)))``.

    Maps R in (0, 1] to X in (0, 100], with R = 1 -> 100 and R = 0.5 -> 15.65. The curve is flat at
    the low-harm end and steep at the high-harm end, so in a weighted sum a ward that is extreme on
    one indicator is not averaged away by being ordinary on the others (MHCLG 2019, English Indices
    of Deprivation 2019 Technical Report, exponential transformation of domain ranks).

    Parameters
    ----------
    r : array-like
        Rank shares from :func:`rank_normalise`, 0 <= R <= 1.

    Returns
    -------
    numpy.ndarray of float
        X on a 0..100 scale; NaN stays NaN.
    """
    R = _float(r)
    if np.any((R < 0) | (R > 1)):
        raise ValueError("rank shares must lie in [0, 1]")
    return -_EXP_SCALE * np.log1p(-R * _EXP_SPAN)


@dataclass(frozen=True)
class IndexResult:
    """One period's harm index.

    Attributes
    ----------
    score : pandas.Series
        0..100 per ward (index = ward_code); NaN when the ward has no indicator values (or is below
        ``min_coverage``).
    transformed : pandas.DataFrame
        Ward x indicator exponential-transformed scores X (0..100), NaN where the ward has no value.
        Columns are the indicators in ``weights_used`` only.
    contribution : pandas.DataFrame
        Ward x indicator, ``w_i * X_i / coverage``: each indicator's share of the score, in score
        points. Rows sum to ``score``; NaN where the indicator is missing for the ward.
    weights_used : dict
        Weights renormalised over the indicators available in this period, summing to 1.
    indicators_dropped : tuple of str
        Configured (weight > 0) indicators absent from, or all-NaN in, this period.
    coverage : pandas.Series
        Share (0..1) of ``weights_used`` that the ward has values for. Below 1 the ward's score is
        renormalised over fewer indicators: flag it to users.
    """

    score: pd.Series
    transformed: pd.DataFrame
    contribution: pd.DataFrame
    weights_used: dict[str, float]
    indicators_dropped: tuple[str, ...]
    coverage: pd.Series


def _check_weights(weights: Mapping[str, float]) -> dict[str, float]:
    clean: dict[str, float] = {}
    for name, w in weights.items():
        w = float(w)
        if not math.isfinite(w):
            raise ValueError(f"weight for indicator {name!r} is not a finite number: {w!r}")
        if w < 0:
            raise ValueError(f"weight for indicator {name!r} is negative ({w}); harm weights must be >= 0")
        clean[str(name)] = w
    if not any(w > 0 for w in clean.values()):
        raise ValueError("all indicator weights are zero; at least one indicator needs a positive weight")
    return clean


def _transformed_matrix(
    values: pd.DataFrame, weights: Mapping[str, float]
) -> tuple[list[str], np.ndarray, np.ndarray, tuple[str, ...]]:
    """(used indicator names, raw weights of those, X matrix wards x used, dropped names)."""
    w = _check_weights(weights)
    if not values.columns.is_unique:
        raise ValueError("values has duplicate indicator columns")
    if not values.index.is_unique:
        raise ValueError("values has duplicate wards in its index; one row per ward")
    configured = [name for name, wt in w.items() if wt > 0]
    used, dropped = [], []
    for name in configured:
        if name in values.columns and values[name].notna().any():
            used.append(name)
        else:
            dropped.append(name)
    V = values[used].to_numpy(dtype=float, na_value=np.nan).reshape(len(values), len(used))
    X = exponential_transform(rank_normalise(V))
    return used, np.array([w[name] for name in used], dtype=float), X, tuple(dropped)


def _combine(X: np.ndarray, w: np.ndarray, min_coverage: float) -> tuple[np.ndarray, np.ndarray]:
    """Score and coverage per ward for weight vector(s) w (k or k x P), weights normalised per column."""
    if w.shape[0] == 0:  # nothing weighted has data this period
        empty = np.zeros(X.shape[0])
        return np.full(X.shape[0], np.nan), empty
    w = w / w.sum(axis=0)
    present = ~np.isnan(X)
    coverage = present.astype(float) @ w
    total = np.where(present, X, 0.0) @ w
    with np.errstate(invalid="ignore", divide="ignore"):
        score = np.where((coverage > 0) & (coverage >= min_coverage - 1e-12), total / coverage, np.nan)
    return score, coverage


def harm_index(values: pd.DataFrame, weights: Mapping[str, float], *, min_coverage: float = 0.0) -> IndexResult:
    """Combine harm indicators into one 0..100 ward score for a period.

    Steps (IoD 2019 method, with harm weights in the spirit of the Cambridge Crime Harm Index,
    Sherman et al. 2016):

    1. Keep indicators with weight > 0. An indicator with a weight but no values this period is
       dropped (``indicators_dropped``) and the remaining weights renormalised to sum to 1
       (``weights_used``, w_i).
    2. Per indicator, across wards with a value: ``R = rank_normalise(value)`` (average rank / N,
       1 = most harm), then ``X = exponential_transform(R)`` (0..100).
    3. Per ward, over the indicators it has: ``coverage = sum(w_i)``;
       ``score = sum(w_i X_i) / coverage``. A ward missing an indicator is thus scored on the ones
       it has (renormalised per ward) and is flagged by coverage < 1; a ward with none gets NaN.
       ``contribution_i = w_i X_i / coverage`` and the contributions sum to the score.

    A period in which no weighted indicator has any value gives an all-NaN score, coverage 0,
    empty ``weights_used`` / ``transformed`` / ``contribution`` and every configured indicator in
    ``indicators_dropped``: the figures can still be published, just not an index.

    Parameters
    ----------
    values : pandas.DataFrame
        Index ward_code, one column per indicator, each oriented "higher = more harm" (rates per
        1,000 or EB proportions). Columns not in ``weights`` (or with weight 0) are ignored.
    weights : Mapping[str, float]
        Indicator slug -> non-negative weight (relative harm; any scale).
    min_coverage : float, optional
        Wards with coverage below this get a NaN score (default 0: score any ward with one value).

    Raises
    ------
    ValueError
        Negative or non-finite weights; all weights zero; duplicate wards or indicator columns.
    """
    used, w_raw, X, dropped = _transformed_matrix(values, weights)
    w = w_raw / w_raw.sum() if len(w_raw) else w_raw
    score, coverage = _combine(X, w_raw, min_coverage)
    with np.errstate(invalid="ignore", divide="ignore"):
        contrib = X * w / coverage[:, None]
    contrib[np.isnan(score)] = np.nan
    idx = values.index
    return IndexResult(
        score=pd.Series(score, index=idx, name="score"),
        transformed=pd.DataFrame(X, index=idx, columns=pd.Index(used, name="indicator")),
        contribution=pd.DataFrame(contrib, index=idx, columns=pd.Index(used, name="indicator")),
        weights_used={name: float(wi) for name, wi in zip(used, w)},
        indicators_dropped=dropped,
        coverage=pd.Series(coverage, index=idx, name="coverage"),
    )


def rank_desc(score: Any) -> np.ndarray:
    """Competition ("1224") rank, 1 = highest score; tied wards share the best rank.

    Returns
    -------
    numpy.ndarray of float
        Ranks as whole numbers in a float array (NaN score -> NaN rank).

    Examples
    --------
    >>> rank_desc([90, 80, 80, 70]).tolist()
    [1.0, 2.0, 2.0, 4.0]
    """
    s = _float(score)
    if s.ndim != 1:
        raise ValueError(f"score must be 1-D, got shape {s.shape}")
    if s.size == 0:
        return s.copy()
    ranks = stats.rankdata(-s, method="min", nan_policy="omit").astype(float)
    return np.where(np.isnan(s), np.nan, ranks)


def decile(rank: Any, n: Any) -> np.ndarray:
    """Decile from a rank: ``ceil(10 * rank / n)``; 1 = the worst 10%, as in the IoD (1 = most deprived).

    Tied wards share a rank and therefore a decile; because ties take the best rank, a tie at a
    boundary puts all tied wards in the better (lower-numbered, worse-harm) decile, so decile 1
    can hold more than 10% of wards. With n < 10 some deciles are empty (n = 4: ranks 1..4 give
    deciles 3, 5, 8, 10).

    Parameters
    ----------
    rank : array-like
        Ranks from :func:`rank_desc` (1..n); NaN -> NaN.
    n : int or array-like
        Number of ranked wards (per ward when ranks are within groups).

    Returns
    -------
    numpy.ndarray of float
    """
    r = _float(rank)
    nn = _float(n)
    r, nn = np.broadcast_arrays(r, nn)
    ranked = ~np.isnan(r)
    if np.any(ranked & ~(nn >= 1)) or np.any(ranked & ((r < 1) | (r > nn))):
        raise ValueError("need 1 <= rank <= n for every ranked ward")
    out = np.full(r.shape, np.nan)
    # exact for whole-number ranks: 10 * rank and n are exact floats and IEEE division is correctly
    # rounded, so a quotient that is a whole number (a decile boundary) comes out exactly
    out[ranked] = np.ceil(10.0 * r[ranked] / nn[ranked])
    return out


def ranks_within(score: pd.Series, group: pd.Series) -> pd.DataFrame:
    """Rank and decile within each group (borough), by the same rules as :func:`rank_desc` and :func:`decile`.

    Returns
    -------
    pandas.DataFrame
        Indexed like ``score``; float columns ``rank`` (1 = highest score in the group), ``decile``
        and ``n`` (wards with a score in the group). A NaN score, or a missing group label, gives
        NaN rank and decile (and NaN n for a missing label).
    """
    if not isinstance(score, pd.Series) or not isinstance(group, pd.Series):
        raise TypeError("score and group must be pandas Series sharing one index")
    _common_index(score, group)
    s = score.astype(float)
    rank = s.groupby(group, dropna=True, sort=False).rank(method="min", ascending=False)
    n = s.notna().groupby(group, dropna=True, sort=False).transform("sum").astype(float)
    n = n.where(group.notna())
    r = rank.to_numpy(dtype=float, na_value=np.nan)
    return pd.DataFrame(
        {"rank": r, "decile": decile(r, n.to_numpy(dtype=float, na_value=np.nan)), "n": n.to_numpy(dtype=float)},
        index=score.index,
    )


@dataclass(frozen=True)
class WorstRule:
    """Which wards count as "worst affected": the one rule, with the one set of limits, that the tasking
    map (its JSON and its first view), the briefings, the API and the command line all take.

    ``top_n``: the worst ``n`` wards by score (ties at the n-th all included); ``top_decile``: every ward
    in the worst 10%; ``threshold``: every ward scoring ``threshold`` or more (the harm index runs 0-100).
    ``n`` belongs to ``top_n`` only and ``threshold`` to ``threshold`` only; giving either to another
    rule is an error, so a request never reads as something it is not. Messages are safe to show a user.
    """

    mode: str = "top_n"
    n: int | None = 20
    threshold: float | None = None

    MODES: ClassVar[tuple[str, ...]] = ("top_n", "top_decile", "threshold")
    N_RANGE: ClassVar[tuple[int, int]] = (1, 1000)
    THRESHOLD_RANGE: ClassVar[tuple[float, float]] = (0.0, 100.0)
    #: What a view starts with when its URL names no n or threshold (the map's controls).
    DEFAULT_N: ClassVar[int] = 20
    DEFAULT_THRESHOLD: ClassVar[float] = 50.0

    def __post_init__(self) -> None:
        if self.mode not in self.MODES:
            raise ValueError(f"rule must be one of {', '.join(self.MODES)}, not {str(self.mode)[:40]!r}")
        if self.mode == "top_n":
            if self.n is None:
                raise ValueError("rule top_n needs n, a whole number of wards")
            _check_n(self.n)
            if self.threshold is not None:
                raise ValueError("rule top_n takes n, not threshold")
        elif self.mode == "threshold":
            if self.threshold is None:
                lo, hi = self.THRESHOLD_RANGE
                raise ValueError(f"rule=threshold needs threshold, a score from {lo:g} to {hi:g} (e.g. threshold=60)")
            _check_threshold(self.threshold)
            if self.n is not None:
                raise ValueError("rule threshold takes threshold, not n")
        elif self.n is not None or self.threshold is not None:
            raise ValueError("rule top_decile takes neither n nor threshold")

    @classmethod
    def of(cls, mode: str, n: int | None = None, threshold: float | None = None) -> WorstRule:
        """The rule ``mode`` with only the argument it takes (a caller may pass both defaults)."""
        return cls(mode, n if mode == "top_n" else None, threshold if mode == "threshold" else None)

    @classmethod
    def parse(cls, args: Mapping[str, str | None]) -> WorstRule:
        """The rule a query string names (``rule``, ``n``, ``threshold``; ``top_n`` of 20 when none is named).
        A malformed or out-of-range ``n`` or ``threshold`` is an error whichever rule is named."""
        mode = (args.get("rule") or "top_n").strip()
        n_text, t_text = args.get("n"), args.get("threshold")
        n = cls.DEFAULT_N
        if n_text not in (None, ""):
            try:
                n = int(n_text.strip())
            except ValueError:
                raise ValueError(f"n must be a whole number of wards from {cls.N_RANGE[0]} to {cls.N_RANGE[1]}, "
                                 f"not {n_text[:20]!r}") from None
            _check_n(n)
        threshold = None
        if t_text not in (None, ""):
            try:
                threshold = float(t_text)
            except ValueError:
                threshold = math.nan
            if not math.isfinite(threshold):
                lo, hi = cls.THRESHOLD_RANGE
                raise ValueError(f"threshold must be a score from {lo:g} to {hi:g}, not {t_text[:20]!r}")
            _check_threshold(threshold)
        return cls.of(mode, n, threshold)

    @classmethod
    def limits(cls) -> dict[str, Any]:
        """The limits as data, for a client that checks its own controls (the map's script)."""
        return {"modes": list(cls.MODES), "n": list(cls.N_RANGE), "threshold": list(cls.THRESHOLD_RANGE),
                "default_n": cls.DEFAULT_N, "default_threshold": cls.DEFAULT_THRESHOLD}

    def sentence(self, where: str, n_ranked: int) -> str:
        """The rule in words, e.g. "Top 20 wards by score London-wide"."""
        if self.mode == "top_n":
            return f"Top {self.n} wards by score {where}"
        if self.mode == "top_decile":
            return f"Worst 10% of wards {where} (decile 1 of {n_ranked} ranked)"
        return f"Wards scoring {self.threshold:g} or more {where}"


def _check_n(n: Any) -> None:
    lo, hi = WorstRule.N_RANGE
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or not lo <= n <= hi:
        raise ValueError(f"n must be a whole number of wards from {lo} to {hi}, not {n!r}")


def _check_threshold(threshold: Any) -> None:
    lo, hi = WorstRule.THRESHOLD_RANGE
    if isinstance(threshold, bool) or not isinstance(threshold, numbers.Real) or not math.isfinite(threshold) \
            or not lo <= threshold <= hi:
        raise ValueError(f"threshold must be a score from {lo:g} to {hi:g}, not {threshold!r}")


def worst_affected(
    frame: pd.DataFrame,
    rule: WorstRule | None,
    *,
    borough: str | None = None,
    score_col: str = "score",
    rank_col: str = "rank",
    decile_col: str = "decile",
    borough_col: str = "borough_code",
) -> pd.DataFrame:
    """Select the worst-affected wards by an explicit, stated rule (``None``: every ranked ward).

    Ranks are recomputed from ``score_col`` over the scope -- the whole ``frame`` (pass all of the
    period's London wards) or, with ``borough``, that borough's wards only -- so a stale rank column
    can never select different wards from the scores shown.

    Rules (:class:`WorstRule`)
    --------------------------
    ``"top_n"``
        rank <= n. Wards tied with the n-th are all included, so more than n rows can come back;
        they are marked ``tied_at_cutoff`` and ``attrs["ties_extended"]`` is True.
    ``"top_decile"``
        decile == 1 (ceil(10 rank / N) == 1; ties can make this more than 10%).
    ``"threshold"``
        score >= threshold (same units as the score, 0..100 for the harm index).

    Wards with a NaN score are never selected (and do not count in N).

    Returns
    -------
    pandas.DataFrame
        The selected rows of ``frame``, worst first (ties keep input order), with added or replaced
        columns ``rank_col`` and ``decile_col`` (within the scope), ``n_ranked`` (N) and
        ``tied_at_cutoff`` (bool). ``attrs`` records the rule as a sentence (``note``, e.g. "Top 2
        wards by score London-wide; 3 shown because 2 wards tie at rank 2"), and mode, scope, n,
        threshold, n_ranked, n_selected and ties_extended.

    Raises
    ------
    ValueError
        A missing column; a borough with no wards in ``frame``.
    """
    if score_col not in frame.columns:
        raise ValueError(f"frame has no score column {score_col!r}")

    scope = frame
    if borough is not None:
        if borough_col not in frame.columns:
            raise ValueError(f"frame has no borough column {borough_col!r}")
        scope = frame[frame[borough_col] == borough]
        if scope.empty:
            raise ValueError(f"no wards with {borough_col} == {borough!r} in frame")

    score = scope[score_col].to_numpy(dtype=float, na_value=np.nan)
    rank = rank_desc(score)
    n_ranked = int(np.sum(~np.isnan(rank)))
    dec = decile(rank, n_ranked) if n_ranked else np.full(rank.shape, np.nan)

    tied = np.zeros(rank.shape, dtype=bool)
    mode = rule.mode if rule is not None else "all"
    if rule is None:
        keep = ~np.isnan(rank)
    elif mode == "top_n":
        keep = rank <= rule.n
        if keep.sum() > rule.n:
            tied = keep & (rank == np.max(rank[keep]))
    elif mode == "top_decile":
        keep = dec == 1
    else:
        keep = score >= rule.threshold  # NaN compares False

    out = scope.copy()
    out[rank_col] = rank
    out[decile_col] = dec
    out["n_ranked"] = n_ranked
    out["tied_at_cutoff"] = tied
    out = out[keep]
    out = out.iloc[np.argsort(out[rank_col].to_numpy(), kind="stable")]
    where = "London-wide" if borough is None else f"within {borough}"
    if rule is None:
        note = f"All {n_ranked} ranked wards {where}"
    else:
        note = rule.sentence(where, n_ranked)
    if tied.any():
        note += (f"; {len(out)} shown because {int(tied.sum())} wards tie at rank "
                 f"{int(np.max(rank[keep]))}")
    out.attrs = {
        "note": note,
        "mode": mode,
        "scope": "london" if borough is None else borough,
        "n": rule.n if rule is not None else None,
        "threshold": rule.threshold if rule is not None else None,
        "n_ranked": n_ranked,
        "n_selected": len(out),
        "ties_extended": bool(tied.any()),
    }
    return out


# --------------------------------------------------------------------------------------------
# change between periods


def rate_ratio_test(x_now: Any, x_before: Any, exposure_ratio: Any = 1.0, *, level: float = 0.95) -> pd.DataFrame:
    """Exact conditional test that a count changed between two periods (same population).

    Given the total ``t = x_now + x_before``, under "no change in rate" x_now ~ Binomial(t, p0),
    ``p0 = e / (1 + e)`` with ``e = exposure_ratio`` (length of now period / before period).

    * ``ratio = (x_now / x_before) / e``; inf when x_before = 0 < x_now; NaN when t = 0.
    * ``p = min(1, 2 min(P(X <= x_now), P(X >= x_now)))``, X ~ Binomial(t, p0); 1 when t = 0.
    * CI: Clopper-Pearson interval (lo_p, hi_p) for x_now / t --
      ``lo_p = beta.ppf(0.025, x_now, t - x_now + 1)`` (0 if x_now = 0),
      ``hi_p = beta.ppf(0.975, x_now + 1, t - x_now)`` (1 if x_now = t) -- mapped to the ratio
      scale by ``p / (1 - p) / e``; hi is inf when x_now = t.

    Small counts are the point: 3 events after 1 is "up 200%" but p = 0.625.

    Fractional counts (crosswalked from old ward boundaries) are not binomial outcomes, so their
    ``p``, ``lo`` and ``hi`` are NaN (the ratio is still given); the caller labels them not tested.

    Returns
    -------
    pandas.DataFrame
        Columns ``ratio``, ``lo``, ``hi``, ``p``; indexed like the pandas inputs.

    Raises
    ------
    ValueError
        Negative counts; exposure_ratio not a positive finite number.
    """
    index = _common_index(x_now, x_before, exposure_ratio)
    a, b, e = np.broadcast_arrays(_float(x_now), _float(x_before), _float(exposure_ratio))
    if a.ndim != 1:
        a, b, e = (np.atleast_1d(v) for v in (a, b, e))
    if np.any(a < 0) or np.any(b < 0):
        raise ValueError("counts must be >= 0")
    if np.any(~(e > 0) | ~np.isfinite(e)):
        raise ValueError("exposure_ratio must be a positive finite number (now period length / before period length)")
    q_lo, q_hi = _level_quantiles(level)
    t = a + b
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = a / b / e
    ratio = np.where(t > 0, ratio, np.nan)

    whole = np.isfinite(a) & np.isfinite(b) & (a == np.round(a)) & (b == np.round(b))
    p = np.full(a.shape, np.nan)
    lo = np.full(a.shape, np.nan)
    hi = np.full(a.shape, np.nan)
    p[whole & (t == 0)] = 1.0
    tst = whole & (t > 0)
    if np.any(tst):
        x, tt, ee = a[tst], t[tst], e[tst]
        p0 = ee / (1.0 + ee)
        lower_tail = stats.binom.cdf(x, tt, p0)
        upper_tail = stats.binom.sf(x - 1, tt, p0)
        p[tst] = np.minimum(1.0, 2.0 * np.minimum(lower_tail, upper_tail))
        with np.errstate(invalid="ignore", divide="ignore"):
            lo_p = np.where(x > 0, stats.beta.ppf(q_lo, x, tt - x + 1), 0.0)
            hi_p = np.where(x < tt, stats.beta.ppf(q_hi, x + 1, tt - x), 1.0)
            lo[tst] = lo_p / (1.0 - lo_p) / ee
            hi[tst] = np.where(hi_p < 1.0, hi_p / (1.0 - hi_p) / ee, np.inf)
    return _frame({"ratio": ratio, "lo": lo, "hi": hi, "p": p}, index)


def two_proportion_test(x1: Any, n1: Any, x0: Any, n0: Any, *, z: float = Z95) -> pd.DataFrame:
    """Change in a survey proportion, now (1) vs before (0).

    * ``diff = p1 - p0`` (proportion points; x100 for percentage points).
    * CI: Newcombe (1998) hybrid score interval (his method 10), from each period's Wilson
      interval (l1, u1) and (l0, u0):
      ``lo = diff - sqrt((p1 - l1)^2 + (u0 - p0)^2)``, ``hi = diff + sqrt((u1 - p1)^2 + (p0 - l0)^2)``.
      Chosen over the Wald interval because it behaves at 0% / 100% and small n.
    * p: two-sided pooled z test, ``pp = (x1 + x0) / (n1 + n0)``,
      ``z = diff / sqrt(pp (1 - pp) (1/n1 + 1/n0))``, ``p = 2 (1 - Phi(|z|))``; p = 1 when the
      pooled proportion is 0 or 1 (no variation, no evidence of change).

    n1 == 0 or n0 == 0 gives NaN in every column.

    Returns
    -------
    pandas.DataFrame
        Columns ``diff``, ``lo``, ``hi``, ``p``; indexed like the pandas inputs.
    """
    index = _common_index(x1, n1, x0, n0)
    a1, m1, a0, m0 = np.broadcast_arrays(_float(x1), _float(n1), _float(x0), _float(n0))
    if a1.ndim != 1:
        a1, m1, a0, m0 = (np.atleast_1d(v) for v in (a1, m1, a0, m0))
    l1, u1 = wilson_interval(a1, m1, z)
    l0, u0 = wilson_interval(a0, m0, z)
    ok = (m1 > 0) & (m0 > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        p1 = a1 / m1
        p0 = a0 / m0
        diff = np.where(ok, p1 - p0, np.nan)
        lo = diff - np.sqrt((p1 - l1) ** 2 + (u0 - p0) ** 2)
        hi = diff + np.sqrt((u1 - p1) ** 2 + (p0 - l0) ** 2)
        pp = (a1 + a0) / (m1 + m0)
        se = np.sqrt(pp * (1.0 - pp) * (1.0 / m1 + 1.0 / m0))
        p = np.where(se > 0, 2.0 * stats.norm.sf(np.abs(diff / se)), 1.0)
    p = np.where(ok & ~np.isnan(diff), p, np.nan)
    return _frame({"diff": diff, "lo": lo, "hi": hi, "p": p}, index)


def trend_label(change: Any, p: Any, *, alpha: float = 0.05) -> np.ndarray:
    """Label a change for display: "up", "down", "no_change" or "not_tested".

    "up"/"down" only when p < alpha (and change > 0 / < 0); a non-significant change is
    "no_change" however large it looks ("up 40% on 3 events" is not shown as a rise); a NaN p or
    change is "not_tested" (e.g. fractional crosswalked counts, no respondents). For rate ratios
    pass ``log(ratio)`` or ``ratio - 1`` as the change: the sign is what matters.

    Returns
    -------
    numpy.ndarray of object (str)
    """
    c, pv = np.broadcast_arrays(_float(change), _float(p))
    tested = ~np.isnan(c) & ~np.isnan(pv)
    sig = tested & (pv < alpha)
    return np.select(
        [~tested, sig & (c > 0), sig & (c < 0)],
        ["not_tested", "up", "down"],
        default="no_change",
    ).astype(object)


# --------------------------------------------------------------------------------------------
# sensitivity to the weights


def _average_rank_corr(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rho: Pearson correlation of average ranks (NaN if either side is constant)."""
    if a.size < 2:
        return float("nan")
    ra = stats.rankdata(a) - (a.size + 1) / 2.0
    rb = stats.rankdata(b) - (b.size + 1) / 2.0
    den = math.sqrt(float(ra @ ra) * float(rb @ rb))
    return float(ra @ rb) / den if den > 0 else float("nan")


def robustness(
    values: pd.DataFrame,
    weights: Mapping[str, float],
    *,
    delta: float = 0.2,
    top_share: float = 0.1,
    factors: Sequence[float] | None = None,
    min_coverage: float = 0.0,
) -> pd.DataFrame:
    """How much do the worst wards depend on the harm weights? One-at-a-time weight perturbation.

    For each indicator with weight > 0 and each factor (default ``1 - delta`` and ``1 + delta``),
    that one weight is multiplied by the factor, the index recomputed as in :func:`harm_index`
    (weights renormalised), and compared with the unperturbed index:

    * ``top_decile_retained``: of the base top wards (competition rank <= top_share x N, which for
      top_share = 0.1 is exactly decile 1), the share still in the top after perturbation; NaN if
      the base top set is empty (N < 1/top_share).
    * ``spearman``: Spearman rank correlation of the two scores over wards scored in both.

    The rank transform does not depend on the weights, so it is done once; each perturbation is one
    matrix product. An indicator dropped in this period (no values) is not perturbed; with no
    indicator left the result has no rows.

    Parameters
    ----------
    factors : sequence of float, optional
        Multipliers to use instead of (1 - delta, 1 + delta); each must be > 0.

    Returns
    -------
    pandas.DataFrame
        Columns ``indicator``, ``factor``, ``top_decile_retained``, ``spearman``; one row per
        (indicator, factor), indicators in ``weights`` order.
    """
    if factors is None:
        if not 0.0 <= delta < 1.0:
            raise ValueError(f"delta must be in [0, 1) so both factors stay positive; got {delta!r}")
        factors = (1.0 - delta, 1.0 + delta)
    factors = tuple(float(f) for f in factors)
    if any(not (f > 0 and math.isfinite(f)) for f in factors):
        raise ValueError(f"factors must be positive finite numbers; got {factors!r}")
    if not 0.0 < top_share <= 1.0:
        raise ValueError(f"top_share must be in (0, 1]; got {top_share!r}")

    used, w, X, _ = _transformed_matrix(values, weights)
    base, _ = _combine(X, w, min_coverage)

    def top_set(score: np.ndarray) -> np.ndarray:
        rank = rank_desc(score)
        n_scored = int(np.sum(~np.isnan(score)))
        return rank <= math.floor(top_share * n_scored + 1e-9)  # NaN rank -> False

    base_top = top_set(base)
    rows = []
    for j, name in enumerate(used):
        for f in factors:
            wp = w.copy()
            wp[j] *= f
            s, _ = _combine(X, wp, min_coverage)
            both = ~np.isnan(base) & ~np.isnan(s)
            retained = float(np.mean(top_set(s)[base_top])) if base_top.any() else float("nan")
            rows.append((name, f, retained, _average_rank_corr(base[both], s[both])))
    return pd.DataFrame(rows, columns=["indicator", "factor", "top_decile_retained", "spearman"])
