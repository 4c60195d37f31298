"""Ward hot spots: queen contiguity, Getis-Ord local G*_i and Local Moran's I_i, with FDR control.

Pure functions (arrays and frames in and out; no connection, Flask or clock). Randomness comes in
as ``rng: numpy.random.Generator``; one int seed is drawn from it per call and handed to esda, so
the same generator state gives the same answer.

Geometry is EPSG:27700 (British National Grid, metres); the wards are any one vintage (HarmMap maps
the 2022 set: 704 wards, of which 684 have Census 2021 residents under the ONS best-fit lookup).

Statistics, as implemented by PySAL's esda (Rey & Anselin 2007):

- Getis & Ord (1992), *Geographical Analysis* 24(3); Ord & Getis (1995), *Geographical Analysis*
  27(4): local G*_i with binary weights and the ward itself in its own neighbourhood (``star``).
- Anselin (1995), *Geographical Analysis* 27(2): Local Moran's I_i (LISA), row-standardised weights.
- Benjamini & Hochberg (1995), *JRSS B* 57(1): false discovery rate over the wards tested.

Choices worth knowing (each is tested in ``tests/test_hotspots.py``):

- **Contiguity** is computed with shapely, not libpysal's vertex matching: two wards are neighbours
  when their polygons intersect (share a vertex *or any part of an edge*). On the 704 wards of 2022
  this gives exactly the neighbours of ``libpysal.weights.Queen.from_iterable`` (the ONS polygons
  share exact vertices); it also catches an edge shared without a common vertex (a T-junction),
  which libpysal's queen misses. ``tolerance_m > 0`` widens this to "within tolerance_m metres"
  (one STRtree query, milliseconds). The default is 0: exact, and the same answer any GIS gives
  for the file. On the 2022 wards 0.5 m would add 8 pairs, all corner near-misses of 3-35 cm
  left by the 20 m generalisation (see ``queen_contiguity``).
- **Islands** (wards with no neighbours) get ``"island"`` and are never tested. esda gives an island
  a pseudo p of 1/(permutations+1), the smallest possible, so an island would otherwise look like
  the most significant ward in London. Islands stay in the esda run: their values count in the
  London mean and variance and in the permutation pool (they are real wards with real values), but
  their own statistics are set to NaN and they are left out of the FDR family.
- **No data** (NaN in ``y``): those wards are dropped before anything is computed (the weights are
  rebuilt on the wards with data), and get ``"no_data"``. A ward whose only neighbours had no data
  becomes an island for that run. ``"no_data"`` wins over ``"island"``.
- **p_sim** is the conditional-permutation pseudo p-value, (M + 1) / (permutations + 1), where M
  counts the permuted statistics (esda's, same seed) at least as extreme as the observed one in
  the tail it lies in: one-sided, "directed" as in esda 2.9 and GeoDa; a two-sided p is about
  twice it. We count M ourselves from esda's permuted statistics because esda counts a permuted
  value *equal* to the observed one as extreme only in the upper tail: a ward whose whole
  neighbourhood is 0, in data with many zeros, ties with most permutations and esda gives it the
  smallest possible p (1/1000) instead of about the share of ties. Without ties the two agree
  exactly (tested). Returned as exact float64 fractions (esda's G* p_sim is float32).
- **FDR** is our own vectorised Benjamini-Hochberg (``fdr_threshold``), not ``esda.fdr``: esda's
  uses a strict ``<`` (so a p-value equal to its step, common with permutation p-values, is not
  rejected) and falls back to Bonferroni when nothing is rejected.
- esda (without numba) reseeds numpy's *global* random state; it is saved and restored here, so
  calling these functions has no effect on other code. The caller's weights are never modified
  (esda sets ``w.transform`` on the object it is given; it is given a copy).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import esda
import numpy as np
import pandas as pd
import shapely
from libpysal.weights import W
from numpy.typing import ArrayLike

#: Gi* classes from coldest to hottest, then the two untested kinds (a map legend's order).
GI_CLASSES = (
    "cold_99", "cold_95", "cold_90", "not_significant", "hot_90", "hot_95", "hot_99", "island", "no_data",
)

#: Local Moran cluster labels by esda quadrant q (1 HH, 2 LH, 3 LL, 4 HL).
LISA_CLUSTERS = {1: "high_high", 2: "low_high", 3: "low_low", 4: "high_low"}

#: Relative slack in the BH comparison p_(k) <= k * alpha / m, so that a p-value equal to its step
#: (e.g. 1/1000 against 0.05 * 1 / 50) is not lost to floating-point rounding.
_BH_SLACK = 1e-9


@dataclass(frozen=True)
class Contiguity:
    """Queen contiguity of one set of wards.

    Attributes
    ----------
    w : libpysal.weights.W
        Binary queen weights; ids are the ward codes, ``w.id_order`` is the order they were given
        in. Treat it as read-only: the functions here never modify it.
    islands : tuple of str
        Ward codes with no neighbours, in ``w.id_order`` order.
    """

    w: W
    islands: tuple[str, ...]

    @property
    def codes(self) -> tuple[str, ...]:
        """Ward codes in the order of the weights (and of every result)."""
        return tuple(self.w.id_order)


def queen_contiguity(
    codes: Sequence[str], geoms: Sequence[shapely.Geometry], *, tolerance_m: float = 0.0
) -> Contiguity:
    """Queen contiguity of ward polygons (EPSG:27700): neighbours share a vertex or part of an edge.

    Parameters
    ----------
    codes : sequence of str
        Ward codes (GSS ``E05…``), unique; they become the weights' ids, in this order.
    geoms : sequence of shapely geometries
        The ward (multi)polygons, aligned with ``codes``, in metres.
    tolerance_m : float, default 0
        0: neighbours are wards whose polygons intersect (any shared boundary point). > 0: wards
        within ``tolerance_m`` metres of each other, to bridge slivers and gaps in boundaries that
        do not share vertices exactly. On the 2022 wards 0 gives 5.66 neighbours a ward, one
        connected whole and no islands. 0.5 m adds 8 pairs (5.69 a ward): wards that nearly meet
        at a corner, 3-35 cm apart after generalisation (e.g. Tottenham Hale - St James, 2.6 cm);
        5 m adds 22. Queen contiguity counts corner contacts, so 0.5 m is defensible too; 0 is
        kept as the default because it is exact and reproducible.

    Returns
    -------
    Contiguity
        Binary weights with ids = ``codes`` (in the given order) and the codes of islands.

    Notes
    -----
    One ``shapely.STRtree`` query finds all pairs (about 20 ms for the 704 wards). libpysal's
    ``Queen.from_iterable(geoms, ids=...)`` matches vertices instead; it agrees on the ONS wards
    but misses edges shared without a common vertex, and without ``id_order`` it silently sorts
    the ids (``Queen.from_dataframe`` needs ``use_index=True`` to use the index at all).
    """
    codes = [str(c) for c in codes]
    geoms = np.asarray(geoms, dtype=object)
    if len(codes) != len(geoms):
        raise ValueError(f"{len(codes)} ward codes but {len(geoms)} geometries")
    if len(set(codes)) != len(codes):
        dupes = sorted({c for c in codes if codes.count(c) > 1})
        raise ValueError(f"duplicate ward codes: {', '.join(dupes[:5])}")
    if tolerance_m < 0:
        raise ValueError(f"tolerance_m must be >= 0, got {tolerance_m}")
    if shapely.is_missing(geoms).any() or shapely.is_empty(geoms).any():
        bad = [c for c, g in zip(codes, geoms) if g is None or shapely.is_empty(g)]
        raise ValueError(f"wards without a geometry: {', '.join(bad[:5])}")

    tree = shapely.STRtree(geoms)
    if tolerance_m == 0:
        left, right = tree.query(geoms, predicate="intersects")
    else:
        left, right = tree.query(geoms, predicate="dwithin", distance=tolerance_m)
    keep = left != right
    left, right = left[keep], right[keep]
    order = np.lexsort((right, left))  # rows in input order, neighbours in input order: deterministic
    neighbours: dict[str, list[str]] = {c: [] for c in codes}
    for i, j in zip(left[order].tolist(), right[order].tolist()):
        neighbours[codes[i]].append(codes[j])
    w = W(neighbours, id_order=codes, silence_warnings=True)  # islands are reported, not warned
    return Contiguity(w=w, islands=tuple(c for c in codes if not neighbours[c]))


def fdr_threshold(p: ArrayLike, alpha: float) -> float:
    """Benjamini-Hochberg (1995) cut-off: reject every p-value <= the returned value.

    With the m p-values sorted, p_(1) <= … <= p_(m), BH rejects the k smallest for the largest k
    with p_(k) <= k * alpha / m; the value returned is that p_(k), or -inf when no k qualifies
    (nothing is rejected). NaNs are ignored (not part of the family). Step-up: p_(2) may fail its
    own step and still be rejected because p_(3) passes.
    """
    p = np.asarray(p, dtype=float)
    p = np.sort(p[~np.isnan(p)])
    m = p.size
    if m == 0:
        return -np.inf
    steps = alpha * np.arange(1, m + 1) / m
    passing = np.flatnonzero(p <= steps * (1 + _BH_SLACK))
    return float(p[passing[-1]]) if passing.size else -np.inf


def getis_ord_star(
    y: ArrayLike | pd.Series,
    contiguity: Contiguity,
    *,
    rng: np.random.Generator,
    permutations: int = 999,
    alphas: Sequence[float] = (0.01, 0.05, 0.10),
    n_jobs: int = 1,
) -> pd.DataFrame:
    """Local Getis-Ord G*_i hot and cold spots, classed by FDR at each confidence level.

    G*_i (Getis & Ord 1992; Ord & Getis 1995) compares the sum of ``y`` over ward i and its queen
    neighbours (binary weights, w_ii = 1) with what the London mean would give:

        z_i = (sum_j w_ij y_j - ybar * W_i) / (S * sqrt((n * S1_i - W_i^2) / (n - 1)))

    where W_i = sum_j w_ij, S1_i = sum_j w_ij^2 (both = neighbours + 1 here), n the wards with
    data, ybar their mean and S their standard deviation (divisor n). Computed by
    ``esda.G_Local(y, w, transform="B", star=True, permutations=..., seed=...)``.

    Parameters
    ----------
    y : array-like or Series
        One value per ward, >= 0 (G is a ratio to the total: Getis & Ord 1992 need a natural
        origin, and esda's z changes sign if the mean is negative). z and p_sim do not change if a
        constant is added to every value, so shift a signed score before calling. A Series is
        matched to the wards by its index (ward codes); an array by position. NaN = no data.
    contiguity : Contiguity
        From :func:`queen_contiguity`.
    rng : numpy.random.Generator
        Source of the permutation seed (one draw: ``rng.integers(2**31 - 1)``).
    permutations : int, default 999
        Conditional permutations; the smallest pseudo p is 1 / (permutations + 1). esda keeps
        every permuted statistic (n x permutations floats: 72 MB for 9,025 cells at 999).
    alphas : sequence of float, default (0.01, 0.05, 0.10)
        FDR levels; alpha a gives the class suffix round(100 * (1 - a)) (99, 95, 90).
    n_jobs : int, default 1
        Passed to esda. Without numba, 1 is fastest (joblib start-up costs more than it saves).

    Returns
    -------
    pandas.DataFrame
        Index ``ward_code`` (contiguity order). Columns ``z`` (esda ``Zs``), ``p_sim`` (pseudo
        p, one-sided in the observed direction), ``p_norm`` (one-sided normal p of z), ``cls``:
        ``hot_<c>`` / ``cold_<c>`` at the highest confidence c whose BH cut-off p_sim meets (sign
        of z), else ``not_significant``; ``island`` and ``no_data`` are not tested (NaN stats).
    """
    alphas = _check_alphas(alphas)
    _check_permutations(permutations)
    seed = _seed(rng)
    run = _prepare(y, contiguity)
    if (run.values < 0).any():
        raise ValueError(
            f"Gi* needs values >= 0 (min {run.values.min():g}); add a constant (z and p_sim do not change)"
        )
    z = np.full(run.n, np.nan)
    p_sim = np.full(run.n, np.nan)
    p_norm = np.full(run.n, np.nan)
    if run.testable:
        with _esda_quietly():
            g = esda.G_Local(
                run.values, run.w, transform="B", permutations=permutations, star=True,
                keep_simulations=True, n_jobs=n_jobs, seed=seed,
            )
        z, p_norm = np.asarray(g.Zs, dtype=float), np.asarray(g.p_norm, dtype=float)
        p_sim = _pseudo_p(g.Gs, g.rGs)
        # A ward whose neighbourhood is every ward with data has n * S1_i = W_i^2: z is 0/0 and
        # every permutation ties with the observed value. Untestable: out of the FDR family.
        p_sim[np.isnan(z)] = np.nan

    cls = np.full(run.n, "not_significant", dtype=object)
    tested = run.tested
    # Loosest level first, so each stricter level overwrites: a ward keeps its highest confidence.
    for alpha in sorted(alphas, reverse=True):
        cut = fdr_threshold(p_sim[tested], alpha)
        label = round(100 * (1 - alpha))
        sig = tested & (p_sim <= cut)
        cls[sig & (z > 0)] = f"hot_{label}"
        cls[sig & (z < 0)] = f"cold_{label}"
    z[~tested], p_sim[~tested], p_norm[~tested] = np.nan, np.nan, np.nan
    cls[~tested] = "island"
    out = pd.DataFrame({"z": z, "p_sim": p_sim, "p_norm": p_norm, "cls": cls}, index=run.index)
    return run.expand(out, {"cls": "no_data"})


def local_moran(
    y: ArrayLike | pd.Series,
    contiguity: Contiguity,
    *,
    rng: np.random.Generator,
    permutations: int = 999,
    alpha: float = 0.05,
    n_jobs: int = 1,
) -> pd.DataFrame:
    """Local Moran's I_i (Anselin 1995, LISA) with row-standardised queen weights, FDR at ``alpha``.

        I_i = (n - 1) * z_i * sum_j w_ij z_j / sum_k z_k^2,   z = (y - ybar) / S,  sum_j w_ij = 1

    computed by ``esda.Moran_Local(y, w, transformation="r", permutations=..., seed=...)``.

    Parameters
    ----------
    y, contiguity, rng, permutations, n_jobs
        As for :func:`getis_ord_star`; ``y`` may be signed here.
    alpha : float, default 0.05
        FDR level for the cluster labels.

    Returns
    -------
    pandas.DataFrame
        Index ``ward_code``. Columns ``I``, ``p_sim`` (one-sided pseudo p, as for Gi*),
        ``quadrant`` (esda's q: 1 high-high, 2 low-high, 3 low-low, 4 high-low; ward value vs its
        neighbours' mean, both relative to the London mean; nullable Int64), ``cluster``:
        ``high_high`` / ``low_high`` / ``low_low`` / ``high_low`` when p_sim is within the BH
        cut-off at ``alpha``, else ``not_significant``; ``island`` and ``no_data`` as for Gi*.
    """
    (alpha,) = _check_alphas((alpha,))
    _check_permutations(permutations)
    seed = _seed(rng)
    run = _prepare(y, contiguity)
    local_i = np.full(run.n, np.nan)
    p_sim = np.full(run.n, np.nan)
    quadrant = np.zeros(run.n, dtype=int)
    if run.testable:
        with _esda_quietly():
            lm = esda.Moran_Local(
                run.values, run.w, transformation="r", permutations=permutations,
                keep_simulations=True, n_jobs=n_jobs, seed=seed,
            )
        local_i, quadrant = np.asarray(lm.Is, dtype=float), np.asarray(lm.q, dtype=int)
        p_sim = _pseudo_p(lm.Is, lm.rlisas)

    tested = run.tested
    cut = fdr_threshold(p_sim[tested], alpha)
    sig = tested & (p_sim <= cut)
    cluster = np.full(run.n, "not_significant", dtype=object)
    for q, label in LISA_CLUSTERS.items():
        cluster[sig & (quadrant == q)] = label
    cluster[~tested] = "island"
    local_i[~tested], p_sim[~tested] = np.nan, np.nan
    quad = pd.array(np.where(tested & run.testable, quadrant, 0), dtype="Int64")
    quad[quad == 0] = pd.NA
    out = pd.DataFrame({"I": local_i, "p_sim": p_sim, "quadrant": quad, "cluster": cluster}, index=run.index)
    return run.expand(out, {"cluster": "no_data"})


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Run:
    """The wards with data for one call, and which of them can be tested."""

    all_codes: pd.Index      # every ward, contiguity order
    index: pd.Index          # wards with data (subset of all_codes, same order)
    values: np.ndarray       # y for those wards
    w: W                     # binary contiguity among wards with data: this call's own copy,
                             # since esda sets ``transform`` on the W it is given
    tested: np.ndarray       # bool per ward with data: has at least one neighbour with data

    @property
    def n(self) -> int:
        return len(self.index)

    @property
    def testable(self) -> bool:
        """esda has something to test: a neighbour somewhere and some variation in y."""
        return bool(self.tested.any()) and bool(np.ptp(self.values) > 0)

    def expand(self, out: pd.DataFrame, fill: dict[str, str]) -> pd.DataFrame:
        """Back to every ward, in contiguity order; wards without data get ``fill`` and NaN."""
        full = out.reindex(self.all_codes)
        for col, value in fill.items():
            labels = full[col].astype(object)
            labels[~self.all_codes.isin(self.index)] = value
            full[col] = labels.astype(str)  # pandas' own string dtype ("str" in pandas 3)
        full.index.name = "ward_code"
        return full


def _prepare(y: ArrayLike | pd.Series, contiguity: Contiguity) -> _Run:
    codes = pd.Index(contiguity.codes, name="ward_code")
    if isinstance(y, pd.Series):
        missing = codes.difference(y.index)
        extra = pd.Index(y.index).difference(codes)
        if len(missing) or len(extra) or y.index.has_duplicates:
            raise ValueError(
                f"y's index must be the contiguity's ward codes: {len(missing)} missing "
                f"(e.g. {list(missing[:3])}), {len(extra)} unknown (e.g. {list(extra[:3])})"
                + (", duplicates" if y.index.has_duplicates else "")
            )
        values = y.reindex(codes).to_numpy(dtype=float)
    else:
        values = np.asarray(y, dtype=float).reshape(-1)
        if values.size != len(codes):
            raise ValueError(f"y has {values.size} values for {len(codes)} wards")
    if np.isinf(values).any():
        raise ValueError("y has infinite values (a rate over zero residents?); use NaN for no data")
    has_data = ~np.isnan(values)
    index = codes[has_data]
    w = _subgraph(contiguity.w, list(index))
    tested = np.array([w.cardinalities[c] > 0 for c in index], dtype=bool)
    return _Run(all_codes=codes, index=index, values=values[has_data], w=w, tested=tested)


def _subgraph(w: W, ids: list[str]) -> W:
    """Binary W on ``ids`` (kept in this order), each row's neighbours in the same order.

    Like ``libpysal.weights.w_subset``, which however orders each row through a ``set``: that
    order follows Python's per-process string hashing, and with it the order of floating-point
    sums inside esda, so a tie between an observed and a permuted statistic could break
    differently from one process to the next.
    """
    position = {c: k for k, c in enumerate(ids)}
    neighbours = {
        c: sorted((n for n in w.neighbors[c] if n in position), key=position.__getitem__) for c in ids
    }
    return W(neighbours, id_order=ids, silence_warnings=True)


def _seed(rng: np.random.Generator) -> int:
    """Exactly one draw per call, whatever the data, so a sequence of calls stays reproducible."""
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    return int(rng.integers(2**31 - 1))


def _check_alphas(alphas: Sequence[float]) -> tuple[float, ...]:
    alphas = tuple(float(a) for a in alphas)
    if not alphas or any(not 0 < a < 1 for a in alphas):
        raise ValueError(f"alphas must be in (0, 1), got {alphas}")
    return alphas


def _check_permutations(permutations: int) -> None:
    if int(permutations) != permutations or permutations < 1:
        raise ValueError(f"permutations must be a whole number >= 1, got {permutations}")


def _pseudo_p(observed: ArrayLike, permuted: ArrayLike) -> np.ndarray:
    """Directed pseudo p, (M + 1) / (R + 1), ties counted as extreme in either tail.

    ``permuted`` is esda's (n, R) matrix of statistics under conditional permutation. esda's own
    p_sim is (min(#(sim >= obs), #(sim < obs)) + 1) / (R + 1): a tie counts in the upper tail
    only, so an observed value tied with most permutations at the bottom gets p = 1/(R + 1).
    Here M = min(#(sim >= obs), #(sim <= obs)). esda sums the observed and the permuted
    statistics in different orders, so "equal" allows a relative 1e-9 (floating-point noise).
    """
    permuted = np.asarray(permuted, dtype=float)
    observed = np.asarray(observed, dtype=float)[:, None]
    tol = 1e-9 * np.abs(permuted).max(axis=1, keepdims=True)
    at_least = (permuted >= observed - tol).sum(axis=1)
    at_most = (permuted <= observed + tol).sum(axis=1)
    return (np.minimum(at_least, at_most) + 1) / (permuted.shape[1] + 1)


#: Warnings esda and libpysal raise for things handled here: islands (reported in Contiguity and
#: classed "island"), esda's notice that its default alternative will change (we keep and
#: document the current "directed" one), arithmetic on islands' empty neighbourhoods, and a numpy
#: deprecation inside esda's parallel path.
_EXPECTED_WARNINGS = (
    (UserWarning, r"The weights matrix is not fully connected"),
    (DeprecationWarning, r"The alternative hypothesis for conditional randomization"),
    (RuntimeWarning, r"(divide by zero|invalid value) encountered"),
    (DeprecationWarning, r"`row_stack` alias is deprecated"),  # esda's n_jobs > 1 path, numpy 2
)


@contextmanager
def _esda_quietly() -> Iterator[None]:
    """Silence the expected warnings and give numpy's global random state back untouched.

    Without numba, esda's ``vec_permutations`` calls ``np.random.seed(seed)``: the global state
    would otherwise depend on whether a hot spot map was drawn first.
    """
    state = np.random.get_state()
    try:
        with warnings.catch_warnings():
            for category, message in _EXPECTED_WARNINGS:
                warnings.filterwarnings("ignore", message=message, category=category)
            with np.errstate(divide="ignore", invalid="ignore"):
                yield
    finally:
        np.random.set_state(state)


__all__ = [
    "GI_CLASSES", "LISA_CLUSTERS", "Contiguity", "fdr_threshold", "getis_ord_star", "local_moran",
    "queen_contiguity",
]

