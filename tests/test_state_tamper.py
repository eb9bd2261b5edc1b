"""An attempt's state or a consent edited in the database is refused before anything is sent
(issue 13, item 4): the publisher acts only on what the keyed audit chain recorded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from carecast import AuditTampered, Consent, Post
from carecast.errors import OutcomeUnknown, PlatformRejected
from carecast.records import State
from carecast.store.schema import attempts, audit, audit_head, consents
from carecast.testing import FrozenClock, fake_config

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


@pytest.fixture
def publisher(fake_publisher, tmp_path: Path):
    config = fake_config(["fb", "li"], root=tmp_path,
                         store_url=f"sqlite:///{tmp_path / 'carecast.db'}")
    return fake_publisher(config=config, clock=FrozenClock(NOW))


def story(**kw) -> Post:
    return Post(**{"text": "Our new cardiac unit opens on Monday.", **kw})


def set_state(publisher, post_id: str, account: str, state: str) -> None:
    """What a database writer without the audit key can do."""
    with publisher.ledger.engine.begin() as conn:
        conn.execute(attempts.update().where(attempts.c.post_id == post_id,
                                             attempts.c.account == account)
                     .values(state=state))


def test_a_sound_store_publishes_and_retries(publisher) -> None:
    post = story()
    publisher.platform.script["fb"] = [PlatformRejected("no", channel="fake", status=400)]
    report = publisher.publish(post)
    assert {o.account: o.state for o in report.outcomes} == {
        "fb": State.FAILED, "li": State.PUBLISHED}
    assert {o.account: o.state for o in publisher.retry(post.id).outcomes} == {
        "fb": State.PUBLISHED, "li": State.PUBLISHED}
    assert len(publisher.platform.sends) == 2
    assert publisher.ledger.verify_audit() == []


def test_a_published_row_set_to_failed_is_never_resent(publisher) -> None:
    post = story()
    assert publisher.publish(post).ok
    set_state(publisher, post.id, "fb", "failed")
    with pytest.raises(AuditTampered, match=r"'fb'.*'failed' differs from the audit chain's "
                                            r"'published'"):
        publisher.retry(post.id)
    assert len(publisher.platform.sends) == 2  # nothing sent again
    assert publisher.ledger.attempt(post.id, "fb").state == State.FAILED  # left as found
    assert publisher.ledger.verify_audit() == [  # and audit verify says where
        f"post {post.id!r}, account 'fb': its state 'failed' differs from the audit chain's "
        "'published'"]


def test_a_failed_row_set_to_pending_is_refused(publisher) -> None:
    post = story(targets=["fb"])
    publisher.platform.script["fb"] = [PlatformRejected("no", channel="fake", status=400)]
    publisher.publish(post)
    set_state(publisher, post.id, "fb", "pending")
    with pytest.raises(AuditTampered, match="'pending'"):
        publisher.publish(post)
    assert publisher.platform.sends == []


def test_an_unknown_row_set_to_pending_is_refused_at_the_claim(publisher) -> None:
    post = story(targets=["fb"])
    publisher.platform.script["fb"] = [OutcomeUnknown("lost", channel="fake")] * 9
    assert publisher.publish(post).outcomes[0].state == State.UNKNOWN
    sends = len(publisher.platform.sends)
    set_state(publisher, post.id, "fb", "pending")
    with pytest.raises(AuditTampered, match="'pending'"):
        publisher.ledger.claim(post.id, "fb")
    with pytest.raises(AuditTampered):
        publisher.resume(post.id)  # a pending target would be sent without a lookup
    assert len(publisher.platform.sends) == sends


def test_a_deleted_state_event_is_caught(publisher) -> None:
    """Removing the 'published' event (and everything after it) and moving the head back
    makes the older 'send' event the newest: the checkpoint says events are missing."""
    post = story(targets=["fb"])
    assert publisher.publish(post).ok
    with publisher.ledger.engine.begin() as conn:
        seq, digest = conn.execute(
            sa.select(audit.c.seq, audit.c.hash).where(audit.c.kind == "send")).one()
        conn.execute(audit.delete().where(audit.c.seq > seq))
        conn.execute(audit_head.update().values(seq=seq, hash=digest))
    set_state(publisher, post.id, "fb", "sending")
    with pytest.raises(AuditTampered, match="after event"):
        publisher.ledger.claim(post.id, "fb", stale_after=0)


def test_a_state_event_deleted_from_the_middle_is_caught(publisher) -> None:
    post = story(targets=["fb"])
    assert publisher.publish(post).ok
    publisher.publish(story(text="A second story.", targets=["li"]))  # events after it
    with publisher.ledger.engine.begin() as conn:
        published = conn.execute(sa.select(audit.c.seq).where(
            audit.c.kind == "published", audit.c.account == "fb")).scalar_one()
        conn.execute(audit.delete().where(audit.c.seq == published))
    set_state(publisher, post.id, "fb", "sending")
    with pytest.raises(AuditTampered, match="after event"):
        publisher.ledger.claim(post.id, "fb", stale_after=0)


def test_a_forged_state_event_without_the_key_is_caught(publisher) -> None:
    post = story(targets=["fb"])
    assert publisher.publish(post).ok
    with publisher.ledger.engine.begin() as conn:
        conn.execute(audit.update().where(audit.c.kind == "published")
                     .values(kind="failed", data='{"error":"X","status":400}'))
    set_state(publisher, post.id, "fb", "failed")
    with pytest.raises(AuditTampered, match="was altered"):
        publisher.retry(post.id)
    assert len(publisher.platform.sends) == 1


def test_a_row_no_event_records_is_refused(publisher) -> None:
    post = story()
    assert publisher.publish(post, only=["fb"]).ok
    with publisher.ledger.engine.begin() as conn:
        conn.execute(attempts.insert().values(
            post_id=post.id, account="li", channel="fake", state="pending", key="k",
            tries=0, updated_at=NOW))
    with pytest.raises(AuditTampered, match=r"'li'.*recorded by no audit event"):
        publisher.publish(post)
    assert len(publisher.platform.sends) == 1


@pytest.fixture
def photo(tmp_path: Path) -> Post:
    from PIL import Image

    Image.new("RGB", (32, 24), (90, 120, 200)).save(tmp_path / "ward-tour.jpg")
    return Post(text="Meet the team of our cardiac unit.", targets=["fb"], media=[{
        "source": "ward-tour.jpg", "alt_text": "A nurse with a patient on the ward",
        "consent": "C-1"}])


def test_a_forged_consent_unrevoke_is_refused_end_to_end(publisher, photo: Post) -> None:
    ledger = publisher.ledger
    ledger.add_consent(Consent(id="C-1", initials="J.D.", channels=["fake"],
                               media=["ward-tour.jpg"], expires=NOW + timedelta(days=90)))
    revoked = ledger.revoke_consent("C-1")
    with ledger.engine.begin() as conn:
        conn.execute(consents.update().values(
            body=revoked.model_copy(update={"revoked_at": None}).model_dump_json()))
    with pytest.raises(AuditTampered, match="C-1"):
        publisher.publish(photo)
    assert publisher.platform.sends == []
    assert any("revocation differs" in p for p in ledger.verify_audit())
