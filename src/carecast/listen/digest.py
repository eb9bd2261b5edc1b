"""The inbox: collected items that need a person, crisis first, PHI masked.

``inbox`` reads the mention store; ``inbox_html`` renders the digest: one self-contained
page (no script, nothing loaded from anywhere: a Content-Security-Policy says so), every
text autoescaped by Jinja2, the PHI scanner's findings masked as ``[NAME]``, ``[MRN]`` ...
and the brand's crisis protocol above everything when a crisis item is in it.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from datetime import datetime
from functools import cache

from carecast.config import Config
from carecast.listen.triage import LABELS
from carecast.store.mentions import MentionStore, PhiMark, StoredMention
from carecast.templates import environment

__all__ = ["Inbox", "InboxItem", "inbox", "inbox_html", "masked"]


@dataclass(frozen=True)
class InboxItem:
    """One item as the inbox shows it: its text cut into plain and masked parts."""

    key: str
    channel: str
    account: str
    kind: str
    author: str
    url: str | None
    created_at: datetime
    brand: str
    queries: tuple[str, ...]
    labels: tuple[str, ...]
    parts: tuple[tuple[str, bool], ...]
    #: A review's stars (1 to 5), else None.
    rating: int | None = None

    @property
    def text(self) -> str:
        """The text with PHI masked."""
        return "".join(part for part, _ in self.parts)

    def to_dict(self) -> dict[str, object]:
        """JSON-ready data (the masked text only)."""
        return {"key": self.key, "channel": self.channel, "account": self.account,
                "kind": self.kind, "author": self.author, "url": self.url,
                "created_at": self.created_at.isoformat(), "brand": self.brand,
                "queries": list(self.queries), "labels": list(self.labels), "text": self.text,
                "rating": self.rating}


@dataclass(frozen=True)
class Inbox:
    """The items in the order to handle them, and the crisis protocols to show first."""

    title: str
    made: datetime
    items: tuple[InboxItem, ...]
    protocols: tuple[tuple[str, str], ...]

    def to_dict(self) -> dict[str, object]:
        """JSON-ready data."""
        return {"title": self.title, "made": self.made.isoformat(),
                "crisis_protocols": [{"brand": b, "protocol": p} for b, p in self.protocols],
                "items": [i.to_dict() for i in self.items]}


def masked(text: str, marks: tuple[PhiMark, ...]) -> tuple[tuple[str, bool], ...]:
    """``text`` cut at the PHI findings: each finding becomes ``[CATEGORY]`` (masked)."""
    parts: list[tuple[str, bool]] = []
    at = 0
    for mark in sorted(marks, key=lambda m: (m.start, -m.end)):
        if mark.start < at or mark.end > len(text):
            continue
        if mark.start > at:
            parts.append((text[at:mark.start], False))
        parts.append((f"[{mark.category}]", True))
        at = mark.end
    if at < len(text):
        parts.append((text[at:], False))
    return tuple(parts)


def _rank(item: StoredMention) -> tuple[int, float]:
    first = min((LABELS.index(label) for label in item.labels if label in LABELS),
                default=len(LABELS))
    return first, -item.mention.created_at.timestamp()


def inbox(store: MentionStore, config: Config, *, brand: str | None = None,
          query: str | None = None, since: datetime | None = None, every: bool = False,
          limit: int = 200) -> Inbox:
    """The items that carry a triage label (``every``: all items), crisis first, then by
    label and newest first."""
    found = store.search(brand=brand, query=query, since=since, limit=1000)
    chosen = sorted((i for i in found if every or i.labels), key=_rank)[:limit]
    items = tuple(InboxItem(
        key=i.mention.key, channel=i.mention.channel, account=i.mention.account,
        kind=i.mention.kind, author=i.mention.author, url=i.mention.url,
        created_at=i.mention.created_at, brand=i.brand, queries=i.queries, labels=i.labels,
        parts=masked(i.mention.text, i.findings), rating=i.mention.rating) for i in chosen)
    crisis_brands = sorted({i.brand for i in items if "crisis" in i.labels})
    protocols = tuple((b, _protocol(config, b)) for b in crisis_brands)
    return Inbox(title=brand or "every brand", made=store.ledger.clock.now(), items=items,
                 protocols=protocols)


def _protocol(config: Config, brand: str) -> str:
    own = config.listen.brands.get(brand)
    if own and own.crisis_protocol:
        return own.crisis_protocol
    return ("No crisis protocol is configured for this brand ([listen.brands.NAME] "
            "crisis_protocol). Do not reply with care advice; escalate to the on-call "
            "clinical lead now, and give the crisis line (988 in the US).")


@cache
def _style() -> str:
    source, _, _ = environment().loader.get_source(environment(), "inbox.css")
    return str(source)


def content_security_policy() -> str:
    """Nothing loads, no script runs, only the page's own style (by hash) applies."""
    digest = base64.b64encode(hashlib.sha256(_style().encode()).digest()).decode()
    return (f"default-src 'none'; style-src 'sha256-{digest}'; img-src data:; "
            "base-uri 'none'; form-action 'none'")


def inbox_html(box: Inbox) -> str:
    """The digest page of ``box``."""
    return str(environment().get_template("inbox.html").render(
        inbox=box, style=_style(), csp=content_security_policy()))
