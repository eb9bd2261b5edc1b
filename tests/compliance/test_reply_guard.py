"""The reply gate on labelled replies to patients' public comments, and its rules one by one.

``replies.yaml`` is the development set; ``replies_heldout.yaml`` was written before the rules
and is only scored (its figures are printed, and must stay above a floor, not be tuned to).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from carecast.compliance import phi_decision, reply_guard
from carecast.compliance.reply_guard import carecast_review_reply, stops
from carecast.config import BrandConfig, ReplyRules
from carecast.post import Draft, Mention, Part

DATA = Path(__file__).resolve().parents[1] / "data"
#: The brand's public details and sites, as its PHI allow-list holds them.
ALLOW = ("Riverside General", "Eastside", "riverside.example", "MyChart", "555-0142",
         "555-0100", "555-0150", "555-0177", "555-0188", "555-0199")


def load(name: str) -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = yaml.safe_load((DATA / name).read_text(encoding="utf-8"))
    return cases


def figures(cases: list[dict[str, Any]]) -> dict[str, int]:
    out = {"stop_stopped": 0, "stop_passed": 0, "pass_passed": 0, "pass_stopped": 0}
    for case in cases:
        stopped = bool(stops(case["reply"], case["mention"], allow=ALLOW))
        out[f"{case['label']}_{'stopped' if stopped else 'passed'}"] += 1
    return out


def report(name: str, got: dict[str, int]) -> str:
    return (f"{name}: {got['stop_stopped']} of {got['stop_stopped'] + got['stop_passed']} "
            f"unsafe replies stopped, {got['pass_passed']} of "
            f"{got['pass_passed'] + got['pass_stopped']} safe replies passed")


def test_the_sets_are_large_and_varied() -> None:
    cases = load("replies.yaml")
    held = load("replies_heldout.yaml")
    assert len(cases) >= 60
    assert len(held) >= 20
    every = " ".join(c["reply"] + " " + c["mention"] for c in cases)
    for mark in ("Mrs.", "Mr.", "Dr.", "3/14", "11/02", "6 North", "ER", "NICU", "yesterday"):
        assert mark in every
    assert {c["label"] for c in cases} == {"stop", "pass"}


@pytest.mark.parametrize("case", load("replies.yaml"), ids=lambda c: c["reply"][:50])
def test_each_development_reply(case: dict[str, Any]) -> None:
    found = stops(case["reply"], case["mention"], allow=ALLOW)
    assert bool(found) == (case["label"] == "stop"), [
        (case["reply"][s.start:s.end], s.rule) for s in found]


def test_development_figures(capsys: pytest.CaptureFixture[str]) -> None:
    got = figures(load("replies.yaml"))
    with capsys.disabled():
        print("\n" + report("reply gate, development set", got))
    assert got["stop_passed"] == 0
    assert got["pass_stopped"] == 0


def test_heldout_figures(capsys: pytest.CaptureFixture[str]) -> None:
    got = figures(load("replies_heldout.yaml"))
    with capsys.disabled():
        print("\n" + report("reply gate, held-out set", got))
    # scored once when the first rules were done (9 of 11 stopped, 8 of 9 passed), 11 and 9
    # since the second round's general rules; a floor, so a change that loses ground fails
    assert got["stop_stopped"] >= 11
    assert got["pass_passed"] >= 9


@pytest.mark.parametrize("reply", [
    "Dr. Okonkwo will speak at our heart health talk on Thursday; all are welcome.",
    "Prof. Albers opens the diabetes education evening at 6 pm in the main lobby.",
])
def test_a_title_opening_an_announcement_is_not_an_addressed_name(reply: str) -> None:
    assert stops(reply, "Is there anything on this month?") == []


@pytest.mark.parametrize("reply", [
    "Our cardiologist Dr. Patel answers your questions live on Friday at noon.",
    "You can meet Dr. Chen at our health fair on Saturday; bring your questions.",
    "Dr. Amari's podcast episode on sleep is out, and you can listen at riverside.org/pod.",
])
def test_a_clinician_in_a_public_activity_for_everyone_passes(reply: str) -> None:
    assert stops(reply, "Any heart health events coming up?") == []


@pytest.mark.parametrize("reply", [
    "We'll pass your thanks to Dr. Reyes.",
    "Dr. Reyes will talk with you Monday.",
    "Dr. Reyes will go over your results with you at the event.",
    "Dr. Reyes, who treated you, hosts a class for you on Monday.",
    "Dr. Reyes remembers you and hosts a webinar on Friday.",
    "Dr. Reyes will see you at the event on Monday.",
])
def test_a_clinician_tied_to_the_person_is_stopped_even_beside_an_event(reply: str) -> None:
    assert "clinician" in {s.rule for s in stops(reply, "Thank you all")}


def test_the_named_example_is_stopped_and_the_template_passes() -> None:
    lee = stops("So sorry about your wait in our ER yesterday, Mrs. Lee", "")
    assert {s.rule for s in lee} >= {"your_care", "apology", "name_care"}
    rules = ReplyRules(contact="555-0142", templates={
        "contact": "Thank you for reaching out; please contact our patient relations team "
                   "at {contact}."})
    template = rules.templates["contact"].replace("{contact}", rules.contact)
    assert stops(template, "My surgeon botched my knee, Dr. Vance should be fired.",
                 allow=ALLOW) == []


@pytest.mark.parametrize(("reply", "rule"), [
    ("Hope your recovery is going smoothly.", "your_care"),
    ("We hope your daughter's stitches are healing.", "family_care"),
    ("Glad you're recovering at home.", "you_were"),
    ("Since you came in on Friday we have changed the triage desk.", "you_were_here"),
    ("The nurses who looked after you send their best.", "we_cared"),
    ("Thank you for choosing us for your baby's delivery.", "we_cared"),
    ("Our system shows two missed calls from our scheduler.", "records"),
    ("We regret the delay on the cardiac floor.", "apology"),
    ("Wishing you a speedy recovery!", "recovery"),
])
def test_paraphrases_fall_to_a_rule_of_grammar(reply: str, rule: str) -> None:
    assert rule in {s.rule for s in stops(reply)}


def test_the_rule_set_is_the_phi_guards() -> None:
    # one rule set: the PHI guard's test for a reply's addressees is the gate's care rules
    text = "@jdoe88 The team that treated you has been told."
    assert phi_decision.tells_addressee_care(text)
    assert [t.rule for t in phi_decision.care_told(text)] == ["we_cared"]
    assert not phi_decision.tells_addressee_care(
        "@jdoe88 Please call our patient relations team at 555-0142.")


def test_findings_say_where_never_what_and_ask_for_approval() -> None:
    mention = Mention(channel="mastodon", account="a", remote_id="1", author="@maria_g",
                      text="My mom Rosa had her bypass on 4/2.", kind="mention",
                      created_at=datetime(2026, 4, 3, tzinfo=UTC))
    text = "So glad Rosa is home after her bypass on 4/2!"
    draft = Draft(post_id="r", account="a", channel="mastodon",
                  parts=(Part(text=text, length=len(text)),))
    brand = BrandConfig(name="Riverside General")
    findings = carecast_review_reply(mention, draft, brand, None)  # type: ignore[arg-type]
    codes = [f.code for f in findings]
    assert "reply.echo" in codes
    assert codes[-1] == "reply.approval"
    for finding in findings:
        assert "Rosa" not in finding.message
        assert "4/2" not in finding.message
        assert "bypass" not in finding.message
    unapproved = brand.model_copy(update={"replies": ReplyRules(approval=False)})
    safe = draft.model_copy(update={"parts": (Part(text="Thank you for sharing.", length=22),)})
    assert carecast_review_reply(mention, safe, unapproved, None) == []  # type: ignore[arg-type]


def test_a_rule_needing_a_word_of_care_reads_the_reply_once(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # Each stop once compared itself with a fresh search for words of care: quadratic in the
    # stops, 13 s for "your son " repeated to the 10,000 characters a reply may hold.
    calls = []

    class Counting:
        def __init__(self, pattern: re.Pattern[str]) -> None:
            self.pattern = pattern

        def finditer(self, text: str) -> Any:
            calls.append(len(text))
            return self.pattern.finditer(text)

    monkeypatch.setattr(reply_guard, "_WHOLE_REPLY", {
        rule: Counting(pattern) for rule, pattern in reply_guard._WHOLE_REPLY.items()})
    # many places the rule matches, and no word of care to let it stop: the worst case
    assert "relative_care" not in {s.rule for s in reply_guard._encounters("your son " * 200)}
    assert 0 < len(calls) <= len(reply_guard._WHOLE_REPLY)
    calls.clear()
    cared = "Sending strength to your son. Our cardiac team is with him."
    assert "relative_care" in {s.rule for s in reply_guard._encounters(cared)}


def test_many_clinicians_in_one_sentence_read_it_once(monkeypatch: pytest.MonkeyPatch) -> None:
    # "Dr." ends no sentence, so a reply of many clinicians is one sentence: each of them
    # once searched all of it again (quadratic).
    read = []
    real = phi_decision.care_told

    def care_told(text: str) -> Any:
        read.append(len(text))
        return real(text)

    monkeypatch.setattr(phi_decision, "care_told", care_told)
    reply = "Dr. Smith and Dr. Jones host our webinar for you, " * 50 + "register today."
    assert stops(reply, "any events?") == []
    assert sum(read) <= 3 * len(reply)
