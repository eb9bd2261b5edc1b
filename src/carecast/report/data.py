"""What a report says: totals per post, channel, campaign and brand for a period, the same
for the period of the same length before it, follower growth, and the best posting times.

A post belongs to the period it was published in; its outcome is its latest reading. Days
and posting times are the brand's (``[brands.NAME] timezone``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict

from carecast.config import Config
from carecast.errors import InvalidPost
from carecast.metrics.series import GroupSeries, MetricsView, PostSeries, Totals
from carecast.store.metrics import AccountSample

__all__ = ["Comparison", "FollowerPoint", "MetricsReport", "PostRow", "TimeCell", "build_report"]

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
#: A best-time cell needs this many posts before it is ranked (one post says little).
MIN_POSTS_PER_CELL = 2
_MAX_DAYS = 3 * 366


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True)


class PostRow(_Model):
    """One post on one account, and its outcome so far."""

    post_id: str
    account: str
    channel: str
    brand: str
    campaign: str
    published_at: datetime
    reach: int | None
    impressions: int | None
    engagements: int | None
    engagement_rate: float | None
    clicks: int | None
    #: The offset of its latest reading, in seconds after publication.
    read_at_offset: int


class Comparison(_Model):
    """A group's totals in the period and in the one before it."""

    group_by: str
    key: str
    current: Totals
    previous: Totals

    def change(self, field: str) -> float | None:
        """The relative change of ``field`` (0.25 for +25 %); None when it was 0 before."""
        now, then = getattr(self.current, field), getattr(self.previous, field)
        if now is None or not then:
            return None
        return round(float(now - then) / float(then), 4)


class TimeCell(_Model):
    """Posts published in one weekday and hour (brand time), and how they did."""

    weekday: int
    hour: int
    posts: int
    mean_engagements: float
    engagement_rate: float | None


class FollowerPoint(_Model):
    """An account's followers on one day."""

    account: str
    channel: str
    day: str
    followers: int


class MetricsReport(_Model):
    """A metrics report for ``[start, end)`` (brand time), compared with the period before."""

    brand: str | None
    campaign: str | None
    timezone: str
    start: date
    end: date
    previous_start: date
    generated_at: datetime
    totals: Comparison
    channels: tuple[Comparison, ...]
    campaigns: tuple[Comparison, ...]
    brands: tuple[Comparison, ...]
    posts: tuple[PostRow, ...]
    best_times: tuple[TimeCell, ...]
    followers: tuple[FollowerPoint, ...]
    #: Mean engagements per post at each offset of the schedule, by channel: the decay curve.
    decay: dict[str, dict[int, float]]


