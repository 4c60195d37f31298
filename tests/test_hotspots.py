"""Hot spots: queen contiguity, Getis-Ord G*_i, Local Moran, FDR. Small grids checked by hand.

Grid wards are unit squares ``shapely.box(c, r, c + 1, r + 1)`` named ``w<row><col>``; ``isl`` is a
square far away with no neighbours.
"""

from __future__ import annotations

import math
import time
import warnings
from pathlib import Path

import esda
import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from libpysal.weights import Queen

from harmmap.hotspots import (
    GI_CLASSES,
    Contiguity,
    fdr_threshold,
    getis_ord_star,
    local_moran,
    queen_contiguity,
)

GEODATA = Path(__file__).resolve().parents[1] / "geodata"


def grid(k: int, *, island: bool = False) -> tuple[list[str], list[shapely.Geometry]]:
    codes = [f"w{r}{c}" for r in range(k) for c in range(k)]
    geoms = [shapely.box(c, r, c + 1, r + 1) for r in range(k) for c in range(k)]
    if island:
        codes.append("isl")
        geoms.append(shapely.box(100, 100, 101, 101))
    return codes, geoms


def planted(k: int = 7) -> pd.Series:
    """Background about 10; a 3x3 block of about 30 centred on w22; a 3x3 block of about 1 on w55."""
    codes, _ = grid(k, island=True)
    y = pd.Series(np.random.default_rng(0).uniform(9, 11, len(codes)), index=codes)
    for r in range(3):
        for c in range(3):
            y[f"w{r + 1}{c + 1}"] += 20   # rows/cols 1-3: the hot block
            y[f"w{r + 4}{c + 4}"] -= 9    # rows/cols 4-6: the cold block
    y["isl"] = 10.0
    return y


@pytest.fixture(scope="module")
def grid7() -> Contiguity:
    return queen_contiguity(*grid(7, island=True))


def seed_of(rng_seed: int) -> int:
    """The seed the module hands esda for np.random.default_rng(rng_seed)."""
    return int(np.random.default_rng(rng_seed).integers(2**31 - 1))


# ---------------------------------------------------------------- contiguity


def test_queen_counts_corner_3_edge_5_interior_8_island_0(grid7: Contiguity) -> None:
    card = grid7.w.cardinalities
    assert [card[c] for c in ("w00", "w06", "w60", "w66")] == [3, 3, 3, 3]
    assert [card[c] for c in ("w03", "w30", "w36", "w63")] == [5, 5, 5, 5]
    assert card["w33"] == 8
    assert card["isl"] == 0
    assert grid7.islands == ("isl",)
    assert sorted(grid7.w.neighbors["w00"]) == ["w01", "w10", "w11"]  # the diagonal counts (queen)
    # 4 corners x 3 + 20 edge cells x 5 + 25 interior x 8 = 312 links
    assert sum(card.values()) == 4 * 3 + 20 * 5 + 25 * 8


def test_weights_keep_the_given_ward_order_not_sorted() -> None:
    codes, geoms = grid(3)
    order = [4, 0, 8, 2, 6, 1, 7, 3, 5]
    con = queen_contiguity([codes[i] for i in order], [geoms[i] for i in order])
    assert con.codes == tuple(codes[i] for i in order)
    assert list(con.w.id_order) == [codes[i] for i in order]


def test_edge_shared_without_a_common_vertex_is_contiguous() -> None:
    # The top square's bottom edge lies inside the long rectangle's top edge: no shared vertex.
    long, top = shapely.box(0, 0, 3, 1), shapely.box(1, 1, 2, 2)
    con = queen_contiguity(["a", "b"], [long, top])
    assert con.w.neighbors["a"] == ["b"] and con.islands == ()
    # libpysal's vertex-matching queen misses this one (why we use shapely):
    assert Queen.from_iterable([long, top], ids=["a", "b"], silence_warnings=True).neighbors["a"] == []


def test_tolerance_bridges_a_small_gap_only_when_asked() -> None:
    a, b = shapely.box(0, 0, 1, 1), shapely.box(1.3, 0, 2.3, 1)  # 0.3 m apart
    assert queen_contiguity(["a", "b"], [a, b]).islands == ("a", "b")
    assert queen_contiguity(["a", "b"], [a, b], tolerance_m=0.5).islands == ()


