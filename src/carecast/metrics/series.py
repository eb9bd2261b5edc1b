"""The metric series as typed models: per post, and per channel, campaign or brand.

A post's counts only grow, so a post's outcome is its latest reading; a group's outcome is the
sum of its posts' outcomes. *Engagements* are likes, reposts and replies (clicks are counted
on their own); *reach* is the platform's unique viewers where it counts them, else its views
or impressions; the *engagement rate* is engagements over reach (None without reach).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from carecast.store.metrics import AccountSample, MetricStore, PostSample

__all__ = ["GroupSeries", "MetricsView", "PostSeries", "Reading", "Totals"]

GroupBy = Literal["post", "channel", "account", "campaign", "brand"]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True)


class Reading(_Model):
    """One reading of a post: its counts at ``offset_s`` seconds after publication."""

    offset_s: int
    taken_at: datetime
    likes: int | None = None
    reposts: int | None = None
    replies: int | None = None
    impressions: int | None = None
    reach: int | None = None
    clicks: int | None = None

    @property
    def engagements(self) -> int | None:
        """Likes, reposts and replies (None when the platform gave none of them)."""
        found = [v for v in (self.likes, self.reposts, self.replies) if v is not None]
        return sum(found) if found else None

    @property
    def seen(self) -> int | None:
        """Reach, else impressions."""
        return self.reach if self.reach is not None else self.impressions


class Totals(_Model):
    """Counts added up over posts."""

    posts: int = 0
    reach: int = 0
    impressions: int = 0
    engagements: int = 0
    clicks: int = 0
    #: Engagements over reach, for the posts that have both; None without any.
    engagement_rate: float | None = None
    #: Followers at the end of the period less at its start (None: no account series).
    follower_growth: int | None = None

    @classmethod
    def of(cls, points: Iterable[Reading], follower_growth: int | None = None) -> Totals:
        """The totals of each post's latest reading."""
        posts = reach = impressions = engagements = clicks = 0
        rated_engagements = rated_reach = 0
        for point in points:
            posts += 1
            reach += point.seen or 0
            impressions += point.impressions or 0
            engagements += point.engagements or 0
            clicks += point.clicks or 0
            if point.seen and point.engagements is not None:
                rated_engagements += point.engagements
                rated_reach += point.seen
        return cls(posts=posts, reach=reach, impressions=impressions, engagements=engagements,
                   clicks=clicks, follower_growth=follower_growth,
                   engagement_rate=round(rated_engagements / rated_reach, 6)
                   if rated_reach else None)


class PostSeries(_Model):
    """One published post on one account, and its readings, earliest first."""

    post_id: str
    account: str
    channel: str
    brand: str
    campaign: str
    remote_id: str
    published_at: datetime
    points: tuple[Reading, ...]

    @property
    def latest(self) -> Reading:
        """The newest reading: the post's outcome so far."""
        return self.points[-1]


class GroupSeries(_Model):
    """A channel's, account's, campaign's or brand's totals and its posts."""

    group_by: str
    key: str
    totals: Totals
    posts: tuple[str, ...] = Field(description="The post ids, as 'post_id@account'.")


class MetricsView:
    """Reads the series of a metric store (what ``carecast report`` and dashboards use)."""

    def __init__(self, store: MetricStore) -> None:
        self.store = store

    def posts(self, *, start: datetime | None = None, end: datetime | None = None,
              brand: str | None = None, campaign: str | None = None,
              account: str | None = None, post_id: str | None = None) -> list[PostSeries]:
        """Each post published in ``[start, end)`` that matches, with its readings."""
        samples = self.store.post_samples(published_from=start, published_to=end,
                                          brand=brand, campaign=campaign, account=account,
                                          post_id=post_id)
        return series_of(samples)

    def accounts(self, *, day_from: str | None = None, day_to: str | None = None,
                 brand: str | None = None, account: str | None = None) -> list[AccountSample]:
        """The daily account readings that match, oldest first."""
        return self.store.account_samples(day_from=day_from, day_to=day_to, brand=brand,
                                          account=account)

    def groups(self, group_by: GroupBy, posts: Sequence[PostSeries],
               accounts: Sequence[AccountSample] = ()) -> list[GroupSeries]:
        """The totals of ``posts`` by ``group_by``, largest reach first; follower growth
        from ``accounts`` for channels, accounts and brands."""
        grouped: dict[str, list[PostSeries]] = {}
        for post in posts:
            key = post.post_id if group_by == "post" else getattr(post, group_by)
            grouped.setdefault(key, []).append(post)
        out = []
        for key, members in grouped.items():
            growth = follower_growth([a for a in accounts if getattr(a, group_by, None) == key]) \
                if group_by in ("channel", "account", "brand") else None
            out.append(GroupSeries(group_by=group_by, key=key or "(none)",
                                   totals=Totals.of((p.latest for p in members), growth),
                                   posts=tuple(f"{p.post_id}@{p.account}" for p in members)))
        return sorted(out, key=lambda g: (-g.totals.reach, g.key))


def series_of(samples: Iterable[PostSample]) -> list[PostSeries]:
    """The samples gathered into one series per (post, account), in the samples' order."""
    found: dict[tuple[str, str], list[PostSample]] = {}
    for sample in samples:
        found.setdefault((sample.post_id, sample.account), []).append(sample)
    out = []
    for group in found.values():
        first = group[0]
        points = tuple(Reading(offset_s=s.offset_s, taken_at=s.taken_at, likes=s.likes,
                             reposts=s.reposts, replies=s.replies, impressions=s.impressions,
                             reach=s.reach, clicks=s.clicks)
                       for s in sorted(group, key=lambda s: s.offset_s))
        out.append(PostSeries(post_id=first.post_id, account=first.account,
                              channel=first.channel, brand=first.brand,
                              campaign=first.campaign, remote_id=first.remote_id,
                              published_at=first.published_at, points=points))
    return out


def follower_growth(samples: Sequence[AccountSample]) -> int | None:
    """Each account's last follower count less its first, added up (None without two)."""
    by_account: dict[str, list[int]] = {}
    for sample in samples:
        if sample.followers is not None:
            by_account.setdefault(sample.account, []).append(sample.followers)
    grown = [counts[-1] - counts[0] for counts in by_account.values() if len(counts) >= 2]
    return sum(grown) if grown else None
