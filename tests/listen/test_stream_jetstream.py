"""``listen --follow`` streaming Bluesky from a loopback WebSocket server shaped like Jetstream
(``subscribe?wantedCollections=...&cursor=``, commit messages with ``time_us``, replay from
the cursor), with the account's PDS faked at the HTTP layer for login and the gap's polls."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from websockets.sync.server import ServerConnection, serve

from carecast.listen import Listener
from carecast.listen.stream import REWIND_US
from carecast.publish import Publisher
from carecast.store import Ledger
from carecast.store.mentions import MentionStore

from .conftest import DID, NOW, SearchPDS, make_config
from .test_stream_mastodon import PacedClock

T0 = int(NOW.timestamp() * 1_000_000)
MINE = f"at://{DID}/app.bsky.feed.post/3kown0000001"


def commit(n: int, text: str, author: str | None = None, **record: Any) -> dict[str, Any]:
    """A Jetstream commit creating a post, ``n`` milliseconds after T0."""
    return {"did": author or f"did:plc:ann{n}", "time_us": T0 + n * 1000, "kind": "commit",
            "commit": {"rev": f"3l{n}", "operation": "create",
                       "collection": "app.bsky.feed.post", "rkey": f"3k{n:011d}",
                       "cid": f"bafy{n}", "record": {
                           "$type": "app.bsky.feed.post", "text": text,
                           "createdAt": "2026-09-21T13:59:00.000Z", "langs": ["en"],
                           **record}}}


LOG = [
    commit(1, "@riverside when is the flu clinic?", facets=[{
        "index": {"byteStart": 0, "byteEnd": 10}, "features": [
            {"$type": "app.bsky.richtext.facet#mention", "did": DID}]}]),
    commit(2, "We waited 5 hours in your ER", reply={
        "root": {"uri": MINE, "cid": "bafyown"}, "parent": {"uri": MINE, "cid": "bafyown"}}),
    commit(3, "Riverside parking is awful"),
    commit(4, "hello world"),
    commit(5, "Riverside news from us", author=DID),
    {"did": "did:plc:ann6", "time_us": T0 + 6000, "kind": "identity",
     "identity": {"did": "did:plc:ann6", "handle": "x.bsky.social", "seq": 1}},
    commit(7, "Worth reading", embed={"$type": "app.bsky.embed.record",
                                      "record": {"uri": MINE, "cid": "bafyown"}}),
]


class Jetstream:
    """Replays its log from each connection's cursor; each connection's script says how
    many messages it sends before it drops (``None``: all, then it stays open), or
    ``"big"``: an oversized frame after the log."""

    def __init__(self) -> None:
        self.log: list[dict[str, Any]] = list(LOG)
        self.scripts: list[int | str | None] = []
        self.queries: list[dict[str, list[str]]] = []
        self.stop = threading.Event()
        self.server = serve(self._handle, "127.0.0.1", 0)
        self.url = f"ws://127.0.0.1:{self.server.socket.getsockname()[1]}/subscribe"

    def _handle(self, ws: ServerConnection) -> None:
        assert ws.request is not None
        query = parse_qs(urlsplit(ws.request.path).query)
        self.queries.append(query)
        script = self.scripts.pop(0) if self.scripts else None
        cursor = int(query["cursor"][0]) if "cursor" in query else None
        replay = [m for m in self.log if cursor is None or m["time_us"] >= cursor]
        count = len(replay) if script in (None, "big") else int(script)
        for message in replay[:count]:
            ws.send(json.dumps(message))
        if script == "big":
            ws.send(json.dumps({"pad": "x" * 20_000}))
        if script is None or script == "big":
            self.stop.wait(30)
        ws.close()

    def __enter__(self) -> Jetstream:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.server.shutdown()


@pytest.fixture
def jetstream() -> Iterator[Jetstream]:
    with Jetstream() as running:
        yield running


def follow(tmp_path: Path, pds: SearchPDS, url: str, rounds: int) -> list[Any]:
    config = make_config(tmp_path, stream=True, jetstream_url=url, interval=5,
                         stream_heartbeat=3, stream_max_bytes=10_000)
    with httpx.Client(transport=pds.transport()) as http:
        publisher = Publisher(config, sessions={"sky": http}, clock=PacedClock(NOW),
                              ledger=Ledger(f"sqlite:///{tmp_path / 'carecast.db'}"),
                              entry_point_plugins=False)
        with publisher:
            return Listener(publisher).follow(rounds=rounds)


def held(tmp_path: Path) -> dict[str, tuple[str, tuple[str, ...]]]:
    store = MentionStore(Ledger(f"sqlite:///{tmp_path / 'carecast.db'}"))
    return {m.mention.author: (m.mention.kind, m.queries) for m in store.search()}


def test_jetstream_finds_mentions_replies_quotes_and_terms(
        tmp_path: Path, pds: SearchPDS, jetstream: Jetstream) -> None:
    jetstream.scripts = [2, "big", None]  # drop after two, then an oversized frame
    reports = follow(tmp_path, pds, jetstream.url, 3)
    assert held(tmp_path) == {
        "did:plc:ann1": ("mention", ()), "did:plc:ann2": ("reply", ()),
        "did:plc:ann3": ("search", ("brand",)), "did:plc:ann7": ("quote", ())}
    first, second, third = jetstream.queries[:3]
    assert first["wantedCollections"] == ["app.bsky.feed.post"]
    assert "cursor" not in first
    # each reopening resumed a few seconds before the last stored time_us
    assert second["cursor"] == [str(T0 + 2000 - REWIND_US)]
    assert third["cursor"] == [str(T0 + 7000 - REWIND_US)]
    notes = [r.message for report in reports for r in report.results
             if r.source == "jetstream:sky" and r.status == "paused"]
    assert len(notes) == 2
    for report in reports:
        text = json.dumps(report.to_dict())
        assert "waited 5 hours" not in text
        assert "x" * 100 not in text


def test_a_restart_neither_misses_nor_repeats(tmp_path: Path, pds: SearchPDS,
                                              jetstream: Jetstream) -> None:
    jetstream.scripts = [3] + [0] * 20  # three messages, then it sends nothing
    follow(tmp_path, pds, jetstream.url, 1)  # then the listener stops (as a crash would)
    store = MentionStore(Ledger(f"sqlite:///{tmp_path / 'carecast.db'}"))
    assert store.cursor("jetstream:sky") == str(T0 + 3000)
    before = len(store.search())
    jetstream.log.append(commit(9, "riverside ER wait while we were down"))
    jetstream.scripts, opened = [], len(jetstream.queries)
    follow(tmp_path, pds, jetstream.url, 2)
    assert jetstream.queries[opened]["cursor"] == [str(T0 + 3000 - REWIND_US)]
    after = held(tmp_path)
    assert len(after) == before + 2  # the quote (7) and the new post (9), each once
    assert after["did:plc:ann9"] == ("search", ("brand",))
