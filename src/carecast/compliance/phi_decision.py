"""What a name or a place found in a post means: a patient story, or a person in a role.

The scanner finds identifiers; this module decides which names and places are PHI. A named
private person together with a health event, a treatment, a ward or unit, a date of care or
an address is a patient story. A person named in a role (a doctor, the brand's staff, a donor,
a speaker, an official) is not. ``is_health`` tells a health post from any other,
``in_role`` a person named in a role, ``patient_story`` a sentence that tells of someone's care.

A reply begins with the handles of the people it answers (``addressed``): those handles are
its addressees, not a disclosure by themselves. They are PHI when the reply tells of the
addressee's own care (``tells_addressee_care``: "your surgery", "your stay with us", "sorry
about your wait"), because the reply then says that this person is a patient.
"""

from __future__ import annotations

import re

__all__ = ["addressed", "in_role", "is_health", "patient_story", "sentence_around",
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
# The addressee's own care, told to them: "your" (or "you were ...") governing a word of care,
# with at most two words between ("your knee surgery", "during your visit", "your stay with
# us", "you were admitted", "sorry about your wait"). A care word elsewhere in the sentence is
# not theirs: "our nurse line can help with your questions", "thank you for supporting our ER".
_OWN_CARE = re.compile(
    r"(?i:\b(?:your|yours|ur)\s+(?:[\w'\u2019-]+\s+){0,2}?"
    r"(?:surger(?:y|ies)|operation|procedure|stay|visit|admission|discharge|diagnosis|"
    r"results?|treatment|therapy|rehab|chemo\w*|radiation|infusion|dialysis|transplant|"
    r"recovery|appointment|scan|mri|x-ray|biopsy|delivery|birth|labor|care|room|bed|"
    r"prescription|medications?|condition|injury|illness|cancer|bill|billing|records?|chart|"
    r"stitches|wait|experience)\b"
    r"|\b(?:you|u)(?:['\u2019](?:re|ve|d))?\s+(?:(?:were|was|got|had|have|are|been|being)\s+)"
    r"{1,2}(?:admitted|treated|discharged|seen|diagnosed|operated|released|recovering|"
    r"in\s+(?:the\s+)?(?:er|icu|nicu|hospital|labor))\b)")


def is_health(text: str) -> bool:
    """Whether ``text`` speaks of health or care at all (nearly every hospital post does)."""
    return _HEALTH.search(text) is not None


def sentence_around(text: str, start: int, end: int) -> str:
    """The sentence holding ``text[start:end]`` (abbreviations like "Dr." may cut it short)."""
    left = 0
    for m in _SENTENCE_END.finditer(text, 0, start):
        if not re.search(r"(?i:\b(?:dr|mr|mrs|ms|mx|prof|st|jr|sr|[a-z]))$",
                         text[max(0, m.start() - 5):m.start()]):
            left = m.end()
    right = len(text)
    for m in _SENTENCE_END.finditer(text, end):
        if not re.search(r"(?i:\b(?:dr|mr|mrs|ms|mx|prof|st|jr|sr|[a-z]))$",
                         text[max(0, m.start() - 5):m.start()]):
            right = m.end()
            break
    return text[left:right]


def in_role(text: str, start: int, end: int) -> bool:
    """Whether the person named at ``text[start:end]`` is named in a role, not as a patient."""
    before = text[max(0, start - 60):start]
    return _ROLE_BEFORE.search(before) is not None or _ROLE_AFTER.match(
        text, end, min(len(text), end + 90)) is not None


def patient_story(text: str, start: int, end: int) -> bool:
    """Whether the sentence naming someone at ``text[start:end]`` tells of their care."""
    return _STORY.search(sentence_around(text, start, end)) is not None


def addressed(text: str) -> int:
    """Where the handles ``text`` begins with end (0 when it begins with none): the people a
    reply answers."""
    m = _LEADING_HANDLES.match(text)
    return m.end() if m and "@" in m.group() else 0


def tells_addressee_care(text: str) -> bool:
    """Whether ``text`` tells its reader ("your surgery", "you were admitted") of their own
    care."""
    return _OWN_CARE.search(text) is not None
