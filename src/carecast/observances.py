"""United States national health observances (American Heart Month, National Nurses Week, …)
as rules, so a plan check can suggest those that fall in a plan's window.

The data (``carecast/data/observances.toml``) comes from the public-domain National Health
Observances calendar of HHS's Office of Disease Prevention and Health Promotion; each entry
names its sponsor. Dates are rules ("the first full week of April"), never one year's dates.
"""

from __future__ import annotations

import calendar
import re
import tomllib
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from importlib import resources
from typing import Any, Literal

__all__ = ["Observance", "load_observances", "observances_between"]

_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_MONTHS = tuple(m.lower() for m in calendar.month_abbr[1:])
_NTH = {"1st": 1, "2nd": 2, "3rd": 3, "4th": 4, "last": -1}
_FIXED = re.compile(r"^(\d\d)-(\d\d)$")
_NTH_OF = re.compile(r"^(1st|2nd|3rd|4th|last) (\w{3}) of (\w{3})$")
_NEAR = re.compile(r"^(\w{3}) on or (before|after) (\d\d)-(\d\d)$")


def _start(rule: str, year: int) -> date:
    """The day ``rule`` (see the data file's header) gives in ``year``."""
    if match := _FIXED.match(rule):
        return date(year, int(match[1]), int(match[2]))
    if match := _NTH_OF.match(rule):
        weekday, month = _WEEKDAYS.index(match[2]), _MONTHS.index(match[3]) + 1
        days = [d for d in calendar.Calendar().itermonthdates(year, month)
                if d.month == month and d.weekday() == weekday]
        nth = _NTH[match[1]]
        return days[nth - 1 if nth > 0 else -1]
    if match := _NEAR.match(rule):
        weekday, anchor = _WEEKDAYS.index(match[1]), date(year, int(match[3]), int(match[4]))
        shift = (weekday - anchor.weekday()) % 7
        return anchor + timedelta(days=shift) if match[2] == "after" \
            else anchor - timedelta(days=(7 - shift) % 7)
    raise ValueError(f"observance rule {rule!r}: see the rules in carecast/data/observances.toml")


@dataclass(frozen=True)
class Observance:
    """A month, week or day of the year dedicated to a health topic."""

    id: str
    name: str
    kind: Literal["month", "week", "day"]
    sponsor: str
    month: int = 0
    start: str = ""
    offset: int = 0
    days: int = 1

    def dates(self, year: int) -> tuple[date, date]:
        """Its first and last day in ``year`` (both inclusive)."""
        if self.kind == "month":
            return date(year, self.month, 1), date(
                year, self.month, calendar.monthrange(year, self.month)[1])
        first = _start(self.start, year) + timedelta(days=self.offset)
        return first, first + timedelta(days=self.days - 1)

    def between(self, first: date, last: date) -> list[tuple[date, date]]:
        """Each time it overlaps the days ``first`` to ``last`` (inclusive)."""
        spans = (self.dates(y) for y in range(first.year - 1, last.year + 2))
        return [(a, b) for a, b in spans if a <= last and b >= first]

    def to_dict(self, span: tuple[date, date] | None = None) -> dict[str, Any]:
        """Plain data, for JSON (with the days of one ``span``)."""
        out: dict[str, Any] = {"id": self.id, "name": self.name, "kind": self.kind,
                               "sponsor": self.sponsor}
        if span is not None:
            out.update(first=span[0].isoformat(), last=span[1].isoformat())
        return out


@cache
def load_observances() -> tuple[Observance, ...]:
    """Every observance in the shipped data, checked (a bad rule fails here, not later)."""
    raw = resources.files("carecast").joinpath("data/observances.toml").read_text("utf-8")
    items = tuple(Observance(**entry) for entry in tomllib.loads(raw)["observance"])
    for item in items:
        item.dates(2028)  # a leap year: every rule must resolve
    return items


def observances_between(first: date, last: date) -> list[tuple[Observance, date, date]]:
    """Every observance that overlaps ``first`` to ``last``, by its first day."""
    found = [(o, a, b) for o in load_observances() for a, b in o.between(first, last)]
    return sorted(found, key=lambda t: (t[1], t[2], t[0].id))
