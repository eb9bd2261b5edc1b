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
    "relative_care": "ties the reader's relative to the brand's care ('caring for your mom')",
    "we_enjoyed": "says the staff met or cared for the reader ('loved having you')",
    "outcome": "wishes or celebrates the outcome of a treatment or a body part",
    "you_state": "says how the reader is doing since their care ('you're doing well')",
    "encounter": "speaks of the reader's time in a place of care ('welcome back', 'your "
                 "time at')",
    "apology_encounter": "apologises for what staff did to the reader, or when",
    "case_handled": "tells the reader what was done with their bill, order or booking",
    "condolence_care": "offers condolences beside the brand's care",
    "your_day": "speaks of a day or a time of the reader's ('your weekend ... Saturday')",
    "staff_addressed": "tells that staff were spoken to about the reader's encounter",
    "unit_with_you": "sends a unit's or a department's wishes to the reader",
    "clinician": "names a clinician the person did not name, in words to them",
    "knew_you": "says the brand knew the reader or their relative ('when you needed us')",
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
    "folks", "team",
    # titles: "Dr. Kim will speak ..." opens with a title, not an addressed name
    "dr", "doctor", "nurse", "prof", "professor", "mr", "mrs", "ms", "mx", "miss"))
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
    out += _encounters(reply)
    out += _clinicians_not_named(reply, mention)
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
    masked = _without_service(reply)
    if not _CARE_ANY.search(masked) and not _CONDITIONS.search(masked):
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
    # A condition or a unit is the person's when they wrote of it as theirs ("my diabetes");
    # "do you offer flu shots?" asks of a service offered to everyone.
    said += [(m.group(), "echo_care") for pattern in (_CONDITIONS, _UNITS)
             for m in pattern.finditer(mention)
             if _OWN.search(mention)]
    reacts = _REACTS.search(reply) is not None
    out: list[Stop] = []
    for words, rule in said:
        pattern = r"\s+".join(re.escape(w) for w in words.split())
        for m in re.finditer(rf"(?i:(?<!\w){pattern}(?!\w))", reply):
            if rule == "echo_care" and not reacts and not _TIED.search(
                    phi_decision.sentence_around(reply, m.start(), m.end())):
                continue  # told as offered to all ("our diabetes classes are open to all")
            out.append(Stop(m.start(), m.end(), rule))
    return out


# -- families of phrasing that tell of an encounter without naming it ("your mom", "loved having
# you", "glad the knee surgery worked"), read on the reply with the brand's services masked.
_YOU = r"(?:you|your|yours|yourself|u|ur)"
#: A reply sentence about a person (the reader, someone else): an echo there is theirs.
_TIED = re.compile(rf"(?i:\b(?:{_YOU}|he|she|his|her|him|hers)\b)")
#: A comment sentence in which the writer tells of themselves or their own.
_OWN = re.compile(r"(?i:\b(?:i|i['\u2019]m|i['\u2019]ve|i['\u2019]d|my|me|mine|we|our|us)\b)")
#: A reply that reacts to what the person told ("thrilled to hear it", "congratulations").
_REACTS = re.compile(
    r"(?i:\b(?:(?:glad|happy|thrilled|delighted|sorry|sad|saddened|relieved|pleased|great|"
    r"good|wonderful|amazing) to (?:hear|see|read|know)|hear(?:ing)? (?:it|this|that)|"
    r"congrat\w*|thanks? (?:you )?for sharing)\b)")
#: A body part or a thing done to one: what an outcome wish is about.
_TREATED = (
    r"arm|leg|knee|hip|shoulder|spine|back|neck|ankle|wrist|foot|feet|hand|elbow|eye|eyes|"
    r"heart|lungs?|kidneys?|liver|skin|jaw|teeth|tooth|"
    r"surger(?:y|ies)|operation|procedure|repair|replacement|transplant|treatment|therap(?:y|ies)|"
    r"chemo\w*|radiation|rehab|incision|stitches|cast|wound|scar|bypass|stent|implant|"
    r"recovery|delivery|birth|labor|infusions?|dialysis|sessions?|rounds? of \w+")
