"""SMS: text a post to every number opted in to the account's brand, through Twilio.

Twilio's official client (``twilio``, the ``carecast[sms]`` extra) builds the Messages API
calls; its requests go through carecast's one transport seam (``channels/http.py``), so every
transport failure and HTTP error maps as for any channel, with Twilio's error code read from
the body. A post becomes one message per recipient: only numbers with a live opt-in in the
store (``carecast.store.messaging``) are texted, each claimed before and settled after its
send, so a fan-out texts each recipient once across crashes. Twilio takes no idempotency key
for Messages: a send whose outcome is unknown is looked up by To, From and DateSent (and the
message's body and creation time) before that number is texted again. A number in its quiet
hours waits: the target stays pending, saying until when, and a later run sends it.

Text is counted as carriers count it: GSM-7 (the extension table's characters take two
septets) in 160 / 153-unit segments, anything else in UCS-2 at 70 / 67; ``max_segments``
caps a message. SMS is not a secure channel: the review refuses any text the PHI scanner
flags at all (``carecast.compliance.sms_phi``).
"""

from __future__ import annotations

import base64
import functools
import logging
import re
import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Self
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from pydantic import Field, SecretStr, field_validator, model_validator

from carecast.channels.base import Channel, ChannelOptions
from carecast.channels.http import new_session, request
from carecast.clock import SYSTEM_CLOCK, Clock
from carecast.config import AccountConfig
from carecast.confine import is_loopback_url
from carecast.errors import (
    AuthenticationError,
    ChannelError,
    ConfigurationError,
    LimitExceeded,
    PermissionDenied,
    PlatformRejected,
    RateLimited,
)
from carecast.post import Draft, Post, Profile, Receipt

if TYPE_CHECKING:
    from carecast.consent import MessagingConsent
    from carecast.store.messaging import Messaging, SmsResult

__all__ = ["QuietHours", "Segments", "SmsChannel", "SmsOptions", "segments"]

log = logging.getLogger("carecast.sms")

API = "https://api.twilio.com"
#: GSM 03.38's default alphabet (one septet each) and its extension table (two: ESC + char).
GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")
GSM_EXTENSION = frozenset("\f^{}\\[~]|€")
#: Twilio codes that refuse one number only: that recipient is skipped, the others go on.
NUMBER_CODES: Mapping[int, str] = {
    21211: "the number is not a valid phone number",
    21408: "texting that number's region is not enabled on the Twilio account",
    21610: "the recipient replied STOP to this sender (Twilio blocks it)",
    21612: "Twilio cannot route a message from this sender to that number",
    21614: "the number is not a mobile number",
    21635: "the number is a landline",
    30003: "the handset is unreachable", 30004: "the message was blocked",
    30005: "the number is unknown or no longer in service",
    30006: "the number is a landline or its carrier is unreachable",
    30007: "the carrier filtered the message", 30008: "the carrier failed with an unknown error",
}
#: Twilio codes of the whole account or request, and the carecast error each becomes.
ACCOUNT_CODES: Mapping[int, type[ChannelError]] = {
    20003: AuthenticationError, 20005: PermissionDenied, 20429: RateLimited,
    14107: RateLimited, 21606: PlatformRejected, 21608: PermissionDenied,
    21617: PlatformRejected, 30001: RateLimited, 30002: PermissionDenied,
}
#: Sends of one fan-out per claim (one store transaction each way).
BATCH = 200
#: Rounds of sends and lookups one publish makes before it gives the rest back.
ROUNDS = 3
#: How far Twilio's clock may be behind ours when a message is matched by its time.
CLOCK_MARGIN = timedelta(minutes=10)


@dataclass(frozen=True)
class Segments:
    """How carriers split a text: its encoding, units and segments."""

    encoding: str
    units: int
    count: int

    @property
    def per_segment(self) -> int:
        """Units in one segment of a message of this many segments."""
        gsm = self.encoding == "GSM-7"
        return (160 if gsm else 70) if self.count <= 1 else (153 if gsm else 67)