def build_report(view: MetricsView, config: Config, *, now: datetime,
                 brand: str | None = None, campaign: str | None = None,
                 start: date | None = None, end: date | None = None) -> MetricsReport:
    """The report of the posts published from ``start`` up to ``end`` (excluded; default: the
    28 days up to today), compared with as many days before ``start``."""
    if brand is not None and brand not in config.brands:
        raise InvalidPost(f"--brand: {brand!r} is not a brand in the configuration "
                          f"({', '.join(sorted(config.brands)) or 'none'})", [("brand", "unknown")])
    zone = config.zone_of(brand or config.default_brand())
    today = now.astimezone(zone).date()
    end = end or today + timedelta(days=1)
    start = start or end - timedelta(days=28)
    if start >= end:
        raise InvalidPost("--from: give a day before --to", [("from", "after to")])
    if (end - start).days > _MAX_DAYS:
        raise InvalidPost(f"--from/--to: a report covers at most {_MAX_DAYS} days; give a "
                          "shorter period", [("from", "too long")])
    previous_start = start - (end - start)

    def read(first: date, last: date) -> tuple[list[PostSeries], list[AccountSample]]:
        posts = view.posts(start=_at(first, zone), end=_at(last, zone), brand=brand,
                           campaign=campaign)
        accounts = view.accounts(day_from=first.isoformat(), day_to=last.isoformat(),
                                 brand=brand) if campaign is None else []
        return posts, accounts

    posts, accounts = read(start, end)
    before, accounts_before = read(previous_start, start)

    def compare(group_by: Literal["channel", "campaign", "brand"]) -> tuple[Comparison, ...]:
        now_groups = {g.key: g for g in view.groups(group_by, posts, accounts)}
        then_groups = {g.key: g for g in view.groups(group_by, before, accounts_before)}
        return tuple(Comparison(group_by=group_by, key=key,
                                current=_totals(now_groups.get(key)),
                                previous=_totals(then_groups.get(key)))
                     for key in [*now_groups, *(k for k in then_groups if k not in now_groups)])

    from carecast.metrics.series import follower_growth

    return MetricsReport(
        brand=brand, campaign=campaign, timezone=str(zone), start=start, end=end,
        previous_start=previous_start, generated_at=now,
        totals=Comparison(
            group_by="all", key="all",
            current=Totals.of((p.latest for p in posts), follower_growth(accounts)),
            previous=Totals.of((p.latest for p in before), follower_growth(accounts_before))),
        channels=compare("channel"), campaigns=compare("campaign"), brands=compare("brand"),
        posts=tuple(_row(p) for p in sorted(posts, key=lambda p: p.published_at)),
        best_times=best_times(posts, zone),
        followers=tuple(FollowerPoint(account=a.account, channel=a.channel, day=a.day,
                                      followers=a.followers)
                        for a in accounts if a.followers is not None),
        decay=decay(posts),
    )


def best_times(posts: Sequence[PostSeries], zone: ZoneInfo) -> tuple[TimeCell, ...]:
    """Each weekday and hour (in ``zone``) posts went out in, best engagement rate first
    (cells with fewer than ``MIN_POSTS_PER_CELL`` posts last)."""
    cells: dict[tuple[int, int], list[PostSeries]] = {}
    for post in posts:
        local = post.published_at.astimezone(zone)
        cells.setdefault((local.weekday(), local.hour), []).append(post)
    out = []
    for (weekday, hour), members in cells.items():
        totals = Totals.of(p.latest for p in members)
        out.append(TimeCell(weekday=weekday, hour=hour, posts=len(members),
                            mean_engagements=round(totals.engagements / len(members), 3),
                            engagement_rate=totals.engagement_rate))
    return tuple(sorted(out, key=lambda c: (c.posts < MIN_POSTS_PER_CELL,
                                            -(c.engagement_rate or 0), -c.mean_engagements,
                                            c.weekday, c.hour)))


def decay(posts: Sequence[PostSeries]) -> dict[str, dict[int, float]]:
    """Mean engagements per post at each offset read, by channel."""
    sums: dict[str, dict[int, list[int]]] = {}
    for post in posts:
        for point in post.points:
            if point.engagements is not None:
                sums.setdefault(post.channel, {}).setdefault(point.offset_s, []).append(
                    point.engagements)
    return {channel: {offset: round(sum(v) / len(v), 3) for offset, v in sorted(by.items())}
            for channel, by in sorted(sums.items())}


def _totals(group: GroupSeries | None) -> Totals:
    return group.totals if group is not None else Totals()


def _row(post: PostSeries) -> PostRow:
    latest = post.latest
    rate = Totals.of([latest]).engagement_rate
    return PostRow(post_id=post.post_id, account=post.account, channel=post.channel,
                   brand=post.brand, campaign=post.campaign, published_at=post.published_at,
                   reach=latest.seen, impressions=latest.impressions,
                   engagements=latest.engagements, engagement_rate=rate, clicks=latest.clicks,
                   read_at_offset=latest.offset_s)


def _at(day: date, zone: ZoneInfo) -> datetime:
    """Midnight of ``day`` in ``zone`` (a DST change that skips midnight moves it on)."""
    return datetime.combine(day, time(0), tzinfo=zone)
