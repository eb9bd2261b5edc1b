"""The outbox channel: one JSON line per event, whole lines under concurrency, lookup/delete."""

from __future__ import annotations

import json
import multiprocessing
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from carecast.channels import registry
from carecast.channels.outbox import OutboxChannel, OutboxOptions
from carecast.config import AccountConfig, Config
from carecast.errors import ConfigurationError
from carecast.post import Media, Post
from carecast.publish import Publisher
from carecast.publish.publisher import idempotency_key
from carecast.records import State

BIG = "Flu clinic news. " * 2000  # ~34 kB: larger than any write buffer


def outbox(root: Path, path: str = "queue/outbox.jsonl") -> OutboxChannel:
    return OutboxChannel("queue", OutboxOptions(path=path), root=root)


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def append_many(root: str, worker: int, count: int, start) -> None:
    """Publish ``count`` big drafts from one process (run by multiprocessing)."""
    channel = outbox(Path(root))
    start.wait(timeout=60)
    for i in range(count):
        post = Post(id=f"w{worker}-{i}", text=f"{worker}:{i} {BIG}")
        channel.publish(channel.render(post), f"key-{worker}-{i}")


def test_declared_limits() -> None:
    limits = OutboxChannel.limits()
    assert limits["max_text"] is None
    assert limits["media_kinds"] == ["audio", "gif", "image", "video"]
    assert limits["max_media"] >= 20
    assert OutboxChannel.capabilities() == {"lookup"}
    assert registry.get_channel_class("outbox") is OutboxChannel


def test_publish_appends_one_line_per_draft(tmp_path) -> None:
    channel = outbox(tmp_path)
    post = Post(id="p1", title="Visiting hours", text="New visiting hours from Monday.",
                thread=("Details inside.",), hashtags=["news"],
                media=[Media(source="https://cdn.example.org/ward.jpg", alt_text="A ward")])
    draft = channel.render(post)
    assert [p.text for p in draft.parts] == ["New visiting hours from Monday.\n\n#news",
                                             "Details inside."]
    before = datetime.now(UTC)
    receipt = channel.publish(draft, "cc-1")
    assert receipt.remote_id == "cc-1"
    assert receipt.channel == "outbox"
    assert receipt.account == "queue"
    assert receipt.post_id == "p1"
    assert receipt.published_at >= before
    channel.publish(channel.render(Post(id="p2", text="Second.")), "cc-2")
    raw = (tmp_path / "queue" / "outbox.jsonl").read_text(encoding="utf-8")
    assert raw.endswith("\n")
    first, second = lines(tmp_path / "queue" / "outbox.jsonl")
    assert set(first) == {"event", "key", "at", "draft"}
    assert first["event"] == "publish"
    assert first["key"] == "cc-1"
    assert datetime.fromisoformat(first["at"]) == receipt.published_at
    assert first["draft"] == draft.model_dump(mode="json")
    assert second["key"] == "cc-2"


def test_non_ascii_text_stays_readable(tmp_path) -> None:
    channel = outbox(tmp_path)
    channel.publish(channel.render(Post(id="p", text="Vacunación gratis ❤")), "k")
    raw = (tmp_path / "queue" / "outbox.jsonl").read_text(encoding="utf-8")
    assert "Vacunación gratis ❤" in raw


def test_lookup_and_delete(tmp_path) -> None:
    channel = outbox(tmp_path)
    draft = channel.render(Post(id="p1", text="Hello."))
    assert channel.lookup("cc-1", draft) is None  # no file yet
    receipt = channel.publish(draft, "cc-1")
    channel.publish(channel.render(Post(id="p2", text="Other.")), "cc-2")
    assert channel.lookup("cc-1", draft) == receipt
    assert channel.lookup("cc-3", draft) is None
    channel.delete(receipt)
    last = lines(tmp_path / "queue" / "outbox.jsonl")[-1]
    assert last["event"] == "delete"
    assert last["key"] == last["remote_id"] == "cc-1"
    assert channel.lookup("cc-1", draft) is None
    assert channel.lookup("cc-2", draft) is not None
    again = channel.publish(draft, "cc-1")  # a publish after the delete counts again
    assert channel.lookup("cc-1", draft) == again


