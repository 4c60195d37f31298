import pytest

from harmmap.domain import SIMPLIFY_TOLERANCES_M, metres_per_pixel, tolerance_for_zoom


def test_metres_per_pixel_halves_with_each_zoom_level():
    assert metres_per_pixel(10) == pytest.approx(2 * metres_per_pixel(11))
    # Web Mercator at 51.5N, zoom 10: 156543 * cos(51.5) / 1024 = 95.2 m
    assert metres_per_pixel(10) == pytest.approx(95.17, abs=0.05)


@pytest.mark.parametrize(("zoom", "tolerance"), [(9, 100), (10, 100), (11, 25), (12, 25), (13, 5), (14, 5), (18, 5)])
def test_tolerance_never_moves_a_vertex_more_than_one_and_a_half_pixels(zoom, tolerance):
    assert tolerance_for_zoom(zoom) == tolerance
    assert tolerance <= 1.5 * metres_per_pixel(zoom) or tolerance == min(SIMPLIFY_TOLERANCES_M)
