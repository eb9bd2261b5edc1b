"""The content calendar: what is planned, scheduled, published, held, blocked and frozen, per
account, as one self-contained HTML page (month grids and a week-by-week list) or as an
iCalendar file for Outlook and Google Calendar.

Everything shown is escaped (Jinja2's autoescape; post text is user input). A post is shown
by its title, else the start of its text; a blocked post only by its id and title, never by
the text its checks flagged. The iCalendar file is written with the ``icalendar`` library,
which folds lines, escapes text and formats times as RFC 5545 requires.
"""

from __future__ import annotations

import calendar as stdcal
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from carecast.errors import InvalidPost
from carecast.observances import Observance, observances_between
from carecast.plan import Plan, day_start, resolve
from carecast.records import Attempt, Freeze, State, StoredPost
from carecast.templates import environment

if TYPE_CHECKING:
    from carecast.publish.publisher import Publisher

__all__ = ["Calendar", "Entry", "build_calendar", "calendar_html", "calendar_ics"]

#: The longest span one calendar covers (days).
MAX_DAYS = 400
_STATUS = {State.PENDING: "scheduled", State.SENDING: "sending",
           State.PUBLISHED: "published", State.FAILED: "failed", State.UNKNOWN: "failed",
           State.BLOCKED: "blocked", State.AWAITING_APPROVAL: "awaiting approval",
           State.HELD: "held", State.TAKEN_DOWN: "taken down"}
#: Every status an entry may have, in the legend's order.
STATUSES = ("planned", "scheduled", "awaiting approval", "frozen", "sending", "published",
            "held", "blocked", "failed", "taken down")


@dataclass(frozen=True)
class Entry:
    """One post on one account at one moment."""

    at: datetime
    account: str
    channel: str
    status: str
    post_id: str
    label: str
    campaign: str | None = None
    owner: str | None = None
    url: str | None = None


@dataclass(frozen=True)
class Calendar:
    """The entries, freezes and observances of a span of days in one time zone."""

    first: date
    last: date
    zone: ZoneInfo
    brand: str | None
    entries: tuple[Entry, ...]
    freezes: tuple[Freeze, ...]
    observances: tuple[tuple[Observance, date, date], ...]
    made_at: datetime
    accounts: tuple[str, ...] = field(default=())

    def local(self, when: datetime) -> datetime:
        """``when`` in the calendar's zone."""
        return when.astimezone(self.zone)

    def on(self, day: date) -> list[Entry]:
        """The entries of ``day`` (local), by time."""
        return [e for e in self.entries if self.local(e.at).date() == day]

    def frozen_on(self, day: date) -> list[Freeze]:
        """The freezes that cover any part of ``day``."""
        start = datetime.combine(day, datetime.min.time(), tzinfo=self.zone)
        end = start + timedelta(days=1)
        return [f for f in self.freezes
                if f.started_at < end and (f.ended_at or f.until or end) > start]

    def observed_on(self, day: date) -> list[Observance]:
        """The observances of ``day`` that are days or weeks (months are listed per month)."""
        return [o for o, a, b in self.observances if o.kind != "month" and a <= day <= b]


def _label(post_title: str | None, text: str, status: str, post_id: str) -> str:
    if status == "blocked":
        return post_title or post_id
    words = " ".join(text.split())
    return post_title or (words[:77] + "…" if len(words) > 80 else words) or post_id


def build_calendar(publisher: Publisher, *, first: date, last: date,
                   brand: str | None = None, plan: Plan | None = None) -> Calendar:
    """The calendar of ``first`` to ``last`` (brand days, inclusive): the store's posts
    (two queries), the freezes, the observances and, with ``plan``, its entries not yet
    applied. Reads only; a missing store shows nothing stored."""
    config = publisher.config
    if last < first or (last - first).days > MAX_DAYS:
        raise InvalidPost(f"--to: give a day on or after --from, at most {MAX_DAYS} days "
                          "later", [("to", "out of range")])
    if brand is not None and brand not in config.brands:
        raise InvalidPost(f"brand: {brand!r} is not a brand in the configuration",
                          [("brand", "unknown brand")])
    zone_brand = brand or (plan.brand if plan else None) or config.default_brand()
    zone = config.zone_of(zone_brand)
    start, end = (datetime.combine(d, datetime.min.time(), tzinfo=zone).astimezone(UTC)
                  for d in (first, last + timedelta(days=1)))
    from carecast.store import Ledger

    records = publisher.records
    stored: Sequence[StoredPost] = records.stored(between=(start, end)) \
        if isinstance(records, Ledger) else ()
    freezes = tuple(records.freezes()) if isinstance(records, Ledger) else ()

    def mine(account: str) -> bool:
        cfg = config.accounts.get(account)
        return brand is None or (cfg is not None and cfg.brand == brand)

    entries: list[Entry] = []
    seen: set[str] = set()
    for item in stored:
        seen.add(item.post.id)
        for row in item.attempts:
            if mine(row.account):
                entries.append(_entry(item, row, freezes, config.accounts))
    if plan is not None and (brand is None or plan.brand == brand):
        planned, _ = resolve(plan, config)
        for p in planned:
            when = p.when or day_start(p.entry.day or plan.start, config, plan.brand)
            if p.post.id in seen or not start <= when < end:
                continue
            for account in p.accounts:
                cfg = config.accounts[account]
                entries.append(Entry(when, account, cfg.channel, "planned", p.post.id,
                                     _label(p.post.title, p.post.text, "planned", p.post.id),
                                     p.post.campaign, p.entry.owner or plan.owner))
    entries.sort(key=lambda e: (e.at, e.account, e.post_id))
    accounts = tuple(sorted({e.account for e in entries} | {
        a.name for a in config.accounts.values() if brand is None or a.brand == brand}))
    return Calendar(first, last, zone, brand, tuple(entries),
                    tuple(f for f in freezes if brand is None or f.covers(brand)),
                    tuple(observances_between(first, last)), publisher.clock.now(), accounts)


