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
from collections.abc import Iterator
from typing import TYPE_CHECKING, ClassVar

from pydantic import Field, field_validator, model_validator

from carecast.compliance._settings import (
    CheckConfig,
    Choice,
    draft_texts,
    has_phrase,
)
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
        "emergency": Action.REVIEW,
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


_SENTENCE = re.compile(r"[^.!?\n]+[.!?]*")
_DEFER = re.compile(
    r"\b(ask|talk(?:ing)? (?:to|with)|check with|consult(?:ing)?|speak(?:ing)? (?:to|with)|"
    r"call|see)\b[^.!?]{0,40}\b(doctor|physician|clinician|provider|pharmacist|nurse|care team|"
    r"GP|prescriber)s?\b|\b(doctor|pharmacist|care team|provider)s? (?:may|can|will|might)\b",
    re.IGNORECASE)
_CONDITIONAL = re.compile(r"\b(if|when|whether|unless|in case|anyone who|those who|people who)\b"
                          r"[^.!?]{0,12}$", re.IGNORECASE)
_CONDITION = (
    r"(?:the |a |an )?(?:[a-z-]*(?:itis|osis|emia|aemia|oma|pathy|algia|plegia)|"
    r"diabetes|diabetic|cancer|"
    r"covid(?:-19)?|flu|influenza|depression|anxiety|adhd|asthma|copd|hypertension|"
    r"high blood pressure|pneumonia|an? (?:infection|virus|tumou?r|disorder|syndrome|disease|"
    r"deficiency|concussion|fracture|stroke|heart attack|uti|std|sti)|strep|migraines?|"
    r"[a-z-]+ (?:disease|disorder|syndrome|deficiency|infection|cancer))")
_DIAGNOSIS = re.compile(
    rf"\b(?:it (?:sounds|looks) like |sounds like |i think |i'?m sure |clearly |definitely )?"
    rf"you(?:'ve| have| probably have| likely have| definitely have| may have| might have|"
    rf"'ve got| have got| are suffering from| suffer from| are| 're)\s+(?:got\s+)?"
    rf"(?:probably\s+|likely\s+|definitely\s+)?{_CONDITION}\b"
    rf"|\byour (?:symptoms|rash|pain|results?) (?:are|is|sound|mean|means|look) "
    rf"(?:like )?(?:a |an )?{_CONDITION}\b",
    re.IGNORECASE)
_DOSE = (r"\d+(?:[.,]\d+)?\s?(?:mg|mcg|µg|g|ml|units?|iu|tablets?|pills?|capsules?|puffs?|"
         r"drops?|teaspoons?|tsp)\b")
_DOSING = re.compile(
    rf"(?:\b(?:you should|you need to|you must|you can|you'll need to|try|just|simply)|^)\s*"
    rf"(?:take|give|use|inject|start on|increase to|decrease to|double|have)\b[^.!?]{{0,40}}?"
    rf"{_DOSE}"
    rf"|\b(?:increase|double|reduce|lower|raise|cut|halve|skip) your (?:dose|dosage|insulin|meds|"
    rf"medications?|medicines?|pills?)\b",
    re.IGNORECASE | re.MULTILINE)
_DRUG = (r"(?:your |the |those |these )?(?:meds|medications?|medicines?|pills|tablets|"
         r"prescriptions?|antibiotics|antidepressants?|insulin|statins?|inhalers?|"
         r"blood thinners?|chemo(?:therapy)?|treatment|therapy|dialysis|aspirin|ibuprofen|"
         r"acetaminophen|paracetamol|metformin|warfarin|[a-z]+(?:pril|olol|statin|sartan|"
         r"azole|cillin|mycin|prazole|oxetine|pam|done))\b")
_TREATMENT = re.compile(
    rf"(?:\b(?:you should|you need to|you must|you can|just|simply)|^)\s*(?:stop|quit|skip|"
    rf"discontinue|start|switch|come off|go off|cut back on)(?: taking| using| on| to)?\s+"
    rf"{_DRUG}"
    rf"|\b(?:don'?t|do not|never)\s+(?:take|use|bother with|need)\s+{_DRUG}"
    rf"|\byou (?:don'?t|do not) need (?:to see a doctor|a doctor|antibiotics|treatment|"
    rf"surgery|your (?:meds|medications?|medicines?))",
    re.IGNORECASE | re.MULTILINE)

_SUICIDE = re.compile(
    r"\b(suicid\w*|self[- ]harm\w*|self[- ]injur\w*|kill(?:ed|ing)? (?:my|your|him|her|them)"
    r"sel(?:f|ves)|end(?:ed|ing)? (?:my|your|his|her|their) (?:own )?life|took (?:his|her|their) "
    r"own life|want(?:s|ed)? to die|died by (?:hanging|overdose|gunshot|poisoning))\b",
    re.IGNORECASE)
