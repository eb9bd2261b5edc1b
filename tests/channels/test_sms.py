"""The SMS channel at the HTTP layer: Twilio's exact request and answer shapes, every mapped
error, opt-in only, quiet hours, segments, the PHI refusal and the contract suite.

Answer bodies are shaped on Twilio's Messages API documentation: a created message
``{"sid": "SM...", "status": "queued", "to": ..., "from": ..., "body": ..., "num_segments":
"1", "error_code": null, "date_created": RFC 2822}``, a list ``{"messages": [...],
"next_page_uri": null, ...}`` and an error ``{"code": 21211, "message": "...", "more_info":
"https://www.twilio.com/docs/errors/21211", "status": 400}``.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses

from carecast.channels.sms import QuietHours, SmsChannel, segments
from carecast.config import AccountConfig
from carecast.consent import MessagingConsent, e164
from carecast.errors import (
    AuthenticationError,
    ChannelServerError,
    InvalidPost,
    LimitExceeded,
    OutcomeUnknown,
    PermissionDenied,
    PlatformRejected,
    RateLimited,
)
from carecast.post import Post
from carecast.store import Ledger
from carecast.store.messaging import Messaging
from carecast.testing import ChannelContract, FrozenClock, PlatformAnswer

pytest.importorskip("twilio")

SID = "AC" + "a1" * 16
TOKEN = "twilio-auth-token-5c0ffee1d2"
FROM = "+15017122661"
BASE = f"https://api.twilio.com/2010-04-01/Accounts/{SID}/Messages.json"
OPTIONS = {"account_sid": SID, "auth_token": TOKEN, "from_number": FROM,
           "quiet_start": "21:00", "quiet_end": "08:00", "help_text": "Riverside: call 555."}
#: Noon in New York (17:00 UTC), a weekday: nobody's quiet hours in the Americas.
NOON = datetime(2027, 3, 3, 17, 0, tzinfo=UTC)
NUMBERS = ["+12025550101", "+12025550102", "+12025550103"]


def message(to: str, body: str, sid: str = "SM" + "0" * 32, status: str = "queued",
            created: str = "Wed, 03 Mar 2027 17:00:00 +0000") -> dict[str, Any]:
    return {"sid": sid, "account_sid": SID, "to": to, "from": FROM, "body": body,
            "status": status, "num_segments": "1", "error_code": None, "error_message": None,
            "date_created": created, "date_sent": None, "date_updated": created,
            "direction": "outbound-api", "price": None, "uri": f"/2010-04-01/Accounts/{SID}/"
            f"Messages/{sid}.json"}


def error(code: int, status: int, text: str) -> dict[str, Any]:
    return {"code": code, "message": text, "more_info": f"https://www.twilio.com/docs/errors/"
            f"{code}", "status": status}


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(NOON)


@pytest.fixture
def store(clock: FrozenClock) -> Iterator[Messaging]:
    ledger = Ledger("sqlite://", clock=clock)
    yield Messaging(ledger)
    ledger.close()


def opt_in(store: Messaging, numbers: list[str], brand: str = "clinic",
           zone: str | None = None) -> None:
    store.opt_in([MessagingConsent(number=n, brand=brand, given_at=store.clock.now(),
                                   how="web form", zone=zone) for n in numbers])


def channel(store: Messaging, clock: FrozenClock, **options: Any) -> SmsChannel:
    account = AccountConfig(name="texts", channel="sms", brand="clinic",
                            options={**OPTIONS, **options})
    built = SmsChannel.from_config(account, session=requests.Session(), clock=clock)
    built.messaging = store
    return built


def sent_to(mock: responses.RequestsMock) -> list[str]:
    return [parse_qs(str(c.request.body))["To"][0] for c in mock.calls
            if c.request.method == "POST"]


def send(ch: SmsChannel, text: str = "Flu clinic opens Monday 9am.", key: str = "k1") -> Any:
    return ch.publish(ch.render(Post(id="p1", text=text)), key)


# -- segments and render ---------------------------------------------------------------------


@pytest.mark.parametrize(("text", "encoding", "units", "count"), [
    ("", "GSM-7", 0, 0),
    ("a" * 160, "GSM-7", 160, 1),
    ("a" * 161, "GSM-7", 161, 2),
    ("a" * 306, "GSM-7", 306, 2),
    ("a" * 307, "GSM-7", 307, 3),
    ("€" * 80, "GSM-7", 160, 1),          # the extension table counts double
    ("a" * 159 + "€", "GSM-7", 161, 2),
    ("a" * 152 + "[" + "a" * 10, "GSM-7", 164, 2),  # ESC+[ never split across segments
    ("é" * 160, "GSM-7", 160, 1),          # é is in the basic table
    ("ê" * 70, "UCS-2", 70, 1),            # ê is not: the whole text is UCS-2
    ("ê" * 71, "UCS-2", 71, 2),
    ("ê" * 134, "UCS-2", 134, 2),
    ("ê" * 135, "UCS-2", 135, 3),
    ("😷" * 35, "UCS-2", 70, 1),           # an emoji is two UTF-16 units
    ("a" * 66 + "😷" + "a" * 66, "UCS-2", 134, 3),  # a surrogate pair is never split
])
def test_segments_count_as_carriers_do(text: str, encoding: str, units: int,
                                       count: int) -> None:
    counted = segments(text)
    assert (counted.encoding, counted.units, counted.count) == (encoding, units, count)


def test_render_refuses_over_the_segment_cap_naming_field_and_encoding(
        store: Messaging, clock: FrozenClock) -> None:
    ch = channel(store, clock, max_segments=1)
    draft = ch.render(Post(id="p", text="a" * 160))
    assert draft.options == {"encoding": "GSM-7", "segments": 1}
    with pytest.raises(LimitExceeded) as info:
        ch.render(Post(id="p", text="Flu shots today 😷 " + "a" * 60))
    assert info.value.field == "text"
    assert (info.value.limit, info.value.value) == (1, 2)
    assert "UCS-2" in str(info.value)
    with pytest.raises(LimitExceeded) as info:
        ch.render(Post.model_validate({"id": "p", "text": "ok", "overrides": {
            "sms": {"text": "a" * 200}}}))
    assert info.value.field == "overrides.sms.text"


def test_options_name_what_is_wrong() -> None:
    bad = AccountConfig(name="texts", channel="sms", brand="clinic", options={
        **OPTIONS, "from_number": "5017122661", "zone": "Mars/Olympus"})
    with pytest.raises(Exception) as info:
        SmsChannel.from_config(bad)
    assert "accounts.texts.from_number" in str(info.value)
    assert "accounts.texts.zone" in str(info.value)
    assert TOKEN not in str(info.value)
    both = AccountConfig(name="texts", channel="sms", brand="clinic", options={
        **OPTIONS, "messaging_service_sid": "MG" + "b2" * 16})
    with pytest.raises(Exception, match="exactly one of from_number"):
        SmsChannel.from_config(both)


def test_numbers_are_normalised_to_e164() -> None:
    assert e164("(202) 555-0101") == "+12025550101"
    assert e164("+44 20 7946 0958") == "+442079460958"
    with pytest.raises(InvalidPost) as info:
        e164("12")
    assert "number" in str(info.value)


# -- the request Twilio gets --------------------------------------------------------------


def test_each_opted_in_number_gets_one_message_of_twilios_exact_shape(
        store: Messaging, clock: FrozenClock) -> None:
    opt_in(store, NUMBERS)
    store.opt_out(NUMBERS[1], how="keyword STOP")
    opt_in(store, ["+12025550199"], brand="other-brand")
    ch = channel(store, clock, status_callback="https://carecast.example.org/sms/texts/status")
    with responses.RequestsMock() as mock:
        mock.add(responses.POST, BASE, status=201,
                 json=message(NUMBERS[0], "Flu clinic opens Monday 9am."))
        receipt = send(ch)
        assert sorted(sent_to(mock)) == [NUMBERS[0], NUMBERS[2]]
        first = mock.calls[0].request
        assert first.headers["Content-Type"] == "application/x-www-form-urlencoded"
        assert first.headers["Authorization"] == "Basic " + base64.b64encode(
            f"{SID}:{TOKEN}".encode()).decode()
        form = parse_qs(str(first.body))
        assert form["From"] == [FROM]
        assert form["Body"] == ["Flu clinic opens Monday 9am."]
        assert form["StatusCallback"] == ["https://carecast.example.org/sms/texts/status"]
    assert receipt.extra == {"sent": 2, "refused": 0}
    assert store.count("k1") == {"sent": 2}
    with responses.RequestsMock() as mock:  # again: nobody is texted twice
        assert send(ch).extra == {"sent": 2, "refused": 0}
        assert sent_to(mock) == []


def test_a_messaging_service_sends_instead_of_a_number(store: Messaging,
                                                        clock: FrozenClock) -> None:
    opt_in(store, NUMBERS[:1])
    ch = channel(store, clock, from_number=None, messaging_service_sid="MG" + "c3" * 16)
    with responses.RequestsMock() as mock:
        mock.add(responses.POST, BASE, status=201, json=message(NUMBERS[0], "x"))
        send(ch)
        form = parse_qs(str(mock.calls[0].request.body))
        assert form["MessagingServiceSid"] == ["MG" + "c3" * 16]
        assert "From" not in form


# -- every mapped error ----------------------------------------------------------------------


@pytest.mark.parametrize(("code", "revoked"), [(21211, False), (21610, True), (21612, False),
                                               (21614, False), (21408, False),
                                               (21635, False)])
def test_a_refusal_of_one_number_skips_it_and_texts_the_rest(
        code: int, revoked: bool, store: Messaging, clock: FrozenClock) -> None:
    opt_in(store, NUMBERS[:2])
    ch = channel(store, clock)

    def answer(request: Any) -> tuple[int, dict[str, str], str]:
        import json

        to = parse_qs(request.body)["To"][0]
        if to == NUMBERS[0]:
            return 400, {}, json.dumps(error(code, 400, f"The 'To' number {to} is refused."))
        return 201, {}, json.dumps(message(to, "x"))

    with responses.RequestsMock() as mock:
        mock.add_callback(responses.POST, BASE, callback=answer)
        receipt = send(ch)
    assert receipt.extra == {"sent": 1, "refused": 1}
    consent = store.consent(NUMBERS[0], "clinic")
    assert consent is not None
    assert consent.live is not revoked
    rows = store.sends("k1")
    assert rows[NUMBERS[0]].error_code == code
    with responses.RequestsMock() as mock:  # a refused number is not tried again
        send(ch)
        assert sent_to(mock) == []


@pytest.mark.parametrize(("status", "body", "cls", "retryable"), [
    (401, error(20003, 401, "Authenticate"), AuthenticationError, False),
    (403, error(20005, 403, "Account not active"), PermissionDenied, False),
    (400, error(21606, 400, "The From phone number is not a valid, SMS-capable number"),
     PlatformRejected, False),
    (400, error(21608, 400, "The number is unverified (trial account)"), PermissionDenied,
     False),
    (400, error(21617, 400, "The concatenated message body exceeds the 1600 character limit"),
     PlatformRejected, False),
    (429, error(20429, 429, "Too Many Requests"), RateLimited, True),
    (400, error(14107, 400, "SMS send rate limit exceeded"), RateLimited, True),
    (404, error(20404, 404, "The requested resource was not found"), PlatformRejected, False),
    (409, {}, PlatformRejected, False),
])
def test_account_errors_stop_the_fan_out_as_carecast_errors(
        status: int, body: dict[str, Any], cls: type, retryable: bool, store: Messaging,
        clock: FrozenClock) -> None:
    opt_in(store, NUMBERS)
    ch = channel(store, clock)
    with responses.RequestsMock() as mock:
        mock.add(responses.POST, BASE, status=status, json=body,
                 headers={"Twilio-Request-Id": "RQ1", "Retry-After": "7"})
        with pytest.raises(cls) as info:
            send(ch)
    err = info.value
    assert type(err) is cls
    assert err.status == status
    assert err.retryable is retryable
    assert TOKEN not in str(err) + repr(err)
    if body:
        assert err.code == str(body["code"])
        assert f"error {body['code']}" in str(err)
    if cls is RateLimited:
        assert err.retry_after == 7
    if cls is AuthenticationError:
        assert "new auth token" in str(err)
    assert "sent" not in store.count("k1")


def test_a_number_twilio_echoes_never_reaches_the_error(store: Messaging,
                                                         clock: FrozenClock) -> None:
    opt_in(store, NUMBERS[:1])
    ch = channel(store, clock)
    with responses.RequestsMock() as mock:
        mock.add(responses.POST, BASE, status=400, json=error(
            21601, 400, f"Phone number {NUMBERS[0]} is not a valid SMS-capable number"))
        with pytest.raises(PlatformRejected) as info:
            send(ch)
    assert "0101" not in str(info.value)


def test_a_5xx_is_looked_up_and_the_stored_message_is_not_sent_again(
        store: Messaging, clock: FrozenClock) -> None:
    opt_in(store, NUMBERS[:1])
    ch = channel(store, clock)
    text = "Flu clinic opens Monday 9am."
    with responses.RequestsMock() as mock:
        mock.add(responses.POST, BASE, status=500, json={"code": 20500, "message": "Internal",
                                                         "status": 500})
        mock.add(responses.GET, BASE, json={"messages": [
            message(NUMBERS[0], "an older message", sid="SM" + "1" * 32,
                    created="Tue, 02 Mar 2027 09:00:00 +0000"),
            message(NUMBERS[0], text, sid="SM" + "2" * 32)], "next_page_uri": None,
            "page": 0, "page_size": 20, "start": 0, "end": 1})
        receipt = send(ch, text)
        lookups = [c.request for c in mock.calls if c.request.method == "GET"]
        query = parse_qs(urlsplit(lookups[0].url).query)
        assert query["To"] == [NUMBERS[0]]
        assert query["From"] == [FROM]
        assert query["DateSent>"] == ["2027-03-03T16:50:00Z"]  # the claim, less the margin
        assert len(sent_to(mock)) == 1
    assert receipt.extra["sent"] == 1
    assert store.sends("k1")[NUMBERS[0]].sid == "SM" + "2" * 32


def test_an_unknown_outcome_not_found_is_sent_again_once(store: Messaging,
                                                          clock: FrozenClock) -> None:
    opt_in(store, NUMBERS[:1])
    ch = channel(store, clock)
    empty = {"messages": [], "next_page_uri": None, "page": 0, "page_size": 20}
    with responses.RequestsMock() as mock:
        mock.add(responses.POST, BASE, body=requests.exceptions.ReadTimeout("slow"))
        mock.add(responses.POST, BASE, status=201, json=message(NUMBERS[0], "x"))
        mock.add(responses.GET, BASE, json=empty)
        send(ch)
        assert len(sent_to(mock)) == 2
        assert len([c for c in mock.calls if c.request.method == "GET"]) == 2  # both ways
    assert store.count("k1") == {"sent": 1}


def test_an_outcome_that_stays_unknown_is_raised_and_never_resent_blindly(
        store: Messaging, clock: FrozenClock) -> None:
    opt_in(store, NUMBERS[:1])
    ch = channel(store, clock)
    with responses.RequestsMock() as mock:
        mock.add(responses.POST, BASE, body=requests.exceptions.ConnectionError("reset"))
        mock.add(responses.GET, BASE, status=503, json={"code": 20503, "status": 503})
        with pytest.raises((OutcomeUnknown, ChannelServerError)):
            send(ch)
        assert len(sent_to(mock)) == 1
    assert store.count("k1") == {"unknown": 1}


# -- consent, quiet hours and PHI -----------------------------------------------------------


def test_quiet_hours_wait_in_the_recipients_zone(store: Messaging) -> None:
    late = FrozenClock(datetime(2027, 3, 4, 3, 30, tzinfo=UTC))  # 22:30 in New York
    store.clock = store.ledger.clock = late
    opt_in(store, ["+12025550101"])                       # Washington: quiet
    opt_in(store, ["+447700900123"], zone="Europe/London")  # 03:30 there: quiet too
    opt_in(store, ["+61491570156"], zone="Australia/Sydney")  # 14:30: may be texted
    ch = channel(store, late)
    with responses.RequestsMock() as mock:
        mock.add(responses.POST, BASE, status=201, json=message("+61491570156", "x"))
        with pytest.raises(QuietHours) as info:
            send(ch)
        assert sent_to(mock) == ["+61491570156"]
    assert info.value.waiting == 2
    assert info.value.until == datetime(2027, 3, 4, 8, 0, tzinfo=UTC)  # 08:00 in London
    assert info.value.deferred is True
    late.advance(hours=4, minutes=30)  # 08:00 London, 03:00 New York: one still waits
    with responses.RequestsMock() as mock:
        mock.add(responses.POST, BASE, status=201, json=message("+447700900123", "x"))
        with pytest.raises(QuietHours) as info:
            send(ch)
        assert sent_to(mock) == ["+447700900123"]
    assert info.value.until == datetime(2027, 3, 4, 13, 0, tzinfo=UTC)  # 08:00 New York
    late.advance(hours=5)
    with responses.RequestsMock() as mock:
        mock.add(responses.POST, BASE, status=201, json=message("+12025550101", "x"))
        assert send(ch).extra["sent"] == 3
        assert sent_to(mock) == ["+12025550101"]


def test_quiet_hours_follow_daylight_saving(store: Messaging) -> None:
    ch = channel(store, FrozenClock(NOON))
    consent = MessagingConsent(number="+12025550101", brand="clinic", how="form",
                               given_at=NOON, zone="America/New_York")
    # 2027-03-14 is the spring change in the US: 21:30 EDT is 01:30 UTC.
    at = datetime(2027, 3, 15, 1, 30, tzinfo=UTC)
    assert ch.quiet_until(consent, at) == datetime(2027, 3, 15, 12, 0, tzinfo=UTC)
    assert ch.quiet_until(consent, datetime(2027, 3, 15, 12, 0, tzinfo=UTC)) is None


def test_a_publish_without_a_store_says_how_to_get_one(clock: FrozenClock) -> None:
    account = AccountConfig(name="texts", channel="sms", brand="clinic", options=OPTIONS)
    ch = SmsChannel.from_config(account, clock=clock)
    with pytest.raises(Exception, match="no store of consents"):
        send(ch)


def test_the_review_blocks_any_text_the_phi_scanner_flags(tmp_path: Path) -> None:
    from carecast import Publisher
    from carecast.config import Config

    config = Config.from_dict({
        "store": {"url": f"sqlite:///{tmp_path / 'c.db'}"},
        "brands": {"clinic": {"name": "Riverside Clinic"}},
        "accounts": {"texts": {"channel": "sms", "brand": "clinic", **OPTIONS}}},
        root=tmp_path, environ={})
    with Publisher(config, entry_point_plugins=False, clock=FrozenClock(NOON)) as publisher:
        # The PHI guard only warns of a name outside a story of care; SMS refuses it.
        target = publisher.preview(Post(
            id="p", text="Congratulations to Maria Lopez on her retirement!")).targets[0]
        assert [(f.check, f.action) for f in target.findings if f.check == "phi"] == [
            ("phi", "warn")]
        assert target.state == "blocked"
        blocked = [f for f in target.findings if f.check == "sms"]
        assert [f.code for f in blocked] == ["sms.phi.name"]
        assert blocked[0].action == "block"
        assert "not a secure channel" in blocked[0].message
        assert "parts[0].text at 19-30" in blocked[0].message
        assert "Maria" not in blocked[0].message
        clean = publisher.preview(Post(id="q", text="Flu shots Saturday 9-noon.")).targets[0]
        assert clean.state == "pending"
        assert not clean.findings


# -- the contract suite, with a store holding one opted-in number -------------------------


#: 15:00 UTC: daytime for the US numbers the contract texts.
DAYTIME = datetime(2026, 9, 21, 15, 0, tzinfo=UTC)


class TestSmsContract(ChannelContract):
    channel = SmsChannel
    options = OPTIONS
    transport = "requests"
    status_overrides = {409: PlatformRejected}
    answers = [PlatformAnswer(201, json=message(NUMBERS[0], "Flu clinic opens Monday.")),
               PlatformAnswer(401, AuthenticationError, json=error(20003, 401, "Authenticate")),
               PlatformAnswer(429, RateLimited, json=error(20429, 429, "Too Many Requests"),
                              retryable=True)]

    def build(self, root: Path, session: Any = None, **extra_options: Any) -> SmsChannel:
        built = super().build(root, session=session, **extra_options)
        assert isinstance(built, SmsChannel)
        built.clock = FrozenClock(DAYTIME)  # the recipients' daytime, whatever the real time
        ledger = Ledger("sqlite://")
        built.messaging = Messaging(ledger)
        built.brand = "clinic"
        opt_in(built.messaging, NUMBERS[:1])
        return built


def test_no_request_goes_anywhere_but_twilio(store: Messaging, clock: FrozenClock) -> None:
    opt_in(store, NUMBERS[:1])
    ch = channel(store, clock)
    with responses.RequestsMock() as mock:
        mock.add(responses.POST, re.compile(r"https://api\.twilio\.com/.*"), status=201,
                 json=message(NUMBERS[0], "x"))
        send(ch)
        assert all(urlsplit(c.request.url).hostname == "api.twilio.com" for c in mock.calls)


def test_a_number_that_opts_out_while_its_outcome_is_unknown_is_never_texted_again(
        store: Messaging, clock: FrozenClock) -> None:
    opt_in(store, NUMBERS[:1])
    ch = channel(store, clock)
    draft = ch.render(Post(id="p1", text="Flu clinic opens Monday 9am."))
    with responses.RequestsMock() as mock:
        mock.add(responses.POST, BASE, body=requests.exceptions.ReadTimeout("slow"))
        mock.add(responses.GET, BASE, status=503, json={"code": 20503, "status": 503})
        with pytest.raises((OutcomeUnknown, ChannelServerError)):
            ch.publish(draft, "k1")
    store.opt_out(NUMBERS[0], how="keyword STOP")
    assert ch.lookup("k1", draft) is None  # still to be looked up
    with responses.RequestsMock() as mock:
        mock.add(responses.GET, BASE, json={"messages": [], "next_page_uri": None})
        receipt = ch.publish(draft, "k1")
        assert sent_to(mock) == []
    assert receipt.extra == {"sent": 0, "refused": 0}
    assert store.count("k1") == {"failed": 1}
    found = ch.lookup("k1", draft)
    assert found is not None
    assert found.remote_id == "k1"
