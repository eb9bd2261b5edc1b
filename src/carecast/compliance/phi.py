"""Find HIPAA Safe Harbor identifiers in text, without a language model.

``scan(text)`` returns ``PhiSpan(start, end, category, confidence)`` tuples: Python ``str``
offsets, ``end`` exclusive, ``category`` one of ``CATEGORIES``. ``detect(text)`` is the same
as plain ``(start, end, category)`` triples, for scoring tools.

Structured identifiers (phone, email, SSN, dates, numbers after "MRN", "member ID", ...) come
from precompiled patterns and checksums (Luhn, IBAN mod 97, NANP rules, SSN ranges). Names
and places come from runs of capitalised words judged by lexicons in ``data/`` (US census
first and last names, modern given names, an English dictionary, common words of posts,
GeoNames cities as compact hash lists), street grammar and the words around them ("patient",
"Mr.", "said", "lives in"). The lexicons load on the first scan. ``data/README.md`` says how
each list was built.

Confidence: 0.8 and up means an identifier tied to a person (an SSN, a number after "MRN",
a date after "born"); 0.6-0.8 a likely identifier; below 0.6 something shaped like one that
is probably not about a person (a date without a personal cue, an ordinary web link).
"""

from __future__ import annotations

import gzip
import ipaddress
import re
import unicodedata
from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache, lru_cache
from importlib import resources
from typing import Literal, NamedTuple, get_args

from carecast.compliance.wordset import WordSet

__all__ = ["CATEGORIES", "Category", "PhiSpan", "detect", "patient_context", "scan", "warm"]

#: The Safe Harbor categories, named as the project's scorer names them.
Category = Literal["NAME", "LOCATION", "DATE", "PHONE", "FAX", "EMAIL", "SSN", "MRN",
                   "HEALTH_PLAN", "ACCOUNT", "LICENSE", "VEHICLE", "DEVICE", "URL", "IP",
                   "OTHER_ID"]
CATEGORIES: tuple[Category, ...] = get_args(Category)
#: ``detect`` keeps spans at least this confident.
DETECT_MIN = 0.5


class PhiSpan(NamedTuple):
    """One identifier: ``text[start:end]`` is of ``category`` with ``confidence`` (0..1)."""

    start: int
    end: int
    category: str
    confidence: float


# ---- character classes and word lists written here ----------------------------------------

def _split(words: str) -> list[str]:
    return words.split()


def _by_first_letter(alternatives: str, word_start: bool = False) -> str:
    """``alternatives`` ("Rue|Avenue|Av\\.", each begun by a plain character) as one group per
    first character, in their order: at each position the engine then tries the one group
    that can match instead of every alternative (the matches are the same). ``word_start``:
    each begins a word, as ``\\b`` before the group would say; told by a lookbehind after the
    first letter instead, so that the engine still skips to a first letter in C."""
    groups: dict[str, list[str]] = {}
    for word in alternatives.split("|"):
        groups.setdefault(word[0], []).append(word[1:])
    after_first = r"(?<!\w.)" if word_start else ""
    return "(?:" + "|".join(
        first + after_first + (rest[0] if len(rest) == 1 else f"(?:{'|'.join(rest)})")
        for first, rest in groups.items()) + ")"


_UPPER = "".join(sorted({chr(c) for c in (*range(0x41, 0x5B), *range(0xC0, 0x250),
                                          *range(0x386, 0x3B0), *range(0x400, 0x430))
                         if chr(c).isupper()}))
_UP = f"[{re.escape(_UPPER)}]"
_WORD_TAIL = r"[^\W\d_]*(?:['\u2019][^\W\d_]+|-[^\W\d_]+)*"
_CAP_WORD = rf"{_UP}{_WORD_TAIL}"
_CONNECTOR = r"(?:van|von|der|den|de|del|della|di|da|dos|das|do|du|la|le|bin|ibn|al|el|ter|ten|y)"
_RUN = re.compile(  # written to begin with a capital: the engine then skips to one in C
    rf"{_UP}(?:\.?[ \t]+(?:{_UP}\.?[ \t]+){{0,2}}{_CAP_WORD}|{_WORD_TAIL})"
    rf"(?:[ \t]+(?:(?:{_CONNECTOR}|{_UP}\.?)[ \t]+){{0,2}}{_CAP_WORD})*"
)
_PUNCT = "\"'\u201c\u201d\u2018\u2019()[]{},.;:!?*-\u2013\u2014>"
_NEXT_WORDS = re.compile(r"(?:['\u2019]s\b)?[^\w\n]{0,4}([^\W\d_]+)(?:[ \t]+([^\W\d_]+))?")
_LIST_GAP = re.compile(r"\s*(?:,|&|\band\b|\bor\b|,\s*and\b)\s*")
_LOWER_PAIR = re.compile(r"(?<![\w'\u2019-])([^\W\d_A-Z]{3,})(?:[ \t]+([^\W\d_A-Z]{3,}))?"
                         r"(?![\w'-])")
_HAS_UPPER = re.compile(r"[A-Z]")
_PERSON_BEFORE = frozenset(
    _split("mr mrs ms mx miss dr prof patient patients resident named name called call dear hi "
           "hello hey thanks thank congratulations congrats welcome meet says said told by with "
           "mother father mom dad son daughter wife husband brother sister grandson granddaughter "
           "grandmother grandfather grandma grandpa aunt uncle cousin nephew niece baby boy girl "
           "friend partner fiancé fiancee widow survivor donor nurse doctor physician surgeon "
           "player actor actress singer author ceo president senator minister coach kudos "
           "shoutout governor mayor judge rep representative councilman councilwoman commissioner "
           "mr. dr. mrs. ms. memory honor honour"))
_PERSON_AFTER = frozenset(
    _split("said says told asked explained added noted wrote replied recalls recalled shares "
           "shared who whose thanks smiled laughed died passed underwent received lives lived "
           "spent shouted listed works worked moved visited wants needs feels felt loves thinks "
           "celebrates celebrated turned turns"))
_PLACE_BEFORE = frozenset(_split("in at from near to into toward towards lives live living lived "
                                 "moved born visit visiting outside around downtown across via "
                                 "resident residents"))
_INFLECTIONS = (("s", ""), ("es", ""), ("ies", "y"), ("ly", ""), ("ness", ""), ("ed", ""),
                ("ed", "e"), ("ing", ""), ("ing", "e"), ("ers", ""), ("er", ""), ("ment", ""))
_DEMONYM_ENDINGS = ("ian", "ians", "ish", "ese", "ean", "eans", "ic", "ics", "an", "ans")
_NON_SPACE = re.compile(r"\S+")
_CAMEL = re.compile(r"[a-z][A-Z]")
_AFTER_INITIAL_NAME = frozenset(_split("and is was has had will"))
_SITE_WORDS = frozenset(_split("campus pavilion wing tower elementary park stadium arena mall "
                               "library beach lake county valley"))
_FACILITY_WORDS = frozenset(_split("hospital clinic center centre infirmary hospice home"))
_ABBREVIATIONS = frozenset(_split("mr mrs ms mx dr prof st sr jr rev hon gov sen rep capt sgt lt "
                                  "col gen vs no ave"))
_CONTRACTION = re.compile(r"['\u2019](?:t|re|ve|ll|d|m|mon)$")
_EPONYM_NEXT = frozenset(_split("s disease syndrome palsy sarcoma lymphoma tumor tumour test "
                                "maneuver manoeuvre scale score criteria sign procedure virus "
                                "effect law classification index"))
_ORG_WORDS = frozenset(
    _split("inc inc. llc ltd ltd. corp corp. corporation company co co. group associates partners "
           "foundation institute university college school academy bank society association "
           "agency department ministry council church services solutions systems technologies "
           "technology labs laboratories media news times post press club union network fund "
           "trust pharma pharmaceuticals health healthcare insurance sons brothers lines airlines "
           "airways hospital clinic center centre infirmary hospice home museum library magazine "
           "journal team committee board office program project alliance coalition federation "
           "league"))
_ACRONYMS = frozenset(_split("icu er ed or mri ct pet ekg ecg hipaa covid rsvp faq usa uk eu who "
                             "cdc fda nih ama aha nhs ceo cfo md do rn np pa phd dds od ot pt fyi "
                             "tbt mrn ssn dob id bmi bp hba1c ldl hdl ivf ob gyn ent"))
# Checked before the name and place lexicons: job titles, journals, specialties, ethnicity
# words, drugs and scores are vocabulary, not people.
_JOB_WORDS = frozenset(_split(
    "technician technicians representative representatives coordinator coordinators officer "
    "officers experience access advocate advocates navigator navigators safety relations "
    "liaison transport transporter services practitioner practitioners educator educators "
    "assistant assistants aide aides advisory council portal champion champions week month "
    "specialist specialists manager managers director directors"))
_CLINICAL = frozenset(_split(
    "cardiology oncology medicine surgery pediatrics neurology radiology psychiatry dermatology "
    "orthopedics urology nephrology gastroenterology endocrinology hematology pulmonology "
    "journal lancet nejm jama bmj congress symposium summit conference islander islanders "
    "hispanic hispanics latino latina latinos latinas latinx asian asians caucasian indigenous "
    "native natives african africans metformin lisinopril atorvastatin shingrix insulin "
    "ozempic wegovy apgar wells curb glasgow heimlich healthgrades"))
# The last word of a run that makes it an organisation, an acronym, an eponym or a site.
_NOT_A_NAME_END = _ORG_WORDS | _ACRONYMS | _EPONYM_NEXT | _SITE_WORDS
_ROMAN = frozenset(_split("ii iii iv vi vii viii"))
_INITIALS = re.compile(r"(?<![\w.])(?:[A-Z]\.[ ]?){2,3}(?![\w])|(?<![\w.])[A-Z]\.(?=,? ?\d)"
                       r"|(?<=Mr\. |Ms\. |Mx\. )[A-Z]\.|(?<=Mrs\. )[A-Z]\.")
_NOT_INITIALS = frozenset(_split("u.s. u.k. a.m. p.m. d.c. m.d. r.n. e.g. i.e. b.s. b.a. m.s. "
                                 "n.p. p.a. d.o. u.n. l.a. n.y. st."))
_NAME_INITIAL = re.compile(r"[ \t]+[A-Z]\.(?![\w])")
_HANDLE = re.compile(r"(?<![\w@.])@([A-Za-z0-9_](?:[A-Za-z0-9_.]{1,28}[A-Za-z0-9_]))(?![\w@])")
_PLATE = re.compile(r"(?i:\b(?:licen[cs]e\s+)?(?:plate|tag)s?(?:\s+(?:number|no\.?|#))?"
                    r"[\s:#]*)([A-Z0-9]{1,4}[ -][A-Z0-9]{1,4})\b")
_PORTAL_ID = re.compile(r"[?&;](?i:patient(?:_?id)?|pid|mrn|chart(?:_?id)?|member(?:_?id)?|"
                        r"person(?:_?id)?|dob|ssn|acct|account(?:_?id)?|encounter(?:_?id)?)="
                        r"([\w.-]+)")
_ROOM = re.compile(r"(?i:\b(?:room|rm\.?|bed|bay|bed\s*space))\s*#?\s*(\d{1,4}[A-Za-z]?|[A-Z])\b"
                   r"(?:,?\s*(?:bed)\s*#?\s*(?:\d{1,3}|[A-Z])\b)?")
