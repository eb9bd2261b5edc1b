"""The reply gate: a reply never confirms that the person it answers is, or was, a patient.

HHS OCR has fined practices for answering online reviews in words that confirmed the
reviewer was their patient. This check stops (BLOCK) a reply that:

- tells its reader of their own or a relative's care (``phi_decision.care_told``, the rule set
  the PHI guard uses for a reply's addressees): "your visit", "you were admitted", "when you
  were here", "the team that treated you", "we have reviewed your chart", "sorry about the
  wait in our ER", "wishing you a speedy recovery";
- names a private person (the PHI scanner's names, an honorific with a surname, the author's
  own name) together with any word of care;
- repeats what the person wrote of themselves: a name, a date, a number, a place or any
  other identifier the PHI scanner finds in their comment, a condition or a unit.

Findings say where and by which rule, never the words. The brand's staff and public details
are allowed as in the PHI guard. A reply needs the approval chain unless the brand's
``[brands.NAME.replies] approval = false``: a REVIEW finding ``reply.approval`` asks for it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, NamedTuple

from carecast.compliance import phi, phi_decision
from carecast.compliance.phi_guard import PhiSettings, allowed_terms
from carecast.errors import ConfigurationError
from carecast.findings import Action, Finding, Span
from carecast.hookspecs import hookimpl

if TYPE_CHECKING:
    from carecast.config import BrandConfig, CheckSettings
    from carecast.post import Draft, Mention

__all__ = ["Stop", "carecast_review_reply", "stops"]

_WHY = {
    "your_care": "speaks of the reader's own care ('your ...')",
    "family_care": "speaks of a relative's care ('your mother's ...')",
    "you_were": "says the reader was cared for ('you were ...')",
    "you_were_here": "says the reader was here ('when you were ...')",
    "we_cared": "says the brand cared for the reader ('... treated you')",
    "records": "tells what the brand's records hold",
    "apology": "apologises for something in the reader's care",
    "recovery": "speaks of the reader's illness or recovery",
    "name_care": "names a person beside words of care",
    "echo": "repeats an identifier the person wrote",
    "echo_care": "repeats a condition or a unit the person wrote",
}
#: Conditions: what a person has, never a service the brand offers to all.
_CONDITIONS = re.compile(
    r"(?i:\b(?:cancer|tumou?r|leukemia|lymphoma|stroke|heart attack|sepsis|covid(?:-19)?|"
    r"flu|rsv|pneumonia|seizures?|epilepsy|fracture|diabetes|diabetic|a1c|ulcer|infection|"
    r"asthma|copd|dementia|alzheimer'?s|depression|anxiety|migraine|arthritis|hiv|hepatitis|"
    r"preeclampsia|miscarriage|concussion|appendicitis|kidney stones?|blood clot|anemia|"
    r"lupus|crohn'?s|autism|adhd|overdose|addiction|pregnan\w+)\b)")
_UNITS = re.compile(rf"(?i:\b(?:{phi_decision.UNITS})\b)")
#: A value or a count the person wrote of themselves (an A1C of 6.1, 20 lbs, 3/14); not a
#: lone digit ("after 8 pm").
_NUMBER = re.compile(r"\b\d+(?:[.,:/]\d+)+\b|\b\d{2,}\b")
#: An honorific and a capitalised word: "Mrs. Lee", "Mr Alvarez".
_HONORIFIC = re.compile(r"\b(?:Mr|Mrs|Ms|Mx|Miss|Mister|Madam|Sir)\.?\s+[A-Z][\w'\u2019-]+")
#: A capitalised word standing alone as a greeting or address: ", Sarah!" "Thanks, John."
_VOCATIVE = re.compile(r"(?:^|[,;:]\s*|\b(?:hi|hello|dear|thanks|congrats|congratulations|"
                       r"thank you)\s+)([A-Z][a-z'\u2019-]+)(?=\s*[!.,?;:]|\s*$)")
#: Words that stand where a name is addressed but are not names ("Yes, ...", "Thanks!").
_NOT_NAMES = frozenset((
    "yes", "no", "yeah", "thanks", "thank", "hi", "hello", "hey", "sorry", "congrats",
    "congratulations", "ok", "okay", "please", "wow", "great", "welcome", "absolutely", "sure",
    "indeed", "definitely", "certainly", "cheers", "again", "everyone", "all", "friends",
    "folks", "team"))
#: Words of care in any form: with a person's name, any of them implies the person's care.
_CARE_ANY = re.compile(
    rf"(?i:\b(?:{phi_decision.CARE_NOUNS}|{phi_decision.CARE_VERBS}|{phi_decision.UNITS}|"
    r"care|caring|cardiac|heart|nursing|exercises?|arrival|born|health|heal\w*|recover\w*|"
    r"infusion|oncology|cardiology|patient|clinic|hospital)\b)")


class Stop(NamedTuple):
    """Why the gate stops a reply: ``text[start:end]`` by ``rule``."""

    start: int
    end: int
    rule: str

    @property
    def why(self) -> str:
        """What the rule means, for messages."""
        return _WHY[self.rule]


def stops(reply: str, mention: str = "", *, author: str = "",
          allow: tuple[str, ...] = ()) -> list[Stop]:
    """Every reason to stop ``reply`` to a person who wrote ``mention``; empty: it may go.

    ``author`` is the person's handle or name; ``allow`` the brand's public terms and staff.
    """
    out = [Stop(t.start, t.end, t.rule) for t in phi_decision.care_told(reply)]
    out += _named_with_care(reply, author, allow)
    out += _echoes(reply, mention, allow)
    return sorted(set(out))


def _private_names(text: str, author: str, allow: tuple[str, ...]) -> Iterator[tuple[int, int]]:
    for span in phi.scan(text, allow):
        if span.category == "NAME" and not phi_decision.in_role(text, span.start, span.end):
            yield span.start, span.end
    for pattern in (_HONORIFIC, _VOCATIVE):
        for m in pattern.finditer(text):
            start, end = (m.start(1), m.end(1)) if pattern.groups else m.span()
            word = text[start:end]
            if word.casefold() in _NOT_NAMES:
                continue
            if not phi_decision.in_role(text, start, end) and not _is_allowed(word, allow):
                yield start, end
    for word in _author_words(author):
        for m in re.finditer(rf"(?i:\b{re.escape(word)}\b)", text):
            yield m.start(), m.end()


def _author_words(author: str) -> list[str]:
    """The words of the author's handle or name that could name them (not short ones)."""
    handle = author.strip().lstrip("@").split("@")[0].split(".")[0]  # jane_doe.bsky.social
    return [w for w in re.split(r"[^A-Za-z]+", handle) if len(w) >= 3]


