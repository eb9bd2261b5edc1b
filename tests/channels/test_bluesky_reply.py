"""A gated reply on the real Bluesky network: a patient comments, a reply that confirms care is
refused before anything reaches the PDS, a template reply is approved, sent once and threaded
under the comment (root and parent read back with getRecord)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from carecast import Config, Post
from carecast.channels.bluesky import BlueskyChannel
from carecast.publish import Publisher
from carecast.publish.retry import RetryPolicy
from carecast.records import State
from carecast.replies import Replies
from carecast.testing import FrozenClock

from .bsky_network import LONG_AGO, POST, WHEN, Account, Network

TEMPLATE = ("Thank you for reaching out. We would like to hear more: please contact our "
            "patient relations team at {contact}.")


@pytest.fixture
def publisher(bsky_network: Network, clinic: Account, tmp_path: Path) -> Iterator[Publisher]:
    config = Config.from_dict({
        "store": {"url": f"sqlite:///{tmp_path / 'carecast.db'}"},
        "brands": {"riverside": {"name": "Riverside General", "replies": {
            "contact": "555-0142", "templates": {"contact_us": TEMPLATE}}}},
        "accounts": {"clinic": {"channel": "bluesky", "brand": "riverside",
                                "handle": clinic.handle, "app_password": clinic.app_password,
                                "service_url": bsky_network.pds}},
    }, root=tmp_path, environ={})
    clock = FrozenClock(WHEN)
    with httpx.Client(timeout=30) as http, Publisher(
            config, sessions={"clinic": http}, clock=clock, entry_point_plugins=False,
            retry=RetryPolicy(clock=clock, max_attempts=2)) as made:
        yield made


def _now() -> str:
    # made "now" on the network's clock (which moves with the suite's): the AppView does not
    # notify of a record dated long before it indexes it
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def test_a_gated_reply_is_refused_then_a_template_is_approved_and_threaded(
        sky: BlueskyChannel, bsky_network: Network, clinic: Account, patient: Account,
        publisher: Publisher) -> None:
    # The clinic posts; the patient answers it with their own care (a reply to that post).
    first = sky.publish(sky.render(Post(id=f"p-{uuid.uuid4().hex[:8]}",
                                        text="Flu shots this Saturday, 9 to 1.")), "k-root")
    root = bsky_network.record(first.remote_id)
    ref = {"uri": root["uri"], "cid": root["cid"]}
    said = "Waited 3 hours in the ER last night with my son Leo. Never again."
    bsky_network.xrpc("com.atproto.repo.createRecord", patient.access, json={
        "repo": patient.did, "collection": POST, "record": {
            "$type": POST, "text": said, "createdAt": _now(),
            "reply": {"root": ref, "parent": ref}}})
    bsky_network.sync()
    [mention] = [m for m in sky.fetch_mentions(LONG_AGO) if m.text == said]
    assert (mention.kind, mention.author) == ("reply", patient.handle)
    replies = Replies(publisher)
    before = len(bsky_network.records(clinic.did))

    # A reply that confirms the person was a patient never reaches the PDS.
    unsafe = replies.compose(mention, text="So sorry about the wait in our ER, we hope Leo "
                                           "is feeling better.")
    outcome = replies.send(mention, unsafe)
    assert outcome.state == State.BLOCKED
    codes = {f.code for f in outcome.findings}
    assert {"reply.apology", "reply.echo"} <= codes
    assert all("Leo" not in f.message for f in outcome.findings)  # where, never what
    assert len(bsky_network.records(clinic.did)) == before
    assert publisher.ledger.get_post(unsafe.id).text == "[withheld]"

    # The template needs approval first; approved, it is sent once, under the comment.
    safe = replies.compose(mention, template="contact_us", author="Alex Kim")
    assert "555-0142" in safe.text
    assert replies.send(mention, safe).state == State.AWAITING_APPROVAL
    assert len(bsky_network.records(clinic.did)) == before
    assert publisher.approve(safe.id, "Dana Reyes") == ["clinic"]
    sent = replies.send(mention, safe)
    assert sent.state == State.PUBLISHED
    assert sent.receipt is not None
    held = bsky_network.record(sent.receipt.remote_id)
    assert held["value"]["text"] == safe.text
    thread = {end: {k: held["value"]["reply"][end][k] for k in ("uri", "cid")}
              for end in ("root", "parent")}
    assert thread["root"] == ref  # the clinic's post is the thread's root
    parent = bsky_network.record(mention.remote_id)
    assert thread["parent"] == {"uri": parent["uri"], "cid": parent["cid"]}

    again = replies.send(mention, safe)  # exactly once: the ledger holds the receipt
    assert again.already_published
    assert len(bsky_network.records(clinic.did)) == before + 1
    kinds = [e.kind for e in publisher.ledger.audit_events(safe.id)]
    assert {"reply", "approval", "published"} <= set(kinds)
    assert all(said not in str(e.data) for e in publisher.ledger.audit_events())