_ORDINAL_AGE = re.compile(r"(?i:\b(?:celebrat\w*|turn\w*|her|his|their)\s+(?:\w+\s+)?)"
                          r"((?:9\d|1[01]\d)(?:st|nd|rd|th))\b")
_ORDINAL = re.compile(r"\d(?:st|nd|rd|th)\b")
_OLD_ORDINAL = re.compile(r"(?:9\d|1[01]\d)(?:st|nd|rd|th)\b")  # hint for _ORDINAL_AGE
_OLD_AGE = re.compile(r"(?:9\d|1[01]\d)(?!\d)")  # hint for _AGE and _AGE_AFTER_NAME
# its two branches, each begun by a plain character: the engine skips to a "9" or a "1" in a
# tight loop instead of testing a class at each character (two searches cost less than one)
_OLD_AGE_9 = re.compile(r"9\d(?!\d)")
_OLD_AGE_1 = re.compile(r"1[01]\d(?!\d)")
_CAP_INITIAL = re.compile(r"\.(?<=[A-Z]\.)")  # hint for _INITIALS, searched from each dot
_POSTCODE_HINT = re.compile(r"\d[A-Z]")  # hint for _POSTCODE_SHAPES
_MONTH_ALONE = re.compile(  # "in March": a month of care (a date more precise than a year)
    r"\b(?:[Ii]n|[Dd]uring|[Ss]ince|[Uu]ntil|[Ll]ast|[Tt]his|[Ee]arly|[Ll]ate|[Mm]id-?)\s+"
    r"(?:early\s+|late\s+|mid-?)?((?:January|February|March|April|May|June|July|August|"
    r"September|October|November|December)\b)(?![ \t]+\d|,?[ \t]+(?:of[ \t]+)?\d{4})")
_ROAD = re.compile(_by_first_letter(r"Route|Rte\.?|Highway|Hwy\.?|Interstate|I-|US|SR|State Road|"
                                    r"County Road|CR", word_start=True) +
                   r"[ \t-]?\d{1,4}[A-Z]?\b")
_ACRONYM_PLURAL = re.compile(r"[A-Z]{2,5}s")
_LETTER_WORD = re.compile(r"[A-Z]-[a-z]")  # "C-section", "X-ray", "T-cell": vocabulary
#: Each byte as itself but the ASCII digits, each as "0" (48): counted and found in C.
_DIGITS_AS_ZERO = bytes(48 if 48 <= byte <= 57 else byte for byte in range(256))
_REGISTRY = re.compile(r"(?:NCT\d{8}|ISRCTN\d{8}|ACTRN\d{14}|EUCTR\d{4}-\d{6}-\d{2}"
                       r"|DRKS\d{8}|ChiCTR[\w-]+|[RKUPFT]\d{2}[A-Z]{2}\d{6}(?:-\d+)?)")
_REGISTRY_FIRST = frozenset("NIAEDCRKUPFT")  # the first letters of its numbers
_MONTHS = ("January|February|March|April|May|June|July|August|September|October|November|"
           "December|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec")
_MONTH = (r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|"
          r"Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)")
_WEEKDAYS = "Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday"
# Nouns an ordinal counts ("the 7th floor", "the 3rd annual"): the ordinal is then no date.
_COUNTED = (r"(?i:floor|fl|grade|annual|anniversary|time|times|year|birthday|edition|century|"
            r"place|round|week|day|month|percentile|generation|street|st|avenue|ave|ward|wing|"
            r"level|step|straight|consecutive|largest|best|patient|baby|person|class|cohort)\b")
_CALENDAR = frozenset(w.lower() + plural for w in f"{_MONTHS}|{_WEEKDAYS}".split("|")
                      for plural in ("", "s"))
_STATE_CODES = ("AL|AK|AZ|AR|CA|CO|CT|DE|DC|FL|GA|HI|ID|IL|IN|IA|KS|KY|LA|ME|MD|MA|MI|MN|MS|MO|"
                "MT|NE|NV|NH|NJ|NM|NY|NC|ND|OH|OK|OR|PA|RI|SC|SD|TN|TX|UT|VT|VA|WA|WV|WI|WY|PR")
_STATE_AFTER = re.compile(rf",\s*(?:{_STATE_CODES})\b")
_ROLE_MAILBOXES = frozenset(
    _split("info contact appointments appointment press media news help support hello office "
           "admin noreply no-reply careers jobs marketing communications pr events web webmaster "
           "team billing records feedback volunteer volunteers giving donate foundation sales"))

# ---- structured identifiers ---------------------------------------------------------------

_EMAIL_DOMAIN = re.compile(r"[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")
_EMAIL_LOCAL = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._%+'-")
_URL = re.compile(r"(?:https?://|HTTPS?://|ftp://|www\.|WWW\.)[^\s<>\"'()\[\]{}]*"
                  r"[^\s<>\"'()\[\]{}.,;:!?]")
_TLD = re.compile(r"\.(?:com|org|net|edu|gov|info|biz|io|me|health|care|co|us|uk|ca|au|de|fr|es|"
                  r"it|nl|se|dk|no|fi|be|ch|at|pl|cz|pt|br|in|jp|cn|ru|eu|ly|tv)"
                  r"(?:\.[a-z]{2})?(?![\w@-])")
_HOST_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.-")
_URL_PATH = re.compile(r"/[^\s<>\"'()]*[^\s<>\"'().,;:!?]|/")
_PERSONAL_URL = re.compile(
    r"(?:facebook|fb|instagram|twitter|x|tiktok|linkedin|gofundme|caringbridge|youtube|"
    r"threads|bsky|mastodon)\.(?:com|app|social|org)/(?!(?:pages|groups|events|watch|"
    r"hashtag|explore|company|school)\b)[\w.@-]+|/~\w+|/(?:u|user|users|profile|in)/[\w.-]+",
    re.IGNORECASE)
_IPV4 = re.compile(r"(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}"
                   r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?![\w]|\.\d)")
_IPV6 = re.compile(r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:])")
# What an IPv6 address (two colons at most four hex digits apart) or a MAC address (a hex
# pair between two colons or dashes) holds: the hint for both.
_HEX_BETWEEN_SEPARATORS = re.compile(r":[0-9A-Fa-f]{0,4}:|-[0-9A-Fa-f]{2}-")
_MAC = re.compile(r"(?<![\w:-])[0-9A-Fa-f]{2}([:-])(?:[0-9A-Fa-f]{2}\1){4}[0-9A-Fa-f]{2}(?![\w:-])")
_SSN = re.compile(r"(\d{3})([- ])(\d{2})\2(\d{4})(?![\w-])")
_IBAN = re.compile(r"[A-Z][A-Z]\d\d(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b")
_CARD = re.compile(r"\d(?:[ -]?\d){11,18}(?![\w-]|\.\d)")
_MBI = re.compile(r"[1-9][AC-HJKMNP-RT-Y][AC-HJKMNP-RT-Y0-9]\d[AC-HJKMNP-RT-Y]"
                  r"[AC-HJKMNP-RT-Y0-9]\d[AC-HJKMNP-RT-Y]{2}\d{2}\b")
_KEYWORDS = {
    **dict.fromkeys(_split("mrn mr# chart patient hospital record records encounter visit"),
                    "MRN"),
    **dict.fromkeys(_split("member subscriber policy insurance plan beneficiary medicare medicaid "
                           "mbi hicn group insurer"), "HEALTH_PLAN"),
    **dict.fromkeys(["plate", "vin", "vehicle", "registration", "reg"], "VEHICLE"),
    **dict.fromkeys(_split("license licence dl dea npi certificate cert permit"), "LICENSE"),
    **dict.fromkeys(_split("account acct a/c routing card iban"), "ACCOUNT"),
    **dict.fromkeys(_split("serial s/n sn device imei udi implant pacemaker pump"), "DEVICE"),
    **dict.fromkeys(["ssn", "security"], "SSN"),
    **dict.fromkeys(_split("passport case claim reference ref ticket employee student tax "
                           "identification badge file order confirmation booking"), "OTHER_ID"),
}
_FILLERS = frozenset(_split("number num no no. nr nr. # id is was : = of"))
_ID_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789./-")
_DIGIT_RUN = re.compile(r"\d+")
_NON_DIGIT = re.compile(r"\D")
# From a digit to the end of its token in ASCII text (where "\d" is "[0-9]"): begun at one
# class, so the engine skips to a digit in C.
_DIGIT_TO_TOKEN_END = re.compile(r"[0-9](?:[A-Za-z0-9./-]*[A-Za-z0-9])?")
# The same in an ASCII text's bytes with each digit as "0" (``_Found.zeros``): begun by a plain
# character, which the engine finds in a tight loop instead of testing a class at each one.
_ZERO_TO_TOKEN_END = re.compile(rb"0(?:[A-Za-z0./-]*[A-Za-z0])?")

_VIN_SHAPE = re.compile(r"[A-HJ-NPR-Z0-9]{17}")
_MONEY_BEFORE = re.compile(r"[$€£¥]\s?$")
_NOT_ID_WORDS = frozenset(_split("phone telephone tel mobile cell fax call text contact room bed "
                                 "floor suite unit page step"))
_PHONE = re.compile(  # begins with one class (+, "(" or a digit): the engine skips to it in C
    r"[+(\d](?:(?<=\+)\s?\d{1,3}[ .-]?(?:\(\d{1,5}\)[ .-]?)?\d{1,5}+|(?<=\()\d{1,5}\)[ .-]?"
    r"\d{1,5}+|(?<=\d)\d{0,4}+)(?:[ .-]\d{1,8}+){0,5}+"
    r"(?:\s*(?:x|ext\.?|extension)\s*\d{1,6})?(?![\w/%]|[.:,-]\d)"
)
_PHONE_CUE = re.compile(r"call|phone|tel|mobile|cell|text|sms|whatsapp|number|reach|dial|"
                        r"contact|fax|ph[:.]")
_TOLL_FREE = frozenset(_split("800 833 844 855 866 877 888"))
_YEAR_RANGE = re.compile(r"(?:19|20)\d\d[-\u2013](?:19|20)?\d\d")

# ---- dates and ages -------------------------------------------------------------------------

_TIME = re.compile(r"[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:\s?[AaPp]\.?[Mm]\.?)?"
                   r"(?:Z|[+-]\d{2}:?\d{2})?")
_DATE_NUM = re.compile(
    r"(?:(?P<y1>\d{4})(?P<s1>[-/.])(?P<m1>\d{1,2})(?P=s1)(?P<d1>\d{1,2})"
    r"|(?P<a>\d{1,2})(?P<s2>[-/.])(?P<b>\d{1,2})(?P=s2)(?P<y2>\d{4}|\d{2}))"
)
_ORD = r"(?:st|nd|rd|th)?"
_DATE_TEXT = re.compile(
    rf"(?:{_MONTH}\.?\s+\d{{1,2}}{_ORD}(?:,?\s+\d{{4}})?"
    rf"|\d{{1,2}}{_ORD}\s+(?:of\s+)?{_MONTH}\.?(?:,?\s+\d{{4}})?"
    rf"|{_MONTH}\.?,?\s+(?:of\s+)?\d{{4}}"
    rf")(?![\w])"
)
_SHORT_DATE = re.compile(r"(\d{1,2})/(\d{1,2})")
_DATE_CUE = re.compile(  # searched in the lower-cased words just before a date
    r"born|birth|dob|d\.o\.b|admit|discharg|died|death|passed away|deceased|surgery|operated|"
    r"delivered|diagnos|seen on|treated|visited|date of service|transplant|procedure|arrived|"
    r"expired|onset")