def _entry(item: StoredPost, row: Attempt, freezes: Sequence[Freeze], accounts: Any
           ) -> Entry:
    post = item.post
    status = _STATUS[row.state]
    at = row.receipt.published_at if row.receipt and row.state == State.PUBLISHED \
        else item.due
    cfg = accounts.get(row.account)
    if row.state in (State.PENDING, State.AWAITING_APPROVAL) and any(
            f.started_at <= at and f.active(at) and f.covers(cfg.brand if cfg else None)
            for f in freezes):
        status = "frozen"
    url = row.receipt.url if row.receipt and row.state == State.PUBLISHED else None
    return Entry(at, row.account, row.channel, status, post.id,
                 _label(post.title, post.text, status, post.id), post.campaign,
                 url=url if url and url.startswith(("https://", "http://")) else None)


# -- HTML ------------------------------------------------------------------------------------

def calendar_html(cal: Calendar) -> str:
    """One self-contained page (no scripts, fonts or images from elsewhere)."""
    months = []
    month = cal.first.replace(day=1)
    while month <= cal.last:
        weeks = stdcal.Calendar().monthdatescalendar(month.year, month.month)
        months.append({"title": f"{month:%B %Y}", "weeks": weeks, "month": month.month,
                       "observances": [(o, a, b) for o, a, b in cal.observances
                                       if o.kind == "month" and a.month == month.month
                                       and a.year == month.year]})
        month = (month + timedelta(days=32)).replace(day=1)
    week_starts = []
    day = cal.first - timedelta(days=cal.first.weekday())
    while day <= cal.last:
        week_starts.append(day)
        day += timedelta(weeks=1)
    return str(environment().get_template("calendar.html").render(
        cal=cal, months=months, week_starts=week_starts, statuses=STATUSES,
        timedelta=timedelta, css_class=lambda s: s.replace(" ", "-")))


# -- iCalendar -------------------------------------------------------------------------------

def calendar_ics(cal: Calendar) -> bytes:
    """An iCalendar (RFC 5545) file: one event per entry, per freeze and per observance."""
    import icalendar

    out = icalendar.Calendar()
    out.add("prodid", "-//carecast//content calendar//EN")
    out.add("version", "2.0")
    out.add("x-wr-calname", f"carecast: {cal.brand or 'every brand'}")
    for e in cal.entries:
        event = icalendar.Event()
        event.add("uid", f"{e.post_id}/{e.account}@carecast")
        event.add("dtstamp", cal.made_at)
        event.add("dtstart", e.at.astimezone(UTC))
        event.add("duration", timedelta(minutes=15))
        event.add("summary", f"[{e.status}] {e.account}: {e.label}")
        event.add("description", "\n".join(line for line in (
            f"post {e.post_id} on {e.account} ({e.channel}): {e.status}",
            f"campaign {e.campaign}" if e.campaign else "",
            f"owner {e.owner}" if e.owner else "") if line))
        event.add("categories", [e.status])
        if e.url:
            event.add("url", e.url)
        out.add_component(event)
    for f in cal.freezes:
        event = icalendar.Event()
        event.add("uid", f"freeze-{f.id}@carecast")
        event.add("dtstamp", cal.made_at)
        event.add("dtstart", f.started_at.astimezone(UTC))
        ends = f.ended_at or f.until
        if ends is not None:
            event.add("dtend", ends.astimezone(UTC))
        event.add("summary", f"[frozen] {f.brand or 'every brand'}: nothing is sent")
        event.add("categories", ["frozen"])
        out.add_component(event)
    for o, first, last in cal.observances:
        event = icalendar.Event()
        event.add("uid", f"{o.id}-{first.year}@carecast")
        event.add("dtstamp", cal.made_at)
        event.add("dtstart", first)
        event.add("dtend", last + timedelta(days=1))  # all-day events end the day after
        event.add("summary", o.name)
        event.add("description", f"National health observance ({o.kind}); {o.sponsor}")
        event.add("categories", ["observance"])
        event.add("transp", "TRANSPARENT")
        out.add_component(event)
    return bytes(out.to_ical())
