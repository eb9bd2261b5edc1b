"""Foursquare listings, read for the brand audit: one account per venue, never posted to.

Foursquare offers no publishing API. Its Places API gives a venue's listing
(``GET https://places-api.foursquare.com/places/{fsq_place_id}`` with
``fields=name,location,tel,website,hours``, a service key as ``Authorization: Bearer`` and the
API version as the ``X-Places-Api-Version`` date); ``fetch_profile`` turns it into a
``Profile`` the audit compares like any other: name, street address, phone and website, and
the opening hours (``extra["hours"]``) against the brand's ``hours`` table.

Weekly hours are compared in one normal form, ``{"mon": ["08:00-20:00"], ...}`` (a closed day
has no spans), read from Foursquare's ``hours.regular`` (``day`` 1 = Monday ... 7 = Sunday,
``open`` / ``close`` as ``HHMM``) and from the brand's table (``mon-fri = "08:00-20:00"``,
``sat = "09:00-13:00, 14:00-17:00"``, ``sun = "closed"``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field, SecretStr

from carecast.channels.base import Channel, ChannelOptions
from carecast.channels.http import new_session, request
from carecast.clock import SYSTEM_CLOCK, Clock
from carecast.errors import AuthenticationError, PermissionDenied, PlatformRejected
from carecast.post import Draft, Profile, Receipt
from carecast.scrub import hide

__all__ = ["DAYS", "FoursquareChannel", "FoursquareOptions", "hours_table", "listed_hours",
           "listing_profile", "show_hours"]

API = "https://places-api.foursquare.com"
#: Days in the normal form, Monday first (Foursquare's day 1).
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
FIELDS = "name,location,tel,website,hours"
_SPAN = re.compile(r"^\s*(\d{1,2}):?(\d{2})\s*-\s*(\d{1,2}):?(\d{2})\s*$")
_SAID = 200
#: Largest listing read, in bytes (a venue's details are a few kilobytes).
MAX_BYTES = 1024 * 1024


class FoursquareOptions(ChannelOptions):
    """Settings of a Foursquare venue the audit reads."""

    venue_id: str = Field(pattern=r"^[0-9a-fA-F]{24}$",
                          description="The venue's fsq_place_id (24 hex digits).")
    api_key: SecretStr = Field(description="A Places API service key.")
    api_version: str = Field(default="2025-06-17", pattern=r"^\d{4}-\d{2}-\d{2}$",
                             description="The X-Places-Api-Version date.")
    timeout: float = Field(default=15.0, gt=0, le=120)


class FoursquareChannel(Channel):
    """A Foursquare venue's listing: read by the brand audit, never posted to."""

    name: ClassVar[str] = "foursquare"
    title: ClassVar[str] = "Foursquare listing (read-only)"
    Options = FoursquareOptions
    api_host = "places-api.foursquare.com"
    publishes: ClassVar[bool] = False
    #: One project's service key reads every venue: its quota is shared.
    per_account: ClassVar[int] = 2
    per_host: ClassVar[int] = 8
    rate_limits_by: ClassVar[str] = "host"
    notes = ("Foursquare offers no publishing API: posts never go to this account; the brand "
             "audit reads the venue's name, address, phone, website and hours.",)
    error_messages = {
        AuthenticationError: "Foursquare refused the service key ({said}); make one in the "
                             "Foursquare developer console and update api_key",
        PermissionDenied: "the service key may not read this venue ({said})",
        404: "Foursquare holds no venue {said}; check venue_id (a merged venue gets a new id)",
        PlatformRejected: "Foursquare refused the request: {said}",
    }
    options: FoursquareOptions

    def __init__(self, account: str, options: ChannelOptions, *, root: Path | None = None,
                 session: Any = None, clock: Clock = SYSTEM_CLOCK) -> None:
        super().__init__(account, options, root=root, session=session or new_session(),
                         clock=clock)
        self.owns_session = session is None

    def publish(self, draft: Draft, key: str) -> Receipt:
        """Refused: Foursquare takes no posts (nothing is sent)."""
        raise self.error(PlatformRejected, "Foursquare offers no publishing API; remove this "
                         "account from the post's targets (it is read by the brand audit "
                         "only)", retryable=False)

    def delete(self, receipt: Receipt) -> None:
        """Refused: nothing is ever posted to Foursquare."""
        raise self.error(PlatformRejected, "nothing is posted to Foursquare, so nothing can be "
                         "deleted there", retryable=False)

    def fetch_profile(self) -> Profile:
        """The venue's listing (``GET /places/{fsq_place_id}``)."""
        o = self.options
        response = request(
            self.session, "GET", f"{API}/places/{o.venue_id}", channel=self.name,
            account=self.account, timeout=(10.0, o.timeout), params={"fields": FIELDS},
            headers={"Authorization": f"Bearer {o.api_key.get_secret_value()}",
                     "X-Places-Api-Version": o.api_version, "Accept": "application/json",
                     "User-Agent": "carecast"})
        body = _json(response)
        if response.status_code >= 300:
            said = body.get("message") if isinstance(body, dict) else None
            # hidden before it is cut, so no piece of an echoed secret survives the cut
            said = " ".join(hide(str(said)).split())[:_SAID] if said else "no reason given"
            raise self.error(response=response, method="GET", said=said)
        if not isinstance(body, dict) or len(response.content) > MAX_BYTES:
            raise self.error(PlatformRejected, "Foursquare answered without a venue's JSON; "
                             "try again later", status=response.status_code)
        return listing_profile(body, channel=self.name, account=self.account,
                               venue_id=o.venue_id)