_AGE_AFTER_NAME = re.compile(r",\s*(9\d|1[01]\d)\b(?![.,]\d)")
# An age over 89: "95 years", "aged 91", "his 100th birthday", "turned 104", "at 91, she".
# Each branch begins with a plain character, so that the engine skips to one in C: the two
# first digits of the age and the first letters of the words, "at" told a word's start by a
# lookbehind after its "a" (as "\b" before it would say).
_OLD = r"(?:9\d|1[01]\d)"
_AGE_TAIL = (r"(?:(?:\s*|-)(?:[Yy]ears?|[Yy]rs?|y/?o|[Yy]ear-old|-[Yy]ear-old)\b"
             r"|(?:st|nd|rd|th)\s+[Bb]irthday\b)")
_TURN_TAIL = (rf"urn(?:s|ed|ing)?\s+{_OLD}\b(?![.,]?\d|\s*(?:%|percent|degrees|°|mph|miles|"
              r"minutes|hours|days|weeks|months|pages|mg|beds|units|patients))")
_AGE = re.compile(rf"9\d{_AGE_TAIL}|1[01]\d{_AGE_TAIL}|a(?:ged?\s+{_OLD}\b|(?<!\w.)t\s+{_OLD},)"
                  rf"|Aged?\s+{_OLD}\b|T{_TURN_TAIL}|t{_TURN_TAIL}")
_WEEKDAY_DATE = re.compile(rf"(?:(?:{_WEEKDAYS}),?\s+)?the\s+\d{{1,2}}(?:st|nd|rd|th)\b"
                           rf"(?!\s+(?:of\s+)?{_MONTH})(?!\s+{_COUNTED})")

# ---- places -----------------------------------------------------------------------------

_STREET_TYPE = (r"(?:(?:Street|Avenue|Road|Boulevard|Lane|Drive|Court|Way|Place|Terrace|Parkway|"
                r"Circle|Highway|Square|Trail|Crescent|Close|Row|Alley|Plaza|Loop|Pike|Grove|"
                r"Gardens|Mews|Heights|Expressway|Freeway|Turnpike|Ridge|Crossing)\b"
                r"|(?:St|Ave|Av|Rd|Blvd|Ln|Dr|Ct|Pl|Ter|Pkwy|Cir|Hwy|Sq|Trl|Cres)\b\.?)")
_UNIT = (r"(?:,?\s*(?:Apt|Apartment|Suite|Ste|Unit|Fl|Floor|Rm|Room|Bldg|Building|#)\.?\s*#?"
         r"\s*[\w-]*\d[\w-]*)")
_CITY_STATE_ZIP = (rf"(?:,?\s+{_CAP_WORD}(?:\s+{_CAP_WORD}){{0,2}},?\s+(?:{_STATE_CODES})\.?"
                   rf"(?:\s+\d{{5}}(?:-\d{{4}})?)?)")
_STREET_NUMBERED = re.compile(
    rf"\d\d{{0,5}}+[A-Za-z]?+\s+(?:[NSEW]\.?\s+)?(?:(?:{_CAP_WORD}|\d+(?:st|nd|rd|th))\s+){{1,3}}"
    rf"{_STREET_TYPE}{_UNIT}?{_CITY_STATE_ZIP}?"
)
_STREET_NAMED = re.compile(rf"(?:Street|Avenue|Road|Boulevard|Lane|Drive|Terrace|Parkway|"
                           rf"Crescent|Highway)\b{_UNIT}?")
_CAP_WORDS_BEFORE = re.compile(rf"(?:{_CAP_WORD}[ \t]+){{1,3}}$")
_STREET_SUFFIXES = ("straße", "strasse", "str.", "gasse", "weg", "vej", "vägen", "vagen", "gatan",
                    "gata", "gade", "straat", "laan", "plein", "gracht", "veien", "vegen", "katu",
                    "tie", "polku", "kuja", "utca", "ulica", "allee", "platz", "damm", "ufer",
                    "steig", "gränd", "stræde", "stien")
_SUFFIX_LONGEST = max(map(len, _STREET_SUFFIXES))
_SUFFIX_TAILS = frozenset(suffix[-2:] for suffix in _STREET_SUFFIXES)
_WORD_NUMBER = re.compile(r"([^\W\d_]{6,}\.?)[ \t]+\d{1,5}[a-zA-Z]?\b")  # "hersnapvej 18"
# An address told after its cue: "lives at ...", "address: ...", "mailed to ..." (with a digit).
_ADDRESS_CUE = re.compile(  # searched in lower-case text; each branch begins with a letter
    r"(?:lives at|living at|live at|lived at|resides at|residing at|reside at|"
    r"address\s*:|address\s+is\s*:?|mailed to|sent to|delivered to|ship to|shipped to)[\s|>]+")
_ADDRESS_END = re.compile(r"[\n?!;|]|\.(?:\s|$)|$")
# The town after a street address: ", Springfield" or the next line of an address block.
_TOWN_AFTER = re.compile(
    rf"[ \t]*(?:,|\n[\s|>?]*)[ \t]*({_UP}[^\W\d_]*(?:[ \t]+(?:{_CONNECTOR}[ \t]+)?"
    rf"{_UP}[^\W\d_]*){{0,3}})(?=[ \t]*(?:$|[\n,.|]|\d))")
_UNIT_WORDS = frozenset(_split("apt apartment suite ste unit fl floor rm room bldg building flat"))
_STREET_PREFIXED = re.compile(
    _by_first_letter(r"Rue|rue|Avenue|Av\.|Avda\.?|Avenida|Calle|calle|C/|Carrer|Via|via|Viale|"
                     r"Vicolo|Piazza|Piazzale|Corso|Largo|Rua|Travessa|Alameda|Praça|Plaza|Paseo|"
                     r"Camino|Boulevard|Bd\.?|Chemin|Allée|Impasse|Quai|Ulica|ul\.|Trg|Odos|Calea|"
                     r"Strada|Aleja") +
    rf"(?:\s+(?:de|del|della|des|du|da|do|dos|das|di|la|le|les|los|las|el|d'|{_CAP_WORD}\.?)){{1,5}}"
    r"(?:,?\s+\d{1,5}[a-zA-Z]?\b)?"
)
_PO_BOX = re.compile(r"(?:[Pp]\.?\s?[Oo]\.?|P\.?\s?O\.?|[Pp]ost(?:al)?|POST|[Pp]ost\s+[Oo]ffice)\s*"
                     r"(?:[Bb]ox|BOX)\s*#?\s*\d+\b")
_STATE_BEFORE = re.compile(rf"(?<![\w.])(?:{_STATE_CODES})\.?,?[ \t]+$")
_US_ZIP = re.compile(r"\d{5}(?:-\d{4})?")
_ZIP_NAMED = re.compile(r"(?:[Zz]ip|ZIP|[Pp]ost|POST|PLZ|[Pp]lz)(?:\s*[Cc]ode|al\s+[Cc]ode|CODE)?"
                        r"\W{0,3}(?:is\s+)?([A-Z0-9][A-Z0-9 -]{1,8}[A-Z0-9])\b")
# UK ("SW1A 1AA") and Canadian ("K1A 0B1") postcodes, their shared first capital written once
# so that the engine skips to a capital in C (an alternation of classes is tried everywhere)
_POSTCODE_SHAPES = re.compile(r"[A-Z](?:[A-Z]?\d[A-Z\d]?\s?\d[ABD-HJLNP-UW-Z]{2}\b"
                              r"|(?<=[ABCEGHJ-NPRSTVXY])\d[ABCEGHJ-NPRSTV-Z]\s?\d[ABCEGHJ-NPRSTV-Z]\d\b)")
_UNIT_ALONE = re.compile(r"(?:Apt|Apartment|Suite|Ste|Unit|Flat)\.?\s*#?\s*\d+[A-Za-z]?\b")
_POSTCODE_AFTER = re.compile(
    r"[ \t]*,?\s{0,3}(?:[A-Z]{2,3}\s+)?(\d{4,5}(?:-\d{3,4})?|\d{2}-\d{3})\b(?![.,]\d)")
_POSTCODE_BEFORE = re.compile(r"(?<![\w.,-])(\d{1,6})[ \t]*,?[ \t]*$")
# searched in lower-case text (case-blind patterns are slow)
_PATIENT_CONTEXT = re.compile(_by_first_letter(
    r"patients?|admitted|admission|transferred|discharged|resident|stayed|treated|"
    r"hospitali[sz]ed|born|died|passed\s+away|recovering|inpatient|room|ward|diagnosed|"
    r"diagnosis|underwent|resides|survivor", word_start=True) + r"\b")
_DIGIT = re.compile(r"\d")


def _ascii_twin(pattern: re.Pattern[str]) -> re.Pattern[str]:
    r"""``pattern`` in ``re.ASCII`` mode, matching in ASCII text what ``pattern`` matches there:
    ``\d`` and ``\w`` are then tested in line instead of by a call per character, and ``\s``
    is written out as the ASCII characters Unicode counts as spaces (tab to CR, 0x1C to 0x20).
    The letter classes are written as their ASCII letters (a capital ``_UP`` as ``[A-Z]``, a
    letter ``[^\W\d_]`` as ``[A-Za-z]``): one range test a character instead of a category
    test for each of ``\W``, ``\d`` and ``_`` (the same there: a text the twins read holds no
    other letter)."""
    source = pattern.pattern
    if "\\\\" in source or re.search(r"\[[^\]]*\\s", source):
        raise ValueError(f"{source!r}: write \\s outside a character class for its ASCII twin")
    source = source.replace(r"\s", r"[\t-\r\x1c-\x20]").replace(_UP, "[A-Z]")
    source = source.replace(r"[^\W\d_A-Z]", "[a-z]").replace(r"[^\W\d_]", "[A-Za-z]")
    return re.compile(source, (pattern.flags & ~re.UNICODE) | re.ASCII)


class _Hot(NamedTuple):
    """The patterns that test a digit or word class at each character of a whole text (or of
    the words after each name), as ``_Found.hot`` holds them for one text: the ``re.ASCII``
    twins when the text is ASCII (most posts)."""

    digit: re.Pattern[str]
    ssn: re.Pattern[str]
    card: re.Pattern[str]
    phone: re.Pattern[str]
    street_numbered: re.Pattern[str]
    ordinal: re.Pattern[str]
    postcode_hint: re.Pattern[str]
    postcode_shapes: re.Pattern[str]
    age: re.Pattern[str]
    run: re.Pattern[str]
    next_words: re.Pattern[str]
    lower_pair: re.Pattern[str]


#: A character outside ASCII that is a letter, a digit or a space: only where one is do the
#: ``re.ASCII`` twins read a text differently from their patterns (emoji, dashes and curly
#: quotes are none of these in either mode).
_WORDY_NON_ASCII = re.compile(r"[^\W\x00-\x7f]|[^\S\x00-\x7f]")


