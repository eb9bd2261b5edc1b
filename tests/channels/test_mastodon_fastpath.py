"""The Mastodon hot path reads raw JSON; it must read and map what Mastodon.py did.

The same answers (Status entity and error bodies shaped on docs.joinmastodon.org) go once
through the channel's raw ``POST /api/v1/statuses`` and once through Mastodon.py's
``status_post`` (the path carecast took before): the receipt and every mapped error agree.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import responses

import carecast.channels.mastodon as mastodon_channel
from carecast.channels.mastodon import MastodonChannel, MastodonOptions
from carecast.errors import ChannelError
from carecast.post import Post
from carecast.testing import FrozenClock

from .test_mastodon import BASE, INSTANCE, NOW, STATUSES, TOKEN, instance, status

POST = Post(id="flu-1", text="Flu shots are free at every Riverside clinic this week.")


@pytest.fixture(autouse=True)
def fresh_limit_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mastodon_channel, "_limits", {})


@pytest.fixture
def masto() -> MastodonChannel:
    return MastodonChannel("riverside", MastodonOptions(api_base_url=BASE, access_token=TOKEN),
                           clock=FrozenClock(NOW))


def _both(masto: MastodonChannel, answer: dict[str, Any]) -> tuple[Any, Any]:
    """What the raw path and Mastodon.py's path give for the same answer: a Receipt or the
    carecast error each raised."""
    results: list[Any] = []
    with responses.RequestsMock() as mocked:
        mocked.get(INSTANCE, json=instance())
        mocked.post(STATUSES, **answer)
        mocked.post(STATUSES, **answer)
        draft = masto.render(POST)
        try:
            results.append(masto.publish(draft, "key-1"))
        except ChannelError as exc:
            results.append(exc)
        try:
            created = masto._call("status_post", draft.text, visibility="public",
                                  idempotency_key="key-1")
            results.append(masto._receipt(draft, [created]))
        except ChannelError as exc:
            results.append(exc)
    return results[0], results[1]


def test_a_created_status_gives_the_receipt_mastodon_py_gave(masto) -> None:
    answer = status("109400000000000001", "<p>Flu shots are free.</p>",
                    created=NOW - timedelta(seconds=1))
    raw, sdk = _both(masto, {"json": answer, "headers": {
        "Date": NOW.strftime("%a, %d %b %Y %H:%M:%S GMT")}})
    assert raw == sdk
    assert raw.remote_id == "109400000000000001"
    assert raw.url == f"{BASE}/@riverside/109400000000000001"
    assert raw.published_at == NOW - timedelta(seconds=1)
    assert raw.extra == {"visibility": "public"}


@pytest.mark.parametrize(("code", "body", "headers"), [
    (401, {"error": "The access token is invalid"}, {}),
    (403, {"error": "This action is outside the authorized scopes"}, {}),
    (404, {"error": "Record not found"}, {}),
    (422, {"error": "Validation failed: Text character limit of 500 exceeded"}, {}),
    (429, {"error": "Too many requests"},
     {"X-RateLimit-Reset": (NOW + timedelta(seconds=90)).isoformat()}),
    (500, {"error": "Internal Server Error"}, {"Retry-After": "12"}),
    (503, {"error": "Service Unavailable"}, {}),
])
def test_errors_map_as_through_mastodon_py(masto, code, body, headers) -> None:
    raw, sdk = _both(masto, {"status": code, "json": body,
                             "headers": {"X-Request-Id": "req-9f1", **headers}})
    assert isinstance(raw, ChannelError)
    assert type(raw) is type(sdk)
    assert (raw.status, raw.request_id, raw.retryable, raw.may_have_been_sent) == \
        (sdk.status, sdk.request_id, sdk.retryable, sdk.may_have_been_sent)
    assert getattr(raw, "retry_after", None) == getattr(sdk, "retry_after", None)
    assert str(raw) == str(sdk)
    assert TOKEN not in str(raw)
