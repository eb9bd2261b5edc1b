"""The PHI guard on realistic hospital posts: what passes, what blocks, what waits for review."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import pytest

from carecast import Action, Finding, Media, Post, State
from carecast.compliance import phi_guard
from carecast.config import CheckSettings, Config
from carecast.findings import Span
from carecast.plugins import plugin_manager, run_hook
from carecast.publish.gate import apply_findings

from ._helpers import BRAND, config

EVENT = ("Free flu shots this Saturday, 9 a.m. to 1 p.m., at Riverside General Hospital, "
         "1200 River Road, Springfield. No appointment needed; questions? Call (555) 010-2000 "
         "or visit riverside-general.example/flu.")
QUOTE = ("\"Most strokes can be prevented,\" says Dr. Maria Okafor, our chief of neurology. "
         "Our patients learn their CHA2DS2-VASc score at every visit.")
STORY = ("Meet Harold Jennings! After his stroke, Harold was admitted to our rehab unit, and "
         "this spring he walked his daughter down the aisle.")
RECORD = "Great news: patient MRN 00482913 went home today after 12 days with us."
BIRTHDAY = "Happy birthday to our patient born 03/14/1931, still gardening every day!"


def review(post: Post, cfg: Config | None = None, *, brand: str | None = "riverside",
           campaign: str | None = None) -> list[Finding]:
    """The post hook as the publisher runs it (the fail-closed wrapper included)."""
    cfg = cfg or config()
    pm = plugin_manager([phi_guard], entry_points=False, defaults=False)
    return run_hook(pm, "carecast_review_post",
                    post=post, brand=cfg.brands.get(brand) if brand else None,
                    settings=CheckSettings(cfg, brand, campaign=campaign))


def worst(findings: list[Finding]) -> Action | None:
    return min((f.action for f in findings), key=lambda a: a.rank, default=None)


def holding(findings: list[Finding]) -> list[str]:
    """The codes that stop or hold the post (BLOCK and REVIEW)."""
    return sorted(f"{f.code}:{f.action.value}" for f in findings
                  if f.action in (Action.BLOCK, Action.REVIEW))


def without_staff(checks: Mapping[str, Any] | None = None) -> Config:
    return Config.from_dict({
        "brands": {"riverside": {**BRAND, "staff": []}},
        "checks": dict(checks or {}),
    }, environ={})


def test_event_with_the_hospitals_own_address_and_phone_passes() -> None:
    assert holding(review(Post(text=EVENT, title="Flu clinic"))) == []


def test_a_doctor_quoted_by_name_passes_with_the_roster() -> None:
    assert holding(review(Post(text=QUOTE))) == []
    # Off the roster she is still named in a role (a title and "our chief of neurology"),
    # not as a patient: a warning, not a hold.
    assert holding(review(Post(text=QUOTE), without_staff())) == []
    assert "phi.name" in [f.code for f in review(Post(text=QUOTE), without_staff())]


def test_an_mrn_blocks() -> None:
    found = review(Post(text=RECORD))
    assert holding(found) == ["phi.mrn:block"]
    [mrn] = found
    assert mrn.field == "text"
    assert RECORD[mrn.spans[0].start:mrn.spans[0].end] == "00482913"


def test_a_birth_date_blocks() -> None:
    assert holding(review(Post(text=BIRTHDAY))) == ["phi.date:block"]


def test_a_patient_story_naming_the_patient_is_held_for_review() -> None:
    found = review(Post(text=STORY))
    assert worst(found) is Action.REVIEW
    assert {f.code for f in found} == {"phi.name"}
    assert all("in a post about a patient" in f.message for f in found)


def test_a_private_name_is_held_when_strict_and_a_warning_when_balanced() -> None:
    post = Post(text="Congratulations to Priya Raman on her marathon PR!")
    found = review(post, without_staff())
    assert [(f.code, f.action) for f in found] == [("phi.name", Action.REVIEW)]
    found = review(post, without_staff({"phi": {"policy": "balanced"}}))
    assert [(f.code, f.action) for f in found] == [("phi.name", Action.WARN)]


def test_balanced_holds_a_name_told_with_a_treatment_or_unit() -> None:
    cfg = without_staff({"phi": {"policy": "balanced"}})
    for text in ("Mrs. Baker is back on her feet after her hip replacement.",
                 "Dana K. finished radiation this morning at the infusion center.",
                 "Get well wishes to Carol Ann Fitch in Bed 3 of our step-down unit."):
        assert "phi.name:review" in holding(review(Post(text=text), cfg)), text


def test_a_person_in_a_role_is_not_a_patient() -> None:
    for text in ("Keynote speaker Dr. Atul Gawande will open our patient safety summit.",
                 "Priya Raman, our director of nursing, will speak at the Rotary on Thursday.",
                 "Governor Ana Whitcombe toured our new behavioral health unit today."):
        assert holding(review(Post(text=text), without_staff())) == [], text


def test_every_place_that_leaves_is_scanned() -> None:
    post = Post(
        text="Thank you to our patient for this lovely card.",
        title="A card from Ward 4",
        thread=("Her SSN was on the envelope: 078-05-1120.",),
        link="https://riverside-general.example/thanks?email=jane.roe%40gmail.com",
        media=(Media(source="scans/roe_dob_1950-02-03.jpg", alt_text="Jane Roe, MRN 77120455",
                     title="Card from Jane Roe"),),
        overrides={"x": {"text": "Thanks, call me at 217-555-0142!"}},
    )
    found = {(f.field, f.code) for f in review(post)}
    assert found >= {
        ("thread[0]", "phi.ssn"), ("link", "phi.email"), ("media[0].alt_text", "phi.mrn"),
        ("media[0].alt_text", "phi.name"), ("media[0].title", "phi.name"),
        ("media[0].source", "phi.date"), ("*", "phi.phone"),
    }


def test_messages_say_where_and_what_kind_never_the_phi() -> None:
    secrets = ["00482913", "03/14/1931", "Harold Jennings", "Harold", "078-05-1120",
               "jane.roe@gmail.com", "217-555-0142", "Jennings"]
    posts = [Post(text=RECORD), Post(text=BIRTHDAY), Post(text=STORY),
             Post(text="Her SSN is 078-05-1120; email jane.roe@gmail.com or 217-555-0142.")]
    findings = [f for p in posts for f in review(p)]
    assert len(findings) >= 6
    for finding in findings:
        assert re.search(r"(text|title|link|thread\[\d\]|media\[\d\]\S*) at \d+-\d+",
                         finding.message)
        assert not any(secret in finding.message for secret in secrets), finding.message


def test_allow_list_and_public_figures() -> None:
    text = ("Our patients met Governor Ana Whitcombe and the Lakeside Legends at our clinic; "
            "call our partners at (217) 555-0188.")
    # A governor is named in a role: not held even before she is listed.
    assert holding(review(Post(text=text))) == ["phi.phone:block"]
    cfg = config({"phi": {"allow": ["(217) 555-0188"], "public_figures": ["Ana Whitcombe"]}})
    assert holding(review(Post(text=text), cfg)) == []


def test_per_campaign_settings() -> None:
    cfg = config({"phi": {"campaigns": {
        "stories": {"redact": ["NAME"]},
        "gala": {"enabled": False, "disabled_by": "Privacy office"},
    }}})
    assert holding(review(Post(text=STORY), cfg)) == ["phi.name:review", "phi.name:review"]
    redacted = review(Post(text=STORY), cfg, campaign="stories")
    assert {f.action for f in redacted} == {Action.REDACT}
    gated = apply_findings(Post(text=STORY), redacted)
    assert "Harold" not in gated.item.text
    assert "[redacted]" in gated.item.text
    assert review(Post(text=RECORD), cfg, campaign="gala") == []


def test_brand_tables_and_category_actions_in_either_case() -> None:
    cfg = config(brand_checks={"phi": {"actions": {"NAME": "block", "mrn": "off"}}})
    assert holding(review(Post(text=STORY + " " + RECORD), cfg)) == ["phi.name:block"] * 2


def test_unsure_structured_findings_are_held_for_review_not_blocked() -> None:
    text = "Our patient's code, 4471 2210 88, is on file."
    found = review(Post(text=text))
    assert holding(found) == ["phi.phone:review"]
    assert found[0].confidence is not None
    assert found[0].confidence < 0.8
    cfg = config({"phi": {"block_confidence": 0.6}})
    assert holding(review(Post(text=text), cfg)) == ["phi.phone:block"]
    cfg = config({"phi": {"min_confidence": 0.95}})
    assert holding(review(Post(text=text), cfg)) == []


def test_redact_a_phone_number_rewrites_the_text() -> None:
    text = "Ask for Sam at 217-555-0142."
    cfg = config({"phi": {"redact": ["phone"]}})
    found = review(Post(text=text), cfg)
    [phone] = [f for f in found if f.code == "phi.phone"]
    assert phone.action is Action.REDACT
    assert phone.spans == (Span(start=15, end=27),)
    assert apply_findings(Post(text=text), [phone]).item.text == "Ask for Sam at [redacted]."


def test_a_file_name_or_encoded_link_is_never_redacted_in_place() -> None:
    post = Post(text="x", link="https://example.org/r?phone=217%20555%200142",
                media=(Media(source="photos/mrn_77120455.png"),))
    cfg = config({"phi": {"redact": ["PHONE", "MRN"]}})
    found = review(post, cfg)
    assert {(f.field, f.action) for f in found} == {
        ("link", Action.REVIEW), ("media[0].source", Action.REVIEW)}
    assert all(f.spans == () for f in found)


@pytest.mark.parametrize(("table", "key"), [
    ({"min_confidence": 2}, "checks.phi.min_confidence"),
    ({"redact": ["BLOODTYPE"]}, "checks.phi.redact.0"),
    ({"actions": {"NAME": "maybe"}}, "checks.phi.actions.name"),
    ({"actions": {"shoe_size": "block"}}, "checks.phi.actions"),
    ({"allowed": ["x"]}, "checks.phi.allowed"),
])
def test_bad_settings_block_naming_the_key(table: dict[str, Any], key: str) -> None:
    [finding] = review(Post(text=STORY), config({"phi": table}))
    assert finding.action is Action.BLOCK
    assert finding.code == "phi.settings"
    assert key in finding.message


def test_without_a_brand_nothing_is_allowed_by_default() -> None:
    found = review(Post(text=EVENT), brand=None)
    assert "phi.phone:block" in holding(found)


def test_the_publisher_never_sends_a_blocked_post_and_holds_a_story(
        fake_publisher: Any) -> None:
    publisher = fake_publisher(config=config(), plugins=[phi_guard])
    report = publisher.publish(Post(text=RECORD))
    assert [o.state for o in report.outcomes] == [State.BLOCKED]
    report = publisher.publish(Post(text=STORY))
    assert [o.state for o in report.outcomes] == [State.AWAITING_APPROVAL]
    assert publisher.platform.sends == []
    report = publisher.publish(Post(text=EVENT))
    assert [o.state for o in report.outcomes] == [State.PUBLISHED]


@pytest.mark.parametrize(("source", "held"), [
    ("IMG_20240314_093015.jpg", False),           # a camera's own name is a time stamp
    ("PXL_20231120_101500123.jpg", False),
    ("Screenshot 2024-03-14 at 09.30.15.png", False),
    ("lobby-ribbon-cutting.jpg", False),
    ("00482913.jpg", True),                         # a record number as the file name
    ("jane_doe_dob_1950-02-03.jpg", True),
])
def test_media_file_names(source: str, held: bool) -> None:
    post = Post(text="Our new lobby is open.", media=(Media(source=source, alt_text="Lobby"),))
    assert bool(holding(review(post))) is held


def test_hashtags_are_read_as_words() -> None:
    post = Post(text="Our patient needs your prayers tonight.",
                hashtags=("PrayForMariaGarcia", "NICU", "Born2024"))
    [finding] = review(post)
    assert (finding.code, finding.field, finding.action) == ("phi.name", "*", Action.REVIEW)
    assert finding.message.startswith("hashtags[0]: a person's name")
    assert "Maria" not in finding.message


@pytest.mark.parametrize(("text", "held"), [
    # the handles a reply begins with are whom it answers: not PHI by themselves
    ("@jdoe88 Thanks for the kind words! We'll pass them on to the team.", []),
    ("@jdoe88 @city_news Our flu clinic is open Saturday from 9 to 1.", []),
    # ... unless the reply tells of the addressee's own care: it then says they are a patient
    ("@jdoe88 So glad your knee surgery went well!", ["phi.url:review"]),
    ("@jdoe88 We're sorry about the wait during your visit last night. Please DM us.",
     ["phi.url:review"]),
    ("@jdoe88 Glad to hear you were discharged in time for the holidays!", ["phi.url:review"]),
    # ... and only their own: a care word the "your" does not govern is the brand's service
    ("@jdoe88 We can't give medical advice here, but our 24/7 nurse line can help with your "
     "questions.", []),
    ("@jdoe88 Thank you for supporting our ER's toy drive!", []),
    # a handle in the body is a person's identifier, as in any post
    ("Get well soon, @jdoe88! The whole cardiac team is rooting for you.", ["phi.url:review"]),
    ("Congrats to @jdoe88, who rang the bell today after her last chemo!", ["phi.url:review"]),
    ("@jdoe88 Thank you! @ann_b rang the bell today after her last chemo.", ["phi.url:review"]),
])
def test_a_replys_leading_handles_are_its_addressees(text: str, held: list[str]) -> None:
    assert holding(review(Post(text=text))) == held


def test_the_brands_own_handles_are_allowed_like_its_emails() -> None:
    cfg = config({"phi": {"allow": ["@RiversideER"]}})
    text = "Thanks to @riversideer and @jdoe88 for the heart health talk!"
    [finding] = [f for f in review(Post(text=text), cfg) if f.action is Action.REVIEW]
    assert finding.code == "phi.url"
    assert finding.spans == (Span(start=27, end=34),)
