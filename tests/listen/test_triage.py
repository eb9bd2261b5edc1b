"""Triage by rules: a table of realistic public comments and the labels each must get."""

from __future__ import annotations

import pytest

from carecast.listen.triage import LABELS, phi_marks, triage

CASES = [
    # crisis: the safe-messaging lexicon (words, euphemisms, slang) and first-person self-harm
    ("I can't do this anymore, I want to kill myself", {"crisis"}),
    ("honestly thinking about ending it all tonight", {"crisis"}),
    ("been cutting myself again since the diagnosis", {"crisis"}),
    ("my friend keeps saying she wants to unalive herself, what do I do?", {"crisis", "question"}),
    # patient-identifying content
    ("My dad John Petrakis, MRN 7731920, has been in room 412 since Monday", {"phi"}),
    ("SSN 123-45-6789 was printed on my discharge papers??", {"phi", "question"}),
    ("Nurse Kowalski was wonderful to my mother Anna Kowalczyk when she was admitted", {"phi"}),
    ("Took my son Mateo Ferreira in for stitches on 3/14, they were great", {"phi"}),
    ("Grace Whitfield had her biopsy results back within a day", {"phi"}),
    ("Thanks Dana Morales for the lovely gala on 5/3!", set()),  # a name and a date, no care
    # complaints
    ("Waited 6 hours in the ER and nobody helped. Unacceptable.", {"complaint"}),
    ("Worst billing experience ever, overcharged twice", {"complaint"}),
    ("The front desk was so rude to my grandmother", {"complaint"}),
    # questions
    ("Do you take walk-ins for flu shots on Saturday?", {"question"}),
    ("What time does the pharmacy close", set()),  # no question mark, nothing else: unlabelled
    ("where do I park for the imaging center?", {"question"}),
    # nothing for a person
    ("Congrats on the new cancer wing!", set()),
    ("Great run at the 5K today, thanks Riverside", set()),
]


@pytest.mark.parametrize(("text", "labels"), CASES)
def test_labels(text: str, labels: set[str]) -> None:
    assert set(triage(text, phi_marks(text))) == labels


def test_competitor_news_is_labelled_by_its_query() -> None:
    assert triage("Lakeside Medical opens a new ER", competitor=True) == ("competitor",)
    assert triage("Lakeside Medical opens a new ER") == ()


def test_labels_come_most_urgent_first() -> None:
    text = "I want to end my life, my name is Maria Lopez, MRN 5512334, why won't anyone call?"
    found = triage(text, phi_marks(text), competitor=True)
    assert found == tuple(sorted(found, key=LABELS.index))
    assert found[0] == "crisis"


def test_the_brands_own_details_are_no_phi() -> None:
    text = "Call Riverside General at 217-555-0100 for an appointment"
    assert any(m.category == "PHONE" for m in phi_marks(text))
    assert not any(m.category == "PHONE" for m in phi_marks(text, ["217-555-0100"]))