def _reads_as_ascii(text: str) -> bool:
    """Whether the ``re.ASCII`` twins match in ``text`` what their patterns match there."""
    return text.isascii() or _WORDY_NON_ASCII.search(text) is None


def _zero_twin(pattern: re.Pattern[str]) -> re.Pattern[bytes]:
    r"""The ``re.ASCII`` twin of ``pattern`` for an ASCII text's bytes with each digit as "0"
    (``_Found.zeros``): ``\d`` written as ``0``, so that a pattern begun by a digit is begun by
    a plain character, which the engine skips to in a tight loop instead of testing a class at
    each character. Its spans are the twin's in the text; a group's digits are all "0"."""
    source = _ascii_twin(pattern).pattern.replace("\\u2019", "")
    if re.search(r"[0-9]", re.sub(r"\{[0-9,]+\}|\\x[0-9a-f]{2}", "", source)):
        raise ValueError(f"{source!r}: a digit written out reads as 0 in the bytes")
    return re.compile(source.replace(r"\d", "0").encode("ascii"), re.ASCII)


_UNICODE_HOT = _Hot(_DIGIT, _SSN, _CARD, _PHONE, _STREET_NUMBERED, _ORDINAL, _POSTCODE_HINT,
                    _POSTCODE_SHAPES, _AGE, _RUN, _NEXT_WORDS, _LOWER_PAIR)
_ASCII_HOT = _Hot(*map(_ascii_twin, _UNICODE_HOT))
_ZERO_STREET_NUMBERED = _zero_twin(_STREET_NUMBERED)
#: Each byte as itself but the ASCII capitals, each as "A" (65).
_CAPITALS_AS_A = bytes(65 if 65 <= byte <= 90 else byte for byte in range(256))


def _caps_twin(pattern: re.Pattern[str]) -> re.Pattern[bytes]:
    r"""The ``re.ASCII`` twin of ``pattern`` for an ASCII text's bytes with each capital as
    "A" (``_CAPITALS_AS_A``): a capital ``[A-Z]`` written as ``A``, so that a pattern begun by
    a capital is begun by a plain character, skipped to in a tight loop (``[A-Za-z]`` holds
    "A"). Its spans are the twin's in the text."""
    source = _ascii_twin(pattern).pattern.replace("\\u2019", "")
    if re.search(r"[A-Z]", re.sub(r"\[A-Z]\]|A-Z|\\[A-Za-z]", "", source)):
        raise ValueError(f"{source!r}: a capital written out reads as A in the bytes")
    return re.compile(source.replace("[A-Z]", "A").encode("ascii"), re.ASCII)


_CAPS_RUN = _caps_twin(_RUN)
_ZERO_ORDINAL = _zero_twin(_ORDINAL)
_ZERO_POSTCODE_HINT = _zero_twin(_POSTCODE_HINT)


# ---- lexicons (loaded on the first scan) ---------------------------------------------------

#: Answers remembered per process (posts repeat their words); cleared when this full.
_REMEMBER = 50_000


@dataclass(frozen=True)
class _Lexicon:
    first: frozenset[str]
    last: frozenset[str]
    common: frozenset[str]
    english: WordSet
    cities: WordSet
    not_phi_places: frozenset[str]
    _english_seen: dict[str, bool] = field(default_factory=dict, compare=False, repr=False)
    _plain_seen: dict[str, bool] = field(default_factory=dict, compare=False, repr=False)

    def is_english(self, word: str) -> bool:
        """A dictionary word, or one with an English ending on a dictionary word."""
        known = self._english_seen.get(word)
        if known is None:
            if len(self._english_seen) >= _REMEMBER:
                self._english_seen.clear()
            known = self._english_seen[word] = self._is_english(word)
        return known

    def is_plain(self, word: str) -> bool:
        """An ordinary word, not a given name: common in posts, or English and no first name."""
        plain = self._plain_seen.get(word)
        if plain is None:
            if len(self._plain_seen) >= _REMEMBER:
                self._plain_seen.clear()
            plain = self._plain_seen[word] = word in self.common or (
                self.is_english(word) and word not in self.first)
        return plain

    def _is_english(self, word: str) -> bool:
        if word in self.english or word in self.common:
            return True
        if "-" in word:
            return all(self.is_english(part) for part in word.split("-") if part)
        for suffix, stem_end in _INFLECTIONS:
            if word.endswith(suffix) and len(word) - len(suffix) >= 3 and (
                    word[:-len(suffix)] + stem_end) in self.english:
                return True
        return False


def _words(name: str) -> frozenset[str]:
    data = resources.files("carecast.compliance").joinpath("data", name).read_bytes()
    text = (gzip.decompress(data) if name.endswith(".gz") else data).decode("utf-8")
    words = frozenset(map(str.strip, text.splitlines()))
    return frozenset(w for w in words if w and w[0] != "#") if "#" in text else words - {""}


def _index(name: str) -> WordSet:
    return WordSet(resources.files("carecast.compliance").joinpath("data", name).read_bytes())


@cache
def _lexicon() -> _Lexicon:
    """The lexicons, read once per process from the compact lists in ``data/``."""
    not_phi = set(_words("regions.txt"))
    not_phi |= {"united states", "america", "usa", "u.s.", "uk", "england", "scotland", "wales",
                "northern ireland", "great britain", "europe", "asia", "africa", "the netherlands",
                "czech republic", "south korea", "north korea", "russia", "vatican"}
    cities = _index("cities.idx")  # the regions are left out when it is built
    common = _words("common_words.txt")
    modern = frozenset(" ".join(_words("first_names_modern.txt")).split())
    return _Lexicon(first=_words("first_names.txt") | modern, last=_words("last_names.txt"),
                    common=common | _CALENDAR, english=_index("english_words.idx"),
                    cities=cities, not_phi_places=frozenset(not_phi))


def warm() -> None:
    """Load the lexicons now (a server may call this at start, or from a worker thread)."""
    _lexicon()


# ---- allow-lists ----------------------------------------------------------------------------

_NON_ALNUM = re.compile(r"[\W_]+")
_CLINICIAN_BEFORE = re.compile(r"(?i:\b(?:dr|prof|doctor|professor|nurse)\.?\s*)$")
_TITLES = frozenset(_split("mr mrs ms mx miss dr prof md do rn np pa phd dds facs"))


@dataclass(frozen=True)
class _Allow:
    digits: frozenset[str]
    texts: str
    tokens: frozenset[str]
    surnames: frozenset[str]
    hosts: tuple[str, ...]
    emails: frozenset[str]

    @staticmethod
    @lru_cache(maxsize=64)
    def of(terms: tuple[str, ...]) -> _Allow:
        digits: set[str] = set()
        texts: list[str] = []
        tokens: set[str] = set()
        surnames: set[str] = set()
        hosts: list[str] = []
        emails: set[str] = set()
        for term in terms:
            term = term.strip()
            if not term:
                continue
            number = re.sub(r"\D", "", term)
            if len(number) >= 7:
                digits.add(number[-10:])
            if "@" in term:
                emails.add(term.lower())
                hosts.append(term.rsplit("@", 1)[1].lower())
            elif re.fullmatch(r"(?:https?://)?[\w.-]+\.[a-z]{2,}(?:/\S*)?", term, re.I):
                host = re.sub(r"^(?:https?://)?(?:www\.)?", "", term.lower()).split("/")[0]
                hosts.append(host)
            texts.append(f" {_normal(term)} ")
            if not number:
                names = [t for t in _normal(term).split() if t not in _TITLES]
                tokens.update(names)
                surnames.update(names[-1:])
        return _Allow(frozenset(digits), "\x00".join(texts), frozenset(tokens),
                      frozenset(surnames), tuple(hosts), frozenset(emails))

    def allows(self, found: str, category: str, post: str = "", before: str = "") -> bool:
        """Whether ``found`` (of ``category``) is allowed in ``post`` (its words, as ``_normal``
        gives them, between spaces); ``before`` is the text just before it. A town of the
        brand's address (a term with a number) is allowed only where the post writes that
        address out, not as the town a patient lives in; a town in the brand's name
        ("Riverside General") is its name. A staff surname alone is allowed only after a
        clinician's title ("Dr. Patel", not "the Patel family")."""
        if category in ("EMAIL", "URL"):
            lowered = found.lower()
            if lowered in self.emails:
                return True
            host = re.sub(r"^(?:[a-z]+://)?(?:www\.)?", "", lowered.rsplit("@", 1)[-1])
            host = host.split("/")[0]
            return any(host == h or host.endswith("." + h) for h in self.hosts)
        number = re.sub(r"\D", "", found)
        if category in ("PHONE", "FAX") and len(number) >= 7:
            return number[-10:] in self.digits
        normal = _normal(found)
        words = [w for w in normal.split() if w not in _TITLES]
        if category == "NAME" and len(words) == 1:  # "Dawn": a staff member's first name
            return words[0] in self.surnames and (  # is not enough, "Dr. Okafor" is
                len(normal.split()) > 1 or _CLINICIAN_BEFORE.search(before) is not None)
        if category == "LOCATION":
            terms = self.texts.split("\x00")
            return f" {normal} " in terms or any(  # the whole term, or part of its name, or
                len(text) > 6 and (text in f" {normal} " or (  # of its address written out
                    f" {normal} " in text and (text in post or not _DIGIT.search(text))))
                for text in terms)
        if len(normal) >= 3 and f" {normal} " in self.texts:
            return True
        return category == "NAME" and bool(words) and all(w in self.tokens for w in words)


def _normal(text: str) -> str:
    return _NON_ALNUM.sub(" ", text.lower()).strip()


# ---- the scan -------------------------------------------------------------------------------

def patient_context(text: str) -> bool:
    """Whether ``text`` speaks of a patient: patient, admitted, diagnosed, born, room, ..."""
    return _PATIENT_CONTEXT.search(_lower(text)) is not None


def detect(text: str) -> list[tuple[int, int, str]]:
    """``scan`` as ``(start, end, category)`` triples, the spans at least ``DETECT_MIN`` sure."""
    return [(s.start, s.end, s.category) for s in scan(text) if s.confidence >= DETECT_MIN]


def scan(text: str, allow: Iterable[str] = ()) -> list[PhiSpan]:
    """The identifiers in ``text``, in order; spans of ``allow`` terms are left out.

    ``allow`` holds terms that may appear: the brand's name, phone numbers, addresses,
    website and email, staff and public figures. A phone number is allowed by its digits,
    a web address or email by its host, a name when each of its words is in an allowed name.
    """
    found = _Found(text)
    if "=" in text:
        for m in _PORTAL_ID.finditer(text):  # a portal link naming a patient's record
            found.add(m.start(1), m.end(1), "MRN", 0.85)
    if found.digit:
        _structured(text, found)
    elif "@" in text or "." in text:
        _web(text, found)
    _named_streets(text, found)
    _names_and_places(text, found)
    if found.digit:
        _postcodes_by_places(text, found)
    _people_marks(text, found)
    spans = sorted(found.spans)
    terms = tuple(allow)
    if terms and spans:
        allowed = _Allow.of(terms)
        post = f" {_normal(text)} "
        spans = [s for s in spans if not allowed.allows(
            text[s.start:s.end], s.category, post, text[max(0, s.start - 14):s.start])]
    return spans


