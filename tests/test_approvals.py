"""Approval chains: who signs which step, in order, on which exact draft, by when."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from carecast import ApprovalRefused, InvalidPost, Post
from carecast.config import ApprovalConfig, ApprovalStep
from carecast.records import State
from carecast.testing import FrozenClock, fake_config

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
CHAIN = ApprovalConfig(
    steps=[ApprovalStep(name="communications", approvers=["Dana Reyes", "Sam Ortiz"]),
           ApprovalStep(name="privacy", approvers=["Lee Chan", "Sam Ortiz"])],
    campaigns=["patient-stories"], deadline=3600)


@pytest.fixture
def publisher(fake_publisher):
    config = fake_config(["fb", "li"]).model_copy(update={"approvals": CHAIN})
    return fake_publisher(config=config, clock=FrozenClock(NOW))


def story(**kw) -> Post:
    values = {"text": "Maria's journey back to running after knee surgery.",
              "campaign": "patient-stories", "author": "Alex Kim"}
    values.update(kw)
    return Post(**values)


def states(report) -> dict[str, State]:
    return {o.account: o.state for o in report.outcomes}


def test_a_two_step_chain_then_publish(publisher) -> None:
    post = story()
    assert states(publisher.publish(post)) == {"fb": State.AWAITING_APPROVAL,
                                               "li": State.AWAITING_APPROVAL}
    [pending] = {p.next_step for p in publisher.pending()}
    assert pending == "communications"
    assert publisher.approve(post.id, "Dana Reyes", note="tone ok") == ["fb", "li"]
    assert states(publisher.resume(post.id)) == {"fb": State.AWAITING_APPROVAL,
                                                 "li": State.AWAITING_APPROVAL}
    assert {p.next_step for p in publisher.pending()} == {"privacy"}
    assert publisher.approve(post.id, "Lee Chan", step="privacy") == ["fb", "li"]
    assert states(publisher.resume(post.id)) == {"fb": State.PUBLISHED, "li": State.PUBLISHED}
    assert publisher.pending() == []
    kinds = [(e.kind, e.data.get("step")) for e in publisher.ledger.audit_events(post.id)
             if e.account == "fb"]
    assert ("approval", "communications") in kinds
    assert ("approval", "privacy") in kinds
    assert kinds[-1] == ("published", None)


def test_posts_outside_the_policy_need_no_approval(publisher) -> None:
    # A flu-clinic post: "Maria's ... knee surgery" would be a patient story, which the PHI
    # guard holds on its own.
    flu = story(campaign="flu-2026", text="Flu shots this Saturday in the main lobby.")
    assert states(publisher.publish(flu)) == {
        "fb": State.PUBLISHED, "li": State.PUBLISHED}


def test_the_author_cannot_approve(publisher) -> None:
    post = story(author="Dana Reyes")
    publisher.publish(post)
    with pytest.raises(ApprovalRefused, match="someone else"):
        publisher.approve(post.id, "dana  reyes")
    assert {p.next_step for p in publisher.pending()} == {"communications"}


def test_one_person_cannot_sign_two_steps(publisher) -> None:
    post = story()
    publisher.publish(post)
    publisher.approve(post.id, "Sam Ortiz")
    with pytest.raises(ApprovalRefused, match="different person"):
        publisher.approve(post.id, "Sam Ortiz")


def test_only_listed_people_sign_a_step(publisher) -> None:
    post = story()
    publisher.publish(post)
    with pytest.raises(ApprovalRefused, match="not listed for the communications step"):
        publisher.approve(post.id, "Lee Chan")
    assert publisher.approve(post.id, "Lee Chan", step="privacy") == []  # not its turn yet


def test_an_edit_voids_the_approvals(publisher) -> None:
    post = story(id="story-1")
    publisher.publish(post)
    publisher.approve(post.id, "Dana Reyes")
    publisher.approve(post.id, "Lee Chan")
    edited = story(id="story-1", text="Maria's journey back to running, six months on.")
    assert states(publisher.publish(edited)) == {"fb": State.AWAITING_APPROVAL,
                                                 "li": State.AWAITING_APPROVAL}
    assert {p.next_step for p in publisher.pending()} == {"communications"}
    assert publisher.platform.sends == []


def test_a_rejection_holds_the_draft_for_good(publisher) -> None:
    post = story()
    publisher.publish(post)
    with pytest.raises(InvalidPost, match="say why"):
        publisher.reject(post.id, "Dana Reyes", note=" ")
    assert publisher.reject(post.id, "Dana Reyes", note="needs the patient's consent form",
                            accounts=["li"]) == ["li"]
    report = publisher.resume(post.id)
    assert report["li"].state == State.BLOCKED
    assert "rejected by Dana Reyes at the communications step" in report["li"].error.message
    assert "consent form" not in report["li"].error.message  # the note is stored, not shown
    assert report["fb"].state == State.AWAITING_APPROVAL


def test_a_scheduled_post_whose_approval_misses_its_deadline_is_not_published(
        publisher) -> None:
    post = story(schedule=NOW + timedelta(hours=3))
    publisher.publish(post)
    publisher.approve(post.id, "Dana Reyes")
    publisher.clock.set(NOW + timedelta(hours=2, minutes=1))  # due 1 h before: missed
    with pytest.raises(ApprovalRefused, match="due by"):
        publisher.approve(post.id, "Lee Chan")
    publisher.clock.set(NOW + timedelta(hours=3))
    report = publisher.resume(post.id)
    assert states(report) == {"fb": State.BLOCKED, "li": State.BLOCKED}
    message = report["fb"].error.message
    assert "not complete by" in message
    assert "privacy step" in message
    assert "new schedule" in message
    assert publisher.platform.sends == []


def test_an_approval_completed_before_its_deadline_goes_out_at_its_time(publisher) -> None:
    """The worker's pass, not a person's ``resume``, sends it, and not a moment early."""
    post = story(schedule=NOW + timedelta(hours=3))
    publisher.publish(post)
    publisher.clock.set(NOW + timedelta(hours=1))
    publisher.approve(post.id, "Dana Reyes")
    publisher.clock.set(NOW + timedelta(hours=1, minutes=59))  # the deadline is 2 h from now
    publisher.approve(post.id, "Lee Chan")
    publisher.run_due()
    assert publisher.platform.sends == []  # approved, but its time has not come
    publisher.clock.set(NOW + timedelta(hours=3))
    publisher.run_due()
    assert {a.account: a.state for a in publisher.status(post.id)} == {
        "fb": State.PUBLISHED, "li": State.PUBLISHED}
    assert len(publisher.platform.sends) == 2


def test_a_review_finding_needs_the_chain_too(fake_publisher) -> None:
    from carecast import Action, Finding, hookimpl

    class Reviewer:
        @hookimpl
        def carecast_review_post(self, post):
            return [Finding(action=Action.REVIEW, code="phi.name", field="text",
                            message="text at 0: a name in a patient context")]

    publisher = fake_publisher(["fb"], plugins=[Reviewer()])
    post = Post(text="A story", author="Alex Kim")
    assert states(publisher.publish(post)) == {"fb": State.AWAITING_APPROVAL}
    assert publisher.approve(post.id, "Dana Reyes") == ["fb"]
    assert states(publisher.resume(post.id)) == {"fb": State.PUBLISHED}


def test_forged_approval_rows_make_resume_refuse_and_keep_the_post_held(publisher) -> None:
    from carecast import AuditTampered
    from carecast.store.schema import approvals, attempts

    post = story()
    publisher.publish(post)
    with publisher.ledger.engine.begin() as conn:  # a database writer, not carecast
        hashes = dict(conn.execute(sa.select(attempts.c.account, attempts.c.draft_hash)).all())
        for account, draft_hash in hashes.items():
            for step, who in (("communications", "Dana Reyes"), ("privacy", "Lee Chan")):
                conn.execute(approvals.insert().values(
                    post_id=post.id, account=account, draft_hash=draft_hash,
                    approver=who, note="", at=NOW, step=step, decision="approve"))
    with pytest.raises(AuditTampered):
        publisher.resume(post.id)
    assert {a.state for a in publisher.ledger.attempts(post.id)} == {State.AWAITING_APPROVAL}
    assert any("not in the audit chain" in p for p in publisher.ledger.verify_audit())
