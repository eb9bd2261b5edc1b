"""Takedown through the publisher at the HTTP layer: the platform's delete call for every
part, the target ``taken_down``, an audit event each; a refused delete is reported.

X and Mastodon are mocked with ``responses`` (requests); Bluesky's SDK speaks httpx, so its
PDS is the channel tests' ``FakePDS`` behind an ``httpx.MockTransport``."""

from __future__ import annotations

import json

import httpx
import responses

from carecast.publish import Publisher
from carecast.records import State
from channels import test_bluesky as b
from channels import test_mastodon as m
from channels import test_x as x


def test_mastodon_takedown_deletes_the_whole_thread_last_part_first(tmp_path, no_sleep) -> None:
    post = m.POST.model_copy(update={"thread": ("Walk-ins welcome.",)})
    with responses.RequestsMock() as mocked, \
            Publisher(m.config(tmp_path), entry_point_plugins=False, retry=no_sleep) as pub:
        mocked.get(m.INSTANCE, json=m.instance())
        mocked.post(m.STATUSES, json=m.status("1201", "<p>a</p>", created=pub.clock.now()))
        mocked.post(m.STATUSES, json=m.status("1202", "<p>b</p>", reply_to="1201",
                                              created=pub.clock.now()))
        assert pub.publish(post)["masto"].state == State.PUBLISHED
        first = mocked.delete(f"{m.STATUSES}/1201", json={})
        second = mocked.delete(f"{m.STATUSES}/1202", json={})
        done = pub.takedown(post.id, reason="wrong clinic hours", by="comms lead")
        assert [(d.account, d.remote_id, d.error) for d in done] == [("masto", "1201", None)]
        assert first.call_count == second.call_count == 1
        deletes = [c.request.url for c in mocked.calls if c.request.method == "DELETE"]
        assert deletes == [f"{m.STATUSES}/1202", f"{m.STATUSES}/1201"]
        assert pub.status(post.id)[0].state == State.TAKEN_DOWN
        assert [e.kind for e in pub.ledger.audit_events(post.id)][-1] == "takedown"


def test_x_takedown_and_a_refused_delete_is_reported(tmp_path, no_sleep) -> None:
    with responses.RequestsMock() as mocked, \
            Publisher(x.config(tmp_path), entry_point_plugins=False, retry=no_sleep) as pub:
        mocked.post(x.TWEETS, json=x.created(), status=201, headers=x.RATE)
        assert pub.publish(x.POST)["x-main"].state == State.PUBLISHED
        mocked.delete(f"{x.TWEETS}/{x.ID1}", status=403,
                      json={"title": "Forbidden", "detail": "not allowed", "status": 403})
        refused = pub.takedown(x.POST.id, reason="leak", by="privacy officer")
        assert refused[0].removed_at is None
        assert refused[0].error is not None
        assert pub.status(x.POST.id)[0].state == State.PUBLISHED  # still up: say so
        mocked.replace(responses.DELETE, f"{x.TWEETS}/{x.ID1}", json={"data": {"deleted": True}})
        done = pub.takedown(x.POST.id, reason="leak", by="privacy officer")
        assert done[0].removed_at == pub.clock.now()
        assert pub.status(x.POST.id)[0].state == State.TAKEN_DOWN


def test_bluesky_takedown_deletes_the_whole_thread_and_audits_it(tmp_path, no_sleep) -> None:
    pds = b.FakePDS()
    post = b.POST.model_copy(update={"thread": ("Walk-ins welcome; bring your card.",)})
    with httpx.Client(transport=pds.transport()) as http, \
            Publisher(b.config(tmp_path), entry_point_plugins=False, retry=no_sleep,
                      sessions={"clinic": http}) as pub:
        outcome = pub.publish(post)["clinic"]
        assert outcome.state == State.PUBLISHED
        parts = outcome.receipt.part_ids
        assert len(parts) == 2
        assert len(pds.records) == 2
        pds.fail["com.atproto.repo.deleteRecord"] = [
            b.error(502, "UpstreamFailure", "Upstream Failure")]
        refused = pub.takedown(post.id, reason="wrong date", by="comms lead")
        assert refused[0].removed_at is None  # reported, and the row says it is still up
        assert pub.status(post.id)[0].state == State.PUBLISHED
        done = pub.takedown(post.id, reason="wrong date", by="comms lead")
        assert [(d.account, d.remote_id, d.error) for d in done] == [
            ("clinic", outcome.receipt.remote_id, None)]
        assert done[0].removed_at == pub.clock.now()
        assert pds.records == {}  # both parts are gone from the repository
        deleted = [json.loads(c.content)["rkey"] for c in pds.calls
                   if c.url.path.endswith("deleteRecord")]
        assert deleted[-2:] == [parts[1].rsplit("/", 1)[1], parts[0].rsplit("/", 1)[1]]
        assert pub.status(post.id)[0].state == State.TAKEN_DOWN
        event = pub.ledger.audit_events(post.id)[-1]
        assert (event.kind, event.data["reason"], event.data["by"]) == (
            "takedown", "wrong date", "comms lead")
        assert pub.ledger.verify_audit() == []