_new_tuple = tuple.__new__


class _Found:
    """Spans found so far; a later, weaker rule never overlaps an earlier one."""

    __slots__ = ("_ends", "_headlines", "_patient", "_starts", "anchors", "digit", "digits",
                 "first_digit", "honorific", "hot", "lower", "month", "old_age", "spans", "zeros")

    def __init__(self, text: str) -> None:
        self.spans: list[PhiSpan] = []
        self._starts: list[int] = []  # the spans' starts and ends in text order: they never
        self._ends: list[int] = []  # overlap, so both lists are sorted and `free` bisects
        self.anchors: list[tuple[int, int]] = []  # countries and states: not PHI, but places
        self.lower = _lower(text)  # for the cheap hints and the case-blind patterns
        # hints that skip whole passes, asked once per text
        self.hot = _ASCII_HOT if _reads_as_ascii(text) else _UNICODE_HOT
        # an ASCII text's bytes with each digit as "0": the first found and all counted in C
        self.zeros: bytes | None = None
        if text.isascii():
            zeros = self.zeros = text.encode().translate(_DIGITS_AS_ZERO)
            # where the patterns that begin with a digit start searching (-1: no digit)
            self.first_digit = zeros.find(48)
            self.digit = self.first_digit >= 0
            self.digits = zeros.count(48) if self.digit else 0
        else:
            first_digit = self.hot.digit.search(text)
            self.digit = first_digit is not None
            self.first_digit = first_digit.start() if first_digit else -1
            # at least the number of digits: exact where the text reads as ASCII (no other
            # digit)
            self.digits = _digit_count(text) if self.hot is _ASCII_HOT else len(text)
        self.month = _has_month(text)
        self.old_age = self.digit and (
            _OLD_AGE_9.search(text, self.first_digit) is not None or
            _OLD_AGE_1.search(text, self.first_digit) is not None)
        lower = self.lower  # an honorific (Mr., Mrs., Ms., ...) can only be where these are
        self.honorific = "mr" in lower or "ms" in lower or "mx" in lower or "miss" in lower or \
            "mme" in lower or "mlle" in lower or "sr" in lower or "herr" in lower or "frau" in lower
        self._patient: bool | None = None
        self._headlines: dict[int, bool] = {}  # line start -> whether it is in title case

    def headline(self, text: str, start: int) -> bool:
        """Whether the line around ``start`` is in title case (``_title_case``): read once a
        line, however many capitalised runs on it ask (once a run was quadratic)."""
        left = text.rfind("\n", 0, start) + 1
        known = self._headlines.get(left)
        if known is None:
            right = text.find("\n", start)
            known = self._headlines[left] = _title_case(text[left:None if right < 0 else right])
        return known

    def patient(self) -> bool:
        """Whether the text speaks of a patient (``patient_context``), asked once."""
        if self._patient is None:
            self._patient = _PATIENT_CONTEXT.search(self.lower) is not None
        return self._patient

    def free(self, start: int, end: int) -> bool:
        """Whether ``start:end`` overlaps no span yet: only the last span to start before
        ``end`` can overlap it (a bisection, so a text of many spans stays linear)."""
        before = bisect_left(self._starts, end)
        return before == 0 or self._ends[before - 1] <= start

    def add(self, start: int, end: int, category: str, confidence: float) -> bool:
        """Add ``start:end`` if it is free (no span starts inside a free one, so the
        bisection that tells it free is also where it goes)."""
        if start >= end:
            return False
        at = bisect_left(self._starts, end)
        if at and self._ends[at - 1] > start:
            return False
        # (the tuple made in C: the named tuple's ``__new__`` is a Python function)
        self.spans.append(_new_tuple(PhiSpan, (start, end, category, confidence)))
        self._starts.insert(at, start)
        self._ends.insert(at, end)
        return True

    def remove(self, span: PhiSpan) -> None:
        self.spans.remove(span)
        at = bisect_left(self._starts, span.start)
        del self._starts[at], self._ends[at]


def _digits_in(text: str, start: int, end: int, zeros: bytes | None) -> int:
    """How many ASCII digits ``text[start:end]`` holds; ``zeros``, when given, is ASCII
    ``text`` as ``_Found.zeros`` holds it (each digit a "0"), counted there without a slice."""
    return zeros.count(48, start, end) if zeros is not None else \
        _digit_count(text[start:end])


def _digit_count(text: str) -> int:
    """How many ASCII digits ``text`` holds (counted in its UTF-8 bytes, where they are the
    only bytes 0x30-0x39: cheaper than ``str.translate``)."""
    data = text.encode() if text.isascii() else text.encode("utf-8", "surrogatepass")
    return data.translate(_DIGITS_AS_ZERO).count(48)


def _has_month(text: str) -> bool:
    """Whether a month's abbreviation is in ``text``: the hint for the date patterns (tests
    chained in one expression cost a third less than ``any`` over a tuple of them)."""
    return "Jan" in text or "Feb" in text or "Mar" in text or "Apr" in text or \
        "May" in text or "Jun" in text or "Jul" in text or "Aug" in text or "Sep" in text or \
        "Oct" in text or "Nov" in text or "Dec" in text


def _has_road(text: str) -> bool:
    """Whether a word of ``_ROAD`` is in ``text``, as written (the pattern is case-sensitive,
    so "thank us" is no hint)."""
    return "Route" in text or "Rte" in text or "Highway" in text or "Hwy" in text or \
        "Interstate" in text or "I-" in text or "US" in text or "SR" in text or \
        "Road" in text or "CR" in text


def _has_street_word(text: str) -> bool:
    """Whether a word of ``_STREET_NAMED`` is in ``text``, as written (the hint for that
    pattern, whose search reads every capital; ten substring tests cost less)."""
    return "Street" in text or "Avenue" in text or "Road" in text or "Lane" in text or \
        "Drive" in text or "Boulevard" in text or "Terrace" in text or "Parkway" in text or \
        "Crescent" in text or "Highway" in text


def _lower(text: str) -> str:
    """``text`` in lower case, letter for letter (so offsets stay those of ``text``)."""
    lower = text.lower()
    if len(lower) == len(text):
        return lower
    return "".join(ch if len(ch.lower()) != 1 else ch.lower() for ch in text)


_TITLE_WORDS = frozenset(_split("mr mrs ms mx miss dr prof sr sra mme mlle herr frau sir dame lady "
                                "lord"))
_HONORIFICS = frozenset(_split("mr mrs ms mx miss mme mlle sr sra herr frau"))
_BARE_TITLES = frozenset(("nurse", "patient"))
#: The last two letters of every word ``_title_before`` looks for: a word before a run that
#: does not end in one of them is no title, told without reading the word.
_TITLE_ENDINGS = frozenset(w[-2:] for w in _TITLE_WORDS | _HONORIFICS | _BARE_TITLES)


def _title_before(lower: str, start: int, reach: int, titles: frozenset[str],
                  bare: frozenset[str] = frozenset()) -> bool:
    """Whether a whole word of ``titles`` (a dot may follow it) or of ``bare`` ends
    ``lower[start - reach:start]``, spaces or tabs after it ("Mrs. ", "Nurse ")."""
    if start > 2 and lower[start - 1] == " " and lower[start - 2].isalpha() and \
            lower[start - 3:start - 1] not in _TITLE_ENDINGS:
        return False  # the common case: one space after a word whose ending is no title's
    begin = max(0, start - reach)
    end = start
    if end > begin and lower[end - 1] == "\n":
        end -= 1
    while end > begin and lower[end - 1] in " \t":
        end -= 1
    dotted = end > begin and lower[end - 1] == "."
    stop = end - 1 if dotted else end
    if lower[stop - 2:stop] not in _TITLE_ENDINGS:  # the common case: an ordinary word
        return False
    last = lower[begin:stop].rsplit(None, 1)[-1:]  # the common case: a word of letters
    if last and last[0].isalpha() and not lower[stop - 1].isspace():
        word = last[0]
    else:
        i = stop
        while i > begin and lower[i - 1].isalpha():
            i -= 1
        if i > begin and (lower[i - 1].isalnum() or lower[i - 1] == "_"):
            return False
        word = lower[i:stop]
    return word in titles or (not dotted and word in bare)


def _after_gap(text: str, start: int, also: str = "") -> bool:
    """Whether ``start`` begins a token: no letter, digit, ``_`` or one of ``also`` before it."""
    if start == 0:
        return True
    ch = text[start - 1]
    return not (ch.isalnum() or ch == "_" or ch in also)


def _web(text: str, found: _Found) -> None:
    at = text.find("@")
    while at != -1:
        start = at
        while start > 0 and text[start - 1] in _EMAIL_LOCAL:
            start -= 1
        domain = _EMAIL_DOMAIN.match(text, at + 1)
        if domain and start < at:
            local = text[start:at].lower()
            found.add(start, domain.end(), "EMAIL", 0.5 if local in _ROLE_MAILBOXES else 0.95)
        at = text.find("@", at + 1)
    scheme = "//" in text or "www." in text or "WWW." in text  # a web address's start
    for m in _URL.finditer(text) if scheme else ():
        if _after_gap(text, m.start()):
            _url(m.group(), m.start(), m.end(), found)
    run_from = run_at = -1  # the last walk back: from run_at to run_from
    for m in _TLD.finditer(text):
        start, end = m.start(), m.end()
        while start > 0 and text[start - 1] in _HOST_CHARS:
            if start == run_at:  # the rest of this run was walked for the previous match
                start = run_from
                break
            start -= 1
        run_from, run_at = start, m.start()
        if start == m.start() or not found.free(start, end) or text[start - 1:start] == "@":
            continue
        path = _URL_PATH.match(text, end)
        end = path.end() if path else end
        _url(text[start:end], start, end, found)


def _url(url: str, start: int, end: int, found: _Found) -> None:
    personal = _PERSONAL_URL.search(url) is not None or ("?" in url and "@" in url)
    found.add(start, end, "URL", 0.8 if personal else 0.5)