def test_a_torn_last_line_does_not_swallow_the_next(tmp_path) -> None:
    channel = outbox(tmp_path)
    file = tmp_path / "queue" / "outbox.jsonl"
    file.parent.mkdir()
    file.write_text('{"event": "publish", "key": "cc-0", "at": "2026-', encoding="utf-8")
    draft = channel.render(Post(id="p1", text="Hello."))
    channel.publish(draft, "cc-1")
    raw = file.read_text(encoding="utf-8").splitlines()
    assert len(raw) == 2
    assert json.loads(raw[1])["key"] == "cc-1"
    assert channel.lookup("cc-1", draft) is not None
    assert channel.lookup("cc-0", draft) is None


def test_paths_are_relative_to_the_config_folder(tmp_path) -> None:
    channel = OutboxChannel.from_config(AccountConfig(name="queue", channel="outbox"),
                                        root=tmp_path / "conf")
    assert channel.file == tmp_path / "conf" / "outbox.jsonl"
    assert outbox(tmp_path / "x", str(tmp_path / "abs.jsonl")).file == tmp_path / "abs.jsonl"
    with pytest.raises(ConfigurationError, match="unknown option for the outbox channel"):
        OutboxChannel.from_config(AccountConfig(name="queue", channel="outbox",
                                                options={"file": "x"}))


def test_profile_is_the_account_name(tmp_path) -> None:
    profile = outbox(tmp_path).fetch_profile()
    assert (profile.channel, profile.account, profile.display_name) == (
        "outbox", "queue", "queue")


def test_threads_never_interleave_lines(tmp_path) -> None:
    channel = outbox(tmp_path)
    barrier = threading.Barrier(8)

    def work(worker: int) -> None:
        barrier.wait()
        for i in range(25):
            post = Post(id=f"t{worker}-{i}", text=f"{worker}:{i} {BIG}")
            channel.publish(channel.render(post), f"key-{worker}-{i}")

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    events = lines(tmp_path / "queue" / "outbox.jsonl")
    assert sorted(e["key"] for e in events) == sorted(
        f"key-{w}-{i}" for w in range(8) for i in range(25))
    for event in events:
        worker, i = event["key"].split("-")[1:]
        assert event["draft"]["parts"][0]["text"] == f"{worker}:{i} {BIG.strip()}"


def test_processes_never_interleave_lines(tmp_path) -> None:
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Event()
    procs = [ctx.Process(target=append_many, args=(str(tmp_path), n, 60, start))
             for n in range(2)]
    for proc in procs:
        proc.start()
    start.set()
    for proc in procs:
        proc.join(timeout=120)
        assert proc.exitcode == 0
    events = lines(tmp_path / "queue" / "outbox.jsonl")
    assert len(events) == 120
    assert {e["key"] for e in events} == {f"key-{w}-{i}" for w in range(2) for i in range(60)}
    for event in events:
        worker, i = event["key"].split("-")[1:]
        assert event["draft"]["parts"][0]["text"] == f"{worker}:{i} {BIG.strip()}"


def test_publisher_end_to_end(tmp_path, no_sleep) -> None:
    config = Config.from_dict({
        "brands": {"riverside": {"name": "Riverside General"}},
        "accounts": {"queue": {"channel": "outbox", "brand": "riverside",
                               "path": "out/outbox.jsonl"}},
    }, root=tmp_path, environ={})
    post = Post(id="visiting-hours", text="New visiting hours start Monday.")
    with Publisher(config, entry_point_plugins=False, retry=no_sleep) as publisher:
        report = publisher.publish(post)
        assert report.ok
        receipt = report["queue"].receipt
        key = idempotency_key(post.id, "queue")
        assert report["queue"].state == State.PUBLISHED
        assert receipt.remote_id == key
        assert publisher.publish(post)["queue"].already_published
    (event,) = lines(tmp_path / "out" / "outbox.jsonl")  # published once, not twice
    assert event["key"] == key
    assert event["draft"]["post_id"] == "visiting-hours"
    assert event["draft"]["parts"][0]["text"] == "New visiting hours start Monday."
