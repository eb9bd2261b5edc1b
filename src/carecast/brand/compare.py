"""Normal forms of profile values, so the same fact written two ways compares equal.

Names (case, punctuation, ``&``/``and``), websites (scheme, ``www.``, trailing slash and
tracking parameters dropped; shorteners recognised), phone numbers (E.164 with
``phonenumbers``), street addresses (``usaddress`` parts with USPS abbreviations) and
descriptions (``rapidfuzz`` similarity).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from urllib.parse import parse_qsl, urlencode, urlsplit

__all__ = [
    "SHORTENERS",
    "Website",
    "address_key",
    "name_key",
    "national",
    "phone_e164",
    "phones_in",
    "similarity",
    "website",
]

#: Link shorteners and link hubs: the domain behind them is not the brand's.
SHORTENERS = frozenset({
    "bit.ly", "buff.ly", "goo.gl", "is.gd", "lnkd.in", "ow.ly", "rebrand.ly", "t.co",
    "tiny.cc", "tinyurl.com", "linktr.ee", "trib.al", "dlvr.it", "fb.me", "youtu.be",
})
_TRACKING = re.compile(r"^(utm_\w+|fbclid|gclid|dclid|msclkid|mc_cid|mc_eid|igshid|_ga)$", re.I)
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*:(?!\d)", re.IGNORECASE)
_PUNCT = re.compile(r"[^\w\s]")
_SPACE = re.compile(r"\s+")
_ABBREVIATIONS = {
    "street": "st", "avenue": "ave", "av": "ave", "road": "rd", "drive": "dr",
    "boulevard": "blvd", "lane": "ln", "court": "ct", "place": "pl", "parkway": "pkwy",
    "highway": "hwy", "square": "sq", "terrace": "ter", "circle": "cir", "way": "way",
    "suite": "ste", "building": "bldg", "floor": "fl", "room": "rm", "apartment": "apt",
    "north": "n", "south": "s", "east": "e", "west": "w", "northeast": "ne",
    "northwest": "nw", "southeast": "se", "southwest": "sw", "mount": "mt",
    "saint": "st", "fort": "ft",
}


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold().replace("&", " and ")
    return _SPACE.sub(" ", _PUNCT.sub(" ", text.replace("'", "").replace("\u2019", ""))).strip()


def name_key(name: str) -> str:
    """A display name folded for comparison: ``Riverside General, Inc.`` and ``riverside
    general inc`` compare equal; ``&`` is ``and``."""
    return _fold(name)


def similarity(a: str, b: str) -> float:
    """0-100: how alike two descriptions are, ignoring case, punctuation and spacing."""
    from rapidfuzz import fuzz

    return float(fuzz.ratio(_fold(a), _fold(b)))


class Website:
    """A URL in normal form: ``host`` without ``www.``, ``path`` without a trailing slash,
    ``query`` without tracking parameters."""

    __slots__ = ("host", "path", "query", "raw")

    def __init__(self, raw: str, host: str, path: str, query: str) -> None:
        self.raw, self.host, self.path, self.query = raw, host, path, query

    @property
    def shortened(self) -> bool:
        """Whether the host is a link shortener or link hub."""
        return self.host in SHORTENERS

    @property
    def key(self) -> str:
        """The whole normal form: host, path and the query that matters."""
        return self.host + self.path + (f"?{self.query}" if self.query else "")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Website) and other.key == self.key

    def __hash__(self) -> int:
        return hash(self.key)

    def __repr__(self) -> str:
        return f"Website({self.key!r})"


def website(url: str) -> Website | None:
    """``url`` in normal form, or None when it is not a web address."""
    text = url.strip()
    if not text:
        return None
    if "://" not in text:
        if _SCHEME.match(text):  # mailto:, tel:, ...
            return None
        text = "https://" + text
    parts = urlsplit(text)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    host = parts.hostname.lower().rstrip(".").removeprefix("www.")
    path = re.sub(r"/+$", "", parts.path) or ""
    query = urlencode(sorted((k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
                             if not _TRACKING.match(k)))
    return Website(url, host, path, query)


def phone_e164(text: str, region: str) -> str | None:
    """One phone number in E.164 (``+12175550142``), or None when it is not a valid number."""
    import phonenumbers

    try:
        number = phonenumbers.parse(text.strip().removeprefix("tel:"), region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def phones_in(text: str, region: str) -> list[tuple[int, int, str]]:
    """Every phone number written in ``text``: ``(start, end, e164)``."""
    import phonenumbers

    found = []
    for match in phonenumbers.PhoneNumberMatcher(text, region):
        if phonenumbers.is_valid_number(match.number):
            found.append((match.start, match.end, phonenumbers.format_number(
                match.number, phonenumbers.PhoneNumberFormat.E164)))
    return found


def national(e164: str) -> str:
    """An E.164 number as people write it in its country: ``(217) 555-0142``."""
    import phonenumbers

    return str(phonenumbers.format_number(phonenumbers.parse(e164, None),
                                          phonenumbers.PhoneNumberFormat.NATIONAL))


def _abbreviate(words: Iterable[str]) -> str:
    return " ".join(_ABBREVIATIONS.get(w, w) for w in words)


def address_key(text: str) -> str:
    """A street address folded to its parts: number, street, unit and ZIP (else the city).

    ``1 River Road, Suite 200, Springfield, IL 62701-1234`` and ``1 river rd ste 200
    springfield illinois 62701`` give the same key.
    """
    import usaddress  # type: ignore[import-untyped]

    try:
        tagged, _ = usaddress.tag(text)
    except usaddress.RepeatedLabelError:
        return _abbreviate(_fold(text).split())
    parts = {label: _abbreviate(_fold(value).split()) for label, value in tagged.items()}
    street = " ".join(parts[k] for k in (
        "AddressNumber", "StreetNamePreDirectional", "StreetName", "StreetNamePostType",
        "StreetNamePostDirectional") if parts.get(k))
    unit = parts.get("OccupancyIdentifier", "")  # "Suite 200", "Ste. 200", "#200": "200"
    place = parts.get("ZipCode", "")[:5] or parts.get("PlaceName", "")
    if not street:
        return _abbreviate(_fold(text).split())
    return " | ".join(p for p in (street, unit, place) if p)
