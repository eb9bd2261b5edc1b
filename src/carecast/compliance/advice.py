"""Educate, don't diagnose; and safe messaging about suicide and medical emergencies.

Reviews each draft (what one account receives, overrides included), sentence by sentence:

- ``diagnosis``: telling the reader what they have ("you have diabetes", "it sounds like you
  have an infection");
- ``dosing``: a dose aimed at the reader ("you should take 500 mg", "take 2 tablets");
- ``treatment``: starting, stopping or changing treatment ("stop taking your statin");
- ``disclaimer``: a health-education post (by campaign or hashtag) without the disclaimer;
- ``crisis_line``: a post about suicide or self-harm without the crisis line (988 in the US);
- ``method``: a post that describes a suicide or self-harm method;
- ``emergency``: a post on the warning signs of an emergency (stroke, heart attack, ...) that
  does not say to call emergency services (911 in the US).

General education passes ("adults need 600 IU of vitamin D a day", "if you have chest pain,
call 911"), and so does an instruction that defers to a clinician in the same sentence ("don't
stop taking your medicine without talking to your doctor"). In a reply (a draft whose options
carry ``in_reply_to``, set by an override for a reply to a reader) diagnosis, dosing and
treatment BLOCK: a reply is one-to-one advice.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterator
from functools import cache, lru_cache
from typing import TYPE_CHECKING, ClassVar

from pydantic import Field, field_validator, model_validator

from carecast.compliance import lexicon, safe_messaging
from carecast.compliance._settings import (
    CheckConfig,
    Choice,
    draft_texts,
    has_phrase,
)
from carecast.compliance.clauses import CaseBlind, Clause, normalise
from carecast.compliance.reading import read, tokens
from carecast.findings import Action, Finding
from carecast.hookspecs import hookimpl

if TYPE_CHECKING:
    from carecast.config import CheckSettings
    from carecast.post import Draft

__all__ = ["AdviceSettings", "carecast_review_draft", "is_reply"]

#: Draft options that make a draft a reply to someone else's post.
REPLY_OPTIONS = ("in_reply_to", "reply_to")


class AdviceSettings(CheckConfig):
    """``[checks.advice]``."""

    NAME: ClassVar[str] = "advice"
    DEFAULTS: ClassVar[dict[str, Action]] = {
        "diagnosis": Action.REVIEW, "dosing": Action.REVIEW, "treatment": Action.REVIEW,
        "disclaimer": Action.REVIEW, "crisis_line": Action.BLOCK, "method": Action.BLOCK,
        "emergency": Action.REVIEW, "counter_advice": Action.BLOCK,
    }

    reply_action: Choice = Action.BLOCK
    country: str = "US"
    crisis_lines: dict[str, str] = Field(default_factory=lambda: {
        "US": "988", "CA": "988", "GB": "116 123", "IE": "116 123", "AU": "13 11 14",
        "NZ": "1737"})
    emergency_numbers: dict[str, str] = Field(default_factory=lambda: {
        "US": "911", "CA": "911", "MX": "911", "GB": "999", "IE": "112", "EU": "112",
        "AU": "000", "NZ": "111", "IN": "112"})
    disclaimer: str | None = None
    education: bool = False
    education_hashtags: list[str] = Field(default_factory=list)
    allow: list[str] = Field(default_factory=list)

    @field_validator("country")
    @classmethod
    def _upper(cls, value: str) -> str:
        return value.upper()

    @model_validator(mode="after")
    def _country_known(self) -> AdviceSettings:
        for table in ("crisis_lines", "emergency_numbers"):
            if self.country not in getattr(self, table):
                raise ValueError(f"country: {self.country} has no entry in {table}; add "
                                 f"{table}.{self.country} = \"NUMBER\"")
        if (self.education or self.education_hashtags) and not self.disclaimer:
            raise ValueError("disclaimer: education posts need a disclaimer text to require")
        return self


_DOSE_VERBS = frozenset({
    "take", "give", "use", "add", "try", "double", "triple", "halve", "cut", "split",
    "increase", "decrease", "reduce", "lower", "raise", "up", "chew", "swallow", "inject",
    "apply", "spray", "put", "rub", "drink", "start", "bump", "pop", "pour", "stir", "mix",
    "dissolve", "measure", "squeeze", "insert", "sprinkle", "dab", "massage", "place",
    "inhale"})
_CHANGE_VERBS = frozenset({"double", "triple", "halve", "cut", "split", "increase", "decrease",
                           "reduce", "lower", "raise", "up", "bump", "adjust", "change"})
_ORDER_VERBS = _DOSE_VERBS | _CHANGE_VERBS
_TREAT_VERBS = frozenset({"stop", "quit", "skip", "discontinue", "start", "switch", "come",
                          "go", "ditch", "taper", "pause", "swap", "replace", "cut"})
_NUMBER = (r"(?:\d+(?:[.,]\d+)?|one|two|three|four|five|six|seven|eight|nine|ten|twelve|"
           r"fifteen|twenty|half an?|a half|a couple of)")
#: Measures that are a dose after "a": "a capful", "a teaspoon" (not "a pill": too vague).
_MEASURES = frozenset({"capful", "capfuls", "teaspoon", "tablespoon", "tsp", "tbsp", "scoop"})
_TREATMENT_MOVE = CaseBlind(
    r"\b(?:stop|quit|skip|discontinue|start|switch|come off|go off|ditch|taper|pause|swap|"
    r"replace|cut (?:back on|out))\b(?: (?:taking|using|on|from|off|to))?")
_NOT_NEEDED = CaseBlind(r"\byou (?:don't|do not|won't|will not) need\b")
_DIAGNOSIS_LEAD = CaseBlind(
    r"(?<!of )\b(?:you(?:'ve| have| probably have| likely have| definitely have| may have| "
    r"might have| must have| 've got| have got| got| are suffering from| suffer from| 're "
    r"suffering from| are| 're)|(?:that|it|this)(?:'s| is| sounds like| looks like| must be| "
    r"means)|sounds like|means you have)\s+(?:(?:probably|likely|definitely|clearly) )?"
    r"(?:got\s+)?(?:probably |likely |definitely |"
    r"clearly |just |almost certainly |most likely )?(?:a case of |a touch of )?"
    r"(?:a |an |the |some )?")
_SYMPTOM_LEAD = CaseBlind(
    r"\byour (?:symptoms?|rash|pain|results?|cough|headaches?|numbers|test|scan|x-ray) "
    r"(?:are|is|sound|sounds|mean|means|look|looks|point to|suggests?) (?:like )?"
    r"(?:a |an )?")
_EXEMPT_BEFORE = CaseBlind(
    r"\b(?:if|when|whenever|whether|unless|in case|once|as long as|who|before|after|while|"
    r"because|since|think|worried|wonder(?:ing)?|ask(?:ing)?|whether)\s+(?:\w+\s+){0,1}$")
#: Words without one of which ``_DIAGNOSIS_LEAD`` and ``_SYMPTOM_LEAD`` cannot match.
_DIAGNOSIS_WORDS = frozenset({"you", "you've", "you're", "that", "that's", "it", "it's", "this",
                              "sounds", "means", "your"})
#: A condition followed by one of these names a service or an event, not a diagnosis.
_SERVICE_NOUNS = frozenset({
    "team", "center", "centre", "clinic", "care", "doctor", "doctors", "specialist",
    "specialists", "screening", "screenings", "risk", "awareness", "support", "program",
    "programme", "month", "class", "classes", "season", "shot", "shots", "test", "tests",
    "vaccine", "vaccines", "research", "survivors", "walk", "unit", "educator", "services"})
_HANDLE = re.compile(r"^\s*@\w")


def is_reply(draft: Draft) -> bool:
    """A draft is a reply when its options name the post it answers (``in_reply_to``), or
    when its text starts with an @handle."""
    return any(map(draft.options.get, REPLY_OPTIONS)) or bool(
        draft.parts and "@" in draft.parts[0].text and _HANDLE.match(draft.parts[0].text))


@hookimpl
def carecast_review_draft(draft: Draft, settings: CheckSettings) -> list[Finding]:
    """Advice, disclaimers and safe messaging in what one account would receive."""
    cfg = AdviceSettings.read(settings)
    if not isinstance(cfg, AdviceSettings):
        return cfg
    reply = is_reply(draft)
    found = [f for f in _advice(cfg, draft, reply) if f is not None]
    found += [f for f in safe_messaging.review(cfg, draft) if f is not None]
    found += [f for f in _disclaimer(cfg, draft) if f is not None]
    return found


def _advice(cfg: AdviceSettings, draft: Draft, reply: bool) -> Iterator[Finding | None]:
    where = "a reply" if reply else "a post"
    for field, text in draft_texts(draft):
        cues = _cues(text)
        for clause, rules in _cued(read(text).clauses, cues) if cues else ():
            for kind, rule, why in rules:
                at = rule(clause)
                if at is None:
                    continue
                if not clause.deferred and not any(has_phrase(clause.sentence, p)
                                                   for p in cfg.allow):
                    yield cfg.finding(
                        kind, field, f"{field} at {clause.start + at}: {where} {why}; "
                        "educate, don't diagnose (give general information and send readers "
                        "to their own clinician)", choice=cfg.reply_action if reply else None)
                break


_Rule = tuple[str, Callable[[Clause], int | None], str]


def _cued(parts: tuple[Clause, ...], cues: dict[str, list[tuple[int, int]]]
          ) -> list[tuple[Clause, list[_Rule]]]:
    """The clauses that hold a cue, in order, each with the rules its cues call for (in
    ``_RULES`` order): a bisection per cue, so the clauses without one cost nothing."""
    starts = [c.start for c in parts]
    ends = [c.start + len(c.text) for c in parts]
    wanted: dict[int, list[_Rule]] = {}
    for rule in _RULES:
        for a, b in cues.get(rule[0], ()):
            for i in range(bisect_right(ends, a), bisect_left(starts, b)):
                rules = wanted.setdefault(i, [])
                if not rules or rules[-1] is not rule:
                    rules.append(rule)
    return [(parts[i], wanted[i]) for i in sorted(wanted)]


@lru_cache(maxsize=256)
def _cues(text: str) -> dict[str, list[tuple[int, int]]]:
    """Per rule, the spans of ``text`` it needs in a clause to find anything there: a
    condition (diagnosis), a dose or a medicine (dosing), a medicine or "need" (treatment).
    Found once in the whole text, so only the clauses that hold one are read."""
    reading = read(text)
    present = reading.vocabulary
    cues: dict[str, list[tuple[int, int]]] = {}
    if not _DIAGNOSIS_WORDS.isdisjoint(present):
        cues["diagnosis"] = list(lexicon.get("conditions").finditer(text))
    need = [(a, b) for a, b, w in reading.words if w == "need"] if "need" in present else []
    dosing = not _ORDER_VERBS.isdisjoint(present)
    treatment = bool(need) or not _TREAT_VERBS.isdisjoint(present)
    medicine = list(lexicon.get("medications").finditer(text)) if dosing or treatment else []
    if dosing:
        doses = _dose("units").finditer(normalise(text)) if _may_dose(present, text) else ()
        cues["dosing"] = medicine + [m.span() for m in doses]
    if treatment:
        cues["treatment"] = medicine + need
    return {kind: spans for kind, spans in cues.items() if spans}


def _diagnosis(clause: Clause) -> int | None:
    """Where the clause tells the reader what they have ("sounds like you have X")."""
    if clause.question or _DIAGNOSIS_WORDS.isdisjoint(clause.vocabulary) or clause.conditional:
        return None
    low = clause.low
    for lead in (*_DIAGNOSIS_LEAD.finditer(clause.text, low=low),
                 *_SYMPTOM_LEAD.finditer(clause.text, low=low)):
        if _EXEMPT_BEFORE.search(clause.text, max(0, lead.start() - 40), lead.start(), low=low):
            continue
        end = _condition_at(clause.text, lead.end())
        if end is None or (lead.group().lower().startswith(("that", "it", "this"))
                           and not _ends(clause.text, end)):
            continue
        return lead.start()
    return None


def _condition_at(text: str, at: int) -> int | None:
    """Where a condition named at ``at`` ends, one modifier allowed before it ("a bad
    cold", "exercise-induced asthma"); None when it names a service ("cancer team")."""
    conditions = lexicon.get("conditions")
    reading = read(text)
    every = reading.words
    first = reading.word_at(at)
    tokens = every[first:first + 4]
    starts = [t[0] for t in tokens[:2]]
    if len(tokens) > 2 and text[tokens[0][1]:tokens[1][0]] == "-":
        starts.append(tokens[2][0])
    for start in starts:
        end = conditions.match(text, start)
        if end is not None:
            after = reading.word_at(end)
            following = [w for _, _, w in every[after:after + 1]]
            return None if following and following[0] in _SERVICE_NOUNS else end
    return None


def _ends(text: str, at: int) -> bool:
    rest = text[at:].lstrip()
    return not rest or rest[0] in ".!,;?\"')" or rest.lower().startswith(("and ", "so "))


def _dosing(clause: Clause) -> int | None:
    """Where the clause gives the reader a dose, or tells them to change one."""
    medicine = lexicon.get("medications")
    if clause.imperative(_DOSE_VERBS) and (
            _dose("units").search(clause.text, low=clause.low) is not None
            or (_dose("household_units").search(clause.text, low=clause.low) is not None
                and medicine.search(clause.text) is not None)):
        return 0
    if clause.imperative(_CHANGE_VERBS) and medicine.search(clause.text) is not None:
        return 0
    return None


def _treatment(clause: Clause) -> int | None:
    """Where the clause tells the reader to start, stop or switch a treatment."""
    medicine = lexicon.get("medications")
    if clause.imperative(_TREAT_VERBS):
        move = _TREATMENT_MOVE.search(clause.text, low=clause.low)
        if move is not None and not clause.negated(move.start(), reach=1):
            found = medicine.search(clause.text, move.end(), move.end() + 40)
            if found is not None:
                return 0
    need = _NOT_NEEDED.search(clause.text, low=clause.low) if "need" in clause.vocabulary \
        else None
    if need is not None:
        found = medicine.search(clause.text, need.end(), need.end() + 30)
        if found is not None or re.match(r"\s+(?:to see )?an? (?:doctor|clinician)",
                                         clause.text[need.end():]):
            return need.start()
    return None


@cache
def _dose(name: str) -> CaseBlind:
    """A number (or "a") and a unit of the list ``name``: "500 mg", "two of your puffs"."""
    listed = [u for u in lexicon.entries(name) if u != "%"]
    percent = r"\s*%|" if "%" in lexicon.entries(name) else ""
    measures = "|".join(u for u in listed if u in _MEASURES) or "(?!)"

    def source(escape: Callable[[str], str]) -> str:
        units = "|".join(escape(u) for u in listed)
        joined = "|".join(escape(u) for u in listed if len(u) <= 4)
        return (rf"\b{_NUMBER}(?:{percent}\s+(?:[\w'-]+\s+){{0,4}}?(?:{units})\b"
                rf"|(?:{joined})\b)|\ban? (?:{measures})\b")

    return CaseBlind(source(re.escape), twin=source(_escape_lower))


def _escape_lower(unit: str) -> str:
    """``re.escape(unit)`` for lower-case text: each letter outside ASCII as the class of
    the lower cases of the letters it matches ignoring case ("µg": "[µμ]g")."""
    return "".join(re.escape(c) if c.isascii() else "[" + "".join(sorted({
        x.lower() for x in (c, c.lower(), c.upper(), c.upper().lower(), c.lower().upper())
        if len(x) == 1 and re.fullmatch(re.escape(c), x, re.IGNORECASE)})) + "]"
        for c in unit.lower())


def _may_dose(present: frozenset[str], text: str) -> bool:
    """Whether ``text`` (of the words ``present``) holds a unit of a dose at all, on its own
    or after digits ("500mg"): the dose pattern is dear to run and finds nothing without."""
    units = _unit_words()
    if ("%" in text and "%" in units) or not units.isdisjoint(present):
        return True
    if text.isascii() and not any(map(text.__contains__, "0123456789")):
        return False  # no word starts with a digit
    return any(w[0].isdigit() and w.lstrip("0123456789.,") in units for w in present)


@cache
def _unit_words() -> frozenset[str]:
    return frozenset(w for entry in lexicon.entries("units") for _, _, w in tokens(entry)
                     ) | ({"%"} if "%" in lexicon.entries("units") else set())


_RULES: tuple[_Rule, ...] = (
    ("diagnosis", _diagnosis, "tells the reader what condition they have"),
    ("dosing", _dosing, "gives the reader a dose to take or change"),
    ("treatment", _treatment, "tells the reader to start, stop or change a treatment"))


def _disclaimer(cfg: AdviceSettings, draft: Draft) -> Iterator[Finding | None]:
    if cfg.disclaimer is None:
        return
    texts = [text for _, text in draft_texts(draft)]
    whole = "\n".join(texts)
    tags = {t.lower() for text in texts for _, t in read(text).hashtags}
    education = cfg.education or any(t.lstrip("#").lower() in tags
                                     for t in cfg.education_hashtags)
    if education and not has_phrase(whole, cfg.disclaimer):
        yield cfg.finding(
            "disclaimer", "*", "a health-education post without the required disclaimer "
            "(checks.advice.disclaimer); add it to the text")