def _json(response: Any) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def listing_profile(place: Mapping[str, Any], *, channel: str, account: str,
                    venue_id: str) -> Profile:
    """A Places API place as a ``Profile``: hours in the normal form in ``extra``."""
    location = place.get("location") if isinstance(place.get("location"), Mapping) else {}
    assert isinstance(location, Mapping)
    address = _text(location.get("formatted_address")) or ", ".join(
        p for p in (_text(location.get("address")), _text(location.get("locality")),
                    " ".join(p for p in (_text(location.get("region")),
                                         _text(location.get("postcode"))) if p))
        if p) or None
    hours = place.get("hours") if isinstance(place.get("hours"), Mapping) else {}
    assert isinstance(hours, Mapping)
    extra: dict[str, Any] = {"url": f"https://foursquare.com/v/{venue_id}"}
    if isinstance(hours.get("regular"), list):
        extra["hours"] = listed_hours(hours["regular"])
    if _text(hours.get("display")):
        extra["hours_display"] = _text(hours.get("display"))
    return Profile(channel=channel, account=account, display_name=_text(place.get("name")),
                   handle=venue_id, website=_text(place.get("website")),
                   phone=_text(place.get("tel")), location=address, extra=extra)


def _text(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _hhmm(value: str) -> str | None:
    digits = value.lstrip("+")
    if not (len(digits) == 4 and digits.isdigit()):
        return None
    hour, minute = int(digits[:2]), int(digits[2:])
    if hour > 24 or minute > 59 or (hour == 24 and minute):
        return None
    return f"{hour:02d}:{minute:02d}"


def listed_hours(regular: Sequence[Any]) -> dict[str, list[str]]:
    """Foursquare's ``hours.regular`` in the normal form; entries it cannot read are left
    out (a ``+`` before ``close`` marks a time on the next day, kept as written)."""
    table: dict[str, list[str]] = {day: [] for day in DAYS}
    for entry in regular:
        if not isinstance(entry, Mapping) or not isinstance(entry.get("day"), int):
            continue
        day = entry["day"]
        opens = _hhmm(str(entry.get("open", "")))
        closes = _hhmm(str(entry.get("close", "")))
        if 1 <= day <= 7 and opens and closes:
            table[DAYS[day - 1]].append(f"{opens}-{closes}")
    return {day: sorted(spans) for day, spans in table.items()}


def hours_table(given: Mapping[str, str], *, field: str) -> dict[str, list[str]]:
    """A brand's hours table in the normal form; ``ValueError`` names the entry and the fix.

    Keys are days or ranges of days (``mon``, ``mon-fri``, ``sat-sun``); values are spans
    (``08:00-20:00``, several joined by commas) or ``closed``. Days not given are closed.
    """
    table: dict[str, list[str]] = {day: [] for day in DAYS}
    for key, value in given.items():
        days = _days(key)
        if days is None:
            raise ValueError(f"{field}.{key}: not a day or a range of days; write mon, tue, "
                             "..., sun, or a range such as mon-fri")
        spans: list[str] = []
        if value.strip().lower() != "closed":
            for piece in value.split(","):
                match = _SPAN.match(piece)
                opens = match and _hhmm(f"{int(match[1]):02d}{match[2]}")
                closes = match and _hhmm(f"{int(match[3]):02d}{match[4]}")
                if not (opens and closes):
                    raise ValueError(f"{field}.{key}: {piece.strip()!r} is not a span of "
                                     "time; write 08:00-20:00 (24-hour clock) or closed")
                spans.append(f"{opens}-{closes}")
        for day in days:
            table[day] = sorted(spans)
    return table


def _days(key: str) -> list[str] | None:
    first, _, last = key.strip().lower().partition("-")
    if first not in DAYS or (last and last not in DAYS):
        return None
    start, end = DAYS.index(first), DAYS.index(last or first)
    return list(DAYS[start:end + 1]) if start <= end else None


def show_hours(table: Mapping[str, Sequence[str]]) -> str:
    """A normal-form table as people read it: ``mon-fri 08:00-20:00; sat closed``."""
    groups: list[tuple[list[str], str]] = []
    for day in DAYS:
        spans = ", ".join(table.get(day) or ()) or "closed"
        if groups and groups[-1][1] == spans:
            groups[-1][0].append(day)
        else:
            groups.append(([day], spans))
    return "; ".join(f"{d[0]}-{d[-1]} {s}" if len(d) > 1 else f"{d[0]} {s}"
                     for d, s in groups)
