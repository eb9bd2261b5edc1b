"""The metric time series and the slot claims that keep it exactly-once.

A *slot* is one reading to take: a receipt at one offset of the decay schedule
(``post:<post>:<account>:<seconds>``) or an account on one day (``account:<account>:<day>``).
A collector claims a slot before it reads the platform: a new slot is inserted
(``INSERT ... ON CONFLICT DO NOTHING ... RETURNING``), a slot whose claim went stale (its
collector crashed) or whose read failed is taken over with a compare-and-swap ``UPDATE``. The
sample is written in the same transaction that marks the slot done, and only while the claim
is still the writer's (its token), so a slot has at most one sample however many collectors
run, crash or race. The sample tables' primary keys say so too.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from carecast.clock import SYSTEM_CLOCK, Clock
from carecast.errors import StoreError
from carecast.post import AccountMetrics, Metrics

__all__ = ["AccountSample", "MetricStore", "PostSample", "SlotClaim", "account_slot", "post_slot"]

metadata = sa.MetaData()
_when = sa.DateTime(timezone=True)

slots = sa.Table(
    "carecast_metric_slots", metadata,
    sa.Column("key", sa.String(300), primary_key=True),
    # claimed (a collector reads it), done, failed (read again after retry_at), given_up
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("token", sa.String(32), nullable=False),
    sa.Column("claimed_at", _when, nullable=False),
    sa.Column("retry_at", _when),
    sa.Column("tries", sa.Integer, nullable=False, default=1),
    sa.Column("error", sa.Text),
)

post_samples = sa.Table(
    "carecast_metric_samples", metadata,
    sa.Column("post_id", sa.String(128), primary_key=True),
    sa.Column("account", sa.String(64), primary_key=True),
    sa.Column("offset_s", sa.Integer, primary_key=True),
    sa.Column("channel", sa.String(64), nullable=False),
    sa.Column("brand", sa.String(64), nullable=False, default=""),
    sa.Column("campaign", sa.String(200), nullable=False, default=""),
    sa.Column("remote_id", sa.String(300), nullable=False),
    sa.Column("published_at", _when, nullable=False, index=True),
    sa.Column("taken_at", _when, nullable=False),
    sa.Column("likes", sa.Integer), sa.Column("reposts", sa.Integer),
    sa.Column("replies", sa.Integer), sa.Column("impressions", sa.Integer),
    sa.Column("reach", sa.Integer), sa.Column("clicks", sa.Integer),
    sa.Column("extra", sa.Text, nullable=False, default="{}"),
)

account_samples = sa.Table(
    "carecast_account_samples", metadata,
    sa.Column("account", sa.String(64), primary_key=True),
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("channel", sa.String(64), nullable=False),
    sa.Column("brand", sa.String(64), nullable=False, default=""),
    sa.Column("taken_at", _when, nullable=False),
    sa.Column("followers", sa.Integer), sa.Column("following", sa.Integer),
    sa.Column("posts", sa.Integer),
    sa.Column("extra", sa.Text, nullable=False, default="{}"),
)


def post_slot(post_id: str, account: str, offset: int) -> str:
    """The slot key of a receipt's reading at ``offset`` seconds."""
    return f"post:{post_id}:{account}:{offset}"


def account_slot(account: str, day: str) -> str:
    """The slot key of an account's reading on ``day`` (ISO date, the brand's calendar)."""
    return f"account:{account}:{day}"


class PostSample(BaseModel):
    """One reading of a published post's counts, at one offset of the decay schedule."""

    model_config = ConfigDict(frozen=True)

    post_id: str
    account: str
    channel: str
    brand: str = ""
    campaign: str = ""
    remote_id: str
    published_at: datetime
    #: Seconds after publication this reading belongs to (its slot of the schedule).
    offset_s: int
    taken_at: datetime
    likes: int | None = None
    reposts: int | None = None
    replies: int | None = None
    impressions: int | None = None
    reach: int | None = None
    clicks: int | None = None
    extra: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def of(cls, metrics: Metrics, *, post_id: str, published_at: datetime, offset_s: int,
           brand: str = "", campaign: str = "") -> PostSample:
        """The sample of a channel's ``Metrics`` for the slot it was read for."""
        return cls(post_id=post_id, account=metrics.account, channel=metrics.channel,
                   brand=brand, campaign=campaign, remote_id=metrics.remote_id,
                   published_at=published_at, offset_s=offset_s, taken_at=metrics.fetched_at,
                   likes=metrics.likes, reposts=metrics.reposts, replies=metrics.replies,
                   impressions=metrics.impressions, reach=metrics.reach,
                   clicks=metrics.clicks, extra=dict(metrics.extra))


