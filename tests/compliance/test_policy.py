"""Policy rules from carecast.toml: banned claims, disclosures, campaign requirements."""

from __future__ import annotations

from typing import Any

import pytest

from carecast import Post, State
from carecast.compliance import policy

from ._helpers import codes, config, draft, review

CASES = [
    ("Our new knee clinic: a miracle for runners, with guaranteed results.",
     ["policy.claim:review", "policy.claim:review"]),
    ("Robotic surgery is painless and risk-free.", ["policy.claim:review"] * 2),
    ("Risk free? Our risk-free screening.", ["policy.claim:review"] * 2),
    ("There is no cure for the common cold, but rest and fluids help.", []),
    ("Results are not guaranteed; talk to your surgeon about what to expect.", []),
    ("Free flu shots this Saturday in the Main Lobby. #FluShot", []),
    ("Our curated reading list for caregivers.", []),  # 'curated' is not 'cure'
    ("Meet Ana, walking again after her hip replacement. #PatientStory",
     ["policy.testimonial:review"]),
    ("Meet Ana, walking again after her hip replacement. Individual results may vary. "
     "#PatientStory", []),
    ("Flu facts in partnership with Acme Vaccines.", ["policy.sponsored:review"]),
    ("Flu facts in partnership with Acme Vaccines. #ad", []),
    ("Sponsored by Acme Vaccines: where to get your flu shot.", []),  # the phrase discloses
]


@pytest.mark.parametrize(("text", "expected"), CASES, ids=[c[0][:40] for c in CASES])
def test_cases(text: str, expected: list[str]) -> None:
    assert codes(review(policy, draft(text))) == expected


def test_claim_findings_name_the_configured_phrase_and_place() -> None:
    found = review(policy, draft("Flu shots Saturday.", title="A miracle vaccine"))
    assert [(f.field, f.code) for f in found] == [("title", "policy.claim")]
    assert "'miracle'" in found[0].message
    assert found[0].message.startswith("title at 2:")


def test_banned_words_and_allow_list_from_the_configuration() -> None:
    cfg = config({"policy": {"banned": ["breakthrough"], "allow": ["Cure Cancer 5K"]}})
    assert codes(review(policy, draft("A breakthrough in heart care."), cfg)) == [
        "policy.claim:review"]
    assert review(policy, draft("A miracle! Join the Cure Cancer 5K on Sunday."), cfg) == []


def test_sponsored_campaign_needs_a_disclosure(fake_publisher: Any) -> None:
    cfg = config({"policy": {"campaigns": {"acme-flu": {"sponsored": True}}}})
    publisher = fake_publisher(["web"], plugins=[policy], config=cfg)
    text = "Five myths about the flu vaccine, and the facts. Get yours at any of our clinics."
    held = publisher.publish(Post(text=text, campaign="acme-flu"))
    assert held["web"].state == State.AWAITING_APPROVAL
    assert [f.code for f in held["web"].findings] == ["policy.sponsored"]
    assert publisher.publish(Post(text=text, campaign="flu-2026"))["web"].state == \
        State.PUBLISHED
    assert publisher.publish(Post(text=text + " Paid partnership with Acme.",
                                  campaign="acme-flu"))["web"].state == State.PUBLISHED


def test_campaign_requires_hashtags_and_text(fake_publisher: Any) -> None:
    cfg = config({"policy": {"campaigns": {"heart-month-2027": {
        "require_hashtags": ["HeartMonth"],
        "require_text": ["Screenings are free and need no appointment"]}}}})
    publisher = fake_publisher(["web"], plugins=[policy], config=cfg)
    post = Post(text="Free blood-pressure checks every Tuesday in February.",
                campaign="heart-month-2027")
    report = publisher.publish(post)
    assert [(f.code, f.action.value) for f in report["web"].findings] == [
        ("policy.disclaimer", "review"), ("policy.hashtag", "warn")]
    done = publisher.publish(Post(
        text="Free blood-pressure checks every Tuesday in February. Screenings are free and "
             "need no appointment.", hashtags=["HeartMonth"], campaign="heart-month-2027"))
    assert done["web"].state == State.PUBLISHED
    assert done["web"].findings == ()
