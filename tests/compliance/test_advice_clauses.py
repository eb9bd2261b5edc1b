"""The clause reader shared by the advice, safe-messaging and policy checks, and its rules."""

from __future__ import annotations

import pytest

from carecast.compliance import advice, lexicon, policy
from carecast.compliance.clauses import clauses

from ._helpers import codes, config, draft, review

VERBS = frozenset({"take", "cut", "stop"})


def test_lead_ins_dashes_semicolons_and_emoji_start_a_clause() -> None:
    text = ("Dietitian's corner: cut your pill in half. Quick reminder 👉 take it with food; "
            "rest \u2013 then stop. Dr. Okafor sees patients at 9 a.m. on Mondays.")
    parts = clauses(text)
    assert [c.text for c in parts] == [
        "Dietitian's corner", "cut your pill in half.", "Quick reminder", "take it with food",
        "rest", "then stop.", "Dr. Okafor sees patients at 9 a.m. on Mondays."]
    assert all(text[c.start:c.start + len(c.text)] == c.text for c in parts)
    assert [c.imperative(VERBS) for c in parts[:6]] == [False, True, False, True, False, True]


def test_imperative_through_modals_and_fillers() -> None:
    assert clauses("You should take two.")[0].imperative(VERBS)
    assert clauses("Just take two.")[0].imperative(VERBS)
    assert not clauses("Most adults take two.")[0].imperative(VERBS)


@pytest.mark.parametrize(("text", "word", "negated"), [
    ("Surgery doesn't guarantee results", "guarantee", True),
    ("This won't cure a cold", "cure", True),
    ("There's no need to phone 911", "phone", True),
    ("Don't hesitate to call 911", "call", False),
    ("Call 911 and never drive yourself", "call", False),
    ("Not all patients respond, but this can cure some", "cure", False),
])
def test_negation_scope(text: str, word: str, negated: bool) -> None:
    clause = next(c for c in clauses(text) if word in c.text.lower())
    assert clause.negated(clause.text.lower().index(word)) is negated


@pytest.mark.parametrize(("text", "governed"), [
    ("Ask your doctor whether you should take 81 mg of aspirin", True),
    ("Take 1 tablet only if your doctor says so", True),
    ("Don't stop taking it without talking to your pharmacist", True),
    ("Take two puffs every hour and let your doctor know later", False),
])
def test_which_clause_a_referral_governs(text: str, governed: bool) -> None:
    assert clauses(text)[0].deferred is governed


@pytest.mark.parametrize(("text", "expected"), [
    # a referral only clears what it governs
    ("Take two of your rescue inhaler puffs every hour and let your doctor know later.",
     ["advice.dosing:review"]),
    ("Pharmacist tip \u2013 give them a capful of cough syrup at bedtime.",
     ["advice.dosing:review"]),
    ("Acne? Use a 5% benzoyl peroxide gel every night.", ["advice.dosing:review"]),
    # kitchen measures are a dose only with a medicine
    ("Use 2 tablespoons of olive oil instead of butter.", []),
    ("Give 2 teaspoons of the cough syrup at bedtime.", ["advice.dosing:review"]),
    # a diagnosis names any condition, listed or not
    ("That ache behind your knee? Sounds like you have bursitis.", ["advice.diagnosis:review"]),
    ("Your cough sounds like walking pneumonia.", ["advice.diagnosis:review"]),
    # questions, statistics and conditionals are education
    ("Could it be the flu? Our walk-in clinic is open late.", []),
    ("1 in 3 of you has high blood pressure. 40% of you have prediabetes.", []),
    ("If you have asthma, our free class covers inhaler technique.", []),
    # emergencies: counter-advice blocks, a negated call is no call
    ("Stroke symptoms? There's no need to phone 911, just lie down.",
     ["advice.counter_advice:block"]),
    ("Arm numb and speech slurred? Sleep on it and see how you feel.",
     ["advice.counter_advice:block"]),
    ("For anaphylaxis, use your auto-injector and call 911 at once.", []),
    ("After a heart attack, rest and follow your cardiac rehab plan.", []),
    ("Stroke rehab tip: rest when you need to.", []),
    # safe messaging: slang, and method or means
    ("Kids say 'kms' as a joke. Talk to them about what it means.",
     ["advice.crisis_line:block"]),
    ("She took a whole bottle of pills in a suicide attempt. Call or text 988.",
     ["advice.method:block"]),
    ("Lock up firearms and medicines: it prevents suicide. Call or text 988.", []),
])
def test_rules(text: str, expected: list[str]) -> None:
    assert codes(review(advice, draft(text))) == expected


