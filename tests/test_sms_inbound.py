"""The inbound SMS webhook: Twilio's signature, STOP / START / HELP, status callbacks, and
(a property) an inbound STOP stops every later send to that number.

Forms are shaped as Twilio posts them (application/x-www-form-urlencoded): an incoming
message carries ``MessageSid, AccountSid, From, To, Body, NumMedia``; a status callback
``MessageSid, MessageStatus, AccountSid, From, To`` and, when it failed, ``ErrorCode``.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

import pytest
import requests
import responses
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from carecast.channels.sms import SmsChannel
from carecast.config import AccountConfig
from carecast.consent import MessagingConsent
from carecast.post import Post
from carecast.sms_inbound import OPT_IN, OPT_OUT, SmsInbound
from carecast.store import Ledger
from carecast.store.messaging import Messaging
from carecast.testing import FrozenClock

twilio = pytest.importorskip("twilio")
from twilio.request_validator import RequestValidator  # noqa: E402

SID = "AC" + "d4" * 16
TOKEN = "inbound-auth-token-77e1a9"
FROM = "+15017122661"
PUBLIC = "https://carecast.example.org"
OPTIONS = {"account_sid": SID, "auth_token": TOKEN, "from_number": FROM,
           "help_text": "Riverside Clinic texts: call 202-555-0100. Reply STOP to end."}
NOON = datetime(2027, 3, 3, 17, 0, tzinfo=UTC)
PATIENT = "+12025550142"
BASE = f"https://api.twilio.com/2010-04-01/Accounts/{SID}/Messages.json"


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(NOON)


@pytest.fixture
def store(clock: FrozenClock) -> Iterator[Messaging]:
    ledger = Ledger("sqlite://", clock=clock)
    yield Messaging(ledger)
    ledger.close()


@pytest.fixture
def channel(store: Messaging, clock: FrozenClock) -> SmsChannel:
    account = AccountConfig(name="texts", channel="sms", brand="clinic", options=OPTIONS)
    built = SmsChannel.from_config(account, session=requests.Session(), clock=clock)
    built.messaging = store
    return built


@pytest.fixture
def inbound(channel: SmsChannel, store: Messaging) -> SmsInbound:
    return SmsInbound(lambda name: channel if name == "texts" else None, lambda: store,
                      public_url=PUBLIC)


def post(inbound: SmsInbound, hook: str, form: dict[str, str], *, sign: bool = True,
         token: str = TOKEN) -> Any:
    path = f"/sms/texts/{hook}"
    signature = RequestValidator(token).compute_signature(PUBLIC + path, form) if sign \
        else None
    # The URL the request reached inside (behind a proxy) differs from the public one.
    return inbound.handle(path, urlencode(form).encode(), signature,
                          f"http://127.0.0.1:8000{path}")


def reply(body: str, sender: str = PATIENT) -> dict[str, str]:
    return {"MessageSid": "SM" + "9" * 32, "AccountSid": SID, "From": sender, "To": FROM,
            "Body": body, "NumMedia": "0"}


def opt_in(store: Messaging, number: str = PATIENT) -> None:
    store.opt_in(MessagingConsent(number=number, brand="clinic", given_at=store.clock.now(),
                                  how="web form"))


def events(store: Messaging) -> list[str]:
    return [e.kind for e in store.ledger.audit_events()]


# -- signature ---------------------------------------------------------------------------


@pytest.mark.parametrize("case", ["missing", "wrong-token", "tampered"])
def test_a_bad_or_missing_signature_is_403_and_records_nothing(
        case: str, inbound: SmsInbound, store: Messaging) -> None:
    opt_in(store)
    before = events(store)
    form = reply("STOP")
    if case == "missing":
        answer = post(inbound, "inbound", form, sign=False)
    elif case == "wrong-token":
        answer = post(inbound, "inbound", form, token="another-token-0000")
    else:
        path = "/sms/texts/inbound"
        signature = RequestValidator(TOKEN).compute_signature(PUBLIC + path, reply("HELLO"))
        answer = inbound.handle(path, urlencode(form).encode(), signature, PUBLIC + path)
    assert answer.status == 403
    consent = store.consent(PATIENT, "clinic")
    assert consent is not None
    assert consent.live
    assert events(store) == before


def test_another_twilio_account_is_refused(inbound: SmsInbound, store: Messaging) -> None:
    opt_in(store)
    answer = post(inbound, "inbound", {**reply("STOP"), "AccountSid": "AC" + "0" * 32})
    assert answer.status == 403
    assert store.consent(PATIENT, "clinic").live  # type: ignore[union-attr]


def test_unknown_paths_and_accounts_are_404(inbound: SmsInbound) -> None:
    assert inbound.handle("/sms/other/inbound", b"", "x", PUBLIC).status == 404
    assert inbound.handle("/sms/texts/nothing", b"", "x", PUBLIC).status == 404


# -- keywords ----------------------------------------------------------------------------


@pytest.mark.parametrize("word", sorted(OPT_OUT))
def test_each_stop_keyword_revokes_and_is_audited(word: str, inbound: SmsInbound,
                                                  store: Messaging) -> None:
    opt_in(store)
    answer = post(inbound, "inbound", reply(f"  {word.lower()} "))
    assert answer.status == 200
    assert answer.content_type == "text/xml"
    assert "<Message>" not in answer.body  # Twilio sends the carrier's STOP confirmation
    consent = store.consent(PATIENT, "clinic")
    assert consent is not None
    assert not consent.live
    assert consent.revoked_how == f"keyword {word}"
    assert consent.revoked_at == NOON
    audit = store.ledger.audit_events()[-1]
    assert audit.kind == "sms_opt_out"
    assert PATIENT not in json.dumps(audit.data)  # a keyed reference, never the number
    assert store.ledger.verify_audit() == []


@pytest.mark.parametrize("word", sorted(OPT_IN))
def test_each_start_keyword_opts_in_again(word: str, inbound: SmsInbound,
                                          store: Messaging) -> None:
    opt_in(store)
    post(inbound, "inbound", reply("STOP"))
    post(inbound, "inbound", reply(word))
    consent = store.consent(PATIENT, "clinic")
    assert consent is not None
    assert consent.live
    assert consent.how == f"keyword {word}"


def test_help_answers_the_brands_help_text(inbound: SmsInbound) -> None:
    answer = post(inbound, "inbound", reply("help"))
    assert answer.status == 200
    assert "<Message>Riverside Clinic texts: call 202-555-0100. Reply STOP to end.</Message>" \
        in answer.body


def test_any_other_reply_changes_nothing(inbound: SmsInbound, store: Messaging) -> None:
    opt_in(store)
    before = events(store)
    answer = post(inbound, "inbound", reply("Please stop by tomorrow"))
    assert answer.status == 200
    assert events(store) == before


# -- status callbacks ------------------------------------------------------------------------


def test_status_callbacks_become_the_recipients_receipt(
        inbound: SmsInbound, channel: SmsChannel, store: Messaging) -> None:
    opt_in(store)
    with responses.RequestsMock() as mock:
        mock.add(responses.POST, BASE, status=201, json={
            "sid": "SM" + "5" * 32, "status": "queued", "to": PATIENT, "from": FROM,
            "body": "x", "error_code": None})
        channel.publish(channel.render(Post(id="p", text="Flu shots Saturday.")), "k")
    sid = "SM" + "5" * 32

    def status(value: str, code: str | None = None) -> int:
        form = {"MessageSid": sid, "MessageStatus": value, "AccountSid": SID, "From": FROM,
                "To": PATIENT, **({"ErrorCode": code} if code else {})}
        return int(post(inbound, "status", form).status)

    assert store.sends("k")[PATIENT].status == "queued"
    for value in ("sent", "delivered"):
        assert status(value) == 204
        assert store.sends("k")[PATIENT].status == value
    assert status("sent") == 204  # late and out of order: the receipt does not go back
    assert store.sends("k")[PATIENT].status == "delivered"
    assert status("bogus") == 400


@pytest.mark.parametrize("code", ["30003", "30004", "30005", "30006", "30007", "30008"])
def test_undelivered_and_failed_keep_twilios_error_code(
        code: str, inbound: SmsInbound, channel: SmsChannel, store: Messaging) -> None:
    opt_in(store)
    with responses.RequestsMock() as mock:
        mock.add(responses.POST, BASE, status=201, json={"sid": "SM" + "6" * 32,
                                                         "status": "queued"})
        channel.publish(channel.render(Post(id="p", text="Flu shots Saturday.")), "k")
    form = {"MessageSid": "SM" + "6" * 32, "MessageStatus": "undelivered", "AccountSid": SID,
            "ErrorCode": code}
    assert post(inbound, "status", form).status == 204
    row = store.sends("k")[PATIENT]
    assert (row.status, row.error_code) == ("undelivered", int(code))


# -- WSGI and carecast serve -------------------------------------------------------------


def test_the_handler_is_a_wsgi_app(inbound: SmsInbound, store: Messaging) -> None:
    opt_in(store)
    inbound.public_url = None  # no proxy: the URL is the request's own
    form = reply("STOP")
    body = urlencode(form).encode()
    signature = RequestValidator(TOKEN).compute_signature(
        "http://clinic.example.org/sms/texts/inbound", form)
    seen: list[str] = []
    out = inbound.wsgi({"REQUEST_METHOD": "POST", "PATH_INFO": "/sms/texts/inbound",
                        "QUERY_STRING": "", "HTTP_HOST": "clinic.example.org",
                        "wsgi.url_scheme": "http", "CONTENT_LENGTH": str(len(body)),
                        "wsgi.input": io.BytesIO(body), "HTTP_X_TWILIO_SIGNATURE": signature},
                       lambda status, headers: seen.append(status))
    assert seen == ["200 OK"]
    assert b"<Response" in b"".join(out)
    assert not store.consent(PATIENT, "clinic").live  # type: ignore[union-attr]


def test_carecast_serve_mounts_the_webhook(tmp_path: Path) -> None:
    uvicorn = pytest.importorskip("uvicorn")
    import socket
    import threading

    from carecast.config import Config
    from carecast.publish import Publisher
    from carecast.server import Clients, create_app

    config = Config.from_dict({
        "store": {"url": f"sqlite:///{tmp_path / 'serve.db'}"},
        "brands": {"clinic": {"name": "Riverside Clinic"}},
        "accounts": {"texts": {"channel": "sms", "brand": "clinic", **OPTIONS}}},
        root=tmp_path, environ={})
    with Publisher(config, entry_point_plugins=False, clock=FrozenClock(NOON)) as publisher:
        store = Messaging(publisher.ledger)
        opt_in(store)
        app = create_app(publisher, Clients({}), sms_public_url=PUBLIC)
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        base = f"http://127.0.0.1:{sock.getsockname()[1]}"
        server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        try:
            for _ in range(3000):
                if server.started:
                    break
                threading.Event().wait(0.02)
            form = reply("STOP")
            refused = requests.post(f"{base}/sms/texts/inbound", data=form, timeout=30)
            assert refused.status_code == 403
            assert store.consent(PATIENT, "clinic").live  # type: ignore[union-attr]
            signature = RequestValidator(TOKEN).compute_signature(
                PUBLIC + "/sms/texts/inbound", form)
            ok = requests.post(f"{base}/sms/texts/inbound", data=form, timeout=30,
                               headers={"X-Twilio-Signature": signature})
            assert ok.status_code == 200
            assert ok.headers["content-type"].startswith("text/xml")
            assert not store.consent(PATIENT, "clinic").live  # type: ignore[union-attr]
        finally:
            server.should_exit = True
            thread.join(timeout=10)
            sock.close()


# -- the property: a STOP stops every later send --------------------------------------------

NUMBERS = ["+12025550111", "+12025550112", "+12025550113"]
STEP = st.one_of(
    st.tuples(st.just("send"), st.just("")),
    st.tuples(st.sampled_from(["STOP", "stop", "Unsubscribe", "CANCEL", "end", "QUIT",
                               "STOPALL", "START", "unstop", "YES", "HELP", "hi"]),
              st.sampled_from(NUMBERS)))


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(STEP, min_size=1, max_size=12))
def test_an_inbound_stop_stops_every_later_send_to_that_number(
        steps: list[tuple[str, str]]) -> None:
    clock = FrozenClock(NOON)
    ledger = Ledger("sqlite://", clock=clock)
    store = Messaging(ledger)
    account = AccountConfig(name="texts", channel="sms", brand="clinic", options=OPTIONS)
    channel = SmsChannel.from_config(account, session=requests.Session(), clock=clock)
    channel.messaging = store
    inbound = SmsInbound(lambda _name: channel, lambda: store, public_url=PUBLIC)
    for number in NUMBERS:
        opt_in(store, number)
    subscribed = set(NUMBERS)
    try:
        for index, (word, number) in enumerate(steps):
            if word == "send":
                with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
                    mock.add(responses.POST, BASE, status=201,
                             json={"sid": f"SM{index:032d}", "status": "queued"})
                    channel.publish(channel.render(Post(id=f"p{index}", text="Flu shots.")),
                                    f"key-{index}")
                    texted = {parse_qs(str(c.request.body))["To"][0] for c in mock.calls}
                assert texted == subscribed  # never a number that said STOP since
                continue
            post(inbound, "inbound", reply(word, number))
            if word.upper() in OPT_OUT:
                subscribed.discard(number)
            elif word.upper() in OPT_IN:
                subscribed.add(number)
            clock.advance(1)
    finally:
        ledger.close()
