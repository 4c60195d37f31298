"""Query parameters, checked once: a bad value is a 400 problem that names the parameter and what it takes.

Used by the map's data, the map's geometry and the API, so the same parameter reads the same way
everywhere. OGC-specific forms (bbox, crs, datetime) are in web/api/common.py.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Iterable

from flask import request

from web.errors import Problem


def check_params(allowed: Iterable[str]) -> None:
    """OGC API Features /req/core/query-param-unknown: an undeclared parameter is a 400, as is a repeat."""
    allowed = set(allowed)
    for name in request.args:
        if name not in allowed:
            raise Problem(f"unknown query parameter {name[:40]!r}; this resource takes "
                          f"{', '.join(sorted(allowed)) or 'none'}")
        if len(request.args.getlist(name)) > 1:
            raise Problem(f"query parameter {name[:40]!r} is given more than once")


def arg(name: str) -> str | None:
    value = request.args.get(name)
    return None if value is None else value.strip()


def int_arg(name: str, default: int, lo: int, hi: int) -> int:
    text = arg(name)
    if text in (None, ""):
        return default
    if not re.fullmatch(r"[+-]?\d{1,12}", text):
        raise Problem(f"{name} must be a whole number from {lo} to {hi}, not {text[:30]!r}")
    value = int(text)
    if not lo <= value <= hi:
        raise Problem(f"{name} must be from {lo} to {hi}, not {value}")
    return value


def choice_arg(name: str, default: int, allowed: Collection[int]) -> int:
    """A whole number that must be one of ``allowed`` (a ward vintage, a simplification tolerance)."""
    text = arg(name)
    if text in (None, ""):
        return default
    if not re.fullmatch(r"[+-]?\d{1,12}", text) or int(text) not in allowed:
        raise Problem(f"{name} must be one of {', '.join(map(str, allowed))}, not {text[:30]!r}")
    return int(text)


def float_arg(name: str, *, required: bool = False) -> float | None:
    text = arg(name)
    if text in (None, ""):
        if required:
            raise Problem(f"{name} is required")
        return None
    try:
        value = float(text)
    except ValueError:
        raise Problem(f"{name} must be a number, not {text[:30]!r}") from None
    if not math.isfinite(value):
        raise Problem(f"{name} must be a finite number, not {text[:30]!r}")
    return value


def bool_arg(name: str, default: bool = False) -> bool:
    text = arg(name)
    if text in (None, ""):
        return default
    if text.lower() in ("true", "1", "yes"):
        return True
    if text.lower() in ("false", "0", "no"):
        return False
    raise Problem(f"{name} must be true or false, not {text[:30]!r}")