#: What a service offered to everyone is called: never a body part of the reader.
_OFFERED = (r"center|centre|clinic|institute|program|programme|wing|department|services?|team|"
            r"health|fair|screenings?|classes?|group|month|week|walk|run|event|line|unit|"
            r"specialists?|care")
_WISH = (r"(?:great|good|wonderful|amazing|fantastic) news|glad|happy|thrilled|relieved|"
         r"delighted|pleased|hope|hoping|hopes|wish\w*|"
         r"congrat\w*|great to hear|good to hear|wonderful to hear|so proud|cheering")
_STAFF = (r"staff|nurses?|doctors?|dr\.?|physicians?|surgeons?|team|receptionists?|"
          r"front desk|providers?|techs?|technicians?|therapists?|aides?|midwi(?:fe|ves)|"
          r"anyone|no one|nobody")
_WHEN = (r"yesterday|today|tonight|this (?:morning|afternoon|evening|week|weekend)|"
         r"last (?:night|week|weekend|month|\w+day)|(?:mon|tues|wednes|thurs|fri|satur|sun)day|"
         r"(?:in|on) (?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)\w*")
#: Any word of care, a place of care, or a death in care (for relatives and condolences).
_CARED = (rf"{phi_decision.CARE_NOUNS}|{phi_decision.CARE_VERBS}|{phi_decision.UNITS}|"
          r"care|caring|cardiac|hospice|nicu|picu|icu|oncology|cardiology|pediatrics|"
          r"maternity|patient|clinic|hospital|home|final days|healing|recover\w*")
#: One relative of the reader ("your mom"); not "your family", said to everyone.
_RELATIVE = phi_decision.FAMILY.replace("family|", "").replace("|parents?", "")
#: Departments of care, as a reply names where someone was cared for.
_DEPARTMENTS = (r"(?:pediatric\s+|adult\s+)?(?:oncology|cardiology|endoscopy|orthopedics|ortho|"
                r"neurology|pediatrics|peds|radiology|imaging|maternity|obstetrics|surgery|"
                r"rehab|hospice|palliative|dialysis|urology|gastro\w*|pulmonology|dermatology|"
                r"stroke|trauma|burn|transplant)(?:\s+(?:team|unit|floor|staff|crew|wing))?")
