"""The PHI guard: protected health information in anything a post sends out.

Scans (with ``carecast.compliance.phi.scan``) the text, title, thread parts, hashtags, each
media item's alt text, title and file name, the link (its query string decoded) and the
per-channel overrides. Each identifier found is a finding ``phi.<category>`` (``phi.ssn``,
``phi.name``) whose message says where and what kind, never the text itself.

Default actions: BLOCK for identifiers the scanner is sure of (at least ``block_confidence``)
and REVIEW for the less sure; REVIEW for a name, place or personal web address when the post
speaks of a patient, WARN for one when it does not. ``redact`` turns chosen categories into
REDACT, ``actions`` sets any category's action. The handles a reply begins with are its
addressees: reported only when the reply tells of the addressee's own care. The brand's
name, website, phone numbers, emails and addresses and its staff roster are always allowed;
so are ``allow`` and ``public_figures``. Settings: ``[checks.phi]`` (see
``docs/compliance/phi.md``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, Literal, NamedTuple

from pydantic import Field, field_validator

from carecast.compliance import phi, phi_decision, phi_places
from carecast.compliance._settings import CheckConfig, Choice, misconfigured
from carecast.errors import ConfigurationError
from carecast.findings import Action, Finding, Span
from carecast.hookspecs import hookimpl

if TYPE_CHECKING:
    from carecast.config import BrandConfig, CheckSettings
    from carecast.post import Post

__all__ = ["PhiSettings", "allowed_terms", "carecast_review_post", "flags"]

#: Names, places and web addresses: PHI when they point at a patient.
CONTEXTUAL = frozenset({"NAME", "LOCATION", "URL"})

_WHAT = {
    "NAME": "a person's name", "LOCATION": "a place smaller than a state (an address, a city, "
    "a ZIP code or a facility)", "DATE": "a date tied to a person, or an age over 89",
    "PHONE": "a phone number that is not the brand's", "FAX": "a fax number",
    "EMAIL": "a personal email address", "SSN": "a Social Security number",
    "MRN": "a medical record number", "HEALTH_PLAN": "a health plan beneficiary number",
    "ACCOUNT": "an account or card number", "LICENSE": "a certificate or licence number",
    "VEHICLE": "a vehicle identifier or plate", "DEVICE": "a device identifier or serial number",
    "URL": "a personal web address", "IP": "an IP address", "OTHER_ID": "an identifying number",
}


class PhiSettings(CheckConfig):
    """``[checks.phi]``: actions, allow-lists and confidence thresholds."""

    NAME: ClassVar[str] = "phi"
    DEFAULTS: ClassVar[dict[str, Action]] = {
        c.lower(): Action.REVIEW if c in CONTEXTUAL else Action.BLOCK for c in phi.CATEGORIES}

    redact: list[phi.Category] = Field(
        default_factory=list, description="Categories replaced by '[redacted]' instead.")
    allow: list[str] = Field(
        default_factory=list, description="Terms that may appear: partners, their numbers.")
    public_figures: list[str] = Field(
        default_factory=list, description="People who may be named: officials, celebrities.")
    policy: Literal["strict", "balanced"] = Field(
        default="strict",
        description="strict: any private name or place in a health post is held for review; "
                    "balanced: only a name told with a health event, treatment, unit, date of "
                    "care or address (a patient story).")
    story_confidence: float = Field(
        default=0.5, ge=0.0, le=1.0,
        description="In a health post, names, places and dates this sure count (below "
                    "min_confidence elsewhere).")
    min_confidence: float = Field(
        default=0.6, ge=0.0, le=1.0, description="Spans less sure than this are not reported.")
    block_confidence: float = Field(
        default=0.8, ge=0.0, le=1.0,
        description="A BLOCK by default needs this much; a less sure one is a REVIEW.")

    @field_validator("actions", mode="before")
    @classmethod
    def _lower_kinds(cls, value: Any) -> Any:
        return {str(k).lower(): v for k, v in value.items()} if isinstance(value, dict) else value

    @field_validator("redact", mode="before")
    @classmethod
    def _upper_categories(cls, value: Any) -> Any:
        return [str(v).upper() for v in value] if isinstance(value, list) else value

    def choose(self, span: phi.PhiSpan, context: _Context) -> Choice | None:
        """The action for one span in its context, or None when it is not reported."""
        floor = self.story_confidence if context.health and span.category in (
            "NAME", "DATE") else self.min_confidence
        if span.confidence < min(floor, self.min_confidence):
            return None
        if span.category in self.redact:
            return Action.REDACT
        explicit = self.actions.get(span.category.lower()) or self.action
        if explicit is not None:
            return explicit
        if span.category == "DATE" and span.confidence < self.min_confidence:
            # a date with no cue ("in June", "the 14th"): a patient's in their story, else an
            # event's, not reported
            return Action.REVIEW if self._held(span, context) else None
        if span.category in CONTEXTUAL:
            return Action.REVIEW if self._held(span, context) else Action.WARN
        default = self.DEFAULTS[span.category.lower()]
        if default is Action.BLOCK and span.confidence < self.block_confidence:
            return Action.REVIEW
        return default

    def _held(self, span: phi.PhiSpan, context: _Context) -> bool:
        """Whether a name, place, link or cue-less date is PHI in this post (see the module)."""
        if context.role:
            return False
        if span.category == "DATE":  # a date with no cue of its own: in a patient's story
            return context.story
        if self.policy == "strict":
            if span.category == "LOCATION":
                return context.health and context.person
            return context.health
        return context.story or (span.category != "NAME" and context.person and context.health)


class _Context(NamedTuple):
    """What the post says around one span."""

    health: bool  # the post speaks of health or care
    person: bool  # the post names a private person (not in a role)
    story: bool  # the span's sentence tells of a private person's care
    role: bool  # the span is a person named in a role (staff, donor, speaker, official)


def allowed_terms(brand: BrandConfig | None, settings: PhiSettings) -> tuple[str, ...]:
    """What may appear in any post of ``brand``: its own details, staff and the allow-lists."""
    terms: list[str] = [*settings.allow, *settings.public_figures]
    if brand is not None:
        terms += [brand.name, *brand.phone, *brand.email, *brand.address, *brand.staff]
        if brand.website:
            terms.append(brand.website)
    return tuple(terms)


def flags(post: Post, brand: BrandConfig | None, settings: CheckSettings
          ) -> Callable[[phi_places.Place], bool]:
    """Whether the guard finds anything in one place of ``post`` (for masking the store)."""
    try:
        config = PhiSettings.of(settings)
    except ConfigurationError:
        return lambda place: True  # settings unreadable: mask every place
    allow = allowed_terms(brand, config)
    return lambda place: any(s.confidence >= min(config.story_confidence, config.min_confidence)
                             for s in phi.scan(place.text, allow))


@hookimpl
def carecast_review_post(post: Post, brand: BrandConfig | None,
                         settings: CheckSettings) -> list[Finding]:
    """Find PHI in every place of ``post`` that leaves carecast."""
    try:
        config = PhiSettings.of(settings)
    except ConfigurationError as exc:
        return [misconfigured(PhiSettings.NAME, exc)]
    if not config.enabled:
        return []
    allow = allowed_terms(brand, config)
    places = list(phi_places.places(post))
    scanned = [(place, _unaddressed(place.text, phi.scan(place.text, allow)))
               for place in places]
    health = config.policy == "strict" or any(
        phi_decision.is_health(place.text) for place in places)
    patient = any(phi.patient_context(place.text) for place in places)
    roles = {(place.where, s.start): phi_decision.in_role(place.text, s.start, s.end)
             for place, spans in scanned for s in spans if s.category == "NAME"}
    private = {key for key, role in roles.items() if not role}
    stories = {(place.where, s.start) for place, spans in scanned for s in spans
               if (place.where, s.start) in private
               and phi_decision.patient_story(place.text, s.start, s.end)}
    person = bool(private) or any(s.category == "URL" for _, spans in scanned for s in spans)
    findings: list[Finding] = []
    for place, spans in scanned:
        for span in spans:
            key = (place.where, span.start)
            context = _Context(health or patient, person,
                               bool(stories) or (patient and person) or key in stories,
                               roles.get(key, False))
            choice = config.choose(span, context)
            if choice is None:
                continue
            if choice == Action.REDACT and not place.redactable:
                choice = Action.REVIEW  # a file name or an encoded link cannot be rewritten
            finding = config.finding(
                span.category.lower(), place.field, _message(place, span, context.story),
                choice=choice, confidence=span.confidence,
                spans=(Span(start=span.start, end=span.end),) if place.redactable else ())
            if finding is not None:
                findings.append(finding)
    return findings


def _unaddressed(text: str, spans: list[phi.PhiSpan]) -> list[phi.PhiSpan]:
    """``spans`` less the handles a reply begins with, unless it tells of their care."""
    lead = phi_decision.addressed(text)
    if not lead or phi_decision.tells_addressee_care(text):
        return spans
    return [s for s in spans if not (s.category == "URL" and s.end <= lead)]


def _message(place: phi_places.Place, span: phi.PhiSpan, patient: bool) -> str:
    contextual = span.category in CONTEXTUAL
    context = " in a post about a patient" if patient and contextual else ""
    fix = ("get the person's consent, or list them in checks.phi.allow (or the brand's staff) "
           "if they may be named" if contextual else "remove it, or list it in checks.phi.allow "
           "if it is public")
    at = f" at {span.start}-{span.end}" if place.exact else ""
    return (f"{place.where}{at}: {_WHAT[span.category]}{context} "
            f"({span.category}, confidence {span.confidence:.2f}); {fix}")
