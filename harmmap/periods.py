"""Reporting periods: months, calendar quarters, MPS financial years (April-March) and rolling 12 months.

A period is a run of whole calendar months. Labels are stable strings used in URLs, the command line and
the published tables:

==========  ===============  ==========================================
kind        label            months
==========  ===============  ==========================================
month       ``2025-03``      March 2025
quarter     ``2025-Q1``      January-March 2025 (calendar quarters)
fy          ``FY2025/26``    April 2025-March 2026 (the MPS financial year)
r12         ``R12-2026-03``  the 12 months April 2025-March 2026
==========  ===============  ==========================================
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

KINDS = ("month", "quarter", "fy", "r12")
_LENGTH = {"month": 1, "quarter": 3, "fy": 12, "r12": 12}


class PeriodError(ValueError):
    """A period label that is not one of the four forms; the message shows the forms."""


def add_months(month: date, n: int) -> date:
    """First day of the month ``n`` months after ``month`` (which must be a first day)."""
    k = month.year * 12 + month.month - 1 + n
    return date(k // 12, k % 12 + 1, 1)


def month_index(month: date) -> int:
    """Months since January of year 0: consecutive months differ by one."""
    return month.year * 12 + month.month - 1


@dataclass(frozen=True, order=True)
class Period:
    """``first`` and ``last`` are the first days of the period's first and last months (inclusive)."""

    first: date
    last: date
    kind: str

    @property
    def label(self) -> str:
        if self.kind == "month":
            return f"{self.first:%Y-%m}"
        if self.kind == "quarter":
            return f"{self.first.year}-Q{(self.first.month - 1) // 3 + 1}"
        if self.kind == "fy":
            return f"FY{self.first.year}/{(self.first.year + 1) % 100:02d}"
        return f"R12-{self.last:%Y-%m}"

    @property
    def title(self) -> str:
        """Words for maps and briefings: "April 2025 to March 2026"."""
        if self.kind == "month":
            return f"{self.first:%B %Y}"
        return f"{self.first:%B %Y} to {self.last:%B %Y}"

    @property
    def months(self) -> tuple[date, ...]:
        return tuple(add_months(self.first, i) for i in range(_LENGTH[self.kind]))

    def shifted(self, n_months: int) -> Period:
        return Period(add_months(self.first, n_months), add_months(self.last, n_months), self.kind)

    @property
    def previous(self) -> Period:
        """The period of the same kind just before (for r12 and fy: the 12 months before)."""
        return self.shifted(-_LENGTH[self.kind])

    @property
    def year_before(self) -> Period:
        return self.shifted(-12)

    def __str__(self) -> str:
        return self.label


def make(kind: str, last: date) -> Period:
    """The period of this kind ending with month ``last``."""
    if kind not in KINDS:
        raise PeriodError(f"unknown period kind {kind!r}: one of {', '.join(KINDS)}")
    if kind == "quarter" and last.month % 3:
        raise PeriodError(f"a calendar quarter ends in March, June, September or December, not {last:%B}")
    if kind == "fy" and last.month != 3:
        raise PeriodError("a financial year ends in March")
    return Period(add_months(last, 1 - _LENGTH[kind]), last, kind)


_FORMS = "2025-03 (month), 2025-Q1 (quarter), FY2025/26 (financial year), R12-2026-03 (rolling 12 months)"


def parse(label: str) -> Period:
    """The period a label names; anything else is a PeriodError that shows the four forms."""
    text = label.strip()
    if m := re.fullmatch(r"(\d{4})-(\d{2})", text):
        year, month = int(m[1]), int(m[2])
        if 1 <= month <= 12:
            return make("month", date(year, month, 1))
    elif m := re.fullmatch(r"(\d{4})-?Q([1-4])", text, re.IGNORECASE):
        return make("quarter", date(int(m[1]), int(m[2]) * 3, 1))
    elif m := re.fullmatch(r"FY(\d{4})[/-](\d{2}|\d{4})", text, re.IGNORECASE):
        start = int(m[1])
        if int(m[2]) % 100 == (start + 1) % 100:
            return make("fy", date(start + 1, 3, 1))
        raise PeriodError(f"{label!r}: a financial year runs April-March, e.g. FY{start}/{(start + 1) % 100:02d}")
    elif m := re.fullmatch(r"R12-(\d{4})-(\d{2})", text, re.IGNORECASE):
        if 1 <= int(m[2]) <= 12:
            return make("r12", date(int(m[1]), int(m[2]), 1))
    raise PeriodError(f"{label!r} is not a period: use {_FORMS}")


def complete_periods(first: date, last: date, kinds: Sequence[str] = KINDS) -> list[Period]:
    """Every period of these kinds lying wholly within months ``first``..``last``, in time order by kind."""
    out: list[Period] = []
    for kind in kinds:
        m = add_months(first, _LENGTH[kind] - 1)
        while m <= last:
            try:
                out.append(make(kind, m))
            except PeriodError:
                pass
            m = add_months(m, 1)
    return out


def covers(first: date, last: date, period: Period) -> bool:
    return first <= period.first and period.last <= last


def latest(periods: Iterable[Period], kind: str) -> Period | None:
    of_kind = [p for p in periods if p.kind == kind]
    return max(of_kind) if of_kind else None
