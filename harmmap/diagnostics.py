"""The diagnostic view: why did confidence move here? Pure functions, figures in and words out.

The strategy keeps police activity as a diagnostic, "used to analyse why a deterioration or improvement in
public confidence in a particular borough had taken place". For an area and a window (a period against an
earlier one of the same length) this sets side by side:

* the change in each PAS measure, in percentage points, with its 95% interval and whether it is
  significant at the survey's own sample size (respondents divided by the design effect);
* the change in each response (police activity) and need (harm) indicator over the same months, with an
  exact test for counts (``scoring.rate_ratio_test``);
* a plain-language summary of what moved together. It never claims a cause: the figures show what changed
  in the same months, not why.

References: Newcombe (1998) for the difference of two proportions (``scoring.two_proportion_test``); Kish
(1965) for the design effect; the exact conditional test for two Poisson counts (Przyborowski & Wilenski
1940).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from harmmap import scoring
from harmmap.indicators import BY_SLUG

ALPHA = 0.05


@dataclass(frozen=True)
class Change:
    """One indicator's change over a window. For PAS ``before``/``after`` are percentages and ``change``,
    ``lo``, ``hi`` percentage points; for counts they are counts and ``change`` is the relative change
    (0.19 = up 19%), ``lo``/``hi`` its interval; pounds are not tested (a few seizures swing them)."""

    indicator: str
    family: str
    kind: str
    before: float | None
    after: float | None
    change: float | None
    lo: float | None
    hi: float | None
    p: float | None
    respondents_before: float | None = None
    respondents_after: float | None = None

    @property
    def label(self) -> str:
        return BY_SLUG[self.indicator].label if self.indicator in BY_SLUG else self.indicator

    @property
    def tested(self) -> bool:
        return self.p is not None and math.isfinite(self.p)

    @property
    def significant(self) -> bool:
        return self.tested and self.p < ALPHA

    @property
    def direction(self) -> str:
        """up, down, same, or unknown (no figure on one side)."""
        if self.change is None or not math.isfinite(self.change):
            return "unknown" if self.before is None or self.after is None else ("up" if (self.after or 0) > 0 else "same")
        return "up" if self.change > 0 else "down" if self.change < 0 else "same"


def _f(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(float(x)) else float(x)


def pas_change(indicator: str, agree_before: float, n_before: float, agree_after: float, n_after: float, *,
               design_effect: float = 1.0) -> Change:
    """A PAS measure's change in points; its interval and test use the effective sample size n / deff."""
    d = design_effect
    if not (n_before > 0 and n_after > 0):
        return Change(indicator, BY_SLUG[indicator].family, "survey", None if not n_before > 0 else
                      100 * agree_before / n_before, None if not n_after > 0 else 100 * agree_after / n_after,
                      None, None, None, None, n_before or None, n_after or None)
    t = scoring.two_proportion_test(np.array([agree_after / d]), np.array([n_after / d]),
                                    np.array([agree_before / d]), np.array([n_before / d]))
    return Change(indicator, BY_SLUG[indicator].family, "survey", 100 * agree_before / n_before,
                  100 * agree_after / n_after, _f(100 * t["diff"].iloc[0]), _f(100 * t["lo"].iloc[0]),
                  _f(100 * t["hi"].iloc[0]), _f(t["p"].iloc[0]), n_before, n_after)


def count_change(indicator: str, before: float, after: float) -> Change:
    """A count's relative change over two windows of equal length, with the exact conditional test."""
    ind = BY_SLUG[indicator]
    if ind.kind == "value":
        rel = after / before - 1 if before > 0 else None
        return Change(indicator, ind.family, ind.kind, before, after, rel, None, None, None)
    t = scoring.rate_ratio_test(np.array([after]), np.array([before]))
    ratio, lo, hi, p = (t[c].iloc[0] for c in ("ratio", "lo", "hi", "p"))
    return Change(indicator, ind.family, ind.kind, before, after, _f(ratio - 1), _f(lo - 1), _f(hi - 1), _f(p))


# --- words ------------------------------------------------------------------------------------------

def _count(x: float | None, show: Callable[[float], str]) -> str:
    return "none" if x is None else show(x)


