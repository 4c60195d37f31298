"""``GET /api/harm/diagnostic``: why did confidence move here? (issue 18, docs/methodology.md).

The strategy keeps police activity as a diagnostic, "not targets", used to analyse why confidence in an area
rose or fell. For London, a borough or a 2022 ward, and a window (a period against the one before it, or
against the strategy's baseline year), this gives the read model's :class:`harmmap.published.Diagnostic` as
JSON: the change in each PAS measure in points with its 95% interval and significance at the survey's
effective sample size (respondents / design effect), the change in each response and need indicator over the
same months with an exact test, London's need changes beside them, and the plain-language summary, which
says what moved together and never why. A count this reader may not see exactly (harmmap/disclosure.py) is
given as its text ("fewer than 5") with every figure that would give it back left out.
"""

from __future__ import annotations

from typing import Any

from flask import Response

from harmmap import diagnostics, periods, published
from harmmap.disclosure import Disclosure
from harmmap.indicators import BY_SLUG
from harmmap.published import Diagnostic
from web import answer, disclosure
from web.api import bp
from web.errors import NotFound, Problem
from web.params import arg, check_params

AGAINST = ("previous", "baseline")
#: What the diagnostic is, on every answer (the strategy's own words for police activity).
NOTE = ("A diagnostic, not a target: the figures show what moved together over the same months, not why. "
        "Police activity is set beside confidence and need to help explain a change, never counted as harm.")
#: What ``change``, ``lo`` and ``hi`` are, by the kind of indicator.
UNITS = {"survey": "percentage points (after minus before)",
         "count": "relative change (0.19 = up 19%), with the exact 95% interval of the rate ratio minus 1",
         "value": "relative change in pounds (not tested: a few seizures swing it)"}


class UnknownArea(NotFound):
    title = "Unknown area"


def change_entry(c: diagnostics.Change, d: Diagnostic, shown: Disclosure | None) -> dict[str, Any]:
    """One indicator's change as JSON: the read model's row as the reader may see it (``change_shown``: a
    hidden count reads as its text, and the change, interval and p-value that would give it back are left
    out), with what its figures are in (``unit``) and, for possession, its caveat."""
    out = published.change_shown(c, d, shown)
    out["unit"] = UNITS.get(c.kind)
    ind = BY_SLUG.get(c.indicator)
    if ind is not None and ind.caveat:
        out["caveat"] = ind.caveat
    return out


def body(d: Diagnostic, shown: Disclosure) -> dict[str, Any]:
    """The Diagnostic as the API gives it (the marking and the synthetic label are added by the caller)."""
    p = d.period.parsed
    before = periods.parse(d.against_period) if d.against_period else None
    return {
        "version": d.period.version,
        "area": {"level": d.area.level, "code": d.area.code, "name": d.area.name},
        "window": {"period": d.period.label, "first_month": p.first.isoformat()[:7], "last_month": p.last.isoformat()[:7],
                   "against": d.against, "against_period": d.against_period,
                   "against_first_month": before.first.isoformat()[:7] if before else None,
                   "against_last_month": before.last.isoformat()[:7] if before else None},
        "design_effect": d.design_effect,
        "alpha": diagnostics.ALPHA,
        "summary": d.summary,
        "note": NOTE,
        "changes": [change_entry(c, d, shown) for c in d.changes],
        # London's own need changes, the comparison the summary makes ("as London's did"); ``hidden`` names
        # the area's indicators, so London's are shown as they are (London-wide totals are never small)
        "london": [change_entry(c, d, None) for c in d.london.values() if c.family == "need"],
        "disclosure": shown.describe(),
    }


@bp.get("/harm/diagnostic")
def diagnostic() -> Response:
    """``area`` london (default), a borough (name or E09 code) or a 2022 ward (E05 code); ``period`` (default:
    the latest financial year); ``against`` previous (default) or baseline."""
    check_params(("area", "period", "against"))
    against = (arg("against") or "previous").lower()
    if against not in AGAINST:
        raise Problem(f"against must be previous or baseline, not {against[:20]!r}")
    shown = disclosure.current()
    with answer.snapshot() as snap:
        period = snap.period(arg("period"))
        etag = answer.validate(snap, synthetic=period.synthetic)
        try:
            area = snap.area(arg("area") or "london")
        except (published.UnknownBorough, published.UnknownWard) as e:
            raise UnknownArea(f"{e}; area is london, a borough (name or E09 code) or a 2022 ward (E05 code)") from None
        d = snap.diagnostic(period, area, against, disclosure=shown)
    out = {**answer.metadata(period.synthetic), **body(d, shown)}
    return answer.json(out, snap, etag, synthetic=period.synthetic)