def _structured(text: str, found: _Found) -> None:
    _web(text, found)
    if ":" in text and _HEX_BETWEEN_SEPARATORS.search(text):
        for m in _IPV6.finditer(text):
            if m.group().count(":") >= 2 and _is_ipv6(m.group()):
                found.add(m.start(), m.end(), "IP", 0.9)
        for m in _MAC.finditer(text):
            found.add(m.start(), m.end(), "DEVICE", 0.8)
    hot = found.hot
    tokens = _id_tokens(text, found.first_digit, found.zeros)
    ssn = hot is _UNICODE_HOT or _ssn_shaped(text, tokens)
    for m in hot.ssn.finditer(text, found.first_digit) if ssn else ():
        area, group, serial = m.group(1), m.group(3), m.group(4)
        if _after_gap(text, m.start(), "-") and area not in ("000", "666") and area[0] != "9" \
                and group != "00" and serial != "0000":
            found.add(m.start(), m.end(), "SSN", 0.95 if m.group(2) == "-" else 0.8)
    capitals = False  # an IBAN's or MBI's capitals are in a token: both are skipped where none is
    lower = found.lower
    for start, end in tokens:  # tokens never overlap: one loop serves both rules
        capitals = capitals or text[start:end] != lower[start:end]
        if end - start >= 7 and text.count(".", start, end) == 3 and \
                _IPV4.fullmatch(text, start, end):  # 1.1.1.1 and longer: three dots
            found.add(start, end, "IP", 0.9)
        elif end - start >= 3:  # shorter tokens hold too few digits
            _keyed_id(text, start, end, found)
    for m in _IBAN.finditer(text) if capitals else ():
        if _after_gap(text, m.start()) and _iban_ok(m.group()):
            found.add(m.start(), m.end(), "ACCOUNT", 0.95)
    phone = card = found.digits >= 7
    if phone and hot is _ASCII_HOT:
        phone, card = _chained_digits(text, tokens, found.zeros)
    for m in hot.card.finditer(text, found.first_digit) if card and found.digits >= 12 else ():
        digits = _NON_DIGIT.sub("", m.group())
        if _after_gap(text, m.start(), "+.-") and _luhn_ok(digits) and not (
                len(digits) == 15 and _is_nanp_like(digits)):
            found.add(m.start(), m.end(), "ACCOUNT", 0.9)
    for m in _MBI.finditer(text) if capitals else ():
        if _after_gap(text, m.start()):
            found.add(m.start(), m.end(), "HEALTH_PLAN", 0.7)
    _dates(text, found, tokens)
    _addresses(text, found, tokens, capitals)
    for start, end in tokens:
        if end - start in (5, 10) and _US_ZIP.fullmatch(text, start, end) and \
                _STATE_BEFORE.search(text, max(0, start - 6), start):
            found.add(start, end, "LOCATION", 0.85)
    # a phone number begins at most two characters before a digit ("+ 1", "(5")
    for m in hot.phone.finditer(text, max(0, found.first_digit - 2)) if phone else ():
        if m.end() - m.start() >= 7 and _after_gap(text, m.start(), "$€£/.:+-"):  # 7 digits
            _phone(text, m, found)
    for start, end in tokens:
        if end - start >= 6:
            _loose_id(text, start, end, found)


def _chained_digits(text: str, tokens: list[tuple[int, int]],
                    zeros: bytes | None = None) -> tuple[bool, bool]:
    """Whether ASCII ``text`` can hold a phone number and a card number (the hints for
    ``_PHONE`` and ``_CARD``): 7 digits in tokens at most two characters apart, and 12 in
    tokens at most one apart. A phone number's digit groups lie in tokens with at most two
    characters between them ("(555) 010-2000": ") "; a "." or "-" between groups is inside a
    token), a card's with at most one (a space); an extension's digits come after the 7.
    ``zeros``: the text as ``_Found.zeros`` holds it, where a token's digits are counted."""
    phone = card = 0  # the digits of the chains that end at this token
    phoned = False
    last_end = -3
    for start, end in tokens:
        digits = _digits_in(text, start, end, zeros)
        gap = start - last_end
        phone = phone + digits if gap <= 2 else digits
        card = card + digits if gap <= 1 else digits
        if phone >= 7:
            phoned = True
            if card >= 12:  # (a card's chain is part of a phone number's)
                return True, True
        last_end = end
    return phoned, False


def _numbered_street_shaped(text: str, tokens: list[tuple[int, int]]) -> bool:
    """Whether a token is followed by spaces and a capital: the hint for ``_STREET_NUMBERED``,
    whose house number, or the ordinal that names the street, ends a token before the street's
    capitalised words ("12 Oak Street", "4B Main St", "10 5th Avenue")."""
    size = len(text)
    for _, end in tokens:
        if end < size and text[end].isspace():
            end += 1
            while end < size and text[end].isspace():
                end += 1
            if end < size and text[end].isupper():
                return True
    return False


def _ssn_shaped(text: str, tokens: list[tuple[int, int]]) -> bool:
    """Whether an SSN can be in ASCII ``text`` (the hint for ``_SSN``, which has no first
    character to skip to): a token of 11 or more characters with a dash ("123-45-6789" lies
    in one token), or a token of two characters between spaces (the "45" of "123 45 6789")."""
    for start, end in tokens:
        if (end - start >= 11 and "-" in text[start:end]) or (
                end - start == 2 and text[start - 1:start] == " " and text[end:end + 1] == " "):
            return True
    return False


def _id_tokens(text: str, first_digit: int, zeros: bytes | None = None) -> list[tuple[int, int]]:
    """The maximal runs of letters, digits and ``./-`` holding a digit, without the ``./-``
    they begin or end with: found from their digits (the first at ``first_digit``), and walked
    back over the letters before. ``zeros``: ASCII ``text`` as ``_Found.zeros`` holds it (each
    digit a "0"), where the digits are found by a plain character, skipped to in a tight loop."""
    tokens: list[tuple[int, int]] = []
    last_end = -1
    size = len(text)
    matches = _ZERO_TO_TOKEN_END.finditer(zeros, first_digit) if zeros is not None else (
        _DIGIT_TO_TOKEN_END if text.isascii() else _DIGIT_RUN).finditer(text, first_digit)
    for m in matches:
        start, end = m.span()
        if start < last_end:
            continue  # a digit run inside a token already found (Unicode digits)
        while start > 0 and text[start - 1] in _ID_CHARS:
            start -= 1
        while end < size and text[end] in _ID_CHARS:
            end += 1
        while text[start] in "./-":
            start += 1
        while text[end - 1] in "./-":
            end -= 1
        last_end = end
        tokens.append((start, end))
    return tokens


def _keyed_id(text: str, start: int, end: int, found: _Found) -> None:
    """An identifier after a word that names it ("MRN", "member ID #", "serial no.")."""
    ident = text[start:end]
    digits = _digits_in(text, start, end, found.zeros)
    if not (digits >= 5 or (digits >= 3 and len(ident) >= 5 and not ident.isdigit())) or \
            (_date_shaped(ident, 0, len(ident)) and _DATE_NUM.fullmatch(ident)) or \
            _not_an_id(text, start, ident):
        return
    words = text[max(0, start - 40):start].lower().replace(":", " ").replace("#", " # ").split()
    named_by_id = False
    for word in reversed(words[-5:]):
        word = word.strip("'\"(),=")
        if word in _FILLERS or not word:
            named_by_id = named_by_id or word in ("id", "#")
            continue
        category = _KEYWORDS.get(word.rstrip("s") if word.endswith("s") and word not in
                                 _KEYWORDS else word)
        if category is None and named_by_id and word not in _NOT_ID_WORDS:
            category = "OTHER_ID"
        if category == "SSN" and digits != 9:
            category = "OTHER_ID"
        if category is not None:
            found.add(start, end, category, 0.9)
        return


def _loose_id(text: str, start: int, end: int, found: _Found) -> None:
    """A long number or a code of letters and many digits: any other unique identifier."""
    ident = text[start:end]
    if _not_an_id(text, start, ident):
        return
    if ident.isdigit():
        if len(ident) >= 7 and not _MONEY_BEFORE.search(text, max(0, start - 2), start):
            found.add(start, end, "OTHER_ID", 0.6)
        return
    if len(ident) == 17 and _VIN_SHAPE.fullmatch(ident) and not ident.isdigit():
        found.add(start, end, "VEHICLE", 0.7)
        return
    digits = _digits_in(text, start, end, found.zeros)
    if digits >= 6 and ident != ident.lower() and "." not in ident:
        found.add(start, end, "OTHER_ID", 0.6)


def _not_an_id(text: str, start: int, ident: str) -> bool:
    """A hashtag (#StrokeAwareness2026), a trial registry number or a grant number."""
    if start > 0 and text[start - 1] == "#" and ident[:1].isalpha():
        return True
    return ident[:1] in _REGISTRY_FIRST and _REGISTRY.fullmatch(ident) is not None


def _people_marks(text: str, found: _Found) -> None:
    """Marks of a person the lexicons miss: initials, handles, rooms and beds, plates, ages
    over 89 told as an ordinal, dates told by weekday, a name ending in an initial."""
    for span in [s for s in found.spans if s.category == "NAME"]:
        initial = _NAME_INITIAL.match(text, span.end) if text[span.end:span.end + 1] in (
            " ", "\t") else None  # "Dana K."
        if initial:
            found.remove(span)
            found.add(span.start, initial.end(), "NAME", max(span.confidence, 0.8))
    if _CAP_INITIAL.search(text):
        for m in _INITIALS.finditer(text):
            if m.group().replace(" ", "").lower() not in _NOT_INITIALS:
                found.add(m.start(), m.end(), "NAME", 0.75)
    if "@" in text:
        for m in _HANDLE.finditer(text):
            found.add(m.start(), m.end(), "URL", 0.75)
    if found.digit:
        lower = found.lower
        if "room" in lower or "rm." in lower or "bed" in lower or "bay" in lower:
            for m in _ROOM.finditer(text):
                found.add(m.start(), m.end(), "LOCATION", 0.7)
        if _has_road(text):
            for m in _ROAD.finditer(text):
                found.add(m.start(), m.end(), "LOCATION", 0.6)
        if "plate" in lower or "tag" in lower:
            for m in _PLATE.finditer(text):
                if _DIGIT.search(m.group(1)):
                    found.add(m.start(1), m.end(1), "VEHICLE", 0.9)
        weekday = "the " in text  # "the 3rd"; an old ordinal ("96th") is an old age too
        ordinal = _ZERO_ORDINAL.search(found.zeros, found.first_digit) if found.zeros is not \
            None else found.hot.ordinal.search(text, found.first_digit)
        if (weekday or found.old_age) and ordinal:
            if found.old_age and _OLD_ORDINAL.search(text, found.first_digit):
                for m in _ORDINAL_AGE.finditer(text):
                    found.add(m.start(1), m.end(1), "DATE", 0.8)
            if weekday:
                for m in _WEEKDAY_DATE.finditer(text):
                    found.add(m.start(), m.end(), "DATE", 0.5)
    if found.month:
        for m in _MONTH_ALONE.finditer(text):
            found.add(m.start(1), m.end(1), "DATE", 0.5)
    if not text.isascii() and not text.islower():
        _folded_name_pairs(text, found)


def _folded_name_pairs(text: str, found: _Found) -> None:
    """Lower-case words that are a census first name then a census last name, neither a
    dictionary word ("josé álvarez"), in text that is not all lower case (only text with
    accents is searched: the pass costs a tenth of the scan)."""
    lex = _lexicon()
    for m in found.hot.lower_pair.finditer(text):
        if m.group(2) is None:
            continue
        first, last = _fold(m.group(1)), _fold(m.group(2))
        if first in lex.first and last in lex.last and not lex.is_english(last) and \
                not lex.is_english(first):
            found.add(m.start(1), m.end(2), "NAME", 0.6)


