"""What a name or a place found in a post means: a patient story, or a person in a role.

The scanner finds identifiers; this module decides which names and places are PHI. A named
private person together with a health event, a treatment, a ward or unit, a date of care or
an address is a patient story. A person named in a role (a doctor, the brand's staff, a donor,
a speaker, an official) is not. ``is_health`` tells a health post from any other,
``in_role`` a person named in a role, ``patient_story`` a sentence that tells of someone's care.

A reply begins with the handles of the people it answers (``addressed``): those handles are
its addressees, not a disclosure by themselves. They are PHI when the reply tells of the
addressee's own care (``care_told``: "your surgery", "your stay with us", "sorry about the
wait in our ER", "the team that treated you"), because the reply then says that this person
is a patient. The reply gate (``reply_guard``) stops such a reply with the same rules.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from functools import lru_cache
from typing import NamedTuple

__all__ = ["CARE_NOUNS", "CARE_VERBS", "FAMILY", "UNITS", "Told", "addressed", "care_told",
           "in_role", "is_health", "patient_story", "sentence_around",
           "tells_addressee_care"]

# Clinical vocabulary in everyday words: events, treatments, units, recoveries, care.
_HEALTH = re.compile(
    r"(?i:\b(?:patients?|hospital\w*|clinic\w*|admit\w*|admission|discharg\w*|diagnos\w*|"
    r"surger\w*|surgical|surgeon|operat\w*|post-?op|pre-?op|procedure|transplant\w*|"
    r"replacement|stent|bypass|pacemaker|implant|fusion|lobectomy|mastectomy|appendectomy|"
    r"c-section|colonoscopy|mammogram|biopsy|scan|mri|x-ray|chemo\w*|radiation|infusion|"
    r"dialysis|therapy|therapist|rehab\w*|physical therapy|treatment|treated|treating|"
    r"medic\w*|drugs?|prescri\w*|vaccin\w*|booster|shots?|ventilator|ward|unit|icu|nicu|"
    r"picu|er|ed|emergency|trauma|ambulance|paramedics?|cath lab|floor|bed|room|"
    r"labor and delivery|maternity|birthing|born|birth|newborn|baby|twins|delivery|"
    r"cancer|tumou?r|leukemia|lymphoma|stroke|heart attack|cardiac|heart|lung|kidney|liver|"
    r"hip|knee|spine|spinal|sepsis|covid|flu|rsv|pneumonia|seizure|fracture|broken|injur\w*|"
    r"accident|fall|fever|infection|diabetes|diabetic|ulcer|burns?|wound|pain|"
    r"recover\w*|healing|heal|cancer-free|remission|survivor|bell|back on (?:his|her|their) "
    r"feet|went home|going home|home today|get well|prayers?|pray|brave|"
    r"nurses?|nursing|doctors?|physicians?|oncolog\w*|cardiolog\w*|neuro\w*|ortho\w*|"
    r"pediatric\w*|peds|geriatric\w*|hospice|care team|health|care|clinical)\b)")

# A person named in a role: a title or credential, or a role noun in the same clause.
_ROLE_BEFORE = re.compile(
    r"(?i:(?:\b(?:dr|prof|gov|sen|rep|rev|hon)\.?|\b(?:doctor|professor|nurse practitioner|"
    r"surgeon|physician|cardiologist|oncologist|neurologist|pharmacist|governor|senator|mayor|"
    r"congressman|congresswoman|representative|president|ceo|cfo|coo|cno|cmo|director|"
    r"manager|chief|chair|chairman|chairwoman|dean|speaker|keynote|author|donors?|"
    r"donor spotlight|philanthropist|sponsor|trustee|volunteer|colleague|emcee|host|"
    r"hosted by|moderator|moderated by|panelist|presenter|presented by|performer|"
    r"(?:our|new) (?:\w+ ){0,3}(?:nurse|doctor|physician|surgeon|director|manager|officer|"
    r"president|leader))\b)[\s,:.]*(?:\w+\.?\s+){0,1}$)")
_ROLE_AFTER = re.compile(
    r"(?i:(?:,?\s*(?:md|do|rn|bsn|msn|np|pa-c|pa|phd|dnp|crna|facs|facc|mba|mph|lpn|cna|"
    r"pharmd|dds)\b|,\s*(?:our|the|a|an)\s+(?:\w+\s+){0,4}(?:nurse|doctor|physician|surgeon|"
    r"director|manager|officer|president|ceo|chief|chair|dean|founder|donor|speaker|"
    r"author|volunteer|leader|educator|coordinator|specialist|therapist|pharmacist)\b|"
    r"\s+(?:joins|joined|will speak|will present|presented|spoke|speaks|funded|gave|donated \$|"
    r"received (?:a|an|the) (?:\S+ ){0,3}(?:grant|award|fellowship)|"
    r"(?:was|were|has been) (?:named|promoted|elected|appointed|honored|recognized)|"
    r"on (?:(?:his|her|their) )?(?:\w+ )?(?:promotion|retirement|award|fellowship)s?)))")
# The care of a person: events, treatments, units, going home, dates of care.
_STORY = re.compile(
    r"(?i:\b(?:patient|admitted|discharg\w*|diagnosed|underwent|recover\w*|surger\w*|"
    r"post-?op|chemo\w*|radiation|infusion|dialysis|transplant\w*|rehab\w*|therapy|"
    r"treatment|treated|icu|nicu|picu|unit|ward|floor|room|bed|er|emergency|trauma|"
    r"went home|goes home|going home|heading home|back home|home today|back on (?:his|her|"
    r"their) feet|cancer-free|remission|rang the bell|born|birth|arrived|labor|delivery|"
    r"beat|beats|survived|saving|saved|rushed|stent|bypass|replacement|pacemaker|"
    r"colonoscopy|mammogram|mastectomy|c-section|tonsils|cast|ventilator|seizure|stroke|"
    r"heart attack|sepsis|cancer|leukemia|tumou?r|pneumonia|covid|fall|accident|injury|"
    r"lives|lived|get well|pray|prayers|first steps|walked|walking|his stay|her stay)\b)")
_SENTENCE_END = re.compile(r"[.!?\n](?=\s|$)")
# The handles a text begins with ("@jdoe @riverside_er thanks ..."): whom a reply answers.
_LEADING_HANDLES = re.compile(r"\s*(?:@[A-Za-z0-9_][A-Za-z0-9_.]*[\s,:;]*)+")
# -- what a reply tells its reader of their own care: one rule set, word classes over grammar.
# The PHI guard (an addressee's handle is PHI when the reply tells of their care) and the reply
# gate (``compliance.reply_guard``) both read ``care_told``.
_W = r"[^\s.!?;]+\s+"  # one word and the space after it, inside a sentence
#: Things of a person's care: events, stays, treatments, tests, records, bills, providers.
CARE_NOUNS = (
    r"surger(?:y|ies)|operations?|procedures?|stay|visits?|admission|discharge|diagnos[ie]s|"
    r"results?|treatments?|therap(?:y|ies|ist)|rehab|chemo\w*|radiation|infusions?|dialysis|"
    r"transplant|recovery|appointments?|scans?|mri|x-rays?|images|biops(?:y|ies)|delivery|"
    r"birth|labor|care|room|bed|prescriptions?|medications?|meds|doses?|condition|injur(?:y|ies)|"
    r"illness|cancer|bills?|billing|charges|balance|account|records?|chart|file|case|"
    r"paperwork|stitches|wait|experience|tests?|labs?|bloodwork|exam|check-?up|follow-?up|"
    r"referral|journey|call light|new (?:knee|hip|shoulder)|"
    r"doctors?|nurses?|surgeons?|physicians?|providers?|care team|specialists?|midwife|"
    r"dentist|cardiologist|oncologist|pediatrician|therapist")
#: The people whose care a reply may tell their relative of ("your son's care team").
FAMILY = (r"(?:son|daughter|mom|mother|mum|dad|father|husband|wife|partner|spouse|baby|"
          r"child|children|kids?|brother|sister|grandma|grandmother|grandpa|grandfather|"
          r"family|loved one|twins|newborn|boy|girl|parents?|fianc[eé]e?)")
#: Verbs by which a hospital acts on a person: "we treated you", "the team that saw you".
CARE_VERBS = (r"treat(?:ed|ing)?|cared for|car(?:e|ing) for|saw|seen|examined|operated on|"
              r"admit(?:ted)?|discharg(?:e|ed|ing)|diagnos(?:e|ed)|deliver(?:ed)?|"
              r"look(?:ed|ing)? after|attend(?:ed)? to|transfer(?:red)?|vaccinat(?:e|ed)|"
              r"stitch(?:ed)?|scann?(?:ed)?|test(?:ed)?")
#: Where a person is cared for: units, wards, rooms.
UNITS = (r"er|ed|emergency (?:room|department)|icu|nicu|picu|ccu|pacu|ward|unit|floor|"
         r"room \d+\w?|\d+\s*(?:north|south|east|west)|(?:north|south|east|west) \d+|"
         r"l&d|labou?r and delivery|maternity|urgent care|waiting room|infusion center|"
         r"cancer center|dialysis center|cath lab|recovery room|operating room|or")
#: Words that wish a person well of an illness or a treatment ("speedy recovery").
_RECOVERY = (r"(?:speedy|quick|full|smooth|fast) recovery|recover(?:s|ed|ing)?|heal(?:s|ed|ing)?|"
             r"get well|feel(?:ing)? better|back on (?:your|his|her|their) feet|"
             r"r[ai]ng(?:ing)? (?:the|that) bell|finish(?:ed|ing)? (?:treatment|chemo\w*|"
             r"radiation|rehab|therapy)|new (?:knee|hip|shoulder|heart)")
#: Someone else in the sentence: a recovery told of them is theirs, not the reader's.
_THIRD_PERSON = re.compile(r"(?i:(?<!\w)@\w|\b(?:he|she|his|her|hers|him)\b)")
_APOLOGY = r"sorry|apologi[sz]e\w*|apologies|regret\w*"
#: The brand's own services, named in every template: never the reader's care.
_SERVICE = re.compile(
    r"(?i:\bpatient (?:relations|experience|advocates?|advocacy|and family \w+|services|"
    r"portal|liaisons?)(?: (?:team|office|department|line))?|\bcare line\b)")
_TOLD = tuple((rule, re.compile(pattern)) for rule, pattern in (
    # "your surgery", "during your visit", "your 9:30 appointment", "your doctor"
    ("your_care", rf"(?i:\b(?:your|yours|ur)\s+(?:{_W}){{0,3}}?(?:{CARE_NOUNS})\b)"),
    # "your son's care team", "your wife as she heals", "your dad's unit": a relative's care
    # (a word of care later in the sentence: ``_LATER``)
    ("family_care", rf"(?i:\b(?:your|ur)\s+(?:{_W}){{0,1}}?{FAMILY}(?:['\u2019]s)?\b)"),
    # "you were admitted", "you're recovering", "you were in our ER", "you were seen by"
    ("you_were", rf"(?i:\b(?:you|u)(?:['\u2019](?:re|ve|d))?\s+(?:(?:were|was|got|had|have|"
                 rf"are|been|being|just)\s+){{1,2}}(?:{CARE_VERBS}|recovering|released|"
                 rf"(?:here|with us|in (?:the |our )?(?:{UNITS}|hospital|clinic))\b)\b"
                 r"|\b(?:you|u)(?:['\u2019]re| are)\s+(?:still\s+|now\s+)?(?:recovering|"
                 r"healing|on the mend|feeling better)\b)"),
    # "when you were here", "while you were with us", "since you came in", "your time with us"
    ("you_were_here", r"(?i:\b(?:when|while|since|after|before|during the time)\s+you\s+"
                      r"(?:were|was|came|visited|stayed|checked|got|left|arrived)\b"
                      r"|\byour time (?:here|with us|in our)\b)"),
    # "the team that treated you", "caring for you", "so glad we could get you in"
    ("we_cared", rf"(?i:\b(?:{CARE_VERBS})\s+(?:for\s+)?(?:you|u)\b(?!['\u2019])"
                 r"|\b(?:get|got|getting|fit|squeeze[d]?|bring|brought|check(?:ed)?)\s+(?:you|u)"
                 r"\s+in\b|\bhaving (?:you|u)\s+(?:here|with us|on|in)\b"
                 r"|\b(?:trust(?:ing|ed)?|choos(?:e|ing)|chose|chosen)\s+us\s+(?:with|for)\b)"),
    # "we have reviewed your chart", "our records show", "we looked up the charges"
    ("records", r"(?i:\b(?:our|the)\s+(?:records?|files?|system|charts?)\s+(?:shows?|"
                r"indicates?|says?|confirms?)\b|\baccording to (?:our|the) (?:records?|chart|"
                r"system|files?)\b|\b(?:reviewed|checked|pulled|looked (?:at|into|up)|"
                r"looking into|found|located|accessed|investigat\w+)\s+(?:\w+\s+){0,2}?"
                r"(?:the|your)\s+(?:\w+\s+){0,2}?(?:chart|file|records?|account|case|charges|"
                r"balance|bill|images|paperwork|notes|history|results?|dos\w+|fall|visit|"
                r"stay|error)\b)"),
    # "so sorry about the wait in our ER", "our apologies that the doctor kept you waiting"
    # (a word of care later in the sentence: ``_LATER``)
    ("apology", rf"(?i:\b(?:{_APOLOGY})\b)"),
    # "wishing you a speedy recovery", "congrats on ringing the bell", "glad the new knee ..."
    ("recovery", rf"(?i:\b(?:{_RECOVERY})\b)"),
))
#: What must follow a rule's match later in its sentence (before the next ".", "!" or "?"):
#: asked of each match by ``_Sentences.later``, so a text of many matches in one sentence is
#: read once, not once a match (a lookahead ``(?=[^.!?]*...)`` in the rule is quadratic).
_LATER = {
    "family_care": re.compile(rf"(?i:\b(?:{CARE_NOUNS}|{UNITS}|{_RECOVERY}|journey|home)\b)"),
    "apology": re.compile(rf"(?i:\b(?:{CARE_NOUNS}|{UNITS})\b)"),
}
_CLAUSE_END = re.compile(r"[.!?]")
#: The end of an abbreviation ("Dr.", "J."): its dot ends no sentence.
_ABBREVIATION = re.compile(r"(?i:\b(?:dr|mr|mrs|ms|mx|prof|st|jr|sr|[a-z]))$")


class Told(NamedTuple):
    """A place where a text tells its reader of their (or a relative's) own care."""

    start: int
    end: int
    #: The rule that saw it: ``your_care``, ``family_care``, ``you_were``, ``you_were_here``,
    #: ``we_cared``, ``records``, ``apology`` or ``recovery``.
    rule: str


def is_health(text: str) -> bool:
    """Whether ``text`` speaks of health or care at all (nearly every hospital post does)."""
    return _HEALTH.search(text) is not None


def sentence_around(text: str, start: int, end: int) -> str:
    """The sentence holding ``text[start:end]`` (abbreviations like "Dr." may cut it short)."""
    left, right = _sentences(text).around(start, end)
    return text[left:right]


class _Sentences:
    """The sentence ends of one text, found once, and searches in its sentences whose cost
    does not grow with the number of questions asked of one sentence."""

    def __init__(self, text: str) -> None:
        self.text = text
        #: Where each sentence ends: a ".", "!", "?" or line break before a space or the end.
        self._ends = [m.start() for m in _SENTENCE_END.finditer(text)
                      if _ends_sentence(text, m.start())]
        self._clause_ends = [m.start() for m in _CLAUSE_END.finditer(text)]
        #: (pattern, where its search stops) -> (where it began, the first match or None)
        self._searched: dict[tuple[int, int], tuple[int, int | None]] = {}

    def around(self, start: int, end: int) -> tuple[int, int]:
        """The bounds of the sentence holding ``start:end``. A sentence end right before
        ``start`` counts even when no space follows it ("ok.Thanks")."""
        text, ends = self.text, self._ends
        at = bisect_left(ends, start)
        left = ends[at - 1] + 1 if at else 0
        if start and text[start - 1] in ".!?\n" and _ends_sentence(text, start - 1):
            left = start
        at = bisect_left(ends, end)
        return left, ends[at] + 1 if at < len(ends) else len(text)

    def holds(self, pattern: re.Pattern[str], start: int, stop: int) -> bool:
        """Whether ``pattern`` matches in ``text[start:stop]``. For patterns that look back at
        most one character: each bound here follows a sentence end or is the text's, so the
        search in place reads as a search of the slice. Asked of one ``stop`` with a
        growing ``start``, the text up to ``stop`` is searched about once."""
        key = (id(pattern), stop)
        searched = self._searched.get(key)
        if searched is not None and start >= searched[0]:
            found = searched[1]
            if found is None or start <= found:
                return found is not None
        m = pattern.search(self.text, start, stop)
        self._searched[key] = (start, m.start() if m else None)
        return m is not None

    def later(self, pattern: re.Pattern[str], start: int) -> bool:
        """Whether ``pattern`` matches from ``start`` on before the next ".", "!" or "?" (the
        lookahead ``(?=[^.!?]*pattern)``, for patterns holding none of these)."""
        ends = self._clause_ends
        at = bisect_left(ends, start)
        return self.holds(pattern, start, ends[at] if at < len(ends) else len(self.text))


def _ends_sentence(text: str, at: int) -> bool:
    return _ABBREVIATION.search(text[max(0, at - 5):at]) is None


@lru_cache(maxsize=16)
def _sentences(text: str) -> _Sentences:
    """The sentences of ``text``, kept for the few texts last asked about (a guard asks of
    each name in a post)."""
    return _Sentences(text)


def in_role(text: str, start: int, end: int) -> bool:
    """Whether the person named at ``text[start:end]`` is named in a role, not as a patient."""
    before = text[max(0, start - 60):start]
    return _ROLE_BEFORE.search(before) is not None or _ROLE_AFTER.match(
        text, end, min(len(text), end + 90)) is not None


def patient_story(text: str, start: int, end: int) -> bool:
    """Whether the sentence naming someone at ``text[start:end]`` tells of their care."""
    sentences = _sentences(text)
    return sentences.holds(_STORY, *sentences.around(start, end))


def addressed(text: str) -> int:
    """Where the handles ``text`` begins with end (0 when it begins with none): the people a
    reply answers."""
    m = _LEADING_HANDLES.match(text)
    return m.end() if m and "@" in m.group() else 0


def care_told(text: str) -> list[Told]:
    """Where ``text`` tells its reader of their own or a relative's care, by rule ("your
    surgery", "you were admitted", "the team that treated you", "sorry about the wait in our
    ER", "our records show", "wishing you a speedy recovery"); the brand's own services
    ("our patient relations team") are not the reader's care."""
    masked = _SERVICE.sub(lambda m: "x" * len(m.group()), text)
    sentences = _Sentences(masked)
    found = [Told(m.start(), m.end(), rule) for rule, pattern in _TOLD
             for m in pattern.finditer(masked)
             if (rule not in _LATER or sentences.later(_LATER[rule], m.end()))
             and (rule != "recovery" or not sentences.holds(
                 _THIRD_PERSON, *sentences.around(m.start(), m.end())))]
    return sorted(found)


def tells_addressee_care(text: str) -> bool:
    """Whether ``text`` tells its reader ("your surgery", "you were admitted") of their own
    care."""
    return bool(care_told(text))
