"""Listening on the real Bluesky network (the reference PDS and AppView on 127.0.0.1): the
patient mentions, replies to and quotes the clinic, ``carecast listen`` collects them, a
``[listen.queries]`` keyword is found by ``app.bsky.feed.searchPosts``, and a restart repeats
nothing."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from carecast.channels.bluesky import BlueskyChannel
from carecast.clock import SystemClock
from carecast.post import Post
from carecast.store import Ledger
from carecast.store.mentions import MentionStore
from test_cli import run

from .bsky_network import POST, Account, Network
from .test_bluesky_network import key


def _config(tmp_path: Path, network: Network, clinic: Account, word: str) -> Path:
    path = tmp_path / "carecast.toml"
    path.write_text(f"""
[store]
url = "sqlite:///{tmp_path / 'carecast.db'}"

[brands.riverside]
name = "Riverside General"

[accounts.clinic]
channel = "bluesky"
brand = "riverside"
handle = "{clinic.handle}"
app_password = "{clinic.app_password}"
service_url = "{network.pds}"

[listen.queries.flu]
terms = ["{word}"]
brand = "riverside"
""")
    return path


def _say(network: Network, who: Account, record: dict[str, object]) -> dict[str, str]:
    # `carecast listen` reads back from the machine's clock and keeps 90 days: everything here
    # is made "now", whatever date the machine (and the network, which moves with it) is at.
    stamp = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    made: dict[str, str] = network.xrpc("com.atproto.repo.createRecord", who.access, json={
        "repo": who.did, "collection": POST, "record": {"$type": POST, "createdAt": stamp,
                                                        **record}})
    return made


def test_listen_collects_mentions_replies_quotes_and_a_keyword_once(
        tmp_path: Path, bsky_network: Network, clinic: Account, patient: Account,
        connect: Callable[..., BlueskyChannel]) -> None:
    word = f"fluclinic{uuid.uuid4().hex[:6]}"  # unique to this run: the network is shared
    sky = connect(clock=SystemClock())
    own = sky.publish(sky.render(Post(
        id=key(), text=f"Flu shots at Riverside from Monday. #{word}")), key())
    held = bsky_network.record(own.remote_id)
    ref = {"uri": held["uri"], "cid": held["cid"]}
    mention = f"@{clinic.handle} is the {word} open on Sunday?"
    _say(bsky_network, patient, {"text": mention, "facets": [{
        "index": {"byteStart": 0, "byteEnd": len(clinic.handle) + 1},
        "features": [{"$type": "app.bsky.richtext.facet#mention", "did": clinic.did}]}]})
    _say(bsky_network, patient, {"text": "Waited three hours last time, terrible.",
                                 "reply": {"root": ref, "parent": ref}})
    _say(bsky_network, patient, {"text": "Worth sharing",
                                 "embed": {"$type": "app.bsky.embed.record", "record": ref}})
    bsky_network.sync()
    config = _config(tmp_path, bsky_network, clinic, word)

    first = json.loads(run("--config", config, "listen", "--json").stdout)
    by_source = {s["source"]: s for s in first["sources"]}
    assert by_source["own:clinic"]["status"] == "ok", by_source
    assert by_source["own:clinic"]["new"] == 3
    assert by_source["search:clinic:flu"]["status"] == "ok", by_source
    # The clinic's own post is new; the mention is held already and gains the query.
    assert by_source["search:clinic:flu"]["new"] >= 1

    with Ledger(f"sqlite:///{tmp_path / 'carecast.db'}") as ledger:
        store = MentionStore(ledger)
        items = {i.mention.text: i for i in store.search()}
        assert items[mention].mention.kind == "mention"
        assert items[mention].queries == ("flu",)
        assert items["Waited three hours last time, terrible."].mention.kind == "reply"
        assert items["Waited three hours last time, terrible."].mention.parent_id == \
            held["uri"]
        assert "complaint" in items["Waited three hours last time, terrible."].labels
        assert items["Worth sharing"].mention.kind == "quote"
        assert items["Worth sharing"].mention.parent_id == held["uri"]
        found = store.search(query="flu")
        assert {i.mention.text for i in found} >= {
            mention, f"Flu shots at Riverside from Monday. #{word}"}
        assert all(i.mention.channel == "bluesky" for i in found)
        total = len(store.search())

    again = json.loads(run("--config", config, "listen", "--json").stdout)
    assert again["new"] == 0  # a restart repeats nothing
    with Ledger(f"sqlite:///{tmp_path / 'carecast.db'}") as ledger:
        assert len(MentionStore(ledger).search()) == total

    inbox = json.loads(run("--config", config, "inbox", "--json").stdout)
    assert any(i["text"] == "Waited three hours last time, terrible." for i in inbox["items"])