def test_a_reply_is_a_post_starting_with_a_handle() -> None:
    found = review(advice, draft("@sam_r Sounds like you have shingles."))
    assert codes(found) == ["advice.diagnosis:block"]
    assert "a reply" in found[0].message
    assert not advice.is_reply(draft("Email @ us: hello@riverside.example"))


def test_counter_advice_action_is_configurable() -> None:
    text = "Heart attack? Drive yourself to the hospital instead of calling 911."
    assert codes(review(advice, draft(text))) == ["advice.counter_advice:block"]
    cfg = config({"advice": {"actions": {"counter_advice": "review", "emergency": "block"}}})
    assert codes(review(advice, draft(text), cfg)) == ["advice.counter_advice:review"]
    assert codes(review(advice, draft("Know the stroke signs: face, arm, speech."), cfg)) == [
        "advice.emergency:block"]


def test_policy_negation_with_contractions() -> None:
    for text in ("Vitamins won't cure a cold.", "Surgery doesn't guarantee results.",
                 "There's no cure for the flu."):
        assert review(policy, draft(text)) == []
    assert codes(review(policy, draft("Our therapy cures most patients."))) == [
        "policy.claim:review"]


def test_word_lists_are_lower_case_and_match_by_shape() -> None:
    for name in ("conditions", "medications", "units", "emergencies", "suicide_terms"):
        words = lexicon.entries(name)
        assert words
        assert all(w == w.lower().strip() for w in words)
    assert lexicon.get("conditions").match("tendinopathy", 0) == len("tendinopathy")
    assert lexicon.get("conditions").match("celiac-sprue disease", 0) == len("celiac-sprue disease")
    assert lexicon.get("medications").match("rosuvastatin", 0) == len("rosuvastatin")
    assert lexicon.get("suicide_terms").search("Self-harming teens") == (0, len("Self-harming"))
    assert lexicon.get("conditions").search("the pathy") is None


@pytest.mark.parametrize(("pattern", "needles"), [
    ("_CALL", "_CALL_WORDS"), ("_DECLINED", "_DECLINED_WORDS"), ("_GO", "_GO_WORDS"),
    ("_WARNING", "_WARNING_WORDS"), ("_DELAY_PHRASE", "_DELAY_WORDS")])
def test_safe_messaging_patterns_are_skipped_only_where_they_cannot_match(
        pattern: str, needles: str) -> None:
    """Every match of each pattern, on every clause of both sets and on each pattern's own
    examples, holds one of the words ``may_hold`` looks for first."""
    from carecast.compliance import safe_messaging
    from carecast.compliance._settings import may_hold

    from .test_advice_devset import DEVSET, rows
    from .test_advice_holdout import HOLDOUT

    regex, words = getattr(safe_messaging, pattern), getattr(safe_messaging, needles)
    examples = ["TW: suicide", "Content warning", "call 911", "Dial 9-1-1", "phoning EMS",
                "skip the ER", "No need to call an ambulance", "The ER can wait",
                "instead of calling 911", "wait until after you call", "go to the ER",
                "head straight to the nearest A&E", "sleep it off", "Drive yourself",
                "have a family member drive", "take two aspirin", "give it an hour",
                "see if it passes", "call your doctor tomorrow", "monitor them at home",
                "watch and wait", "keep him resting at home", "sit tight", "stay home"]
    texts = examples + [c.text for path in (DEVSET, HOLDOUT) for row in rows(path)
                        for c in clauses(row["text"])]
    found = [t for t in texts if regex.search(t)]
    assert found  # the pattern is exercised
    assert [t for t in found if not may_hold(t, words)] == []