_ENCOUNTERS = tuple((rule, re.compile(pattern)) for rule, pattern in (
    # "caring for your mom", "sending strength to your dad ... our cardiac team is with him"
    # (any word of care anywhere in the reply: see ``_WHOLE_REPLY``)
    ("relative_care", rf"(?i:\b(?:your|ur)\s+(?:\w+\s+)?{_RELATIVE}(?:['\u2019]s)?\b)"),
    # "we're sorry for how your husband was spoken to"
    ("apology_encounter", rf"(?i:\b(?:{phi_decision._APOLOGY})\b[^.!?]{{0,160}}\b(?:your|ur)\s+"
                          rf"(?:\w+\s+)?{_RELATIVE}\b)"),
    # "loved having you on the unit", "enjoyed caring for your mom", "was a pleasure to be
    # part of your ...", "honored to be with your father"
    ("we_enjoyed", rf"(?i:\b(?:loved|enjoyed|miss(?:ed)?|(?:was|were|is|are|been)\s+(?:an?\s+)?"
                   r"(?:pleasure|privilege|honou?r(?:ed)?|joy|blessed))\s+(?:\w+\s+){0,4}?"
                   rf"(?:having|meeting|seeing|caring for|looking after|being with|be with|"
                   rf"care for|meet|see|have|treating|part of)\s+(?:{_YOU}|him|her|them)\b)"),
    # "so happy the shoulder repair worked out", "hope her arm heals", "congratulations on
    # reaching the end of treatment": a wish on a treated body part or a treatment
    ("outcome", rf"(?i:\b(?:{_WISH})\b[^.!?]{{0,160}}?\b(?:the|your|ur|his|her|their|that|this)\s+"
                rf"(?:[\w-]+\s+){{0,2}}?(?:{_TREATED})\b(?!\s+(?:{_OFFERED})\b)"
                r"|\b(?:mend(?:s|ed|ing)?|on the mend)\b"
                rf"|\b(?:the|your|ur|his|her|their|that|this)\s+(?:[\w-]+\s+)?(?:{_TREATED})\s+"
                r"(?:will|should|is|has|looks?|seems?)\s+(?:\w+\s+)?(?:heal\w*|fade|mend\w*|"
                r"improv\w*|better|stronger|good|great|fine|working|behaving)\b)"),
    # "you are doing well after the accident", "you're feeling stronger"
    ("you_state", r"(?i:\b(?:you|u)(?:['\u2019]re|\s+are|\s+were|['\u2019]ve been|\s+have been)"
                  r"\s+(?:\w+\s+)?(?:doing|feeling|looking|getting|growing)\s+(?:so\s+|much\s+|"
                  r"very\s+|a lot\s+)?(?:better|stronger|healthier|well|great|good)\b"
                  r"(?=[^.!?]{0,160}\b(?:better|stronger|healthier|after|since|again|every day)\b)"
                  r"|\bhow far (?:you|u)(?:['\u2019]ve| have)? come\b|\b(?:your|ur) progress\b"
                  r"|\b(?:you|u)(?:['\u2019]re| are)\s+(?:already\s+|finally\s+)?back "
                  r"(?:on your feet|to (?:\w+ing|work|school|normal))\b"
                  r"|\b(?:you|u)(?:['\u2019]ll| will)\s+be\s+(?:back\s+)?(?:\w+ing|on your feet)\b"
                  r"[^.!?]{0,160}\b(?:again|in no time|soon|before you know it|shortly)\b)"),
    # "welcome back to the 4th floor", "your time at our Eastside clinic"
    ("encounter", r"(?i:\bwelcome (?:you )?back\b|\b(?:your|ur)\s+(?:time|stay|visit|night|"
                  r"day|days|week|weekend|morning|experience|evening)\s+(?:at|in|on|with)\b)"),
    # "we apologize that our staff did not keep you informed on Saturday night"
    ("apology_encounter", rf"(?i:\b(?:{phi_decision._APOLOGY})\b(?=[^.!?]{{0,160}}\b{_YOU}\b)"
                          rf"(?=[^.!?]{{0,160}}(?:\b(?:{_STAFF})(?!\w)|\b(?:{_WHEN})\b|"
                          r"\bkept (?:you )?waiting\b)))"),
    # "the billing team corrected the charge on your statement", "we've moved the MRI to
    # Thursday", "the refund was issued on March 2"
    ("case_handled", r"(?i:\b(?:corrected|moved|rebooked|rescheduled|found|located|issued|"
                     r"refunded|processed|fixed|reversed|waived|reissued|resent|refilled|filled|"
                     r"cancell?ed|rebook|reschedule|refill|refund|reverse|waive)\s+(?:\w+\s+)?"
                     r"(?:the|your|ur|that|this)\s+(?:[\w-]+\s+){0,2}?(?:charges?|bills?|"
                     r"statement|refund|claim|payment|balance|invoice|copay|appointment|mri|"
                     r"scans?|prescriptions?|refills?|orders?|follow-?up|visit|procedure|"
                     r"results?|records?|tests?|labs?|referral|surgery|booking)\b"
                     r"|\b(?:the|your|ur)\s+(?:[\w-]+\s+){0,2}?(?:charges?|bills?|statement|"
                     r"refund|claim|payment|balance|invoice|copay|prescriptions?|refills?|"
                     r"results?|referral)\s+(?:was|were|is|are|has been|have been)\s+"
                     r"(?:\w+\s+)?(?:issued|corrected|found|ready|moved|sent|processed|"
                     r"reversed|waived|approved|denied|fixed|mailed|filled|refunded)\b"
                     r"|\bon (?:your|ur) (?:statement|bill|account|invoice|claim)\b"
                     r"|\b(?:you|u)(?:['\u2019]re|\s+are|\s+have been|['\u2019]ve been)\s+"
                     r"(?:now\s+|all\s+)?(?:booked|scheduled|rescheduled|confirmed|cleared|"
                     r"approved|set for|"
                     r"on the (?:list|schedule))\b"
                     r"|\bwe(?:['\u2019]ve|\s+have)?\s+(?:\w+\s+)?(?:re)?\w+ed\s+(?:\w+\s+){0,2}?"
                     r"(?:the|your|ur)\s+(?:[\w-]+\s+){0,2}?(?:claim|insurer|insurance|bill|"
                     r"statement|charges?|account|balance|refund|prescription|referral|order)\b)"),
    # "hope the rest of your weekend was calmer than Saturday", "this morning" to the reader
    ("your_day", rf"(?i:\b{_YOU}\b[^.!?]{{0,160}}\b(?:yesterday|last (?:night|week|weekend|\w+day)|"
                 r"this (?:morning|afternoon)|(?:than|since) (?:mon|tues|wednes|thurs|"
                 r"fri|satur|sun)day|(?:mon|tues|wednes|thurs|fri|satur|sun)day (?:night|"
                 r"morning|afternoon|at \d))\b"
                 r"|\b(?:yesterday|last (?:night|week|weekend)|this (?:morning|afternoon))\b"
                 rf"[^.!?]{{0,160}}\b{_YOU}\b)"),
    # "that nurse's behavior has been addressed", "we have spoken with her manager"
    ("staff_addressed", rf"(?i:\b(?:the|that|this|your|ur)\s+(?:{_STAFF})['\u2019]s\s+(?:\w+\s+)?"
                        r"(?:behaviou?r|conduct|attitude|comments?|actions?|tone|manner|"
                        r"mistake|error)\b|\b(?:addressed|spoke|spoken|talked|coached|"
                        r"counsel\w*|followed up|met)\s+with\s+(?:the|that|this|her|his|their)\s+"
                        r"(?:\w+\s+)?(?:nurses?|doctors?|staff|manager|supervisor|providers?|"
                        r"receptionists?|physicians?|surgeons?|techs?|unit|floor|team)\b)"),
    # "celebrating with you" from a unit or a department of care
    ("unit_with_you", rf"(?i:\b(?:{phi_decision.UNITS}|{_DEPARTMENTS})\b[^.!?]{{0,160}}"
                      r"\b(?:celebrat\w*|"
                      r"cheering|rooting|praying|thinking of|proud of|says? hi|send(?:s)? "
                      r"(?:their|its|our) (?:love|best))\b"
                      rf"|\b(?:celebrat\w*|cheering|rooting|praying|thinking of|hugs?|high five|"
                      r"hello)\b[^.!?]{0,160}\bfrom "
                      r"(?:(?:everyone|all of us|the \w+) (?:in|on|at) )?"
                      rf"(?:the |our )?(?:\w+ )?(?:{phi_decision.UNITS}|{_DEPARTMENTS})\b)"),
    # "when you needed us", "your mother touched so many of us": the brand knew the person
    ("knew_you", rf"(?i:\b(?:when|while|after)\s+(?:you|u|your\s+\w+)\s+(?:needed|came to|"
                 r"relied on|turned to|were with|was with)\s+us\b"
                 rf"|\b(?:your|ur)\s+(?:\w+\s+)?{_RELATIVE}\b[^.!?]{{0,160}}\b(?:of us|with us|our "
                 r"(?:team|staff|nurses?|doctors?|unit|floor|hearts?))\b)"),
    # "so sorry for your loss" beside words of care in the same reply
    # (any word of care anywhere in the reply: see ``_WHOLE_REPLY``)
    ("condolence_care", r"(?i:\b(?:condolences|sorry for (?:your|ur) loss|(?:with|in) "
                        r"(?:our )?sympathy|passing)\b)"),
))


