"""Educate, don't diagnose; safe messaging. Realistic hospital posts, one table of cases."""

from __future__ import annotations

from typing import Any

import pytest

from carecast import ChannelOverride, Post, State
from carecast.compliance import advice

from ._helpers import codes, config, draft, review

# (post text, the findings the advice check makes)
CASES = [
    # direct advice aimed at the reader: held for a person's approval
    ("Tired and thirsty all the time? You have diabetes: come and see us.",
     ["advice.diagnosis:review"]),
    ("It sounds like you have strep throat, so rest up this weekend.",
     ["advice.diagnosis:review"]),
    ("You should take 500 mg of amoxicillin three times a day for a sore throat.",
     ["advice.dosing:review"]),
    ("Back pain after gardening? Take 2 tablets of ibuprofen every 4 hours.",
     ["advice.dosing:review"]),
    ("Muscle aches on a statin? Stop taking your statin for a week and see.",
     ["advice.treatment:review"]),
    ("You don't need antibiotics for a cold.", ["advice.treatment:review"]),
    # general education passes
    ("Adults need 600 IU of vitamin D a day; most get it from food and sunlight.", []),
    ("If you have chest pain, call 911.", []),
    ("Don't stop taking your medicine without talking to your doctor first.", []),
    ("Antibiotics do not work against viruses such as the flu. Ask your pharmacist.", []),
    ("Free flu shots this Saturday, 9 a.m. to 3 p.m., in the Main Lobby.", []),
    ("Our patient was diagnosed with cancer in 2019 and rang the bell today.", []),
    ("You have questions about the new visiting hours; we have answers.", []),
    ("Every Tuesday our nurses offer free blood-pressure checks. Talk with your own "
     "doctor about what your numbers mean for you.", []),
    # safe messaging
    ("September is Suicide Prevention Month. You are not alone; reach out to someone.",
     ["advice.crisis_line:block"]),
    ("September is Suicide Prevention Month. If you are struggling, call or text 988, the "
     "Suicide & Crisis Lifeline.", []),
    ("Self-harm is more common among teens than many parents think. Call or text 9-8-8.", []),
    ("He died by hanging last spring; his family now speaks about suicide. Call 988.",
     ["advice.method:block"]),
    ("Know the signs of a stroke: face drooping, arm weakness, speech difficulty.",
     ["advice.emergency:review"]),
    ("Know the signs of a stroke: BE FAST. Time to call 911.", []),
    ("Heart attack symptoms can be subtle in women. Call emergency services at once.", []),
    ("February is Heart Month: small changes lower the risk of a heart attack.", []),
    # a post giving the crisis line (or a content warning) is about suicide, in any words
    ("She survived jumping off the river bridge and now mentors teens. Call or text 988.",
     ["advice.method:block"]),
    ("TW. A neighbour swallowed 30 of her husband's painkillers last winter.",
     ["advice.method:block"]),
    ("Hanging out with friends helps on hard days. Thinking about suicide? Call or text 988.",
     []),
    # a sign in other words; a measure poured or stirred is a dose
    ("Throat feels tight after a bee sting? Take an antihistamine and rest at home.",
     ["advice.counter_advice:block"]),
    ("Pour two capfuls of the rinse into a cup and gargle.", ["advice.dosing:review"]),
]


@pytest.mark.parametrize(("text", "expected"), CASES, ids=[c[0][:40] for c in CASES])
def test_cases(text: str, expected: list[str]) -> None:
    found = review(advice, draft(text))
    assert codes(found) == expected
    for f in found:  # say where and why, never quote the post
        assert text[:25] not in f.message


def test_findings_point_at_the_part_and_offset() -> None:
    found = review(advice, draft("Flu clinic Saturday.", thread=[
        "Fever? You should take 1000 mg of acetaminophen."]))
    assert [f.field for f in found] == ["parts[1].text"]
    assert found[0].message.startswith("parts[1].text at 7:")


