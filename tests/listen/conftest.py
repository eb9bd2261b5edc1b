"""Listening on fake platforms at the HTTP layer: a Bluesky PDS behind ``httpx.MockTransport``
(searchPosts added to the channel tests' fake) and X through ``responses``."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from carecast.config import Config
from carecast.listen import Listener
from carecast.publish import Publisher
from carecast.store import Ledger
from carecast.testing import FrozenClock
from channels.test_bluesky import DID, HANDLE, PASSWORD, FakePDS

NOW = datetime(2026, 9, 21, 14, 0, tzinfo=UTC)


class SearchPDS(FakePDS):
    """The channel tests' PDS, with ``app.bsky.feed.searchPosts`` (newest first, pages of
    two, ``since`` honoured as the AppView does)."""

    def __init__(self) -> None:
        super().__init__()
        self.posts: list[dict[str, Any]] = []

    def app_bsky_feed_searchPosts(self, request: httpx.Request) -> httpx.Response:
        q = request.url.params["q"].lower()
        since = request.url.params.get("since")
        hits = sorted((p for p in self.posts if q in p["record"]["text"].lower()
                       and (since is None or p["indexedAt"] >= since)),
                      key=lambda p: p["indexedAt"], reverse=True)
        start = int(request.url.params.get("cursor") or 0)
        body: dict[str, Any] = {"posts": hits[start:start + 2]}
        if start + 2 < len(hits):
            body["cursor"] = str(start + 2)
        return httpx.Response(200, json=body)


def post(n: int, text: str, when: str, author: str = "ann.bsky.social",
         **record: Any) -> dict[str, Any]:
    """A post view as searchPosts and listNotifications hold it."""
    return {"uri": f"at://did:plc:ann{n}/app.bsky.feed.post/3k{n:011d}", "cid": f"bafy{n}",
            "author": {"did": f"did:plc:ann{n}", "handle": author},
            "record": {"$type": "app.bsky.feed.post", "text": text, "createdAt": when, **record},
            "indexedAt": when, "labels": []}


def notification(n: int, reason: str, text: str, when: str, **record: Any) -> dict[str, Any]:
    view = post(n, text, when, **record)
    return {**view, "reason": reason, "isRead": False}


@pytest.fixture
def pds() -> SearchPDS:
    return SearchPDS()


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(NOW)


def make_config(tmp_path: Path, **listen: Any) -> Config:
    return Config.from_dict({
        "store": {"url": f"sqlite:///{tmp_path / 'carecast.db'}"},
        "brands": {"riverside": {"name": "Riverside General", "phone": ["217-555-0100"]}},
        "accounts": {"sky": {"channel": "bluesky", "brand": "riverside", "handle": HANDLE,
                             "app_password": PASSWORD},
                     "alerts": {"channel": "outbox", "path": str(tmp_path / "alerts.jsonl")}},
        "listen": {"queries": {"brand": {"terms": ["riverside"], "brand": "riverside"},
                               "rival": {"terms": ["lakeside"], "kind": "competitor",
                                         "brand": "riverside"}},
                   "stream": False, **listen},  # streaming: tests/listen/test_stream.py
    }, root=tmp_path)


@pytest.fixture
def listener(tmp_path: Path, pds: SearchPDS, clock: FrozenClock) -> Iterator[Listener]:
    with httpx.Client(transport=pds.transport()) as http:
        publisher = Publisher(make_config(tmp_path), sessions={"sky": http}, clock=clock,
                              ledger=Ledger(f"sqlite:///{tmp_path / 'carecast.db'}"),
                              entry_point_plugins=False)
        with publisher:
            yield Listener(publisher)


__all__ = ["DID", "NOW", "SearchPDS", "make_config", "notification", "post"]