_CLINICIAN = re.compile(r"\b(?:Dr|Doctor|Nurse|Prof)\.?\s+([A-Z][\w'\u2019-]+)")
#: The clinician acting on the person, just after the name: "Dr. Reyes remembers you",
#: "Dr. Kim will see her"; no public activity clears that.
_ACTS_ON_THEM = re.compile(r"(?i:(?:\s+[\w'\u2019-]+){1,3}?\s+(?:you|u|him|her|them)\b"
                           r"(?!['\u2019]))")
#: What a clinician does in public, for everyone: a talk, a class, a live Q&A, an article.
_PUBLIC_ACTIVITY = re.compile(
    r"(?i:\b(?:webinars?|seminars?|workshops?|classes|(?:a|the|free|our|this|her|his) "
    r"(?:class|talk)|talks|lectures?|q\s*&\s*a|ama|live(?:stream)?|events?|(?:health )?fairs?|"
    r"panels?|forums?|town halls?|podcasts?|episodes?|videos?|articles?|blog|columns?|"
    r"interviews?|newsletters?|series|support groups?|open house|info(?:rmation)? sessions?|"
    r"conferences?|summits?|keynote|register|registration|sign up|rsvp|tune in)\b)")


def _clinicians_not_named(reply: str, mention: str) -> list[Stop]:
    """A clinician the person did not name, in a sentence to them: the brand looked up who
    cared for them ("we'll pass your thanks to Dr. Reyes"). A clinician in a public activity
    offered to everyone ("Dr. Patel answers your questions live on Friday") is not that,
    unless the sentence also tells of the person's care ("... at your follow-up")."""
    out = []
    # Asked once a name and once a sentence: a reply naming many clinicians in one long
    # sentence would otherwise read it again for each (quadratic).
    named: dict[str, bool] = {}
    tied: dict[str, tuple[bool, bool]] = {}
    for m in _CLINICIAN.finditer(reply):
        name = m.group(1).lower()
        if name not in named:
            named[name] = re.search(rf"(?i:\b{re.escape(name)}\b)", mention) is not None
        if named[name] or phi_decision.in_role(reply, m.end(), m.end()):
            continue
        sentence = phi_decision.sentence_around(reply, m.start(), m.end())
        if sentence not in tied:  # (to them, in a public activity that tells no care)
            tied[sentence] = (_TIED.search(sentence) is not None,
                              _PUBLIC_ACTIVITY.search(sentence) is not None
                              and not phi_decision.care_told(sentence))
        to_them, public = tied[sentence]
        if to_them and not (public and not _ACTS_ON_THEM.match(reply, m.end())):
            out.append(Stop(m.start(), m.end(), "clinician"))
    return out