def test_dosing_advice_is_held_for_review_and_never_sent(fake_publisher: Any) -> None:
    publisher = fake_publisher(["web"], plugins=[advice], config=config())
    post = Post(text="Fighting a cold? You should take 1000 mg of vitamin C every day and "
                     "double it when the fever starts.", campaign="winter-wellness")
    report = publisher.publish(post)
    assert report["web"].state == State.AWAITING_APPROVAL
    assert [f.code for f in report["web"].findings] == ["advice.dosing"]
    assert publisher.platform.sends == []


def test_suicide_prevention_post_without_988_is_blocked(fake_publisher: Any) -> None:
    publisher = fake_publisher(["web"], plugins=[advice], config=config())
    blocked = publisher.publish(Post(
        text="September is Suicide Prevention Month. Our behavioral health team shares five "
             "ways to check in on a friend who is struggling."))
    assert blocked["web"].state == State.BLOCKED
    assert [f.code for f in blocked["web"].findings] == ["advice.crisis_line"]
    assert "988" in blocked["web"].findings[0].message
    fixed = publisher.publish(Post(
        text="September is Suicide Prevention Month. If you or a friend is struggling, call or "
             "text 988 any time, day or night."))
    assert fixed["web"].state == State.PUBLISHED
    assert len(publisher.platform.sends) == 1


def test_advice_in_a_reply_blocks(fake_publisher: Any) -> None:
    publisher = fake_publisher(["web"], plugins=[advice], config=config())
    post = Post(text="Sorry to hear that! You should take 400 mg of ibuprofen for it.",
                overrides={"fake": ChannelOverride(options={"in_reply_to": "1790000000000"})})
    report = publisher.publish(post)
    assert report["web"].state == State.BLOCKED
    assert [f.code for f in report["web"].findings] == ["advice.dosing"]
    assert publisher.platform.sends == []
    assert advice.is_reply(draft("x", in_reply_to="1"))
    assert not advice.is_reply(draft("x"))


def test_reply_action_is_configurable() -> None:
    cfg = config({"advice": {"reply_action": "review"}})
    found = review(advice, draft("You have the flu.", in_reply_to="42"), cfg)
    assert codes(found) == ["advice.diagnosis:review"]


def test_crisis_line_and_emergency_number_per_country() -> None:
    cfg = config(brand_checks={"advice": {"country": "gb"}})
    us = "Suicide Prevention Day: call or text 988. Stroke signs? Call 911."
    uk = "Suicide Prevention Day: call Samaritans free on 116 123. Stroke signs? Call 999."
    assert codes(review(advice, draft(us), cfg)) == ["advice.crisis_line:block",
                                                    "advice.emergency:review"]
    assert review(advice, draft(uk), cfg) == []
    custom = config({"advice": {"country": "FR", "crisis_lines": {"FR": "3114"},
                                "emergency_numbers": {"FR": "15"}}})
    assert review(advice, draft("Prévention du suicide : appelez le 3114."), custom) == []


def test_health_education_disclaimer_by_campaign_or_hashtag() -> None:
    table = {"disclaimer": "General information only, not medical advice",
             "education_hashtags": ["HealthTip"],
             "campaigns": {"health-minute": {"education": True}}}
    cfg = config({"advice": table})
    tip = "Wash your hands for 20 seconds. #HealthTip"
    assert codes(review(advice, draft(tip), cfg)) == ["advice.disclaimer:review"]
    assert review(advice, draft(tip + " General information only, not medical advice."),
                  cfg) == []
    episode = "In this minute, nurse Maria Okafor explains the flu vaccine."
    assert review(advice, draft(episode), cfg) == []
    assert codes(review(advice, draft(episode), cfg, campaign="health-minute")) == [
        "advice.disclaimer:review"]


def test_allow_list_and_off_switch() -> None:
    text = "Our pharmacist's tip: take 1 tablet of aspirin only if your doctor says so."
    assert review(advice, draft(text)) == []  # defers to the doctor
    text = "Myth: you have the flu if you have a fever."
    assert codes(review(advice, draft(text))) == ["advice.diagnosis:review"]
    assert review(advice, draft(text), config({"advice": {"allow": ["Myth:"]}})) == []
    off = {"advice": {"enabled": False, "disabled_by": "Compliance office"}}
    assert review(advice, draft(text), config(off)) == []