_METHOD = re.compile(
    r"\b(hanged|by hanging|hanging (?:himself|herself|themselves)|overdos(?:ed|ing) on|"
    r"took an overdose|"
    r"jump(?:ed|ing)? (?:from|off)|shot (?:himself|herself|themselves)|slit|"
    r"cut (?:his|her|their|my) wrists|poison(?:ed)? (?:himself|herself|themselves)|"
    r"carbon monoxide|(?:died|killed (?:himself|herself|themselves)|took (?:his|her|their) own "
    r"life) (?:by|with|using) \w+)", re.IGNORECASE)
_EMERGENCY = re.compile(
    r"\b(strokes?|heart attacks?|cardiac arrest|sepsis|anaphyla\w+|overdoses?|"
    r"severe allergic reaction|meningitis|heat ?stroke)\b", re.IGNORECASE)
_SIGNS = re.compile(r"\b(signs?|symptoms?|warning|recogni[sz]e|spot|know the|BE ?FAST|"
                    r"F\.?A\.?S\.?T\.?)\b", re.IGNORECASE)
_CALL = re.compile(r"\b(call|dial|phone|ring)\b", re.IGNORECASE)
_SERVICES = re.compile(r"\b(emergency services|emergency number|an ambulance)\b", re.IGNORECASE)
_HASHTAG = re.compile(r"#(\w+)")


def is_reply(draft: Draft) -> bool:
    """A draft is a reply when its options name the post it answers (``in_reply_to``)."""
    return any(draft.options.get(key) for key in REPLY_OPTIONS)


@hookimpl
def carecast_review_draft(draft: Draft, settings: CheckSettings) -> list[Finding]:
    """Advice, disclaimers and safe messaging in what one account would receive."""
    cfg = AdviceSettings.read(settings)
    if not isinstance(cfg, AdviceSettings):
        return cfg
    reply = is_reply(draft)
    found = [f for f in _advice(cfg, draft, reply) if f is not None]
    found += [f for f in _safe_messaging(cfg, draft) if f is not None]
    found += [f for f in _disclaimer(cfg, draft) if f is not None]
    return found


_ADVICE = (("diagnosis", _DIAGNOSIS, "tells the reader what condition they have"),
           ("dosing", _DOSING, "gives the reader a dose to take"),
           ("treatment", _TREATMENT, "tells the reader to start, stop or change a treatment"))


def _advice(cfg: AdviceSettings, draft: Draft, reply: bool) -> Iterator[Finding | None]:
    where = "a reply" if reply else "a post"
    for field, text in draft_texts(draft):
        for sentence in _SENTENCE.finditer(text):
            chunk = sentence.group()
            if _DEFER.search(chunk) or any(has_phrase(chunk, p) for p in cfg.allow):
                continue
            for kind, pattern, why in _ADVICE:
                match = pattern.search(chunk)
                if match is None or _CONDITIONAL.search(chunk[:match.start()]):
                    continue
                at = sentence.start() + match.start()
                yield cfg.finding(
                    kind, field, f"{field} at {at}: {where} {why}; educate, don't diagnose "
                    "(give general information and send readers to their own clinician)",
                    choice=cfg.reply_action if reply else None)
                break


def _safe_messaging(cfg: AdviceSettings, draft: Draft) -> Iterator[Finding | None]:
    whole = "\n".join(text for _, text in draft_texts(draft))
    for field, text in draft_texts(draft):
        match = _METHOD.search(text)
        if match and _SUICIDE.search(whole):
            yield cfg.finding(
                "method", field, f"{field} at {match.start()}: describes a method of suicide or "
                "self-harm; safe-messaging guidelines say never to describe methods")
    if _SUICIDE.search(whole):
        line = cfg.crisis_lines[cfg.country]
        if not has_phrase(whole, line) and not has_phrase(whole, "-".join(line.replace(" ", ""))):
            yield cfg.finding(
                "crisis_line", "*", f"the post is about suicide or self-harm but does not give "
                f"the crisis line ({line} in {cfg.country}); add it, e.g. 'call or text {line}'")
    if _EMERGENCY.search(whole) and _SIGNS.search(whole):
        number = cfg.emergency_numbers[cfg.country]
        digits = "-".join(number)
        said = any(_CALL.search(s) and (has_phrase(s, number) or has_phrase(s, digits)
                                        or _SERVICES.search(s))
                   for s in _SENTENCE.findall(whole))
        if not said:
            yield cfg.finding(
                "emergency", "*", "the post describes the signs of a medical emergency but "
                f"does not say to call emergency services ({number} in {cfg.country}); add "
                f"'call {number} at once'")


def _disclaimer(cfg: AdviceSettings, draft: Draft) -> Iterator[Finding | None]:
    if cfg.disclaimer is None:
        return
    whole = "\n".join(text for _, text in draft_texts(draft))
    tags = {t.lower() for t in _HASHTAG.findall(whole)}
    education = cfg.education or any(t.lstrip("#").lower() in tags
                                     for t in cfg.education_hashtags)
    if education and not has_phrase(whole, cfg.disclaimer):
        yield cfg.finding(
            "disclaimer", "*", "a health-education post without the required disclaimer "
            "(checks.advice.disclaimer); add it to the text")
