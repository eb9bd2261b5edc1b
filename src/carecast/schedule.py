"""Brand time: local post times resolved with the brand's time zone, posting slots, and
the moments of a recurring post.

A post's ``schedule`` and ``not_after`` may be written in the brand's local time
(``2027-03-14 09:00``); they are resolved with the zone's daylight-saving rules and stored in
UTC. A local time that does not exist (the hour skipped in spring) or happens twice (the hour
repeated in autumn) is an error that says how to write it unambiguously.

A recurring post keeps its local time of day across daylight-saving changes (09:00 stays
09:00 in brand time). An occurrence that falls in a skipped hour or a repeated one is read
as RFC 5545 (iCalendar) reads it: with the UTC offset in force before the change, so a
skipped 02:30 becomes 03:30 and a repeated 01:30 is the first one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from carecast.errors import ConfigurationError, InvalidPost
from carecast.post import MAX_OCCURRENCES, Repeat

__all__ = ["Slot", "in_zone", "next_slot", "occurrences", "parse_slot", "zone"]

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_SLOT = re.compile(r"^\s*(?P<days>[A-Za-z ,\-]+?)\s+(?P<h>\d{1,2}):(?P<m>\d{2})\s*$")
#: How far ahead ``next_slot`` looks before it gives up (it never searches forever).
SLOT_HORIZON = timedelta(days=366)


def zone(name: str, *, field: str = "timezone") -> ZoneInfo:
    """The IANA zone ``name`` (``America/New_York``); a clear error names ``field``."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigurationError(
            f"{field}: {name!r} is not an IANA time zone; give one such as "
            "'America/New_York' or 'Europe/London'") from None


def in_zone(value: datetime, tz: ZoneInfo, *, field: str) -> datetime:
    """``value`` in UTC: an aware time as it is, a naive one read as local time in ``tz``."""
    if value.tzinfo is not None:
        return value.astimezone(UTC)
    early, late = value.replace(tzinfo=tz, fold=0), value.replace(tzinfo=tz, fold=1)
    if early.utcoffset() != late.utcoffset():
        # The two folds differ: the local time is either skipped or repeated.
        back = early.astimezone(UTC).astimezone(tz).replace(tzinfo=None)
        if back != value:
            raise InvalidPost(
                f"{field}: {value:%Y-%m-%d %H:%M} does not exist in {tz.key} (the clocks "
                "skip that hour); give a time outside the skipped hour, or a UTC offset "
                "such as 2027-03-14T09:00-04:00", [(field, "local time does not exist")])
        raise InvalidPost(
            f"{field}: {value:%Y-%m-%d %H:%M} happens twice in {tz.key} (the clocks go "
            "back); give the UTC offset to say which, such as 2027-11-07T01:30-04:00",
            [(field, "local time is ambiguous")])
    return early.astimezone(UTC)


@dataclass(frozen=True)
class Slot:
    """A weekly posting slot: weekdays (0 = Monday) and a local time of day."""

    days: frozenset[int]
    at: time

    def __str__(self) -> str:
        days = ", ".join(_DAYS[d].title() for d in sorted(self.days))
        return f"{days} {self.at:%H:%M}"


def parse_slot(spec: str) -> Slot:
    """``"Tue, Thu 10:00"``, ``"Mon-Fri 12:30"`` or ``"daily 09:00"`` as a ``Slot``."""
    match = _SLOT.match(spec)
    hint = "write a slot as days and a 24-hour time, such as 'Tue, Thu 10:00' or 'Mon-Fri 12:30'"
    if not match:
        raise ValueError(f"slot {spec!r}: {hint}")
    hour, minute = int(match["h"]), int(match["m"])
    if hour > 23 or minute > 59:
        raise ValueError(f"slot {spec!r}: {hint}")
    days: set[int] = set()
    for part in re.split(r"[ ,]+", match["days"].strip().lower()):
        if part in ("daily", "every"):
            days.update(range(7))
        elif "-" in part and all(p[:3] in _DAYS for p in part.split("-", 1)):
            first, last = (_DAYS.index(p[:3]) for p in part.split("-", 1))
            days.update(range(first, last + 1) if first <= last
                        else [*range(first, 7), *range(0, last + 1)])
        elif part[:3] in _DAYS:
            days.add(_DAYS.index(part[:3]))
        else:
            raise ValueError(f"slot {spec!r}: {part!r} is not a weekday; {hint}")
    return Slot(frozenset(days), time(hour, minute))


def next_slot(slots: list[Slot], tz: ZoneInfo, after: datetime,
              taken: frozenset[datetime] = frozenset(), *, account: str = "") -> datetime:
    """The first slot strictly after ``after`` that is not ``taken`` (UTC instants).

    Searches at most ``SLOT_HORIZON`` ahead: no slots, or every slot taken, is an error.
    A slot whose local time is skipped by a daylight-saving change that day is passed over.
    """
    if not slots:
        raise ConfigurationError(
            f"accounts.{account}.slots: the account has no posting slots; add some such as "
            "slots = [\"Tue, Thu 10:00\"] or give the post a time")
    day = after.astimezone(tz).date()
    last = (after + SLOT_HORIZON).astimezone(tz).date()
    while day <= last:
        for at in sorted({s.at for s in slots if day.weekday() in s.days}):
            local = datetime.combine(day, at)
            try:
                when = in_zone(local, tz, field="slot")
            except InvalidPost:
                continue  # skipped or repeated by a clock change: not a slot that day
            if when > after and when not in taken:
                return when
        day += timedelta(days=1)
    raise ConfigurationError(
        f"accounts.{account}.slots: every slot in the next {SLOT_HORIZON.days} days is "
        "taken; add slots or give the post a time")


def occurrences(repeat: Repeat, first: datetime, tz: ZoneInfo) -> list[datetime]:
    """The UTC moments of a post that recurs as ``repeat`` from ``first`` (its schedule),
    at ``first``'s local time of day in ``tz``; at most ``MAX_OCCURRENCES``."""
    local = first.astimezone(tz)
    start, at = local.date(), local.time().replace(tzinfo=None)
    last = repeat.until
    cap = repeat.count or MAX_OCCURRENCES
    days: list[date] = []
    if not repeat.days:
        step = timedelta(days=repeat.every)
        day = start
        while len(days) < cap + 1 and (last is None or day <= last):
            days.append(day)
            day += step
    else:
        week = start - timedelta(days=start.weekday())
        while len(days) < cap + 1 and (last is None or week <= last):
            days += [d for d in (week + timedelta(days=w) for w in sorted(repeat.days))
                     if d >= start and (last is None or d <= last)]
            week += timedelta(weeks=repeat.every)
    if len(days) > cap and repeat.count is None:
        raise InvalidPost(
            f"repeat: more than {MAX_OCCURRENCES} occurrences before {last}; give an "
            "earlier until, a count, or a longer interval", [("repeat", "too many")])
    # fold=0: a skipped local time takes the offset before the change, a repeated one the
    # first of its two moments (RFC 5545, section 3.3.5).
    return [datetime.combine(d, at, tzinfo=tz).astimezone(UTC) for d in days[:cap]]