def test_duplicate_codes_and_length_mismatch_are_refused() -> None:
    codes, geoms = grid(2)
    with pytest.raises(ValueError, match="duplicate"):
        queen_contiguity(["w00", "w00", "w10", "w11"], geoms)
    with pytest.raises(ValueError, match="3 ward codes but 4"):
        queen_contiguity(codes[:3], geoms)


def test_no_islands_warning_escapes() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        con = queen_contiguity(*grid(3, island=True))
        getis_ord_star(np.arange(10.0), con, rng=np.random.default_rng(0), permutations=99)
        local_moran(np.arange(10.0), con, rng=np.random.default_rng(0), permutations=99)


# ---------------------------------------------------------------- Getis-Ord G*


def test_gi_star_z_for_one_ward_equals_the_hand_formula() -> None:
    # 3x3 grid, values 1..9 row by row:   7 8 9   (row 2)
    #                                      4 5 6
    #                                      1 2 3   (row 0; w00 = 1)
    # n = 9, xbar = 5, S^2 = sum(x^2)/n - xbar^2 = 285/9 - 25 = 20/3 (divisor n, as Ord & Getis).
    # G*_i = (sum_j w_ij x_j - xbar W_i) / (S sqrt((n S1_i - W_i^2) / (n - 1))), binary star weights.
    # w00: star set {w00, w01, w10, w11} = 1 + 2 + 4 + 5 = 12, W_i = S1_i = 4:
    #   numerator 12 - 5 * 4 = -8;  denominator sqrt(20/3) * sqrt((9*4 - 16) / 8) = sqrt(50/3)
    #   z = -8 / sqrt(50/3) = -1.959592
    # w01 (edge): star {w00, w01, w02, w10, w11, w12} = 1+2+3+4+5+6 = 21, W_i = S1_i = 6:
    #   21 - 30 = -9;  sqrt(20/3) * sqrt((54 - 36) / 8) = sqrt(20/3) * 1.5;  z = -2.323790
    # w11 (centre): its star is all nine wards, so n S1_i - W_i^2 = 81 - 81 = 0 and z = 0/0:
    #   nothing can vary under permutation, so it is never significant (esda alone says p = 1/100).
    con = queen_contiguity(*grid(3))
    out = getis_ord_star(np.arange(1.0, 10.0), con, rng=np.random.default_rng(1), permutations=99)
    assert out.loc["w00", "z"] == pytest.approx(-8 / math.sqrt(50 / 3), rel=1e-12)
    assert out.loc["w00", "z"] == pytest.approx(-1.959592, abs=1e-6)
    assert out.loc["w01", "z"] == pytest.approx(-9 / (math.sqrt(20 / 3) * 1.5), rel=1e-12)
    assert np.isnan(out.loc["w11", "z"]) and np.isnan(out.loc["w11", "p_sim"])
    assert out.loc["w11", "cls"] == "not_significant"
    assert out.loc["w22", "z"] == pytest.approx(8 / math.sqrt(50 / 3), rel=1e-12)  # mirror of w00
    # p_norm is esda's one-sided normal p: Phi(-1.959592) = 0.025022
    assert out.loc["w00", "p_norm"] == pytest.approx(0.025022, abs=1e-6)


