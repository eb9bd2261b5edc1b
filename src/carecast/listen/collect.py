"""Collection: each account's own mentions, replies, quotes and comments, and each
``[listen.queries]`` entry searched on every account that can search, into the mention store.

Each *source* (an account's own mentions, or one query on one account) keeps a cursor in the
store, written in the same transaction as the items it read: a crash before the commit
leaves the cursor where it was (the items are read again, and their keys store them once), a
crash after it loses nothing. A rate limit pauses only its source until the platform's reset.
X bills each post read: its mentions and searches read at most ``[listen] x_monthly_reads``
a month per account, counted in the store, and are refused past it.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal

from carecast.channels import Channel
from carecast.compliance.phi_guard import PhiSettings, allowed_terms
from carecast.config import CheckSettings, Config, ListenQuery
from carecast.errors import ChannelError, ConfigurationError, RateLimited
from carecast.listen.triage import phi_marks, triage
from carecast.post import Mention
from carecast.store.mentions import MentionStore, StoredMention

if TYPE_CHECKING:
    from carecast.publish import Publisher

__all__ = ["ListenReport", "Listener", "SourceResult"]

#: How long a source rests after a rate limit that gave no reset.
DEFAULT_PAUSE = 60.0
#: Channels whose search is billed per post read, and the fewest posts a search page reads.
PAID_SEARCH = {"x": 10}


@dataclass(frozen=True)
class SourceResult:
    """What one round read from one source."""

    source: str
    account: str
    status: Literal["ok", "paused", "refused", "failed"]
    new: int = 0
    read: int = 0
    message: str = ""

    def to_dict(self) -> dict[str, object]:
        """The result as JSON-ready data (no item text)."""
        return {"source": self.source, "account": self.account, "status": self.status,
                "new": self.new, "read": self.read, "message": self.message}


@dataclass
class ListenReport:
    """One round of collection: a result per source."""

    results: list[SourceResult] = field(default_factory=list)
    #: Items purged past their retention before the round, by brand.
    purged: dict[str, int] = field(default_factory=dict)

    @property
    def new(self) -> int:
        """Items stored for the first time."""
        return sum(r.new for r in self.results)

    def to_dict(self) -> dict[str, object]:
        """The report as JSON-ready data."""
        return {"new": self.new, "purged": dict(self.purged),
                "sources": [r.to_dict() for r in self.results]}


@dataclass(frozen=True)
class _Source:
    name: str
    account: str
    query: str | None = None
    spec: ListenQuery | None = None


class Listener:
    """Collects into the mention store, on the publisher's channels, store and clock."""

    def __init__(self, publisher: Publisher) -> None:
        self.publisher = publisher
        self.config: Config = publisher.config
        self.clock = publisher.clock
        self.store = MentionStore(publisher.ledger)

    def __repr__(self) -> str:
        return f"<Listener {len(self.sources())} sources>"

    def sources(self) -> list[str]:
        """Every source's name: ``own:ACCOUNT`` and ``search:ACCOUNT:QUERY``."""
        return [s.name for s in self._sources()]

    def _sources(self) -> list[_Source]:
        found: list[_Source] = []
        for name, account in sorted(self.config.accounts.items()):
            if account.enabled and _can(self._class(name), "fetch_mentions"):
                found.append(_Source(f"own:{name}", name))
        for query, spec in sorted(self.config.listen.queries.items()):
            for name in self._searchers(spec):
                found.append(_Source(f"search:{name}:{query}", name, query, spec))
        return found

    def _class(self, account: str) -> type[Channel] | None:
        from carecast.channels.registry import get_channel_class

        try:
            return get_channel_class(self.config.accounts[account].channel)
        except Exception:  # an unknown channel: `carecast doctor` reports it
            return None

    def _searchers(self, spec: ListenQuery) -> list[str]:
        if spec.accounts:
            return [a for a in spec.accounts if a in self.config.accounts]
        return [name for name, account in sorted(self.config.accounts.items())
                if account.enabled and (spec.brand is None or account.brand == spec.brand)
                and _can(self._class(name), "search_mentions")]

    def purge(self) -> dict[str, int]:
        """Delete the items past their brand's retention (``[listen] retention_days``, a
        brand's own in ``[listen.brands.NAME]``); the counts by brand (audited)."""
        listen = self.config.listen
        brands = set(listen.brands) | set(self.config.brands)
        return self.store.purge({b: listen.retention(b) for b in brands}, listen.retention_days)

    def run_once(self, *, on_result: Callable[[SourceResult], None] | None = None,
                 skip: Collection[str] = ()) -> ListenReport:
        """Purge what is past its retention, then read every source once but those in
        ``skip`` (a live stream's; each failure reported, the others go on)."""
        report = ListenReport(purged=self.purge())
        for source in self._sources():
            if source.name in skip:
                continue
            result = self._read(source)
            report.results.append(result)
            if on_result is not None:
                on_result(result)
        return report

    def follow(self, *, rounds: int | None = None,
               on_result: Callable[[SourceResult], None] | None = None) -> list[ListenReport]:
        """Read every source every ``[listen] interval`` seconds, ``rounds`` times (None:
        until interrupted), checking spikes after each round. Mastodon and Bluesky accounts
        stream in between instead (``[listen] stream``; see ``carecast.listen.stream``)."""
        from carecast.listen.spikes import check_spikes
        from carecast.listen.stream import StreamFollower

        if self.config.listen.stream:
            follower = StreamFollower(self)
            if follower.streams:
                return follower.follow(rounds=rounds, on_result=on_result)

        reports: list[ListenReport] = []
        done = 0
        try:
            while rounds is None or done < rounds:
                reports.append(self.run_once(on_result=on_result))
                check_spikes(self.publisher, self.store)
                done += 1
                if rounds is None or done < rounds:
                    self.clock.sleep(self.config.listen.interval)
        except KeyboardInterrupt:  # Ctrl-C: what each round stored is committed already
            pass
        return reports

    def _read(self, source: _Source) -> SourceResult:
        now = self.clock.now()
        paused = self.store.paused_until(source.name)
        if paused is not None and paused > now:
            return SourceResult(source.name, source.account, "paused", message=(
                f"rate limited until {paused.isoformat(timespec='seconds')}"))
        channel = self.publisher.channel(source.account)
        try:
            if source.spec is None:
                return self._own(source, channel, now)
            return self._search(source, channel)
        except RateLimited as exc:
            wait = exc.retry_after if exc.retry_after is not None else DEFAULT_PAUSE
            until = now + timedelta(seconds=max(1.0, wait))
            self.store.pause(source.name, until)
            return SourceResult(source.name, source.account, "paused", message=(
                f"rate limited; resumes after {until.isoformat(timespec='seconds')}"))
        except ChannelError as exc:
            return SourceResult(source.name, source.account, "failed", message=str(exc))

    def _spent(self, source: _Source, channel: Channel) -> SourceResult | None:
        """The refusal when a paid channel's monthly reads are spent (less than a page left)."""
        budget = self.config.listen.x_monthly_reads
        spent = self.store.reads(source.account)
        if spent + PAID_SEARCH[channel.name] > budget:
            return SourceResult(source.name, source.account, "refused", message=(
                f"the {channel.name} read budget is spent ({spent} of {budget} this "
                "month); raise [listen] x_monthly_reads to read more"))
        return None

    def _own(self, source: _Source, channel: Channel, now: datetime) -> SourceResult:
        paid = channel.name in PAID_SEARCH
        refused = self._spent(source, channel) if paid else None
        if refused is not None:
            return refused
        cursor = self.store.cursor(source.name)
        since = datetime.fromisoformat(cursor) if cursor else \
            now - timedelta(days=self.config.listen.lookback_days)
        found = channel.fetch_mentions(since)
        newest = max((m.created_at for m in found), default=None)
        marker = max(newest, since).isoformat() if newest is not None else cursor
        new = self.store.save([self._stored(m, source) for m in found], source=source.name,
                              cursor=marker, reads=len(found) if paid else 0,
                              account=source.account)
        return SourceResult(source.name, source.account, "ok", new=new, read=len(found))

    def _search(self, source: _Source, channel: Channel) -> SourceResult:
        assert source.spec is not None
        assert source.query is not None
        paid = channel.name in PAID_SEARCH
        limit: int | None = None
        if paid:
            refused = self._spent(source, channel)
            if refused is not None:
                return refused
            limit = self.config.listen.x_monthly_reads - self.store.reads(source.account)
        found, marker = channel.search_mentions(source.spec.terms, self.store.cursor(
            source.name), limit=limit)
        items = [self._stored(m.model_copy(update={"kind": "search", "query": source.query}),
                              source) for m in found]
        new = self.store.save(items, source=source.name, cursor=marker,
                              reads=len(found) if paid else 0, account=source.account)
        return SourceResult(source.name, source.account, "ok", new=new, read=len(found))

    def _stored(self, mention: Mention, source: _Source) -> StoredMention:
        account = self.config.accounts[source.account]
        brand_name = (source.spec.brand if source.spec and source.spec.brand else
                      account.brand) or ""
        brand = self.config.brands.get(brand_name)
        try:
            settings = PhiSettings.of(CheckSettings(self.config, brand=brand_name or None))
        except ConfigurationError:
            settings = PhiSettings()
        marks = phi_marks(mention.text, allowed_terms(brand, settings))
        competitor = source.spec is not None and source.spec.kind == "competitor"
        return StoredMention(mention=mention, brand=brand_name,
                             queries=(source.query,) if source.query else (),
                             findings=marks, labels=triage(mention.text, marks,
                                                           competitor=competitor))


def _can(cls: type[Channel] | None, method: str) -> bool:
    """Whether the channel class implements ``method`` (the base only refuses)."""
    return cls is not None and getattr(cls, method) is not getattr(Channel, method)
