"""What the OGC API's parameters share: the coordinate reference systems it serves, ``bbox`` and
``datetime`` as OGC API Features defines them, and the OGC time stamp. How a response is answered (the
snapshot, validators, headers, JSON and CSV) is web/answer.py's; plain parameters are web/params.py's.
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timedelta, timezone

from web.errors import Problem

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
EPSG4326 = "http://www.opengis.net/def/crs/EPSG/0/4326"
EPSG27700 = "http://www.opengis.net/def/crs/EPSG/0/27700"
#: Each CRS the API serves: (SRID, axes swapped against x/y, decimals). EPSG:4326 is latitude first.
CRSS = {CRS84: (4326, False, 7), EPSG4326: (4326, True, 7), EPSG27700: (27700, False, 2)}
_CRS_ALIASES = {"crs84": CRS84, "ogc:crs84": CRS84, "[ogc:crs84]": CRS84, "epsg:4326": EPSG4326,
                "[epsg:4326]": EPSG4326, "epsg:27700": EPSG27700, "[epsg:27700]": EPSG27700}

class TooLarge(Problem):
    status, title = 413, "Content too large"


def now_stamp() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def crs_uri(text: str | None, name: str) -> str:
    """A CRS this API serves, given as its OGC URI (or the short forms EPSG:27700, CRS84); else a 400."""
    if text in (None, ""):
        return CRS84
    uri = text if text in CRSS else _CRS_ALIASES.get(text.lower())
    if uri is None:
        raise Problem(f"{name} {text[:80]!r} is not supported: use one of {', '.join(CRSS)}")
    return uri


def parse_bbox(text: str, crs: str) -> tuple[float, float, float, float]:
    """``bbox`` as (min x, min y, max x, max y) with x = longitude or easting, whatever the CRS axis order.

    Four or six numbers (a 3D box's heights are ignored); in ``bbox-crs`` axis order, so for EPSG:4326
    latitude comes first (OGC API Features Part 2).
    """
    parts = text.split(",")
    if len(parts) not in (4, 6):
        raise Problem(f"bbox must be 4 numbers (min x, min y, max x, max y) or 6, not {len(parts)}")
    try:
        nums = [float(p) for p in parts]
    except ValueError:
        raise Problem(f"bbox must be numbers separated by commas, not {text[:80]!r}") from None
    if not all(math.isfinite(n) for n in nums):
        raise Problem("bbox numbers must be finite")
    if len(nums) == 6:
        nums = [nums[0], nums[1], nums[3], nums[4]]
    a, b, c, d = nums
    if CRSS[crs][1]:
        a, b, c, d = b, a, d, c
    if a > c or b > d:
        raise Problem("bbox must be min x, min y, max x, max y with min <= max (a box across the "
                      "antimeridian is not supported here)")
    if CRSS[crs][0] == 4326 and not (-180 <= a <= 180 and -180 <= c <= 180 and -90 <= b <= 90 and -90 <= d <= 90):
        raise Problem("bbox is outside longitude -180..180 / latitude -90..90: is it in another CRS? "
                      "Say so with bbox-crs")
    return a, b, c, d


_DATE = r"\d{4}-\d{2}-\d{2}"
_DATETIME = _DATE + r"[Tt]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})"


def _instant(text: str, *, end: bool) -> datetime:
    try:
        if re.fullmatch(_DATE, text):
            d = datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=timezone.utc)
            return d + timedelta(days=1) - timedelta(microseconds=1) if end else d
        if re.fullmatch(_DATETIME, text):
            return datetime.fromisoformat(text.replace("z", "Z").replace("Z", "+00:00").replace("t", "T"))
    except ValueError:
        pass
    raise Problem(f"datetime {text[:40]!r} is not an RFC 3339 date or date-time (e.g. 2025-04-01 or "
                  "2025-04-01T00:00:00Z)")


def parse_datetime(text: str) -> tuple[datetime | None, datetime | None]:
    """OGC ``datetime``: an instant, or an interval ``start/end`` with ``..`` (or nothing) for an open end.

    Returns the closed interval (start, end), None for an open end; a date covers its whole day (UTC).
    """
    if "/" not in text:
        return _instant(text, end=False), _instant(text, end=True)
    parts = text.split("/")
    if len(parts) != 2:
        raise Problem(f"datetime {text[:60]!r} must be one instant or start/end")
    lo_text, hi_text = (p.strip() for p in parts)
    lo = None if lo_text in ("", "..") else _instant(lo_text, end=False)
    hi = None if hi_text in ("", "..") else _instant(hi_text, end=True)
    if lo is None and hi is None:
        raise Problem("datetime ../.. has no start and no end: leave datetime out instead")
    if lo is not None and hi is not None and lo > hi:
        raise Problem(f"datetime {text[:60]!r} ends before it starts")
    return lo, hi
