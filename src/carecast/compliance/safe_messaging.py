"""Safe messaging about suicide, self-harm and medical emergencies, read clause by clause.

Findings of the advice check (``[checks.advice]``):

- ``crisis_line``: a post about suicide or self-harm (plain words, euphemisms and slang from
  ``data/suicide_terms.txt``: "unalive", "kms", "end it all") without the crisis line;
- ``method``: such a post that describes a method or means: a named means (hanging, a
  firearm, jumping, carbon monoxide, cutting with a blade), a quantity of a medicine ("40 of
  his sleeping pills"), lethal-dose talk, or a combination ("mixing alcohol with opioids");
- ``counter_advice``: a post about a medical emergency (``data/emergencies.txt``) that tells
  readers not to call emergency services ("no need to phone 911", "skip the ER", "instead
  of calling 911", "wait ... before calling"), or to wait, rest, sleep, lie down, take a pill
  or drive themselves and never says, un-negated, to call;
- ``emergency``: a post on the warning signs of an emergency that never says to call.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache
from typing import TYPE_CHECKING, NamedTuple

from carecast.compliance import lexicon
from carecast.compliance._settings import draft_texts, has_phrase, held, may_hold
from carecast.compliance.clauses import CaseBlind, Clause
from carecast.compliance.reading import read

if TYPE_CHECKING:
    from carecast.compliance.advice import AdviceSettings
    from carecast.findings import Finding
    from carecast.post import Draft

__all__ = ["review"]

_PILLS = (r"(?:pills|tablets|capsules|patches|doses|gummies|painkillers|meds|medications|"
          r"medicines)")
_METHOD = CaseBlind(
    r"\b(?:hang(?:ed|ing)(?! (?:out|around|up|on|in there|with|onto|over)\b)|"
    r"hung (?:him|her|them|my)sel(?:f|ves)|noose|"
    r"jump(?:ed|s|ing)? (?:from|off|in front of)|in front of a train|train tracks|"
    r"sh(?:o|oo)t(?:ing|s)? (?:him|her|them|my|your)sel(?:f|ves)|gun to (?:his|her|their|my) "
    r"head|(?:with|by|using) (?:a |his |her |their )?(?:firearm|gun|rifle|pistol|handgun)|"
    r"slit|cut(?:ting)? (?:his|her|their|my|your) wrists|razor|blades?|cutting with|"
    r"carbon monoxide|exhaust fumes|closed garage|suffocat\w*|"
    r"poison(?:ed|ing)? (?:him|her|them|my|your)sel(?:f|ves)|"
    r"(?:lethal|fatal|deadly|toxic) (?:dose|amount)|how many " + _PILLS + r"|"
    r"how much \w+ (?:would|does|will) it take|enough " + _PILLS + r"|"
    r"overdos(?:e|ed|ing) on|took an overdose of|washed (?:them|it) down|"
    r"(?:mix|mixing|mixed|combin(?:e|ed|ing)) (?:\w+ ){0,3}?(?:with|and) (?:\w+ ){0,2}?"
    r"(?:alcohol|vodka|opioids?|benzo\w*|pills|painkillers|sleeping pills|medications?)|"
    r"(?:died|killed (?:him|her|them)sel(?:f|ves)|ended (?:his|her|their) (?:own )?life) "
    r"(?:by|with|using) (?!suicide\b)\w+|"
    r"(?:\d+|two|three|four|five|six|ten|twenty|thirty|forty|fifty|a hundred|a bottle of|"
    r"a handful of|a whole bottle of) (?:of )?(?:his |her |their |my |your |the )?(?:[\w']+ ){0,2}?"
    + _PILLS + r")\b")
_SIGNS = CaseBlind(
    r"\b(?:signs?|symptoms?|warning|recogni[sz]e|spot|know the|watch for|look (?:out )?for|"
    r"be ?fast|f\.?a\.?s\.?t|life-threatening|emergency|within minutes|every minute)\b")
_CALL = CaseBlind(r"\b(?:call(?:ing|s)?|dial(?:ing)?|phon(?:e|ing)|ring(?:ing)?)\b")
#: What every match of ``_CALL``, ``_DECLINED``, ``_GO``, ``_WARNING``, ``_DELAY_PHRASE`` and
#: ``_METHOD`` holds (see ``may_hold``; ``test_advice_clauses`` checks it).
_CALL_WORDS = ("call", "dial", "phon", "ring")
_DECLINED_WORDS = ("skip", "avoid", "need", "stay away from", "not necessary", "can wait",
                   "instead of", "rather than", "before", "until after")
_SERVICE = (r"(?:emergency services|emergency number|an ambulance|ambulances?|the ambulance|"
            r"paramedics|ems|the er|er|emergency room|emergency department|a&e)")
_SERVICES = CaseBlind(rf"\b{_SERVICE}\b")
_GO = CaseBlind(r"\b(?:go|get|head|come) (?:straight )?to (?:the |an |your )?(?:nearest )?"
                 r"(?:er|emergency room|emergency department|a&e)\b")
_DECLINED = CaseBlind(
    rf"\b(?:skip|avoid|no need (?:to|for)|(?:won't|don't|doesn't|do not|not|never) need|"
    rf"stay away from|not necessary)\b(?:\W+\w+){{0,4}}?\W+{_SERVICE}\b"
    rf"|\b{_SERVICE} can wait\b|\b(?:instead of|rather than|before|until after) "
    rf"(?:you )?(?:call|phon|dial|ring)\w*")
_PAST = CaseBlind(r"\b(?:after|recover\w* from|since|following|history of|risk of|"
                   r"prevent\w*|survivors?|survived|rehab)\b(?:\W+\w+){0,2}\W*$")
#: "stroke rehab", "heart attack survivors": the emergency names a service or a topic.
_SERVICE_AFTER = CaseBlind(
    r"\W+(?:rehab\w*|recovery|survivors?|cent(?:er|re)s?|awareness|month|day|week|risk|"
    r"prevention|unit|team|care|education|support|program\w*|class\w*|clinic|walk|"
    r"research)\b")
_DELAY = frozenset({"wait", "rest", "sleep", "lie", "nap", "relax", "drive", "sit", "stay",
                    "keep", "take", "chew", "have", "ride", "tough", "walk", "see", "wrap",
                    "give", "monitor", "watch", "call", "phone", "book", "ring"})
_DELAY_PHRASE = CaseBlind(
    r"\b(?:wait|rest|sleep|lie down|nap|relax|drive (?:yourself|you|them|him|her)|"
    r"(?:have|get) (?:someone|somebody|a \w+(?: member)?) (?:to )?drive|sit (?:it out|tight)|"
    r"stay (?:home|at home|put)|keep (?:them|him|her) (?:resting )?at home|"
    r"(?:take|chew) (?:an? |two |2 |one |some |your )?(?:\w+ )?(?:pill|aspirin|antihistamine|"
    r"benadryl|tablet|painkiller|ibuprofen|tylenol)s?|(?:ride|tough|walk|sleep|wait) it "
    r"(?:out|off)|see (?:if|whether) it (?:passes|goes away)|give it (?:an? |some |a few )?"
    r"(?:hour|hours|minutes|day|time|night)|monitor (?:it |them )?at home|watch and wait|"
    r"(?:call|phone|ring|see|book|wait for) (?:your |a |the )?(?:doctor|gp|clinic|"
    r"provider|nurse line|pharmacist)(?: (?:tomorrow|in the morning|on monday|next week|"
    r"later|when it opens))?)\b")


#: What every match of ``_METHOD`` holds (one word of each of its means).
_METHOD_WORDS = ("hang", "hung", "noose", "jump", "train", "sel", "gun", "firearm", "rifle",
                 "pistol", "slit", "wrists", "razor", "blade", "cutting", "carbon", "exhaust",
                 "garage", "suffocat", "poison", "dose", "amount", "pill", "it take", "overdos",
                 "washed", "alcohol", "vodka", "opioid", "benzo", "painkiller", "medication",
                 "died", "killed", "ended", "tablet", "capsule", "patch", "gummies", "meds",
                 "medicine")
_WARNING_WORDS = ("tw", "cw", "warning")
_GO_WORDS = ("er", "a&e")
_DELAY_WORDS = ("wait", "rest", "sleep", "lie down", "nap", "relax", "drive", "sit ", "stay ",
                "keep ", "pill", "aspirin", "antihistamine", "benadryl", "tablet", "painkiller",
                "ibuprofen", "tylenol", "it out", "it off", "see ", "give it", "monitor",
                "doctor", "gp", "clinic", "provider", "nurse line", "pharmacist")
_WARNING = CaseBlind(r"\b(?:trigger warning|content warning|tw|cw)\b")


def review(cfg: AdviceSettings, draft: Draft) -> Iterator[Finding | None]:
    """The safe-messaging findings of one draft.

    A post that names suicide or self-harm needs the crisis line; one that gives the crisis
    line or a content warning ("TW") is about them too, even in words no list holds ("he
    survived jumping off the bridge"), so the method rule reads it.
    """
    texts = list(draft_texts(draft))
    whole = "\n".join(text for _, text in texts)
    low = read(whole).low
    about = lexicon.get("suicide_terms").search(whole) is not None
    gives = _gives_crisis_line(cfg, whole)
    if about or gives or (may_hold(whole, _WARNING_WORDS, low=low)
                          and _WARNING.search(whole, low=low)):
        yield from _methods(cfg, texts)
    if about and not gives:
        line = cfg.crisis_lines[cfg.country]
        yield cfg.finding(
            "crisis_line", "*", f"the post is about suicide or self-harm but does not give "
            f"the crisis line ({line} in {cfg.country}); add it, e.g. 'call or text {line}'")
    if lexicon.get("emergencies").search(whole):
        yield from _emergency(cfg, texts, whole)


def _gives_crisis_line(cfg: AdviceSettings, whole: str) -> bool:
    line = cfg.crisis_lines[cfg.country]
    low = read(whole).low
    return has_phrase(whole, line, low=low) or has_phrase(
        whole, "-".join(line.replace(" ", "")), low=low)


def _methods(cfg: AdviceSettings, texts: list[tuple[str, str]]) -> Iterator[Finding | None]:
    for field, text in texts:
        low = read(text).low
        match = _METHOD.search(text, low=low) if may_hold(text, _METHOD_WORDS, low=low) else None
        if match:
            yield cfg.finding(
                "method", field, f"{field} at {match.start()}: describes a method or means "
                "of suicide or self-harm (a means, a quantity, a dose or a combination); "
                "safe-messaging guidelines say never to describe them")


def _emergency(cfg: AdviceSettings, texts: list[tuple[str, str]],
               whole: str) -> Iterator[Finding | None]:
    number = cfg.emergency_numbers[cfg.country]
    service = _service(number)
    called = False
    counter: tuple[str, int] | None = None
    delay: tuple[str, int] | None = None
    for field, text in texts:
        sentence = previous = ""
        low = read(text).low
        # What a clause's text can hold is what its text holds: each list is narrowed to
        # the words the text holds, once, not tried in full on every clause.
        words = _Words(held(_CALL_WORDS, low), held(_DECLINED_WORDS, low),
                       held(_GO_WORDS, low), held(_DELAY_WORDS, low))
        for clause in read(text).clauses:
            if clause.sentence is not sentence:
                previous, sentence = sentence, clause.sentence
            verbs = _called(clause, service, words.call)
            if _declines(clause, service, verbs, words.declined):
                counter = (field, clause.start)
                break  # the first counter-advice is the finding, whatever follows
            if not called and _calls(clause, verbs, words.go):
                called = True
            # A delay counts only in a post that never says to call: once it does, no
            # clause's delay matters.
            if delay is None and not called and _delays(clause, words.delay) and (
                    _live(sentence) or _live(previous)):
                delay = (field, clause.start)
        if counter is not None:
            break
    if counter is None and delay is not None and not called:
        counter = delay
    if counter is not None:
        field, at = counter
        yield cfg.finding(
            "counter_advice", field, f"{field} at {at}: a post about a medical emergency "
            f"tells readers to wait, rest or treat it themselves instead of calling "
            f"emergency services ({number} in {cfg.country}); say to call {number} at once")
    elif not called and (_SIGNS.search(whole, low=read(whole).low) or len(
            {whole[a:b].lower() for a, b in lexicon.get("emergencies").finditer(whole)}) > 1):
        yield cfg.finding(
            "emergency", "*", "the post describes the signs of a medical emergency but does "
            f"not say to call emergency services ({number} in {cfg.country}); add 'call "
            f"{number} at once'")


@lru_cache(maxsize=64)
def _service(number: str) -> CaseBlind:
    """The emergency number (also spelt "9-1-1") or a named emergency service."""
    return CaseBlind(rf"(?<![\w-])(?:{re.escape(number)}|{'-'.join(number)})(?![\w-])|"
                      + _SERVICES.pattern)


def _live(sentence: str) -> bool:
    """The sentence names an emergency happening now (not "after a heart attack")."""
    return any(not _PAST.search(sentence, max(0, start - 30), start)
               and not _SERVICE_AFTER.match(sentence, end)
               for start, end in lexicon.get("emergencies").finditer(sentence))


class _Words(NamedTuple):
    """The words of ``_CALL_WORDS``, ``_DECLINED_WORDS``, ``_GO_WORDS`` and ``_DELAY_WORDS``
    a text holds (``held``): its clauses can hold no other."""

    call: tuple[str, ...]
    declined: tuple[str, ...]
    go: tuple[str, ...]
    delay: tuple[str, ...]


def _called(clause: Clause, service: CaseBlind, words: tuple[str, ...] = _CALL_WORDS
            ) -> list[int]:
    """Where each verb of calling that names emergency services starts ("call 911",
    "phoning an ambulance", "dial 9-1-1"); ``words``: those of ``_CALL_WORDS`` the text
    holds."""
    low = clause.low
    if not words or not may_hold(clause.text, words, low=low):
        return []
    return [verb.start() for verb in _CALL.finditer(clause.text, low=low)
            if service.search(clause.text, verb.end(), verb.end() + 40, low=low)]


def _calls(clause: Clause, verbs: list[int], words: tuple[str, ...] = _GO_WORDS) -> bool:
    """The clause says to call emergency services (or go to the ER), not negated; ``verbs``
    are its calls of them (``_called``)."""
    if any(not clause.negated(at) for at in verbs):
        return True
    low = clause.low
    go = _GO.search(clause.text, low=low) if words and may_hold(clause.text, words, low=low) \
        else None
    return go is not None and not clause.negated(go.start())


def _declines(clause: Clause, service: CaseBlind, verbs: list[int],
              words: tuple[str, ...] = _DECLINED_WORDS) -> bool:
    """The clause tells readers not to call, or to call only later; ``verbs`` are its calls
    of emergency services (``_called``)."""
    if any(clause.negated(at) for at in verbs):
        return True
    low = clause.low
    found = _DECLINED.search(clause.text, low=low) if words and may_hold(
        clause.text, words, low=low) else None
    return found is not None and (service.search(clause.text, low=low) is not None
                                  or not found.group().lower().startswith(("instead", "rather",
                                                                           "before", "until")))


def _delays(clause: Clause, words: tuple[str, ...] = _DELAY_WORDS) -> bool:
    """The clause orders the reader to wait, rest or treat themselves."""
    low = clause.low
    found = _DELAY_PHRASE.search(clause.text, low=low) if words and may_hold(
        clause.text, words, low=low) else None
    return found is not None and clause.imperative(_DELAY) and not clause.negated(
        found.start(), reach=2)
