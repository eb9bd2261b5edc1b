"""Normal forms: the same fact written several ways compares equal; another fact does not."""

from __future__ import annotations

import pytest

from carecast.brand.compare import (
    address_key,
    name_key,
    national,
    phone_e164,
    phones_in,
    similarity,
    website,
)
from carecast.brand.limits import BIO_LIMITS, counter, fit

FIVE_WAYS = ["(217) 555-0142", "217-555-0142", "+1 217 555 0142", "217.555.0142",
             "1-217-555-0142", "tel:+12175550142"]


@pytest.mark.parametrize("written", FIVE_WAYS)
def test_one_phone_number_written_many_ways(written: str) -> None:
    assert phone_e164(written, "US") == "+12175550142"


def test_another_number_and_no_number() -> None:
    assert phone_e164("(217) 555-0199", "US") == "+12175550199"
    assert phone_e164("12", "US") is None
    assert phone_e164("call us", "US") is None
    assert phone_e164("020 7946 0018", "GB") == "+442079460018"  # the brand's region
    assert national("+12175550142") == "(217) 555-0142"


def test_phones_in_a_bio() -> None:
    text = "Call 217.555.0142, or (217) 555-0199 after hours."
    assert phones_in(text, "US") == [(5, 17, "+12175550142"), (22, 36, "+12175550199")]
    assert phones_in("Open since 1921, 24/7.", "US") == []


@pytest.mark.parametrize("url", [
    "https://riverside-general.org", "http://www.riverside-general.org/",
    "riverside-general.org", "https://Riverside-General.org/?utm_source=x&utm_medium=bio",
    "https://riverside-general.org/?fbclid=IwAR0abc", "https://www.riverside-general.org?gclid=1",
])
def test_websites_normalised(url: str) -> None:
    found = website(url)
    assert found is not None
    assert found.key == "riverside-general.org"
    assert not found.shortened


def test_website_keeps_what_matters() -> None:
    page = website("https://riverside-general.org/er/?utm_campaign=flu&lang=es")
    assert page is not None
    assert (page.host, page.path, page.query) == ("riverside-general.org", "/er", "lang=es")
    short = website("https://bit.ly/3xYz")
    assert short is not None
    assert short.shortened
    assert website("mailto:info@riverside-general.org") is None
    assert website("  ") is None


def test_names() -> None:
    assert name_key("Riverside General Hospital, Inc.") == name_key(
        "riverside general hospital inc")
    assert name_key("Heart & Vascular Center") == name_key("Heart and Vascular Center")
    assert name_key("St. Mary\u2019s") == name_key("St Marys")
    assert name_key("Riverside Gen. Hosp.") != name_key("Riverside General Hospital")


@pytest.mark.parametrize("written", [
    "1 River Road, Suite 200, Springfield, IL 62701",
    "1 river rd ste 200 springfield illinois 62701-1234",
    "1 River Rd., #200, Springfield, Illinois 62701",
    "1 RIVER ROAD SUITE 200 SPRINGFIELD IL 62701",
])
def test_one_address_written_many_ways(written: str) -> None:
    assert address_key(written) == "1 river rd | 200 | 62701"


def test_other_addresses_differ() -> None:
    base = address_key("1 River Road, Suite 200, Springfield, IL 62701")
    assert address_key("400 Oak Street, Springfield, IL 62704") != base
    assert address_key("1 River Road, Suite 300, Springfield, IL 62701") != base
    assert address_key("10 River Road, Suite 200, Springfield, IL 62701") != base


def test_similarity() -> None:
    a = "Care close to home since 1921. Not medical advice."
    assert similarity(a, "care close to home, since 1921 -- not medical advice") >= 90
    assert similarity(a, "Led by CEO Jane Roe. Cancer care.") < 60


def test_fit_cuts_at_a_word_boundary() -> None:
    text = ("Riverside General Hospital cares for the river valley: emergency, cancer and "
            "maternity care in Springfield, Illinois, since 1921. News, not medical advice.")
    assert fit(text, 500) == text
    cut = fit(text, BIO_LIMITS["facebook"])
    assert len(cut) <= 100
    assert text.startswith(cut)
    assert text[len(cut)] == " "
    assert fit("Supercalifragilistic", 5) == "Super"
    assert fit("One. Two three four five six seven eight nine ten.", 30) == \
        "One. Two three four five six"


def test_bluesky_counts_graphemes() -> None:
    family = "\U0001F468\u200D\U0001F469\u200D\U0001F467"
    text = " ".join([family] * 300)
    count = counter("bluesky")
    cut = fit(text, BIO_LIMITS["bluesky"], count)
    assert count(cut) <= 256
    assert len(cut) > 256  # code points: far more than the graphemes
    assert counter("x")("abc") == 3