def _dates(text: str, found: _Found, tokens: list[tuple[int, int]]) -> None:
    for start, end in tokens:
        m = _DATE_NUM.match(text, start, end) if _date_shaped(text, start, end) else None
        if m is None or (m.end() != end and text[m.end()] != "T"):
            continue
        if m.group("y1"):
            ok = _ymd_ok(int(m.group("m1")), int(m.group("d1")))
        else:
            a, b = int(m.group("a")), int(m.group("b"))
            ok = _ymd_ok(a, b) or _ymd_ok(b, a)
            if m.group("s2") == "." and len(m.group("y2")) == 2:
                ok = ok and _cue(_DATE_CUE, text, start, 60)
        if ok:
            time_of_day = _TIME.match(text, m.end())
            end = time_of_day.end() if time_of_day else m.end()
            found.add(start, end, "DATE", _date_confidence(text, start))
    for m in _DATE_TEXT.finditer(text) if found.month else ():
        if _after_gap(text, m.start()):
            found.add(m.start(), m.end(), "DATE", _date_confidence(text, m.start()))
    if "/" in text:
        for start, end in tokens:
            m = _SHORT_DATE.fullmatch(text, start, end) if 3 <= end - start <= 5 else None
            if m and (_ymd_ok(int(m[1]), int(m[2])) or _ymd_ok(int(m[2]), int(m[1]))) and \
                    _cue(_DATE_CUE, text, start, 40):
                found.add(start, end, "DATE", 0.8)
    for m in found.hot.age.finditer(text) if found.old_age else ():
        if _after_gap(text, m.start()):
            found.add(m.start(), m.end(), "DATE", 0.85)


def _date_shaped(text: str, start: int, end: int) -> bool:
    """Whether ``text[start:end]`` can be a ``_DATE_NUM``: six characters or more and a
    separator after its first one or two digits or after a year's four (a test of three
    characters instead of a match)."""
    return end - start >= 6 and (text[start + 1] in "-/." or text[start + 2] in "-/." or
                                 text[start + 4] in "-/.")


def _date_confidence(text: str, start: int) -> float:
    return 0.9 if _cue(_DATE_CUE, text, start, 40) else 0.5


def _cue(words: re.Pattern[str], text: str, start: int, reach: int) -> bool:
    """Whether ``words`` occur in the ``reach`` characters before ``start``, same sentence."""
    window = text[max(0, start - reach):start].lower()
    cut = max(window.rfind(". "), window.rfind("\n"))
    return words.search(window, cut + 1) is not None


def _addresses(text: str, found: _Found, tokens: list[tuple[int, int]], capitals: bool) -> None:
    """Street addresses, post boxes, units, postcodes and addresses after a cue ("lives at");
    ``capitals``: whether a token holds a capital."""
    if _suffix_number(found.lower, tokens):
        for m in _WORD_NUMBER.finditer(text):
            if _after_gap(text, m.start()) and m.group(1).lower().endswith(_STREET_SUFFIXES):
                found.add(m.start(), m.end(), "LOCATION", 0.8)
    lower = found.lower  # cheap tests that skip the rarer patterns
    if _numbered_street_shaped(text, tokens):
        _street(text, (_ZERO_STREET_NUMBERED.finditer(found.zeros, found.first_digit)
                       if found.zeros is not None else
                       found.hot.street_numbered.finditer(text, found.first_digit)), 0.85, found)
    _street(text, _STREET_PREFIXED.finditer(text), 0.75, found)
    if "box" in lower:
        _street(text, _PO_BOX.finditer(text), 0.85, found)
    if "apt" in lower or "apartment" in lower or "suite" in lower or "ste" in lower \
            or "unit" in lower or "flat" in lower:  # every word _UNIT_ALONE begins with
        _street(text, _UNIT_ALONE.finditer(text), 0.6, found)
    if "zip" in lower or "post" in lower or "plz" in lower:
        for m in _ZIP_NAMED.finditer(text):
            if _after_gap(text, m.start()) and _DIGIT.search(m.group(1)):
                found.add(m.start(1), m.end(1), "LOCATION", 0.85)
    shaped = capitals and (
        _ZERO_POSTCODE_HINT.search(found.zeros, found.first_digit) if found.zeros is not None
        else found.hot.postcode_hint.search(text, found.first_digit)) is not None
    for m in found.hot.postcode_shapes.finditer(text) if shaped else ():
        if _after_gap(text, m.start()):
            found.add(m.start(), m.end(), "LOCATION", 0.7)
    if "live" in lower or "resid" in lower or "address" in lower or "mailed" in lower or \
            "sent" in lower or "deliver" in lower or "ship" in lower:  # hints for _ADDRESS_CUE
        for m in _ADDRESS_CUE.finditer(lower):
            if not _after_gap(text, m.start()):
                continue
            stop = _ADDRESS_END.search(text, m.end(), m.end() + 90)
            end = stop.start() if stop else m.end()
            while end > m.end() and text[end - 1] in _PUNCT + " ":
                end -= 1
            if found.free(m.end(), end) and _DIGIT.search(text, m.end(), end) and \
                    not _DATE_TEXT.match(text, m.end()):
                found.add(m.end(), end, "LOCATION", 0.8)


def _street(text: str, matches: Iterable[re.Match[str] | re.Match[bytes]], confidence: float,
            found: _Found) -> None:
    """Each of the address ``matches`` that begins a token and is longer than six characters."""
    for m in matches:
        if _after_gap(text, m.start()) and m.end() - m.start() > 6:
            found.add(m.start(), m.end(), "LOCATION", confidence)


def _suffix_number(lower: str, tokens: list[tuple[int, int]]) -> bool:
    """Whether a token follows a word with a street suffix and a space ("Hersnapvej 18"):
    the hint for ``_WORD_NUMBER``, whose number always begins a token. ``lower`` is the text
    in lower case (``_lower``); a word whose last two letters end no suffix is told at once."""
    for start, _ in tokens:
        if start and lower[start - 1] in " \t":
            end = start - 1
            while end and lower[end - 1] in " \t":
                end -= 1
            if lower[end - 2:end] in _SUFFIX_TAILS and \
                    lower[max(0, end - _SUFFIX_LONGEST):end].endswith(_STREET_SUFFIXES):
                return True
    return False


def _named_streets(text: str, found: _Found) -> None:
    """A street named without a number: "lives on Maple Street"."""
    for m in _STREET_NAMED.finditer(text) if _has_street_word(text) else ():
        if not found.free(m.start(), m.end()):
            continue  # already part of an address: no wider span can be added
        words = _CAP_WORDS_BEFORE.search(text, max(0, m.start() - 60), m.start())
        if words and _after_gap(text, words.start()):
            found.add(words.start(), m.end(), "LOCATION", 0.6)


def _postcodes_by_places(text: str, found: _Found) -> None:
    """A number right after a place or a country is its postcode; right before a street
    with its house number, the building's number."""
    places = [(s.start, s.end) for s in found.spans if s.category == "LOCATION"]
    lex = _lexicon()
    for _, end in list(places):
        town = _TOWN_AFTER.match(text, end)
        if town is None:
            continue
        key = _normal(town.group(1))
        if key in lex.not_phi_places:
            found.anchors.append(town.span(1))
        elif key.split()[0] not in _UNIT_WORDS and key not in lex.common and found.add(
                town.start(1), town.end(1), "LOCATION", 0.7):
            places.append(town.span(1))
    for _, end in places + found.anchors:
        after = _POSTCODE_AFTER.match(text, end)
        if after:
            found.add(after.start(1), after.end(1), "LOCATION", 0.7)
    for start, end in places:
        window = text[max(0, start - 12):start]  # a number, then spaces or a comma
        before = _POSTCODE_BEFORE.search(text, max(0, start - 12), start) if \
            window.rstrip(" \t,\n")[-1:].isdigit() else None
        if before and (len(before.group(1)) >= 4 or _DIGIT.search(text, start, end)):
            found.add(before.start(1), before.end(1), "LOCATION", 0.7)


def _phone(text: str, m: re.Match[str], found: _Found) -> None:
    raw = m.group()
    digits = _NON_DIGIT.sub("", raw.split("x")[0].split("e")[0])
    groups = len(_DIGIT_RUN.findall(raw))
    if not 7 <= len(digits) <= 15 or _YEAR_RANGE.fullmatch(raw):
        return
    cue = _cue(_PHONE_CUE, text, m.start(), 18)
    marked = raw.startswith("+") or "(" in raw
    nanp = (len(digits) == 10 and _is_nanp_like(digits)) or (
        len(digits) == 11 and digits[0] == "1" and _is_nanp_like(digits[1:]))
    if marked or cue or (nanp and groups >= 2):
        confidence = 0.9
    elif groups >= 2 or nanp:
        confidence = 0.7
    else:
        return  # a bare run of digits: left to the generic identifier rule
    if len(digits) >= 10 and digits[-10:-7] in _TOLL_FREE:
        confidence = 0.5  # toll-free numbers belong to organisations
    fax = "fax" in text[max(0, m.start() - 20):m.start()].lower()
    found.add(m.start(), m.end(), "FAX" if fax else "PHONE", confidence)


def _names_and_places(text: str, found: _Found) -> None:
    lex: _Lexicon | None = None
    shouting = text.isupper()
    skipped: list[tuple[int, list[str]]] = []
    ascii_capital = False  # whether a run begins with one (else "_HAS_UPPER" is asked)
    runs = _CAPS_RUN.finditer(text.encode().translate(_CAPITALS_AS_A)) if found.zeros is not \
        None else found.hot.run.finditer(text)
    for m in runs:
        at, stop = m.span()
        run = text[at:stop]
        lex = lex or _lexicon()
        ascii_capital = ascii_capital or run[0] <= "Z"
        if " " in run or "\t" in run:
            plain = run.split()  # the run's only spaces are " " and "\t"
        elif len(run) == 1 or (run.lower() in lex.common and not (
                found.honorific and _title_before(found.lower, at, 8, _HONORIFICS))):
            continue  # "The", "I", "Our": the most frequent case, decided at once
        else:
            plain = [run]
        start = at
        gap = _after_gap(text, at, "@/.#-")
        if not gap or not found.free(at, stop):  # the rare case
            if len(plain) == 1:
                continue  # one word inside a token or a span found already
            words = [(at + w.start(), w.group()) for w in _NON_SPACE.finditer(run)]
            if not gap:
                del words[0]  # "ex-Zombie Kastner": the run starts at the next word
            if not found.free(at, stop):  # keep the words before a span already found
                free = [found.free(start, start + len(word)) for start, word in words]
                words = words[:free.index(False)] if False in free else words
            if not words:
                continue
            start, plain = words[0][0], [word for _, word in words]
        if not _judge(text, start, plain, lex, found, shouting):
            skipped.append((start, plain))
    if lex is not None:
        if skipped:
            _listed_names(text, skipped, lex, found)
        for span in [s for s in found.spans if s.category == "NAME"] if found.old_age else ():
            age = _AGE_AFTER_NAME.match(text, span.end)  # "Robert Lee, 91, ..."
            if age:
                found.add(age.start(1), age.end(1), "DATE", 0.8)
    if not ascii_capital and not _HAS_UPPER.search(text):
        _lower_case_names(text, found)


def _listed_names(text: str, skipped: list[tuple[int, list[str]]], lex: _Lexicon,
                  found: _Found) -> None:
    """A capitalised word listed beside a name ("Monjeau, Graves and Reed") is a name."""
    names = [s for s in found.spans if s.category == "NAME"]
    for start, words in skipped if names else ():
        if len(words) > 3 or any(_key(w) in lex.common or _key(w) in lex.not_phi_places
                                 for w in words):
            continue
        end = _end_of(text, start, words)
        if any(_LIST_GAP.fullmatch(text, n.end, start) or _LIST_GAP.fullmatch(text, end, n.start)
               for n in names if n.end <= start or n.start >= end):
            found.add(start, end, "NAME", 0.6)


