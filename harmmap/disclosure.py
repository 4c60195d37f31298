"""Disclosure control: small counts are shown as "fewer than 5" to roles below the one that sees exact figures.

A count of 1 to 4 closures, disruptions, offences or seizures in a ward and period can point at one
address, one family or one network, so roles below ``HARMMAP_DISCLOSURE_EXACT_ROLE`` (default
``analyst``) see "fewer than 5" instead (``HARMMAP_DISCLOSURE_MIN_COUNT``, default 5: counts from 1 to
``min_count - 1`` are suppressed). Zero stays zero: "none" discloses nobody. What goes with a suppressed
count, because it gives the count back:

- its rate per 1,000 (the ward's population is published), its rank among the wards and its points in
  the harm index (the rank normalisation makes them a position among the other wards' exact rates);
- the change on the previous period and the year before, and the test's p-value (a ratio to a known
  count is the count);
- the same figures of the previous period or year when *those* counts are small.

What stays, and why (docs/security.md, "Disclosure control"): the harm index score, rank, decile, class
and hotspot class (each blends several indicators over many wards; they are what tasking works from);
the trend direction in words; pounds of seized assets (not a count of events); PAS percentages (survey
results, whose own small-number rule is the survey's). Pure: no Flask, no database; the role comes in as
an argument and no role at all is treated as the most restricted one.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from harmmap.access import ROLES, allows
from harmmap.indicators import INDICATORS

#: Indicators whose value is a count of events (the ones a small number can identify).
COUNT_INDICATORS = frozenset(i.slug for i in INDICATORS if i.kind == "count")

#: Figures of an indicator entry (harmmap.published ward summary) that give the current count back.
_WITH_VALUE = ("value", "rate_per_1000", "rank_london", "contribution", "prev_change", "prev_p", "yoy_change", "yoy_p")
_WITH_PREV = ("prev_value", "prev_change", "prev_p")
_WITH_YOY = ("yoy_value", "yoy_change", "yoy_p")


@dataclass(frozen=True)
class Disclosure:
    """How figures leave for one request: exact, or with counts from 1 to ``min_count - 1`` suppressed."""

    exact: bool = False
    min_count: int = 5

    @property
    def text(self) -> str:
        """What a suppressed count reads as, in JSON (``"suppressed"``), pages and PDFs."""
        return f"fewer than {self.min_count}"

    @property
    def key(self) -> str:
        """Part of every cache key and ETag of a body with figures in it: one per level, never shared."""
        return "exact" if self.suppresses_nothing else f"suppressed-below-{self.min_count}"

    @property
    def suppresses_nothing(self) -> bool:
        return self.exact or self.min_count <= 1

    def small(self, count: Any) -> bool:
        """Whether this count (of events) is shown as "fewer than N"; None, NaN and 0 are not."""
        if self.suppresses_nothing or count is None:
            return False
        try:
            x = float(count)
        except (TypeError, ValueError):
            return False
        return math.isfinite(x) and 1 <= x < self.min_count

    def small_count(self, indicator: str, count: Any) -> bool:
        return indicator in COUNT_INDICATORS and self.small(count)

    # --- one ward in full (harmmap.published ward summary) -----------------------------------------

    def ward_summary(self, summary: dict[str, Any]) -> dict[str, Any]:
        """A copy of a ward summary with its small counts suppressed (the summary itself if exact).

        Indicator entries gain ``"suppressed": "fewer than 5"`` (and ``prev_suppressed`` /
        ``yoy_suppressed``) with the figures that give the count back set to null; contributions of a
        suppressed indicator lose their points and move to the end (their order would rank them); the
        monthly trend series get null in the suppressed months and ``trend.suppressed`` lists, per
        indicator, the indexes of those months.
        """
        if self.suppresses_nothing:
            return summary
        out = copy.deepcopy(summary)
        hidden: set[str] = set()
        for entry in out.get("indicators", []):
            slug = entry.get("indicator")
            if slug not in COUNT_INDICATORS:
                continue
            if self.small(entry.get("value")):
                hidden.add(slug)
                entry["suppressed"] = self.text
                for name in _WITH_VALUE:
                    entry[name] = None
            if self.small(entry.get("prev_value")):
                entry["prev_suppressed"] = self.text
                for name in _WITH_PREV:
                    entry[name] = None
            if self.small(entry.get("yoy_value")):
                entry["yoy_suppressed"] = self.text
                for name in _WITH_YOY:
                    entry[name] = None
        if "contributions" in out:
            shown = [c for c in out["contributions"] if c.get("indicator") not in hidden]
            gone = [{**c, "points": None, "suppressed": self.text}
                    for c in out["contributions"] if c.get("indicator") in hidden]
            out["contributions"] = shown + gone
        trend = out.get("trend")
        if trend and "series" in trend:
            masked: dict[str, list[int]] = {}
            for slug, series in trend["series"].items():
                if slug not in COUNT_INDICATORS:
                    continue
                idx = [i for i, x in enumerate(series) if self.small(x)]
                if idx:
                    masked[slug] = idx
                    for i in idx:
                        series[i] = None
            trend["suppressed"] = masked
            trend["suppressed_text"] = self.text
        out["disclosure"] = self.describe()
        return out

    def top_contributions(self, pairs: Iterable[tuple[str, float]],
                          counts: dict[str, Any]) -> list[tuple[str, float | None]]:
        """A ward's (indicator, points) list with a suppressed indicator's points as None, moved last.

        ``counts`` is the ward's count per indicator for the period."""
        pairs = list(pairs)
        if self.suppresses_nothing:
            return pairs
        shown = [(s, p) for s, p in pairs if not self.small_count(s, counts.get(s))]
        gone = [(s, None) for s, p in pairs if self.small_count(s, counts.get(s))]
        return shown + gone

    def describe(self) -> dict[str, Any]:
        """The level as it is stated in JSON bodies."""
        return {"exact": self.suppresses_nothing, "min_count": self.min_count,
                "suppressed_text": None if self.suppresses_nothing else self.text}


def for_role(role: str | None, *, min_count: int = 5, exact_role: str = "analyst") -> Disclosure:
    """The level for a role (None: signed out or unknown, the most restricted)."""
    exact = role in ROLES and allows(role, exact_role)
    return Disclosure(exact=exact, min_count=min_count)


def check_settings(min_count: int, exact_role: str) -> str | None:
    """A message naming the variable if a setting is wrong, else None (harmmap.config calls it)."""
    if not 1 <= min_count <= 100:
        return f"HARMMAP_DISCLOSURE_MIN_COUNT must be from 1 (no suppression) to 100, not {min_count}"
    if exact_role not in ROLES:
        return f"HARMMAP_DISCLOSURE_EXACT_ROLE must be one of {', '.join(ROLES)}, not {exact_role!r}"
    return None
