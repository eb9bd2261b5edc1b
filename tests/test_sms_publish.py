"""The SMS channel through the publisher: quiet hours keep the target pending with its reason
until a later run sends the waiting numbers, a rate limit is waited out on the injected
clock, and a resend after a crash finds what was sent."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
import responses

from carecast import Config, Messaging, MessagingConsent, Post, Publisher, State
from carecast.testing import FrozenClock

pytest.importorskip("twilio")

SID = "AC" + "f6" * 16
BASE = f"https://api.twilio.com/2010-04-01/Accounts/{SID}/Messages.json"
#: 23:00 in Chicago, 05:00 UTC: inside the default quiet hours (21:00-08:00).
LATE = datetime(2027, 11, 3, 5, 0, tzinfo=UTC)
CHICAGO = ["+13125550101", "+13125550102"]
TOKYO = "+81312345678"  # 14:00 in Tokyo


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(LATE)


@pytest.fixture
def publisher(tmp_path: Path, clock: FrozenClock) -> Iterator[Publisher]:
    config = Config.from_dict({
        "store": {"url": f"sqlite:///{tmp_path / 'sms.db'}"},
        "brands": {"riverside": {"name": "Riverside Health"}},
        "accounts": {"texts": {"channel": "sms", "brand": "riverside", "account_sid": SID,
                               "auth_token": "publish-token-41aa97",
                               "from_number": "+15017122661"}}},
        root=tmp_path, environ={})
    with Publisher(config, entry_point_plugins=False, clock=clock) as built:
        store = Messaging(built.ledger)
        store.opt_in([MessagingConsent(number=n, brand="riverside", given_at=clock.now(),
                                       how="web form", zone="America/Chicago")
                      for n in CHICAGO])
        store.opt_in(MessagingConsent(number=TOKYO, brand="riverside", given_at=clock.now(),
                                      how="web form"))
        yield built


def created(to: str, n: int) -> dict[str, Any]:
    return {"sid": f"SM{n:032d}", "status": "queued", "to": to, "body": "x"}


def texted(mock: responses.RequestsMock) -> list[str]:
    return [parse_qs(str(c.request.body))["To"][0] for c in mock.calls
            if c.request.method == "POST"]


def test_quiet_hours_keep_the_target_pending_until_a_later_run(
        publisher: Publisher, clock: FrozenClock) -> None:
    post = Post(id="flu-night", text="Flu shots tomorrow 8am-noon, no appointment needed.")
    with responses.RequestsMock() as mock:
        mock.add(responses.POST, BASE, status=201, json=created(TOKYO, 1))
        report = publisher.publish(post)
        assert texted(mock) == [TOKYO]  # Tokyo's afternoon: sent at once
    (outcome,) = report.outcomes
    assert outcome.state == State.PENDING
    assert outcome.error is not None
    assert outcome.error.type == "QuietHours"
    assert "2 recipient(s) are in their quiet hours" in outcome.error.message
    assert "2027-11-03T13:00:00+00:00" in outcome.error.message  # 08:00 in Chicago (CDT)
    (row,) = publisher.status(post.id)
    assert row.state == State.PENDING
    assert row.error is not None
    assert row.error.type == "QuietHours"

    clock.advance(hours=2)  # 01:00 in Chicago: the worker's run sends nothing yet
    with responses.RequestsMock() as mock:
        (again,) = publisher.run_due()
        assert texted(mock) == []
    assert again.outcomes[0].state == State.PENDING

    clock.advance(hours=6)  # 08:00 in Chicago
    with responses.RequestsMock() as mock:
        mock.add(responses.POST, BASE, status=201, json=created(CHICAGO[0], 2))
        (done,) = publisher.run_due()
        assert sorted(texted(mock)) == CHICAGO
    assert done.outcomes[0].state == State.PUBLISHED
    assert done.outcomes[0].receipt is not None
    assert done.outcomes[0].receipt.extra == {"sent": 3, "refused": 0}
    with responses.RequestsMock() as mock:  # nothing is due any more, nobody texted twice
        assert publisher.run_due() == []
        assert texted(mock) == []


def test_a_rate_limit_is_waited_out_on_the_injected_clock(
        publisher: Publisher, clock: FrozenClock) -> None:
    clock.advance(hours=10)  # 09:00 in Chicago, 00:00 in Tokyo: Tokyo waits
    post = Post(id="flu-day", text="Flu shots today until 5pm.")
    with responses.RequestsMock() as mock:
        mock.add(responses.POST, BASE, status=429, json={
            "code": 20429, "message": "Too Many Requests", "status": 429},
            headers={"Retry-After": "3"})
        mock.add(responses.POST, BASE, status=201, json=created(CHICAGO[0], 3))
        report = publisher.publish(post)
        assert sorted(texted(mock)[1:]) == CHICAGO  # the refused one again, then the other
    assert 3 in clock.sleeps
    assert report.outcomes[0].state == State.PENDING  # Tokyo's night
    rows = Messaging(publisher.ledger).sends(publisher.status(post.id)[0].key)
    assert sorted(n for n, r in rows.items() if r.state == "sent") == CHICAGO
