"""The IRB check: through the entry point, as an installed publisher runs it."""

from __future__ import annotations

import carecast_irb
import pytest

from carecast.plugins import plugin_manager
from carecast.post import Post
from carecast.records import State
from carecast.testing import fake_config

RECRUITING = ("Our cardiology team is enrolling adults with high blood pressure in a new "
              "study. Participants are compensated for their time.")


@pytest.fixture
def publisher(fake_publisher):
    return fake_publisher(["feed"], entry_point_plugins=True)


def test_the_entry_point_loads_the_check() -> None:
    assert carecast_irb in plugin_manager(entry_points=True).get_plugins()


def test_a_recruiting_post_without_the_statement_waits_for_review(publisher) -> None:
    target = publisher.preview(Post(id="r1", text=RECRUITING)).targets[0]
    assert target.state == State.AWAITING_APPROVAL
    found = [f for f in target.findings if f.code.startswith("irb")]
    assert [(f.code, f.field, f.check) for f in found] == [("irb.missing", "text", "irb")]
    assert "blood pressure" not in found[0].message


@pytest.mark.parametrize("statement", [
    "This study is IRB-approved (protocol 2026-114).",
    "Approved by the Mercy Institutional Review Board.",
    "IRB protocol #4471.",
])
def test_the_irb_statement_lets_it_pass(publisher, statement: str) -> None:
    target = publisher.preview(Post(id="r2", text=f"{RECRUITING} {statement}")).targets[0]
    assert not [f for f in target.findings if f.code.startswith("irb")]


def test_news_about_research_is_not_recruitment(publisher) -> None:
    post = Post(id="n1", text="A study from our oncology department was published today.")
    target = publisher.preview(post).targets[0]
    assert not [f for f in target.findings if f.code.startswith("irb")]


def test_the_brand_statement_and_action_come_from_the_settings(fake_publisher) -> None:
    config = fake_config(["feed"])
    config = config.model_copy(update={"checks": {"irb": {
        "statement": "Mercy research office ref", "action": "block"}}})
    publisher = fake_publisher(config=config, entry_point_plugins=True)
    blocked = publisher.preview(Post(id="r3", text=RECRUITING)).targets[0]
    assert blocked.state == State.BLOCKED
    ok = publisher.preview(Post(id="r4", text=f"{RECRUITING} Mercy research office ref 12."))
    assert not [f for f in ok.targets[0].findings if f.code.startswith("irb")]