def _lower_case_names(text: str, found: _Found) -> None:
    """In text written all in lower case, a census first name not also a word starts a name."""
    lex = _lexicon()
    for m in found.hot.lower_pair.finditer(text):
        first, second = _fold(m.group(1)), _fold(m.group(2) or "")
        if first in lex.first and not lex.is_english(first):
            end = m.end(2) if second and not lex.is_english(second) else m.end(1)
            found.add(m.start(1), end, "NAME", 0.6)
        elif first in lex.first and second in lex.last and not lex.is_english(second):
            found.add(m.start(1), m.end(2), "NAME", 0.6)  # "summer jones": a word, a surname


def _judge(text: str, start: int, words: list[str], lex: _Lexicon, found: _Found,
           shouting: bool) -> bool:
    """Add the run as a name or a place if it is one; False when it was not judged PHI."""
    keys = [_KEYS.get(w) or _key(w) for w in words]
    whole = " ".join(keys)
    initial = _sentence_start(text, start)
    opening = start  # the title before the run is read only on the paths that ask
    initialled = moved = False
    if not _JOB_WORDS.isdisjoint(keys) or (not _CLINICAL.isdisjoint(keys) and not _title_before(
            found.lower, start, 12, _TITLE_WORDS, _BARE_TITLES)) or \
            ("-" in whole and any(_LETTER_WORD.match(w) for w in words)) or (
            keys[-1] in _ROMAN and keys[0] not in lex.first):
        return True  # "Patient Access Representative", "JAMA Cardiology", "Level II"
    if found.honorific and _title_before(found.lower, start, 8, _HONORIFICS) and \
            keys[0] not in _ACRONYMS:
        end = _end_of(text, start, words)  # "Mr. Long", "Mrs. Baker": a surname that is a word
        if words[-1].endswith(("'s", "\u2019s")):
            end -= 2
        found.add(start, end, "NAME", 0.9)
        return True
    if whole in lex.not_phi_places or (len(keys) > 1 and whole in lex.cities):
        return _place(text, start, _end_of(text, start, words), whole, lex, found)
    # Leading ordinary words ("The", "Thanks", "Join") are not part of a name.
    # (walked by index, the lists cut once at the end)
    common, first_names, last_names = lex.common, lex.first, lex.last
    lead = 0
    final = len(keys) - 1
    while True:
        key = keys[lead]
        if not (key in common or len(key) <= 1 or (initial and lex.is_english(key) and
                                                    key not in first_names and
                                                    key not in last_names)) or (
                lead < final and key in first_names and keys[lead + 1] in last_names
                and not lex.is_english(keys[lead + 1])):  # "Summer Delgado": a first name
            break  # that is a word
        if lead == final:
            return False
        word = words[lead]
        initialled = initialled or (len(word) == 2 and word[1] == ".")  # "R. Smith"
        start = text.index(words[lead + 1], start + len(word))
        lead += 1
        initial = False
    if lead:
        words, keys, moved = words[lead:], keys[lead:], True
    last = keys[-1]
    if last in _NOT_A_NAME_END or last.removesuffix("s") in _ORG_WORDS or (
            ("'" in last or "\u2019" in last) and _CONTRACTION.search(last)):
        return _facility(text, start, words, keys, found)
    if len(keys) > 1 and not _ORG_WORDS.isdisjoint(keys[1:]):
        return True  # "American Heart Association's Gold Award": an organisation's name
    while len(keys) > 1 and (keys[-1] in lex.common or len(keys[-1]) <= 1):
        words, keys = words[:-1], keys[:-1]
    end = _end_of(text, start, words)
    if words[-1].endswith(("'s", "\u2019s")):
        end -= 2
    phrase = " ".join(keys)
    single = len(keys) == 1
    if phrase in lex.not_phi_places:
        return _place(text, start, end, phrase, lex, found)
    if single and ((words[0].isupper() and len(keys[0]) <= 4 and keys[0] not in lex.first)
                   or (words[0][-1] == "s" and _ACRONYM_PLURAL.fullmatch(words[0]))):
        return True  # MRN, ICU, DOB, NPs: an acronym, even after "patient"
    head = found.lower[max(0, start - 30):start].split()
    prev = head[-1].strip(_PUNCT) if head else ""
    prev2 = head[-2].strip(_PUNCT) if len(head) > 1 else ""
    after = found.hot.next_words.match(text, end)
    nxt = after.group(1).lower() if after else ""
    if nxt in _EPONYM_NEXT:
        return True  # Parkinson's disease, the Glasgow scale: not a person
    nxt2 = f"{nxt} {after.group(2).lower()}" if after and after.group(2) else ""
    titled = initialled or _title_before(found.lower, opening, 12, _TITLE_WORDS, _BARE_TITLES) \
        or (moved and _title_before(found.lower, start, 12, _TITLE_WORDS, _BARE_TITLES))
    person_cue = titled or prev in _PERSON_BEFORE or nxt in _PERSON_AFTER or (
        prev2 in ("name", "i", "this") and prev in ("is", "am", "m")) or (
        prev == "to" and prev2 in _PERSON_BEFORE) or (
        prev == "the" and nxt in ("family", "families", "household"))  # "the Patel family"
    place_cue = prev in _PLACE_BEFORE or (prev == "the" and prev2 in _PLACE_BEFORE) or (
        nxt in lex.not_phi_places or nxt2 in lex.not_phi_places
        or (text[end:end + 1] == "," and _STATE_AFTER.match(text, end) is not None))
    if shouting and not (person_cue or place_cue):
        return False
    first = keys[0] in lex.first
    known = not lex.first.isdisjoint(keys) or not lex.last.isdisjoint(keys)
    plain = lex.is_plain(keys[0]) if single else all(lex.is_plain(k) for k in keys)
    city = phrase in lex.cities
    if titled or (person_cue and (known or (not plain and not city))):
        category, confidence = "NAME", 0.9
    elif not single and first and not plain and not city:
        category, confidence = "NAME", 0.85
    elif city and (place_cue or not known or not single):
        category, confidence = "LOCATION", 0.85 if place_cue else 0.7
    elif city and not initial:
        category, confidence = "LOCATION", 0.6
    elif not single and not initial and first and keys[-1] in lex.last and not city:
        category, confidence = "NAME", 0.7  # "Ryder Collins", "Chase Holloway": words, names
    elif plain or (single and keys[0].endswith(_DEMONYM_ENDINGS) and not known):
        return False
    elif single and words[0].isupper() and not place_cue:
        return False  # a word in capitals (DAISY Award) is a name only after a cue
    elif known and single and initial and lex.is_english(keys[0]) and text[end:end + 1] == " " \
            and nxt not in _PERSON_AFTER and nxt not in _AFTER_INITIAL_NAME:
        category, confidence = "NAME", 0.45  # "Dawn shift nurses": a word first, a name second
    elif known:
        category, confidence = "NAME", 0.75 if first or not single else 0.65
    elif place_cue and len(keys[0]) > 3 and keys[0] not in _ACRONYMS:
        category, confidence = "LOCATION", 0.7 if words[0].isupper() else 0.6
    elif single and (words[0].isupper() or _CAMEL.search(words[0])):
        return False  # an acronym or a product name
    elif initial and single and nxt not in _PERSON_AFTER and nxt not in _AFTER_INITIAL_NAME \
            and text[end:end + 1] != ":":
        return False  # an unknown word opening a sentence is as often a verb as a name
    elif not found.headline(text, start):
        category, confidence = "NAME", 0.55
    else:
        return False
    found.add(start, end, category, confidence)
    return True


def _facility(text: str, start: int, words: list[str], keys: list[str], found: _Found) -> bool:
    """A named hospital, care home or site is a place when the post is about a patient."""
    if len(keys) > 1 and (keys[-1] in _FACILITY_WORDS or keys[-1] in _SITE_WORDS):
        found.add(start, _end_of(text, start, words), "LOCATION",
                  0.8 if found.patient() else 0.4)
    return True


def _place(text: str, start: int, end: int, phrase: str, lex: _Lexicon, found: _Found) -> bool:
    """A country or state is no PHI but anchors a postcode; a many-word city name is a place."""
    if phrase in lex.not_phi_places:
        found.anchors.append((start, end))
        return True
    return found.add(start, end, "LOCATION", 0.75)


def _end_of(text: str, start: int, words: list[str]) -> int:
    """Where the run of ``words`` that begins at ``start`` ends."""
    joined = " ".join(words)
    if text.startswith(joined, start):  # one space between the words: the common case
        return start + len(joined)
    end = start
    for word in words:
        end = text.index(word, end) + len(word)
    return end


def _title_case(line: str) -> bool:
    """Whether ``line`` is in title case (most words capitalised): a headline."""
    words = [w for w in line.split() if w[0].isalpha()]
    return len(words) >= 4 and sum(w[0].isupper() for w in words) >= 0.7 * len(words)


def _fold(word: str) -> str:
    """``word`` without its accents (Muñoz: munoz), for the census lists."""
    if word.isascii():
        return word
    return "".join(ch for ch in unicodedata.normalize("NFKD", word)
                   if not unicodedata.combining(ch))


_KEYS: dict[str, str] = {}


def _key(word: str) -> str:
    """``word`` as the lexicons hold it: lower case, no accents, no possessive."""
    key = _KEYS.get(word)
    if key is None:
        if len(_KEYS) >= _REMEMBER:
            _KEYS.clear()
        key = _fold(word.lower().rstrip("."))
        key = _KEYS[word] = key[:-2] if key.endswith(("'s", "\u2019s")) else key
    return key


def _sentence_start(text: str, start: int) -> bool:
    if start > 1 and text[start - 1] == " " and text[start - 2].isalnum():
        return False  # the common case: a word and one space before the run
    i = start - 1
    while i >= 0 and text[i] in " \t\"'\u201c\u2018(*-\u2013\u2014":
        i -= 1
    if i < 0 or text[i] in "!?:;\n\r\u2026":
        return True
    if text[i] != ".":
        return False
    word = text[max(0, i - 5):i].rsplit(None, 1)[-1:]  # "Dr." or "J." does not end a sentence
    return not word or not (len(word[0]) == 1 or word[0].lower() in _ABBREVIATIONS)


# ---- checks -------------------------------------------------------------------------------

def _ymd_ok(month: int, day: int) -> bool:
    return 1 <= month <= 12 and 1 <= day <= 31


def _is_nanp_like(ten: str) -> bool:
    return ten[0] in "23456789" and ten[3] in "23456789" and ten[1:3] != "11"


def _is_ipv6(candidate: str) -> bool:
    try:
        ipaddress.IPv6Address(candidate)
    except ValueError:
        return False
    return True


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = int(ch) * (2 if i % 2 else 1)
        total += n - 9 if n > 9 else n
    return total % 10 == 0


def _iban_ok(candidate: str) -> bool:
    iban = candidate.replace(" ", "")
    moved = iban[4:] + iban[:4]
    number = "".join(str(int(ch, 36)) for ch in moved)
    return int(number) % 97 == 1
