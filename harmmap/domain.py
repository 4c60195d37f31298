"""Domain facts shared by ETL and web: ward vintages, map simplification levels."""

from __future__ import annotations

import math
from collections.abc import Sequence

#: Ward boundary vintages HarmMap knows (May 2014, May 2018, May 2022 sets).
VINTAGES = (2014, 2018, 2022)
CURRENT_VINTAGE = 2022
CITY_OF_LONDON = "E09000001"

#: Coverage-simplification tolerances (metres, EPSG:27700) stored in geo.ward_simplified.
SIMPLIFY_TOLERANCES_M = (5, 25, 100)

_WEB_MERCATOR_M_PER_PX_Z0 = 156_543.033_928
_LONDON_LAT = 51.5


def metres_per_pixel(zoom: float, lat: float = _LONDON_LAT) -> float:
    """Ground size of one 256-px-tile pixel at a web map zoom level (metres)."""
    return _WEB_MERCATOR_M_PER_PX_Z0 * math.cos(math.radians(lat)) / 2**zoom


def tolerance_for_zoom(zoom: float, tolerances: Sequence[int] = SIMPLIFY_TOLERANCES_M) -> int:
    """The coarsest stored simplification that moves no vertex by more than ~1.5 screen pixels."""
    limit = 1.5 * metres_per_pixel(zoom)
    fitting = [t for t in sorted(tolerances) if t <= limit]
    return fitting[-1] if fitting else min(tolerances)

#: The Open Government Licence lines every map, page and PDF carries (geodata/SOURCES.md).
ATTRIBUTION = (
    "Contains National Statistics data © Crown copyright and database right 2014–2025. "
    "Contains Ordnance Survey data © Crown copyright and database right 2014–2025. "
    "Contains Greater London Authority and Metropolitan Police Service data licensed under the "
    "Open Government Licence v3.0."
)