def segments(text: str) -> Segments:
    """GSM-7 when every character is in GSM 03.38 (extension characters count two), else
    UCS-2 (UTF-16 units); a character is never split across segments."""
    gsm = all(c in GSM_BASIC or c in GSM_EXTENSION for c in text)
    widths = [(2 if c in GSM_EXTENSION else 1) if gsm else (2 if ord(c) > 0xFFFF else 1)
              for c in text]
    units = sum(widths)
    single, multi = (160, 153) if gsm else (70, 67)
    if units <= single:
        return Segments("GSM-7" if gsm else "UCS-2", units, 1 if units else 0)
    count, room = 1, multi
    for width in widths:
        if width > room:
            count, room = count + 1, multi
        room -= width
    return Segments("GSM-7" if gsm else "UCS-2", units, count)


class QuietHours(ChannelError):
    """Some recipients are in their quiet hours: the target waits (pending) until ``until``,
    when a worker run or ``carecast resume`` sends them."""

    deferred = True

    def __init__(self, message: str, *, until: datetime, waiting: int, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.until = until
        self.waiting = waiting


def _e164(value: str | None) -> str | None:
    if value is not None and not value.startswith("+"):
        raise ValueError("give the number in E.164, such as +15017122661")
    if value is not None:
        from carecast.consent import e164

        return e164(value)
    return value


class SmsOptions(ChannelOptions):
    """Settings of a Twilio SMS account (one per brand: its consents are the brand's)."""

    account_sid: str = Field(pattern=r"^AC[0-9a-fA-F]{32}$",
                             description="The Twilio account SID (AC...).")
    auth_token: SecretStr = Field(description="The account's auth token; it also checks "
                                              "the inbound webhook's signatures.")
    from_number: str | None = Field(default=None, description="The sender, in E.164.")
    messaging_service_sid: str | None = Field(default=None, pattern=r"^MG[0-9a-fA-F]{32}$")
    status_callback: str | None = Field(
        default=None, description="carecast serve's public /sms/ACCOUNT/status URL.")
    region: str = Field(default="US", pattern=r"^[A-Z]{2}$",
                        description="Region of numbers given without +.")
    zone: str = Field(default="UTC", description="Zone of a recipient whose zone is unknown.")
    quiet_start: time = Field(default=time(21, 0), description="Quiet hours begin (local).")
    quiet_end: time = Field(default=time(8, 0), description="Quiet hours end (local).")
    max_segments: int = Field(default=3, ge=1, le=10)
    help_text: str = Field(default="Reply STOP to stop these messages.", min_length=1,
                           max_length=320, description="The answer to HELP.")
    concurrency: int = Field(default=4, ge=1, le=32, description="Messages in flight.")
    timeout: float = Field(default=15.0, gt=0, le=120)
    connect_timeout: float = Field(default=5.0, gt=0, le=60)
    api_url: str | None = Field(default=None, description="Another API base (a test server "
                                                          "on a loopback address).")
    name: str | None = Field(default=None, description="Display name, for listings.")

    _check_from = field_validator("from_number")(_e164)

    @field_validator("zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (KeyError, ValueError):
            raise ValueError("give an IANA time zone, such as America/Chicago") from None
        return value

    @field_validator("api_url", "status_callback")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None:
            parts = urlsplit(value)
            if parts.scheme != "https" and not (parts.scheme == "http"
                                                and is_loopback_url(parts.hostname)):
                raise ValueError("give an https URL (http only for a loopback host)")
        return value

    @model_validator(mode="after")
    def _one_sender(self) -> Self:
        if (self.from_number is None) == (self.messaging_service_sid is None):
            raise ValueError("give exactly one of from_number (E.164) and "
                             "messaging_service_sid (MG...)")
        return self


class _Transport:
    """Twilio's ``HttpClient`` over carecast's transport: Twilio builds each call, carecast
    sends it and maps every failure (an HTTP error raises the mapped ``ChannelError``)."""

    def __init__(self, channel: SmsChannel) -> None:
        self.channel = channel
        self.is_async = False
        self.timeout = None
        self.logger = log

    def request(self, method: str, uri: str, params: Mapping[str, object] | None = None,
                data: Mapping[str, object] | None = None,
                headers: Mapping[str, str] | None = None, auth: tuple[str, str] | None = None,
                timeout: float | None = None, allow_redirects: bool = False) -> Any:
        from twilio.http.response import Response

        channel = self.channel
        options = channel.options
        if options.api_url and uri.startswith(API):
            uri = options.api_url.rstrip("/") + uri[len(API):]
        sent = dict(headers or {})
        if auth is not None:
            sent["Authorization"] = "Basic " + base64.b64encode(
                f"{auth[0]}:{auth[1]}".encode()).decode()
        response = request(channel.session, method, uri, channel=channel.name,
                           account=channel.account,
                           timeout=(options.connect_timeout, options.timeout),
                           params=dict(params or {}) or None, data=dict(data or {}) or None,
                           headers=sent)
        if response.status_code >= 300:
            raise channel.twilio_error(response, method)
        return Response(response.status_code, response.text, response.headers)


class SmsChannel(Channel):
    """Text each post to the numbers opted in to the account's brand, through Twilio."""

    name: ClassVar[str] = "sms"
    title: ClassVar[str] = "SMS (Twilio Messages API)"
    Options = SmsOptions
    #: Twilio's cap on a message body (error 21617); ``max_segments`` is usually lower.
    max_text = 1600
    text_unit = "characters"
    max_media = 0
    supports_threads = False
    #: A fan-out is one target: its own ``concurrency`` sends the messages.
    per_account: ClassVar[int] = 1
    api_host: ClassVar[str | None] = "api.twilio.com"
    public_profile = False
    extra: ClassVar[str | None] = "sms"
    packages: ClassVar[tuple[str, ...]] = ("twilio",)
    notes: ClassVar[tuple[str, ...]] = (
        "texts only numbers with a live opt-in in the store (carecast.Messaging.opt_in)",
        "STOP, START and HELP arrive through carecast serve's /sms/ACCOUNT/inbound",
    )
    #: Twilio answers no create with 409: one is a plain refusal.
    status_errors: ClassVar[Mapping[int, type[ChannelError]]] = {409: PlatformRejected}
    error_messages: ClassVar[Mapping[int | type[ChannelError], str]] = {
        AuthenticationError: "Twilio refused the account SID and auth token ({said}); create "
                             "a new auth token in the Twilio console and update the account",
        PermissionDenied: "Twilio refused the request ({said}); check the account's "
                          "messaging permissions in the Twilio console",
        PlatformRejected: "Twilio refused the message ({said})",
        RateLimited: "Twilio's rate limit ({said}); carecast waits and sends the rest",
    }
    options: SmsOptions

    def __init__(self, account: str, options: ChannelOptions, *, root: Path | None = None,
                 session: Any = None, clock: Clock = SYSTEM_CLOCK,
                 brand: str | None = None) -> None:
        super().__init__(account, options, root=root, session=session or new_session(),
                         clock=clock)
        self.owns_session = session is None
        #: The brand whose opted-in numbers this account texts.
        self.brand = brand
        #: The store of consents and sends; set by the caller (or found through ``store``).
        self.messaging: Messaging | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_config(cls, account: AccountConfig, *, root: Path | None = None,
                    session: Any = None, clock: Clock = SYSTEM_CLOCK) -> Self:
        channel = super().from_config(account, root=root, session=session, clock=clock)
        channel.brand = account.brand
        return channel

    # -- rendering ---------------------------------------------------------------------------

    def render(self, post: Post) -> Draft:
        """The message; ``LimitExceeded`` over ``max_segments`` segments, naming the
        encoding (a character outside GSM-7 makes the whole text UCS-2)."""
        draft = super().render(post)
        text = draft.parts[0].text
        counted = segments(text)
        where = self.override_of(post)
        field = f"{where.where}.text" if where.given and where.given.text is not None \
            else "text"
        if counted.count > self.options.max_segments:
            hint = "" if counted.encoding == "GSM-7" else (
                "; it is sent as UCS-2 (70 characters a segment) because of a character "
                "outside GSM-7, such as an emoji or a curly quote")
            raise LimitExceeded(
                f"{field}: {counted.count} SMS segments ({counted.units} {counted.encoding} "
                f"units) is over the account's cap of {self.options.max_segments}{hint}; "
                f"shorten it, give overrides.{self.name}.text or raise max_segments",
                field=field, limit=self.options.max_segments, value=counted.count)
        return draft.model_copy(update={"options": {
            **draft.options, "encoding": counted.encoding, "segments": counted.count}})

    # -- the store ---------------------------------------------------------------------------

    def _messaging(self) -> Messaging:
        with self._lock:
            if self.messaging is None:
                if self.store is None:
                    raise ConfigurationError(
                        f"the {self.name} account {self.account!r} has no store of consents; "
                        "publish through a Publisher (or set channel.messaging)")
                from carecast.store.messaging import Messaging

                self.messaging = Messaging(self.store())
            return self.messaging

    def _brand(self) -> str:
        if not self.brand:
            raise ConfigurationError(
                f"accounts.{self.account}.brand: an sms account needs a brand (its opt-ins "
                "are the brand's); set brand = \"NAME\"")
        return self.brand

    @functools.cached_property
    def client(self) -> Any:
        """Twilio's client, sending through carecast's transport."""
        try:
            from twilio.rest import Client
        except ImportError:
            raise ConfigurationError(self.install_hint("twilio")) from None
        return Client(self.options.account_sid, self.options.auth_token.get_secret_value(),
                      http_client=_Transport(self))

    # -- publishing --------------------------------------------------------------------------

    def publish(self, draft: Draft, key: str) -> Receipt:
        """Text every opted-in number of the brand not yet texted for ``key``."""
        store, brand, text = self._messaging(), self._brand(), draft.parts[0].text
        worst: ChannelError | None = None
        waiting: dict[str, datetime] = {}
        with ThreadPoolExecutor(self.options.concurrency, thread_name_prefix="sms") as pool:
            for _ in range(ROUNDS):
                live = {c.number: c for c in store.live(brand)}
                rows = store.sends(key)
                uncertain = [r for r in rows.values() if r.state in ("sending", "unknown")]
                waiting = {}
                due: list[str] = []
                now = self.clock.now()
                for number, consent in live.items():
                    row = rows.get(number)
                    if row is not None and row.state != "failed":
                        continue
                    until = self.quiet_until(consent, now)
                    if until is not None:
                        waiting[number] = until
                    else:
                        due.append(number)
                if not uncertain and not due:
                    worst = None
                    break
                worst = None
                found = list(pool.map(lambda r: self._reconcile(r, text), uncertain))
                settled = [f for f in found if not isinstance(f, ChannelError)]
                store.settle(key, [f for f in settled if f is not None])
                for f in found:
                    if isinstance(f, ChannelError):
                        worst = _worse(worst, f)
                # Not on the platform: safe to send again (a claim takes only live numbers).
                missing = [r.number for r, f in zip(uncertain, found, strict=True) if f is None]
                store.settle(key, [_outcome(n, "failed") for n in missing])
                due += [n for n in missing if n in live and n not in waiting]
                for start in range(0, len(due), BATCH):
                    claimed = store.claim(key, self.account, brand, due[start:start + BATCH])
                    results = list(pool.map(lambda n: self._send(n, text), claimed))
                    store.settle(key, [o for o, _ in results])
                    for outcome, error in results:
                        if error is not None:
                            worst = _worse(worst, error)
                        if outcome.error_code == 21610:
                            store.opt_out(outcome.number, brand=brand,
                                          how="Twilio error 21610: the recipient opted out")
                    if worst is not None and not worst.retryable:
                        break
                    if isinstance(worst, RateLimited):
                        break
                if worst is not None and (not worst.retryable or isinstance(worst, RateLimited)):
                    break
        if worst is not None:
            raise worst
        if waiting:
            until = min(waiting.values())
            raise self.error(
                QuietHours, f"{len(waiting)} recipient(s) are in their quiet hours "
                f"({self.options.quiet_start:%H:%M}-{self.options.quiet_end:%H:%M} their time);"
                f" the rest are sent; they wait until {until.isoformat()}, when a worker (or "
                "carecast resume POST_ID) sends them", until=until, waiting=len(waiting))
        counts = store.count(key)
        return Receipt(post_id=draft.post_id, account=self.account, channel=self.name,
                       remote_id=key, published_at=self.clock.now(),
                       extra={"sent": counts.get("sent", 0),
                              "refused": counts.get("refused", 0)})

    def lookup(self, key: str, draft: Draft) -> Receipt | None:
        """The fan-out's receipt when every recipient is settled; None otherwise (``publish``
        looks each uncertain message up itself before texting its number again)."""
        store = self._messaging()
        rows = store.sends(key)
        live = {c.number for c in store.live(self._brand())}
        open_rows = [r for r in rows.values() if r.state not in ("sent", "refused")
                     and (r.state != "failed" or r.number in live)]
        if not rows or open_rows or live - set(rows):
            return None
        counts = store.count(key)
        return Receipt(post_id=draft.post_id, account=self.account, channel=self.name,
                       remote_id=key, published_at=self.clock.now(),
                       extra={"sent": counts.get("sent", 0),
                              "refused": counts.get("refused", 0)})

    def _sender(self) -> dict[str, Any]:
        if self.options.messaging_service_sid:
            return {"messaging_service_sid": self.options.messaging_service_sid}
        return {"from_": self.options.from_number}

    def _send(self, number: str, text: str) -> tuple[SmsResult, ChannelError | None]:
        """Create one message; its outcome for the store and the error, if any."""
        try:
            message = self.client.messages.create(
                to=number, body=text, **self._sender(),
                **({"status_callback": self.options.status_callback}
                   if self.options.status_callback else {}))
        except ChannelError as exc:
            code = _int(exc.code)
            if code in NUMBER_CODES:
                return _outcome(number, "refused", code=code), None
            state = "unknown" if exc.may_have_been_sent else "failed"
            return _outcome(number, state, code=code), exc
        return _outcome(number, "sent", message.sid, message.status,
                        _int(message.error_code)), None

    def _reconcile(self, row: Any, text: str) -> SmsResult | ChannelError | None:
        """Find the message an uncertain send may have created: by To, From and DateSent
        from the claim on, then the newest messages to the number (a queued message has no
        DateSent yet); matched by its body and creation time. None: not on the platform."""
        after = row.claimed_at
        after = (after if after.tzinfo else after.replace(tzinfo=UTC)) - CLOCK_MARGIN
        sender = self.options.from_number
        try:
            for query in ({"date_sent_after": after}, {}):
                for message in self.client.messages.list(
                        to=row.number, **({"from_": sender} if sender else {}), **query,
                        limit=20, page_size=20):
                    created = message.date_created
                    if message.body == text and (created is None or created >= after):
                        return _outcome(row.number, "sent", message.sid, message.status,
                                        _int(message.error_code))
        except ChannelError as exc:
            return exc
        return None

    def twilio_error(self, response: Any, method: str) -> ChannelError:
        """The carecast error for a Twilio error answer, from its body's code and message."""
        try:
            body = response.json()
        except ValueError:
            body = None
        body = body if isinstance(body, dict) else {}
        code = _int(body.get("code"))
        said = _plain(str(body.get("message") or ""))
        cls = ACCOUNT_CODES.get(code) if code is not None else None
        message = None
        if code is not None and code in NUMBER_CODES:
            cls, message = PlatformRejected, f"Twilio error {code}: {NUMBER_CODES[code]}"
        return self.error(cls, message, response=response, method=method,
                          said=f"error {code}: {said}" if code else said or "no reason given",
                          code=str(code) if code is not None else None)

    # -- quiet hours -------------------------------------------------------------------------

    def quiet_until(self, consent: MessagingConsent, now: datetime) -> datetime | None:
        """When the recipient's quiet hours end, if ``now`` is in them (in every zone the
        number may be in: the consent's, else its region's); None when it may be texted."""
        start, end = self.options.quiet_start, self.options.quiet_end
        if start == end:
            return None
        zones = [ZoneInfo(z) for z in _zones(consent.number, consent.zone, self.options.zone)]
        moment = now
        for _ in range(len(zones) + 1):
            local = [(z, moment.astimezone(z)) for z in zones]
            busy = [(z, t) for z, t in local if _in_window(t.time(), start, end)]
            if not busy:
                return None if moment == now else moment
            moment = max(_end_of_window(t, end) for _z, t in busy)
        return moment

    # -- the rest of the contract ------------------------------------------------------------

    def delete(self, receipt: Receipt) -> None:
        """A text message cannot be taken back once delivered."""
        raise self.error(PlatformRejected, "a text message cannot be deleted once sent; "
                         "send a correction instead")

    def fetch_profile(self) -> Profile:
        """An SMS sender has no public profile: the configured name and the sender."""
        return Profile(channel=self.name, account=self.account,
                       display_name=self.options.name or self.account,
                       phone=self.options.from_number)


def _worse(current: ChannelError | None, new: ChannelError) -> ChannelError:
    """The error to raise: one that cannot be retried, then a rate limit (its wait is
    honoured), then one whose message may be on the platform; the first seen on a tie."""
    def rank(error: ChannelError) -> tuple[bool, bool, bool]:
        return (not error.retryable, isinstance(error, RateLimited), error.may_have_been_sent)

    return new if current is None or rank(new) > rank(current) else current


def _outcome(number: str, state: str, sid: str | None = None, status: str | None = None,
             code: int | None = None) -> SmsResult:
    from carecast.store.messaging import SmsResult

    return SmsResult(number, state, sid, status, code)


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not None and str(value).strip() else None
    except ValueError:
        return None


def _plain(said: str) -> str:
    """Twilio's message, with any phone number in it hidden (it echoes the To number)."""
    return re.sub(r"\+?\d[\d ().-]{6,}\d", "[number]", said)[:300]


@cache
def _region_zones(number: str) -> tuple[str, ...]:
    import phonenumbers
    from phonenumbers import timezone

    try:
        zones = timezone.time_zones_for_number(phonenumbers.parse(number))
    except phonenumbers.NumberParseException:
        return ()
    return tuple(z for z in zones if z != "Etc/Unknown")


def _zones(number: str, given: str | None, fallback: str) -> tuple[str, ...]:
    if given:
        return (given,)
    return _region_zones(number) or (fallback,)


def _in_window(at: time, start: time, end: time) -> bool:
    return start <= at < end if start < end else at >= start or at < end


def _end_of_window(local: datetime, end: time) -> datetime:
    """The next moment at or after ``local`` whose local time is ``end``, in UTC."""
    day = local.date()
    candidate = datetime.combine(day, end, tzinfo=local.tzinfo)
    if candidate <= local:
        candidate = datetime.combine(day + timedelta(days=1), end, tzinfo=local.tzinfo)
    return candidate.astimezone(UTC)
