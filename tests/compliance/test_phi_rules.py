"""PHI scanner rules added for the issue's speed-and-recall work: addresses after their cue,
towns after a street, ages told with a verb, months of care, roads, family names, and the
look-alikes that must stay quiet (ordinals that count, letter-hyphen words, the brand's town)."""

from __future__ import annotations

import pytest

from carecast.compliance.phi import DETECT_MIN

from ._helpers import phi_found

BRAND = ("Lakeside Regional Medical Center", "400 Lake Shore Drive, Millbrook", "Dawn Patel",
         "Maria Okafor")


def found(text: str, allow: tuple[str, ...] = ()) -> set[tuple[str, str]]:
    return phi_found(text, allow, DETECT_MIN)  # what ``detect`` keeps


@pytest.mark.parametrize(("text", "category", "value"), [
    ("Kari lives at 255 hersnapvej 18, near the harbour.", "LOCATION", "hersnapvej 18"),
    ("Please update: my new address is PSC 6293, Box 8158", "LOCATION", "PSC 6293, Box 8158"),
    ("He was seen at 42 Elm Street, Fairview today.", "LOCATION", "Fairview"),
    ("Sent to 12 Kiannonkatu 98\nOULU\nFinland 80896", "LOCATION", "OULU"),
    ("my zip code is 880", "LOCATION", "880"),
    ("Last week, at 91, she sold her first painting.", "DATE", "at 91,"),
    ("Grandpa Lou turned 100 with the 4 East team.", "DATE", "turned 100"),
    ("After a stroke in March, she walked out of rehab.", "DATE", "March"),
    ("He was hurt in a crash on Route 9 near the bridge.", "LOCATION", "Route 9"),
    ("Flowers for the Okonjo family from our PICU.", "NAME", "Okonjo"),
])
def test_finds(text: str, category: str, value: str) -> None:
    assert (category, value) in found(text)


@pytest.mark.parametrize("text", [
    "Visitors sign in at the 7th floor station.",
    "Her C-section and the follow-up X-ray went well.",
    "The pool is kept at 95 degrees and we turned 95% of requests around in a day.",
])
def test_look_alikes_stay_quiet(text: str) -> None:
    assert found(text) == set()


def test_the_brands_town_is_allowed_only_as_its_address() -> None:
    assert found("Visit us at 400 Lake Shore Drive, Millbrook.", BRAND) == set()
    assert ("LOCATION", "Millbrook") in found("Ann Lee went home to Millbrook after surgery.",
                                              BRAND)


def test_a_staff_surname_alone_is_allowed_only_after_a_clinicians_title() -> None:
    assert found("Thank you, Dr. Patel and Dr. Okafor!", BRAND) == set()
    assert ("NAME", "Patel") in found("Cards for the Patel family in the NICU.", BRAND)