def _is_allowed(word: str, allow: tuple[str, ...]) -> bool:
    folded = word.casefold()
    return any(folded in re.split(r"\W+", term.casefold()) for term in allow)


def _named_with_care(reply: str, author: str, allow: tuple[str, ...]) -> list[Stop]:
    if not _CARE_ANY.search(_without_service(reply)):
        return []
    return [Stop(s, e, "name_care") for s, e in _private_names(reply, author, allow)]


def _without_service(text: str) -> str:
    return phi_decision._SERVICE.sub(lambda m: "x" * len(m.group()), text)


def _echoes(reply: str, mention: str, allow: tuple[str, ...]) -> list[Stop]:
    """What the reply repeats of the identifiers, conditions and units in the mention."""
    if not mention.strip():
        return []
    said: list[tuple[str, str]] = []
    for span in phi.scan(mention, allow):
        if span.category == "NAME" and phi_decision.in_role(mention, span.start, span.end):
            continue  # a doctor named in a role is no one's PHI
        said.append((mention[span.start:span.end], "echo"))
    said += [(m.group(), "echo") for m in _NUMBER.finditer(mention)]
    said += [(m.group(), "echo_care") for pattern in (_CONDITIONS, _UNITS)
             for m in pattern.finditer(mention)]
    out: list[Stop] = []
    for words, rule in said:
        pattern = r"\s+".join(re.escape(w) for w in words.split())
        for m in re.finditer(rf"(?i:(?<!\w){pattern}(?!\w))", reply):
            out.append(Stop(m.start(), m.end(), rule))
    return out


@hookimpl
def carecast_review_reply(mention: Mention, draft: Draft, brand: BrandConfig | None,
                          settings: CheckSettings) -> list[Finding]:
    """Stop a reply that confirms care or repeats PHI; ask for approval of every reply."""
    try:
        allow = allowed_terms(brand, PhiSettings.of(settings))
    except ConfigurationError:
        allow = allowed_terms(brand, PhiSettings())
    findings: list[Finding] = []
    for i, part in enumerate(draft.parts):
        for stop in stops(part.text, mention.text, author=mention.author, allow=allow):
            findings.append(Finding(
                action=Action.BLOCK, code=f"reply.{stop.rule}", field=f"parts[{i}].text",
                spans=(Span(start=stop.start, end=stop.end),),
                message=f"parts[{i}].text at {stop.start}-{stop.end}: the reply {stop.why}, "
                        "which tells the world this person is a patient; answer with a "
                        "template of [brands.NAME.replies] that sends them to patient "
                        "relations"))
    if brand is None or brand.replies.approval:
        findings.append(Finding(
            action=Action.REVIEW, code="reply.approval",
            message="every reply needs the approval chain ([brands.NAME.replies] approval)"))
    return findings