def test_gi_star_matches_esda_g_local_called_directly(grid7: Contiguity) -> None:
    y = planted()
    ours = getis_ord_star(y, grid7, rng=np.random.default_rng(7), permutations=999)
    # esda on weights built independently (libpysal's own queen), same seed.
    codes, geoms = grid(7, island=True)
    w = Queen.from_iterable(geoms, ids=codes, id_order=codes, silence_warnings=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = esda.G_Local(y.to_numpy(), w, transform="B", permutations=999, star=True, seed=seed_of(7))
    tested = ours.index != "isl"
    np.testing.assert_allclose(ours.z[tested], ref.Zs[tested], rtol=1e-12)
    np.testing.assert_allclose(ours.p_sim[tested], ref.p_sim[tested], rtol=1e-6)  # esda's is float32
    np.testing.assert_allclose(ours.p_norm[tested], ref.p_norm[tested], rtol=1e-12)
    assert ours.p_sim.min() >= 1 / 1000
    # exact (M + 1) / 1000 in float64, not esda's float32 (0.001 -> 0.0010000000475, which would
    # miss a BH step of exactly .001)
    assert (ours.p_sim[tested] == np.rint(ours.p_sim[tested] * 1000) / 1000).all()


def test_planted_high_block_is_hot_and_low_block_is_cold(grid7: Contiguity) -> None:
    out = getis_ord_star(planted(), grid7, rng=np.random.default_rng(3))
    assert out.loc["w22", "cls"] == "hot_99"
    assert out.loc["w55", "cls"] == "cold_99"
    hot = set(out.index[out.cls.str.startswith("hot")])
    cold = set(out.index[out.cls.str.startswith("cold")])
    # Gi* looks at neighbourhoods, so a ward touching a block can be hot or cold too, but nothing
    # further away: hot wards lie within one ward of the hot block (rows/cols 0-4), cold within
    # one of the cold block (rows/cols 3-6).
    assert hot <= {f"w{r}{c}" for r in range(0, 5) for c in range(0, 5)}
    assert cold <= {f"w{r}{c}" for r in range(3, 7) for c in range(3, 7)}
    assert len(hot) >= 9 and len(cold) >= 6
    assert set(out.cls) <= set(GI_CLASSES)


def test_island_is_classed_island_and_left_out_of_the_fdr_family(grid7: Contiguity) -> None:
    y = planted()
    out = getis_ord_star(y, grid7, rng=np.random.default_rng(9))
    assert out.loc["isl", "cls"] == "island"
    assert out.loc["isl", ["z", "p_sim", "p_norm"]].isna().all()

    # Oracle: esda directly (the island stays in the data), BH over the 49 grid wards only.
    codes, geoms = grid(7, island=True)
    w = Queen.from_iterable(geoms, ids=codes, id_order=codes, silence_warnings=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = esda.G_Local(y.to_numpy(), w, transform="B", permutations=999, star=True, seed=seed_of(9))
    p = pd.Series(ref.p_sim.astype(float), index=codes).round(3)
    z = pd.Series(ref.Zs, index=codes)
    assert p["isl"] == 0.001  # esda's answer for an island: "most significant" - why it is excluded
    family = p.drop("isl")
    expected = pd.Series("not_significant", index=family.index)
    for alpha, label in ((0.10, "90"), (0.05, "95"), (0.01, "99")):  # stricter overwrites looser
        sig = family <= fdr_threshold(family, alpha)
        expected[sig & (z > 0)] = f"hot_{label}"
        expected[sig & (z < 0)] = f"cold_{label}"
    pd.testing.assert_series_equal(out.cls.drop("isl"), expected, check_names=False)

    # It matters for these data: with the island's p = .001 in the family (m = 50), five p-values
    # of .001 reach the first BH steps (5 x .01/50 = .001) and nine grid wards would be 99%;
    # without it (m = 49, 4 x .001 below .01 * k / 49 only from k = 5) none is.
    assert (family <= fdr_threshold(family, 0.01)).sum() == 0
    assert (family <= fdr_threshold(p, 0.01)).sum() == 9
    assert not out.cls.str.endswith("_99").any()


def test_nan_wards_are_no_data_and_a_ward_cut_off_by_them_becomes_an_island(grid7: Contiguity) -> None:
    y = planted()
    y[["w01", "w10", "w11", "w44"]] = np.nan   # w00's three neighbours, and one more
    out = getis_ord_star(y, grid7, rng=np.random.default_rng(5))
    assert (out.loc[["w01", "w10", "w11", "w44"], "cls"] == "no_data").all()
    assert out.loc[["w01", "w10", "w11", "w44"], "z"].isna().all()
    assert out.loc["w00", "cls"] == "island" and out.loc["isl", "cls"] == "island"
    assert list(out.index) == list(grid7.codes)  # every ward comes back, in order
    # Same as rebuilding the contiguity from the wards with data only.
    kept = [c for c in grid7.codes if not np.isnan(y[c])]
    codes, geoms = grid(7, island=True)
    sub = queen_contiguity(kept, [geoms[codes.index(c)] for c in kept])
    again = getis_ord_star(y[kept], sub, rng=np.random.default_rng(5))
    pd.testing.assert_frame_equal(out.loc[kept], again)
    moran = local_moran(y, grid7, rng=np.random.default_rng(5))
    assert (moran.loc[["w01", "w44"], "cluster"] == "no_data").all()
    assert moran.loc["w00", "cluster"] == "island" and pd.isna(moran.loc["w00", "quadrant"])


def test_series_is_matched_by_ward_code_not_position(grid7: Contiguity) -> None:
    y = planted()
    shuffled = y.sample(frac=1.0, random_state=1)
    a = getis_ord_star(y, grid7, rng=np.random.default_rng(9), permutations=99)
    b = getis_ord_star(shuffled, grid7, rng=np.random.default_rng(9), permutations=99)
    pd.testing.assert_frame_equal(a, b)
    with pytest.raises(ValueError, match="1 missing"):
        getis_ord_star(y.drop("w33"), grid7, rng=np.random.default_rng(9))


def test_negative_values_are_refused_for_gi_star(grid7: Contiguity) -> None:
    with pytest.raises(ValueError, match="values >= 0"):
        getis_ord_star(planted() - 15, grid7, rng=np.random.default_rng(0))


def test_constant_values_give_nothing_significant(grid7: Contiguity) -> None:
    # esda alone would give every ward p_sim = 0.001 here (all permutations tie with the observed).
    out = getis_ord_star(np.full(50, 4.0), grid7, rng=np.random.default_rng(0))
    assert set(out.cls) == {"not_significant", "island"}
    lisa = local_moran(np.full(50, 4.0), grid7, rng=np.random.default_rng(0))
    assert set(lisa.cluster) == {"not_significant", "island"}


# ---------------------------------------------------------------- FDR


def test_bh_admits_exactly_the_expected_set() -> None:
    # m = 10, alpha = .05: steps k * .005 = .005 .010 .015 .020 .025 .030 .035 .040 .045 .050
    # sorted p:                              .001 .008 .039 .041 .042 .060 .074 .205 .212 .216
    # p(1) <= .005 and p(2) <= .010; no later p(k) is under its step -> reject {.001, .008}.
    p = np.array([0.039, 0.001, 0.216, 0.041, 0.008, 0.042, 0.060, 0.074, 0.205, 0.212])
    cut = fdr_threshold(p, 0.05)
    assert cut == 0.008
    assert set(p[p <= cut]) == {0.001, 0.008}


def test_bh_is_step_up_a_later_pass_rescues_an_earlier_fail() -> None:
    # m = 4, alpha = .05: steps .0125 .025 .0375 .05; p = .01 .03 .03 .20
    # p(2) = .03 > .025 fails its own step, but p(3) = .03 <= .0375 passes, so k = 3.
    p = np.array([0.03, 0.20, 0.01, 0.03])
    assert fdr_threshold(p, 0.05) == 0.03
    assert (p <= fdr_threshold(p, 0.05)).sum() == 3


def test_bh_counts_a_p_value_equal_to_its_step() -> None:
    # m = 50, alpha = .05: steps .001, .002, ...; permutation p-values .001 and .002 sit exactly on
    # them. BH (p(k) <= k alpha / m) rejects both; esda.fdr uses "<" and keeps only its fallback .001.
    p = np.array([0.001, 0.002] + [0.5] * 48)
    assert fdr_threshold(p, 0.05) == 0.002
    assert esda.fdr(p, 0.05) == pytest.approx(0.001)


def test_bh_with_nothing_to_reject_or_no_family() -> None:
    assert fdr_threshold([0.2, 0.5, 0.9], 0.05) == -np.inf
    assert fdr_threshold([], 0.05) == -np.inf
    assert fdr_threshold([np.nan, 0.01], 0.05) == 0.01  # NaN is not in the family (m = 1)


# ---------------------------------------------------------------- Local Moran


def lisa_pattern() -> pd.Series:
    """7x7 background 10; hot block (30) rows/cols 0-2; cold block (1) rows/cols 4-6 with w66 = 30."""
    codes, _ = grid(7, island=True)
    y = pd.Series(10.0, index=codes)
    for r in range(3):
        for c in range(3):
            y[f"w{r}{c}"] = 30.0
            y[f"w{r + 4}{c + 4}"] = 1.0
    y["w66"] = 30.0
    return y


def test_local_moran_quadrants_on_a_planted_pattern(grid7: Contiguity) -> None:
    # mean over all 50 wards (the island counts): (9*30 + 8*1 + 30 + 32*10) / 50 = 628 / 50 = 12.56
    # w11 = 30 > 12.56, neighbours all 30: lag 30 > mean            -> 1 high-high
    # w55 = 1, neighbours 7 x 1 and w66 = 30: lag 37/8 = 4.6 < mean -> 3 low-low
    # w03 = 10 < mean, neighbours w02 w12 = 30, w04 w13 w14 = 10: lag 90/5 = 18 > mean -> 2 low-high
    # w66 = 30 > mean, neighbours w55 w56 w65 = 1: lag 1 < mean     -> 4 high-low
    out = local_moran(lisa_pattern(), grid7, rng=np.random.default_rng(11))
    assert out.loc[["w11", "w03", "w55", "w66"], "quadrant"].tolist() == [1, 2, 3, 4]
    assert out.loc["w11", "cluster"] == "high_high"
    assert out.loc["w55", "cluster"] == "low_low"
    assert out.loc["isl", "cluster"] == "island" and pd.isna(out.loc["isl", "quadrant"])
    sig = out.cluster.isin(["high_high", "low_high", "low_low", "high_low"])
    q_of = {"high_high": 1, "low_high": 2, "low_low": 3, "high_low": 4}
    assert (out.loc[sig, "quadrant"] == out.loc[sig, "cluster"].map(q_of)).all()


def test_local_moran_matches_esda_moran_local_called_directly(grid7: Contiguity) -> None:
    y = planted()  # continuous values: no ties (for ties see test_tied_permutations_...)
    ours = local_moran(y, grid7, rng=np.random.default_rng(2))
    codes, geoms = grid(7, island=True)
    w = Queen.from_iterable(geoms, ids=codes, id_order=codes, silence_warnings=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = esda.Moran_Local(y.to_numpy(), w, transformation="r", permutations=999, seed=seed_of(2))
    tested = ours.index != "isl"
    np.testing.assert_allclose(ours.I[tested], ref.Is[tested], rtol=1e-12)
    np.testing.assert_allclose(ours.p_sim[tested], ref.p_sim[tested], rtol=1e-12)
    assert (ours.quadrant[tested].to_numpy() == ref.q[tested]).all()


def sparse_counts() -> pd.Series:
    """7x7 + island, counts mostly 0: a few 3s and 4s in the top-left, zeros elsewhere."""
    codes, _ = grid(7, island=True)
    y = pd.Series(0.0, index=codes)
    y[["w00", "w01", "w03", "w20", "w31", "w50", "w15", "w36"]] = [3, 4, 3, 4, 3, 3, 2, 3]
    return y


def test_tied_permutations_count_as_extreme_on_both_sides(grid7: Contiguity) -> None:
    # w66's neighbourhood (w55 w56 w65 w66) is all 0, and 42 of the 50 wards are 0, so most
    # permutations tie with it: P(sim <= obs) is about (41/49)^3 = 0.59, not significant. esda
    # counts ties only in the upper tail and reports 1/1000, the most significant possible.
    y = sparse_counts()
    ours = getis_ord_star(y, grid7, rng=np.random.default_rng(1))
    codes, geoms = grid(7, island=True)
    w = Queen.from_iterable(geoms, ids=codes, id_order=codes, silence_warnings=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = esda.G_Local(y.to_numpy(), w, transform="B", permutations=999, star=True, seed=seed_of(1))
    i = codes.index("w66")
    assert round(float(ref.p_sim[i]), 3) == 0.001
    ties = int((np.isclose(ref.rGs[i], ref.Gs[i])).sum())
    lower = int((ref.rGs[i] < ref.Gs[i] - 1e-12).sum())
    assert lower == 0 and 500 < ties < 700
    assert ours.loc["w66", "p_sim"] == (ties + 1) / 1000
    assert ours.loc["w66", "cls"] == "not_significant"
    assert not ours.cls.str.startswith("cold").any()  # no cold spots made of ties
    lisa = local_moran(y, grid7, rng=np.random.default_rng(1))
    assert lisa.loc["w66", "cluster"] == "not_significant"


# ---------------------------------------------------------------- purity and determinism


def test_same_rng_seed_gives_identical_output_and_another_seed_does_not(grid7: Contiguity) -> None:
    y = planted()
    first = getis_ord_star(y, grid7, rng=np.random.default_rng(123))
    again = getis_ord_star(y, grid7, rng=np.random.default_rng(123))
    other = getis_ord_star(y, grid7, rng=np.random.default_rng(124))
    pd.testing.assert_frame_equal(first, again)
    assert not first.p_sim.equals(other.p_sim)
    pd.testing.assert_frame_equal(
        local_moran(y, grid7, rng=np.random.default_rng(123)),
        local_moran(y, grid7, rng=np.random.default_rng(123)),
    )


def test_calls_leave_weights_and_numpy_global_random_state_untouched(grid7: Contiguity) -> None:
    np.random.seed(2024)
    expected_next = np.random.random()
    np.random.seed(2024)
    local_moran(planted(), grid7, rng=np.random.default_rng(0), permutations=99)
    getis_ord_star(planted(), grid7, rng=np.random.default_rng(0), permutations=99)
    assert np.random.random() == expected_next  # esda reseeds the global state; we restore it
    assert grid7.w.transform == "O"             # esda.Moran_Local sets "R" on the W it is given
    assert grid7.w.cardinalities["w33"] == 8


def test_result_does_not_depend_on_n_jobs(grid7: Contiguity) -> None:
    y = planted()
    serial = getis_ord_star(y, grid7, rng=np.random.default_rng(4), permutations=99)
    parallel = getis_ord_star(y, grid7, rng=np.random.default_rng(4), permutations=99, n_jobs=2)
    pd.testing.assert_frame_equal(serial, parallel)


# ---------------------------------------------------------------- the real 2022 wards


def test_real_2022_wards_contiguity_all_704_and_684_populated() -> None:
    started = time.perf_counter()
    wards = gpd.read_file(GEODATA / "boundaries" / "london_wards_2022.gpkg", layer="london_wards_2022")
    assert len(wards) == 704 and wards.crs.to_epsg() == 27700
    con = queen_contiguity(wards.WD24CD.tolist(), wards.geometry.values)
    card = np.array([con.w.cardinalities[c] for c in con.codes])
    assert con.islands == ()
    assert 5.0 <= card.mean() <= 6.0          # 5.66: a tiling of wards averages a little under 6
    assert con.w.n_components == 1
    # Same neighbours as libpysal's own (vertex) queen: the ONS polygons share exact vertices.
    lib = Queen.from_iterable(list(wards.geometry.values), ids=list(con.codes), id_order=list(con.codes),
                              silence_warnings=True)
    assert all(sorted(lib.neighbors[c]) == sorted(con.w.neighbors[c]) for c in con.codes)

    # Populated wards: Census 2021 residents summed through the ONS best-fit LSOA -> ward lookup.
    lookup = pd.read_csv(GEODATA / "lookups" / "lsoa21_to_ward25_bestfit_london.csv")
    residents = pd.read_csv(GEODATA / "population" / "census2021_usual_residents_lsoa21_london.csv")
    pop = lookup.merge(residents, on="LSOA21CD").groupby("WD25CD").usual_residents_2021.sum()
    populated = wards[wards.WD24CD.map(pop).fillna(0) > 0]
    assert len(populated) == 684
    con684 = queen_contiguity(populated.WD24CD.tolist(), populated.geometry.values)
    card684 = np.array([con684.w.cardinalities[c] for c in con684.codes])
    # Walbrook (City of London) touches only City wards that have no residents under best fit.
    assert con684.islands == ("E05009312",)
    assert 5.0 <= card684.mean() <= 6.0
    assert time.perf_counter() - started < 5  # if this grows, mark the test slow