def _pct(rel: float) -> str:
    return f"{abs(rel) * 100:.0f}%"


def _pas_sentence(c: Change) -> str:
    name = {"pas_tackle_dealing": "confidence that the police tackle drug dealing",
            "pas_drug_problem": "the share saying drug use or dealing is a problem"}.get(c.indicator, c.label)
    if c.before is None or c.after is None:
        return f"{name}: no survey figures for both years"
    if c.change is None or c.direction == "same":
        return f"{name} did not change ({c.after:.1f}%)"
    verb = "rose" if c.change > 0 else "fell"
    verdict = "significant" if c.significant else "not significant at this sample size"
    points = f"{abs(c.change):.1f} points" if abs(c.change) < 10 else f"{abs(c.change):.0f} points"
    return f"{name} {verb} {points}, from {c.before:.1f}% to {c.after:.1f}% ({verdict})"


def _count_phrase(c: Change, show: Callable[[float], str]) -> str:
    name = c.label[0].lower() + c.label[1:]
    if c.before == c.after:
        return f"{name} stayed at {_count(c.after, show)}"
    if _count(c.before, show) == _count(c.after, show):
        # both below what this reader may see: neither figure nor direction is given away
        return f"{name} {_count(c.after, show)} in both periods"
    verb = "rose" if (c.after or 0) > (c.before or 0) else "fell"
    return f"{name} {verb} from {_count(c.before, show)} to {_count(c.after, show)}"


def _harm_phrase(c: Change, london: Change | None) -> str:
    name = c.label[0].lower() + c.label[1:]
    if c.change is None or c.direction in ("same", "unknown"):
        phrase = f"{name} did not change"
    else:
        phrase = f"{name} {'rose' if c.change > 0 else 'fell'} {_pct(c.change)}"
        if not c.significant:
            phrase += " (not significant)"
    if london is not None and london.change is not None and london.direction not in ("same", "unknown"):
        lw = f"{'rose' if london.change > 0 else 'fell'} {_pct(london.change)}"
        moved = c.significant and c.direction in ("up", "down")
        if moved and (london.change > 0) == (c.change > 0):
            phrase += f", as London's did ({lw})"
        elif moved:
            phrase += f", while London's {lw}"
        else:
            phrase += f"; London's {lw}"
    return phrase


def _join(parts: Sequence[str]) -> str:
    parts = list(parts)
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def summarise(area: str, window: str, changes: Sequence[Change], london: dict[str, Change] | None = None, *,
              show: Callable[[float], str] = lambda x: f"{x:,.0f}") -> str:
    """What moved together in ``area`` over ``window``, in words a tasking meeting reads. ``show`` writes a
    count as the reader may see it (disclosure control: "fewer than 5"). Response changes that were
    significant come first; if none was, that is said. Never a cause: the last sentence says so."""
    by = {c.indicator: c for c in changes}
    sentences = []
    pas = [by[k] for k in ("pas_tackle_dealing", "pas_drug_problem") if k in by]
    if pas:
        first = _pas_sentence(pas[0])
        rest = [_pas_sentence(c) for c in pas[1:]]
        sentences.append(f"In {area}, {window}, " + "; ".join([first] + rest) + ".")
    else:
        sentences.append(f"In {area}, {window}, there are no survey figures to compare.")
    response = [c for c in changes if c.family == "response" and c.kind == "count"]
    moved = [c for c in response if c.significant]
    still = [c for c in response if not c.significant and c.before != c.after]
    activity = []
    if moved:
        activity.append(_join(_count_phrase(c, show) for c in moved))
    if still:
        activity.append(_join(_count_phrase(c, show) for c in still) + (" (not significant)" if len(still) == 1 else
                                                                          " (none of these significant)"))
    if not response:
        activity_text = "no police activity figures cover these months"
    elif not activity:
        activity_text = "police activity did not change"
    else:
        activity_text = "; ".join(activity)
    need = [c for c in changes if c.family == "need" and c.kind == "count"]
    harm_text = _join(_harm_phrase(c, (london or {}).get(c.indicator)) for c in need)
    sentences.append("Over the same months " + activity_text + (f"; {harm_text}" if harm_text else "") + ".")
    sentences.append("These moved together; the figures do not say why.")
    return " ".join(sentences)