#: Rules that stop only when the reply holds a word of care anywhere ("sending strength to
#: your dad. Our cardiac team is with him"); one search, so no scan is quadratic.
_WHOLE_REPLY = {"relative_care": re.compile(rf"(?i:\b(?:{_CARED})\b)"),
                "condolence_care": re.compile(rf"(?i:\b(?:{_CARED}|nurses?|team|remember)\b)")}


def _encounters(reply: str) -> list[Stop]:
    """Where ``reply`` tells of an encounter in the families ``_ENCOUNTERS`` names."""
    masked = _without_service(reply)
    out = []
    for rule, pattern in _ENCOUNTERS:
        found = [Stop(m.start(), m.end(), rule) for m in pattern.finditer(masked)]
        need = _WHOLE_REPLY.get(rule)
        if found and (need is None or _apart(found, need.finditer(masked))):
            out += found
    return out


def _apart(found: list[Stop], needed: Iterator[re.Match[str]]) -> bool:
    """Whether some match of ``needed`` lies clear of some stop in ``found``: one pass, as
    a match ends before the latest start or begins after the earliest end."""
    latest_start = max(stop.start for stop in found)
    earliest_end = min(stop.end for stop in found)
    return any(m.end() <= latest_start or m.start() >= earliest_end for m in needed)


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
