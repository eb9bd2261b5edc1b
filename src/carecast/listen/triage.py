"""Triage by rules, no model: what in a collected item needs a person, and how soon.

Labels, in the order the inbox shows them:

- ``crisis``: suicide or self-harm language (the safe-messaging lexicon,
  ``data/suicide_terms.txt``: plain words, euphemisms and slang; and self-harm in the first
  person); the brand's crisis
  protocol is shown above it;
- ``phi``: the writer identifies a patient (the PHI scanner finds a name, a number or another
  identifier, and the text speaks of a patient or of care, "had her MRI", "was treated",
  in the PHI guard's words of care; or the identifier is a record number, SSN, plan or
  account number);
- ``complaint``: dissatisfaction with care, staff, waits or bills;
- ``question``: a question the team can answer;
- ``competitor``: found by a competitor query.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from carecast.compliance import lexicon, phi, phi_decision
from carecast.store.mentions import PhiMark

__all__ = ["LABELS", "phi_marks", "triage"]

#: Every label, most urgent first.
LABELS = ("crisis", "phi", "complaint", "question", "competitor")

#: Self-harm in the first person, which the suicide lexicon does not hold.
_SELF_HARM = re.compile(
    r"\b(?:(?:cut|cutting|hurt|hurting|harm|harming|burn|burning|starve|starving) myself|"
    r"self[- ]?harm\w*|relapsed? (?:on|into) (?:cutting|self[- ]?harm))\b", re.IGNORECASE)
_COMPLAINT = re.compile(
    r"\b(?:worst|terrible|horrible|awful|rude|disgusting|unacceptable|ridiculous|appalling|"
    r"disappointed|disappointing|furious|angry|upset|never again|never going back|"
    r"complain\w*|complaint|negligen\w*|incompetent|unprofessional|overcharg\w*|"
    r"ripped off|scam|billing (?:error|mistake|nightmare)|surprise bill|"
    r"(?:waited|waiting|wait(?:ed)? for) (?:\w+ ){0,2}(?:hours?|forever|ages)|"
    r"(?:hours?|forever) (?:in|at) (?:the )?(?:er|waiting room|emergency)|"
    r"no one (?:called|answered|helped|listened)|nobody (?:called|answered|helped|listened)|"
    r"ignored|lost my|messed up|screwed up|misdiagnos\w*|shame on|1 star|one star)\b",
    re.IGNORECASE)
_QUESTION_START = re.compile(
    r"(?:^|[.!?]\s+)(?:how|what|when|where|which|who|why|is|are|do|does|did|can|could|will|"
    r"would|should|may)\b[^.!?]*\?", re.IGNORECASE)
#: Care told in any person ("my mother had her MRI", "he was treated"): the PHI guard's words.
_CARE = re.compile(
    rf"(?i:\b(?:{phi_decision.CARE_NOUNS}|{phi_decision.CARE_VERBS})\b)")
#: Categories that identify a patient wherever they appear.
_STRONG = frozenset({"MRN", "SSN", "HEALTH_PLAN", "ACCOUNT", "DEVICE"})


def phi_marks(text: str, allow: Iterable[str] = ()) -> tuple[PhiMark, ...]:
    """The PHI scanner's findings in ``text`` (at least ``phi.DETECT_MIN`` sure), as spans
    and categories; the brand's own details in ``allow`` are left out."""
    return tuple(PhiMark(s.start, s.end, s.category) for s in phi.scan(text, allow)
                 if s.confidence >= phi.DETECT_MIN)


def triage(text: str, marks: Iterable[PhiMark] = (), *, competitor: bool = False
           ) -> tuple[str, ...]:
    """The labels of one item, most urgent first (see ``LABELS``)."""
    found: set[str] = set()
    if lexicon.get("suicide_terms").search(text) is not None or _SELF_HARM.search(text):
        found.add("crisis")
    marks = tuple(marks)
    if any(m.category in _STRONG for m in marks) or (marks and (
            phi.patient_context(text) or _CARE.search(text))):
        found.add("phi")
    if _COMPLAINT.search(text):
        found.add("complaint")
    if _QUESTION_START.search(text) or text.rstrip().endswith("?"):
        found.add("question")
    if competitor:
        found.add("competitor")
    return tuple(label for label in LABELS if label in found)