class AccountSample(BaseModel):
    """One day's reading of an account's followers and posts."""

    model_config = ConfigDict(frozen=True)

    account: str
    channel: str
    brand: str = ""
    day: str
    taken_at: datetime
    followers: int | None = None
    following: int | None = None
    posts: int | None = None
    extra: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def of(cls, metrics: AccountMetrics, *, day: str, brand: str = "") -> AccountSample:
        """The sample of a channel's ``AccountMetrics`` for ``day``."""
        return cls(account=metrics.account, channel=metrics.channel, brand=brand, day=day,
                   taken_at=metrics.fetched_at, followers=metrics.followers,
                   following=metrics.following, posts=metrics.posts, extra=dict(metrics.extra))


@dataclass(frozen=True)
class SlotClaim:
    """A slot this collector holds: write its result with ``MetricStore.finish``."""

    key: str
    token: str
    tries: int


_SAMPLE_COLUMNS = ("likes", "reposts", "replies", "impressions", "reach", "clicks")


class MetricStore:
    """The metric tables on a ledger's database (its engine; SQLite or PostgreSQL)."""

    def __init__(self, engine: Engine, *, clock: Clock = SYSTEM_CLOCK) -> None:
        self.engine = engine
        self.clock = clock
        self._sqlite = engine.dialect.name == "sqlite"
        self._lock: Any = threading.Lock() if self._sqlite else nullcontext()
        failed: str | None = None
        try:
            metadata.create_all(engine)
        except SQLAlchemyError as exc:  # another process made them at the same moment
            failed = type(exc).__name__
        if failed is not None:
            with self._tx() as conn:
                conn.execute(sa.select(slots.c.key).limit(1))

    def __repr__(self) -> str:
        return f"<MetricStore {self.engine.url.render_as_string(hide_password=True)!r}>"

    @contextmanager
    def _tx(self) -> Iterator[Connection]:
        failed: str | None = None
        try:
            with self._lock, self.engine.begin() as conn:
                yield conn
        except SQLAlchemyError as exc:  # its message may quote the URL or row data
            failed = type(exc).__name__
        if failed is not None:
            raise StoreError(f"the metric store failed ({failed}); nothing is lost: the "
                             "slots not written are read again by the next collection") from None

    def _insert(self) -> Any:
        dialect = sqlite if self._sqlite else postgresql
        return dialect.insert(slots)

    # -- claims ------------------------------------------------------------------------------

    def claim(self, keys: Sequence[str], *, stale_after: float, max_tries: int) -> list[SlotClaim]:
        """SlotClaim the slots of ``keys`` this collector may read now: new ones, ones whose
        claim is older than ``stale_after`` seconds (a crashed collector's) and failed ones
        whose retry time came, while they have had fewer than ``max_tries`` reads."""
        if not keys:
            return []
        now = self.clock.now()
        token = uuid.uuid4().hex
        got: list[SlotClaim] = []
        with self._tx() as conn:
            for start in range(0, len(keys), 500):
                batch = list(dict.fromkeys(keys[start:start + 500]))
                new = conn.execute(
                    self._insert().on_conflict_do_nothing(index_elements=["key"])
                    .returning(slots.c.key),
                    [{"key": k, "state": "claimed", "token": token, "claimed_at": now,
                      "tries": 1} for k in batch]).scalars().all()
                got += [SlotClaim(k, token, 1) for k in new]
                rest = sorted(set(batch) - set(new))
                if not rest:
                    continue
                stale = now - timedelta(seconds=stale_after)
                taken = conn.execute(
                    sa.update(slots)
                    .where(slots.c.key.in_(rest), slots.c.tries < max_tries,
                           sa.or_(sa.and_(slots.c.state == "claimed",
                                          slots.c.claimed_at < stale),
                                  sa.and_(slots.c.state == "failed",
                                          slots.c.retry_at <= now)))
                    .values(state="claimed", token=token, claimed_at=now,
                            tries=slots.c.tries + 1)
                    .returning(slots.c.key, slots.c.tries)).all()
                got += [SlotClaim(k, token, t) for k, t in taken]
        return got

    def finish(self, done: Iterable[tuple[SlotClaim, PostSample | AccountSample]],
               failed: Iterable[tuple[SlotClaim, str, float | None]] = (), *, max_tries: int = 5
               ) -> list[str]:
        """Write the samples of claims still held and mark their slots done; mark ``failed``
        ones (claim, error class, seconds before a retry, None: never) failed, or given up
        after ``max_tries`` reads. Returns the keys whose samples were written (a claim another
        collector took over writes nothing)."""
        now = self.clock.now()
        written: list[str] = []
        by_token: dict[str, dict[str, PostSample | AccountSample]] = {}
        for claim, sample in done:
            by_token.setdefault(claim.token, {})[claim.key] = sample
        with self._tx() as conn:
            for token, samples in by_token.items():
                keys = list(samples)
                for start in range(0, len(keys), 500):
                    mine = conn.execute(
                        sa.update(slots).where(slots.c.key.in_(keys[start:start + 500]),
                                               slots.c.token == token,
                                               slots.c.state == "claimed")
                        .values(state="done", error=None).returning(slots.c.key)
                    ).scalars().all()
                    rows: dict[Any, list[dict[str, Any]]] = {}
                    for key in mine:
                        sample = samples[key]
                        row = sample.model_dump()
                        row["extra"] = json.dumps(row["extra"], sort_keys=True, default=str)
                        if isinstance(sample, AccountSample):
                            row["day"] = datetime.fromisoformat(sample.day).date()
                            rows.setdefault(account_samples, []).append(row)
                        else:
                            rows.setdefault(post_samples, []).append(row)
                    for table, values in rows.items():
                        conn.execute(table.insert(), values)
                    written += mine
            for claim, error, retry_in in failed:
                conn.execute(
                    sa.update(slots).where(slots.c.key == claim.key,
                                           slots.c.token == claim.token,
                                           slots.c.state == "claimed")
                    .values(state="given_up" if retry_in is None or claim.tries >= max_tries
                            else "failed", error=error[:200],
                            retry_at=None if retry_in is None
                            else now + timedelta(seconds=retry_in)))
        return written

    def settled(self, keys: Sequence[str]) -> set[str]:
        """The keys among ``keys`` that are done or given up (nothing more to read)."""
        found: set[str] = set()
        with self._tx() as conn:
            for start in range(0, len(keys), 900):
                found.update(conn.execute(sa.select(slots.c.key).where(
                    slots.c.key.in_(keys[start:start + 900]),
                    slots.c.state.in_(("done", "given_up")))).scalars())
        return found

    def slot_states(self) -> dict[str, int]:
        """How many slots are in each state."""
        with self._tx() as conn:
            return {state: int(n) for state, n in conn.execute(
                sa.select(slots.c.state, sa.func.count()).group_by(slots.c.state))}

    # -- series ------------------------------------------------------------------------------

    def post_samples(self, *, published_from: datetime | None = None,
                     published_to: datetime | None = None, brand: str | None = None,
                     campaign: str | None = None, account: str | None = None,
                     post_id: str | None = None) -> list[PostSample]:
        """The post readings that match, oldest publication and earliest offset first."""
        t = post_samples
        query = sa.select(t)
        for column, value in ((t.c.brand, brand), (t.c.campaign, campaign),
                              (t.c.account, account), (t.c.post_id, post_id)):
            if value is not None:
                query = query.where(column == value)
        if published_from is not None:
            query = query.where(t.c.published_at >= published_from)
        if published_to is not None:
            query = query.where(t.c.published_at < published_to)
        query = query.order_by(t.c.published_at, t.c.post_id, t.c.account, t.c.offset_s)
        with self._tx() as conn:
            rows = conn.execute(query).mappings().all()
        return [PostSample(**{**row, "published_at": _aware(row["published_at"]),
                              "taken_at": _aware(row["taken_at"]),
                              "extra": json.loads(row["extra"] or "{}")}) for row in rows]

    def account_samples(self, *, day_from: str | None = None, day_to: str | None = None,
                        brand: str | None = None, account: str | None = None
                        ) -> list[AccountSample]:
        """The daily account readings that match (``day_to`` excluded), oldest first."""
        t = account_samples
        query = sa.select(t)
        if brand is not None:
            query = query.where(t.c.brand == brand)
        if account is not None:
            query = query.where(t.c.account == account)
        if day_from is not None:
            query = query.where(t.c.day >= datetime.fromisoformat(day_from).date())
        if day_to is not None:
            query = query.where(t.c.day < datetime.fromisoformat(day_to).date())
        with self._tx() as conn:
            rows = conn.execute(query.order_by(t.c.day, t.c.account)).mappings().all()
        return [AccountSample(**{**row, "day": row["day"].isoformat(),
                                 "taken_at": _aware(row["taken_at"]),
                                 "extra": json.loads(row["extra"] or "{}")}) for row in rows]


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)
