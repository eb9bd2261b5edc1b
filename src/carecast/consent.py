"""Patient consent: the authorisation a media item showing a person must reference.

A ``Consent`` names the person by initials only, and says which channels and which media it
covers and until when. ``consent_findings`` checks every media item of a draft against the
registry in the store: an item that shows a person (``people: true``) or names a consent
(``consent: ID``) goes out only under a consent that exists, is not revoked, has not expired
and covers both the account's channel and that file. Anything else is a BLOCK.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field, field_validator

from carecast.errors import InvalidPost

if TYPE_CHECKING:
    from carecast.config import AccountConfig, CheckSettings
    from carecast.records import Records

from carecast.files import file_sha256
from carecast.findings import Action, Finding
from carecast.hookspecs import hookimpl
from carecast.post import Draft, Media

__all__ = ["ANY", "Consent", "MessagingConsent", "consent_findings", "e164", "media_digest",
           "number_ref"]

#: In ``channels`` or ``media``: every channel, every file.
ANY = "*"
_INITIALS = re.compile(r"^[A-Z]{1,4}$")


class Consent(BaseModel):
    """One person's authorisation to show them in the media it covers."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$",
                    description="The reference media items give as ``consent``.")
    initials: str = Field(description="The person's initials only, such as 'JD'.")
    channels: tuple[str, ...] = Field(
        min_length=1, description="Channel or account names it covers; '*' for all.")
    media: tuple[str, ...] = Field(
        min_length=1, description="File names, URLs or 'sha256:HEX' digests it covers; '*' "
                                  "for any media of a post that references it.")
    expires: datetime = Field(description="When it ends (timezone-aware).")
    revoked_at: datetime | None = None
    recorded_by: str = Field(default="", max_length=200)

    @field_validator("initials", mode="before")
    @classmethod
    def _initials_only(cls, value: object) -> object:
        if isinstance(value, str):
            letters = re.sub(r"[\s.]", "", value)
            if not _INITIALS.fullmatch(letters):
                raise ValueError("give the person's initials only: 1 to 4 capital letters, "
                                 "such as 'JD' (never a name)")
            return letters
        return value

    @field_validator("expires", "revoked_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("give a timezone, such as 2027-06-30T00:00:00+00:00")
        return value

    @property
    def revoked(self) -> bool:
        """True once revoked; revocation blocks every later post."""
        return self.revoked_at is not None

    def problem(self, *, channel: str, account: str, item: Media, digest: str | None,
                now: datetime) -> str | None:
        """Why this consent does not let ``item`` out to ``account``; None when it does."""
        if self.revoked_at is not None:
            return f"consent {self.id} was revoked"
        if now >= self.expires:
            return f"consent {self.id} expired on {self.expires.date().isoformat()}"
        if not ({ANY, channel, account} & set(self.channels)):
            return f"consent {self.id} does not cover the {channel} channel"
        names = {ANY, item.source, item.filename}
        if digest:
            names.add(digest)
        if not (names & set(self.media)):
            return f"consent {self.id} does not cover this file"
        return None


def media_digest(item: Media, root: Path) -> str | None:
    """``sha256:HEX`` of a local media file, or None for a URL or an unreadable file."""
    if item.is_url:
        return None
    try:
        return f"sha256:{file_sha256(item.path(root))}"
    except OSError:
        return None


def consent_findings(draft: Draft, *, channel: str, root: Path,
                     lookup: Callable[[str], Consent | None], now: datetime) -> list[Finding]:
    """BLOCK findings for every media item of ``draft`` that lacks a valid consent."""
    findings: list[Finding] = []
    for p, part in enumerate(draft.parts):
        for m, item in enumerate(part.media):
            field = f"parts[{p}].media[{m}].source"
            if item.consent is None:
                if item.people:
                    findings.append(_block("consent.missing", field, f"{field}: shows a person "
                                           "and names no consent; record one and set consent"))
                continue
            consent = lookup(item.consent)
            if consent is None:
                findings.append(_block("consent.unknown", field, f"{field}: no consent "
                                       f"{item.consent} in the registry; record it first"))
                continue
            digest = media_digest(item, root) if consent.media != (ANY,) else None
            why = consent.problem(channel=channel, account=draft.account, item=item,
                                  digest=digest, now=now)
            if why is not None:
                code = ("consent.revoked" if consent.revoked else "consent.expired"
                        if now >= consent.expires else "consent.scope")
                findings.append(_block(code, field, f"{field}: {why}"))
    return findings


def _block(code: str, field: str, message: str) -> Finding:
    return Finding(action=Action.BLOCK, code=code, field=field, message=message,
                   check="consent")


@hookimpl
def carecast_review_draft(draft: Draft, account: AccountConfig, settings: CheckSettings,
                          records: Records, now: datetime) -> list[Finding]:
    """The built-in consent check: every pictured patient has a valid consent on record."""
    if not settings.enabled("consent") or not any(
            m.consent or m.people for part in draft.parts for m in part.media):
        return []
    return consent_findings(draft, channel=account.channel, root=settings.config.root,
                            lookup=records.consent, now=now)


# -- messaging consent (SMS) -------------------------------------------------------------------


def e164(number: str, region: str = "US") -> str:
    """``number`` in E.164 (``+15551234567``), read as a number of ``region`` when it has no
    ``+``; ``InvalidPost`` naming the field when it is not a valid number (the number itself
    is never quoted: it is a patient's)."""
    import phonenumbers

    problem = ""
    try:
        parsed = phonenumbers.parse(number, region)
    except phonenumbers.NumberParseException:
        problem = "not a phone number"
    else:
        if not phonenumbers.is_valid_number(parsed):
            problem = "not a valid number"
    if problem:
        raise InvalidPost(f"number: {problem}; give it in E.164 (+15551234567) or as a "
                          f"number of the region {region!r}", [("number", problem)])
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def number_ref(key: bytes, number: str) -> str:
    """The stable reference audit events and logs use for a number (never the number):
    a keyed digest, so nobody without the audit key can tell which number it is."""
    return "n-" + hmac.new(key, number.encode(), hashlib.sha256).hexdigest()[:20]


class MessagingConsent(BaseModel):
    """One number's opt-in to a brand's text messages, and its revocation."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    number: str = Field(pattern=r"^\+[1-9][0-9]{6,14}$", description="E.164 (see ``e164``).")
    brand: str = Field(min_length=1, max_length=100)
    given_at: datetime = Field(description="When the opt-in was given (timezone-aware).")
    how: str = Field(min_length=1, max_length=200,
                     description="How it was given: 'web form', 'keyword START', 'paper'...")
    zone: str | None = Field(default=None, max_length=64,
                             description="The recipient's IANA time zone, if known.")
    revoked_at: datetime | None = None
    revoked_how: str | None = Field(default=None, max_length=200)

    @field_validator("given_at", "revoked_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("give a timezone, such as 2027-06-30T09:00:00+00:00")
        return value

    @field_validator("zone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is not None:
            from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError("give an IANA time zone, such as America/Chicago") from None
        return value

    @property
    def live(self) -> bool:
        """True while the opt-in stands: only then is the number texted."""
        return self.revoked_at is None

    def __repr__(self) -> str:  # the number is a patient's: never printed whole
        return (f"MessagingConsent(number='…{self.number[-2:]}', brand={self.brand!r}, "
                f"live={self.live})")

    def __str__(self) -> str:
        return repr(self)
