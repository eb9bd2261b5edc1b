"""The Listmonk channel at the HTTP layer, with Listmonk's own request and answer shapes.

The answers are shaped on Listmonk's API documentation (docs/content/apis/campaigns.md,
media.md, apis.md) and its auth middleware's errors (internal/auth/auth.go: 403 "invalid API
credentials", 403 "permission denied: <perm>").
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import responses
from responses import matchers

from carecast.channels.listmonk import ListmonkChannel, campaign_tag
from carecast.config import AccountConfig
from carecast.errors import (
    AuthenticationError,
    ChannelError,
    ChannelServerError,
    ConfigurationError,
    PermissionDenied,
    PlatformRejected,
    RateLimited,
)
from carecast.post import Media, Post, Receipt
from carecast.testing import FrozenClock

BASE = "https://lists.riverside.example.org"
TOKEN = "lm-t0ken-5f2a9c81d3"
KEY = "cc-flu-2027-newsletter"
TAG = campaign_tag(KEY)
PNG = b"\x89PNG\r\n\x1a\n" + bytes(128)


def campaign(status: str = "draft", id: int = 12, **extra: Any) -> dict[str, Any]:
    """A campaign as Listmonk answers it (POST /api/campaigns example response)."""
    return {"id": id, "created_at": "2027-03-14T15:09:26.333485Z",
            "updated_at": "2027-03-14T15:09:26.333485Z", "views": 0, "clicks": 0,
            "bounces": 0, "lists": [{"id": 3, "name": "Patients news"}], "started_at": None,
            "to_send": 1840, "sent": 0, "uuid": "90c889cc-3728-4064-bbcb-5c1c446633b3",
            "type": "regular", "name": f"Flu clinic opens Monday [{TAG}]",
            "subject": "Flu clinic opens Monday",
            "from_email": "Riverside News \u003cnews@riverside.example.org\u003e",
            "body": "", "altbody": None, "send_at": None, "status": status,
            "content_type": "html", "tags": [TAG], "template_id": 1, "messenger": "email",
            **extra}


def page(*results: dict[str, Any]) -> dict[str, Any]:
    return {"data": {"results": list(results), "query": "", "total": len(results),
                     "per_page": 20, "page": 1}}


@pytest.fixture
def root(tmp_path: Path) -> Path:
    folder = tmp_path / "root"
    folder.mkdir()
    (folder / "entrance.png").write_bytes(PNG)
    return folder


@pytest.fixture
def mock() -> Any:
    with responses.RequestsMock() as rsps:
        yield rsps


def build(root: Path, **options: Any) -> ListmonkChannel:
    settings = {"url": BASE, "api_user": "carecast", "api_token": TOKEN, "lists": [3],
                "from_email": "Riverside News <news@riverside.example.org>",
                "template_id": 4, "tags": ["newsletter"], **options}
    return ListmonkChannel.from_config(
        AccountConfig(name="news", channel="listmonk", options=settings), root=root,
        clock=FrozenClock())


POST = Post(id="flu-2027", title="Flu clinic opens Monday",
            text="Walk in from 9 to 5 <b>no appointment</b>.\n\nhttps://riverside.example.org/flu",
            media=(Media(source="entrance.png", alt_text="The new clinic entrance"),))
FIND = matchers.query_param_matcher({"tags": TAG, "order_by": "created_at", "order": "DESC",
                                     "per_page": "20", "page": "1"})


def test_a_post_becomes_a_campaign_that_is_started(root: Path, mock: Any) -> None:
    mock.get(f"{BASE}/api/campaigns", json=page(), match=[FIND])
    mock.post(f"{BASE}/api/media", json={"data": {
        "id": 1, "uuid": "ec7b45ce-1408-4e5c-924e-965326a20287", "filename": "entrance.png",
        "created_at": "2027-03-14T15:09:26.080058+01:00",
        "thumb_uri": "/uploads/entrance_thumb.png", "uri": "/uploads/entrance.png"}})
    mock.post(f"{BASE}/api/campaigns", json={"data": campaign()})
    mock.put(f"{BASE}/api/campaigns/12/status", json={"data": campaign("running")},
             match=[matchers.json_params_matcher({"status": "running"})])
    channel = build(root)
    receipt = channel.publish(channel.render(POST), KEY)

    assert (receipt.remote_id, receipt.url) == ("12", f"{BASE}/admin/campaigns/12")
    assert receipt.extra["status"] == "running"
    for call in mock.calls:
        assert call.request.headers["Authorization"] == f"token carecast:{TOKEN}"
    upload = mock.calls[1].request
    assert b'name="file"; filename="entrance.png"' in upload.body
    assert PNG in upload.body
    body = json.loads(mock.calls[2].request.body)
    assert body["name"] == f"Flu clinic opens Monday [{TAG}]"
    assert body["subject"] == "Flu clinic opens Monday"
    assert (body["lists"], body["type"], body["content_type"], body["messenger"]) == (
        [3], "regular", "html", "email")
    assert body["tags"] == [TAG, "newsletter"]
    assert (body["from_email"], body["template_id"]) == (
        "Riverside News <news@riverside.example.org>", 4)
    assert "&lt;b&gt;no appointment&lt;/b&gt;" in body["body"]
    assert "<html" not in body["body"]  # Listmonk's template wraps it
    assert (f'<img src="{BASE}/uploads/entrance.png" alt="The new clinic entrance"'
            in body["body"])
    assert '<a href="https://riverside.example.org/flu">' in body["body"]
    assert body["altbody"].startswith("Walk in from 9 to 5 <b>no appointment</b>.")


def test_a_newer_listmonk_gives_the_media_url_whole(root: Path, mock: Any) -> None:
    mock.get(f"{BASE}/api/campaigns", json=page())
    mock.post(f"{BASE}/api/media", json={"data": {
        "id": 7, "uuid": "62e32e97-d6ca-4441-923f-b62607000dd1", "filename": "entrance.png",
        "content_type": "image/png", "created_at": "2027-03-14T11:28:53.888257+05:30",
        "thumb_url": None, "provider": "s3", "meta": {},
        "url": "https://media.riverside.example.org/entrance.png"}})
    mock.post(f"{BASE}/api/campaigns", json={"data": campaign()})
    mock.put(f"{BASE}/api/campaigns/12/status", json={"data": campaign("running")})
    channel = build(root)
    channel.publish(channel.render(POST), KEY)
    assert '<img src="https://media.riverside.example.org/entrance.png"' in json.loads(
        mock.calls[2].request.body)["body"]


def test_a_resend_starts_the_campaign_made_before_instead_of_a_second(root: Path,
                                                                       mock: Any) -> None:
    mock.get(f"{BASE}/api/campaigns", json=page(campaign("draft")))
    mock.put(f"{BASE}/api/campaigns/12/status", json={"data": campaign("running")})
    channel = build(root)
    receipt = channel.publish(channel.render(POST), KEY)
    assert receipt.remote_id == "12"
    assert [c.request.method for c in mock.calls] == ["GET", "PUT"]


def test_a_resend_of_a_running_campaign_sends_nothing(root: Path, mock: Any) -> None:
    mock.get(f"{BASE}/api/campaigns", json=page(campaign("finished", sent=1840)))
    channel = build(root)
    assert channel.publish(channel.render(POST), KEY).remote_id == "12"
    assert [c.request.method for c in mock.calls] == ["GET"]


def test_a_campaign_answered_for_another_tag_is_not_ours(root: Path, mock: Any) -> None:
    # a server that ignores the tag filter answers every campaign: only the tag decides
    mock.get(f"{BASE}/api/campaigns", json=page(campaign("running", tags=["other"])))
    channel = build(root)
    assert channel.lookup(KEY, channel.render(POST)) is None


@pytest.mark.parametrize(("status", "found"), [("running", True), ("finished", True),
                                               ("scheduled", True), ("draft", False),
                                               ("paused", False), ("cancelled", False)])
def test_lookup_finds_a_campaign_that_is_sending(root: Path, mock: Any, status: str,
                                                 found: bool) -> None:
    mock.get(f"{BASE}/api/campaigns", json=page(campaign(status)))
    channel = build(root)
    receipt = channel.lookup(KEY, channel.render(POST))
    assert (receipt is not None) == found
    if receipt is not None:
        assert receipt.reconciled
        assert receipt.remote_id == "12"


def test_a_cancelled_campaign_is_not_sent_again(root: Path, mock: Any) -> None:
    mock.get(f"{BASE}/api/campaigns", json=page(campaign("cancelled")))
    channel = build(root)
    with pytest.raises(PlatformRejected, match="cancelled in Listmonk"):
        channel.publish(channel.render(POST), KEY)


@pytest.mark.parametrize(("status", "message", "cls"), [
    (403, "invalid API credentials", AuthenticationError),
    (403, "invalid session", AuthenticationError),
    (403, "permission denied: campaigns:manage", PermissionDenied),
    (400, "Invalid length for `subject`", PlatformRejected),
    (404, "List not found", PlatformRejected),
    (410, "The requested resource is gone permanently", PlatformRejected),
    (422, "Unprocessable entity", PlatformRejected),
    (429, "Too many requests", RateLimited),
    (500, "Error creating campaign: pq: connection refused", ChannelServerError),
    (502, "The backend is down", ChannelServerError),
])
def test_listmonk_errors_map_to_carecast_errors(root: Path, mock: Any, status: int,
                                                message: str, cls: type[ChannelError]) -> None:
    mock.get(f"{BASE}/api/campaigns", json=page())
    mock.post(f"{BASE}/api/media", json={"data": {"id": 1, "uri": "/uploads/e.png"}})
    mock.post(f"{BASE}/api/campaigns", status=status, json={"message": message})
    channel = build(root)
    with pytest.raises(ChannelError) as info:
        channel.publish(channel.render(POST), KEY)
    error = info.value
    assert type(error) is cls
    assert error.status == status
    if cls in (PlatformRejected, AuthenticationError, PermissionDenied):
        assert message in str(error)
    assert TOKEN not in str(error) + repr(error) + json.dumps(error.headers)


def test_a_failure_to_start_leaves_a_draft_the_next_try_starts(root: Path,
                                                                mock: Any) -> None:
    mock.get(f"{BASE}/api/campaigns", json=page())
    mock.post(f"{BASE}/api/media", json={"data": {"id": 1, "uri": "/uploads/e.png"}})
    mock.post(f"{BASE}/api/campaigns", json={"data": campaign()})
    mock.put(f"{BASE}/api/campaigns/12/status", status=503,
             json={"message": "Service unavailable"})
    channel = build(root)
    draft = channel.render(POST)
    with pytest.raises(ChannelServerError):
        channel.publish(draft, KEY)
    mock.replace(responses.GET, f"{BASE}/api/campaigns", json=page(campaign("draft")))
    mock.replace(responses.PUT, f"{BASE}/api/campaigns/12/status",
                 json={"data": campaign("running")})
    assert channel.lookup(KEY, draft) is None  # made, never started: not yet sent
    assert channel.publish(draft, KEY).remote_id == "12"
    assert [c.request.method for c in mock.calls].count("POST") == 2  # media + one campaign


def test_an_answer_without_the_envelope_is_not_a_receipt(root: Path, mock: Any) -> None:
    mock.get(f"{BASE}/api/campaigns", json=page())
    mock.post(f"{BASE}/api/media", json={"data": {"id": 1, "uri": "/uploads/e.png"}})
    mock.post(f"{BASE}/api/campaigns", body="<html>Sign in</html>", content_type="text/html")
    channel = build(root)
    with pytest.raises(PlatformRejected) as info:
        channel.publish(channel.render(POST), KEY)
    assert info.value.may_have_been_sent
    assert "envelope" in str(info.value)


def test_delete_cancels_a_running_campaign_then_deletes_it(root: Path, mock: Any) -> None:
    mock.get(f"{BASE}/api/campaigns/12", json={"data": campaign("running")})
    mock.put(f"{BASE}/api/campaigns/12/status", json={"data": campaign("cancelled")},
             match=[matchers.json_params_matcher({"status": "cancelled"})])
    mock.delete(f"{BASE}/api/campaigns/12", json={"data": True})
    channel = build(root)
    channel.delete(Receipt(post_id="flu-2027", account="news", channel="listmonk",
                           remote_id="12", published_at=FrozenClock().now()))
    assert [c.request.method for c in mock.calls] == ["GET", "PUT", "DELETE"]


def test_metrics_and_profile(root: Path, mock: Any) -> None:
    mock.get(f"{BASE}/api/campaigns/12", json={"data": campaign(
        "finished", views=911, clicks=143, sent=1840, bounces=7)})
    mock.get(f"{BASE}/api/lists/3", json={"data": {
        "id": 3, "uuid": "ce13e971-c2ed-4069-bd0c-240669a8a3f7", "name": "Patients news",
        "type": "public", "optin": "double", "tags": [], "subscriber_count": 1840}})
    channel = build(root)
    metrics = channel.fetch_metrics(Receipt(post_id="flu-2027", account="news",
                                            channel="listmonk", remote_id="12",
                                            published_at=FrozenClock().now()))
    assert (metrics.impressions, metrics.clicks) == (911, 143)
    assert metrics.extra == {"sent": 1840, "to_send": 1840, "bounces": 7}
    assert channel.fetch_profile().display_name == "Patients news"


@pytest.mark.parametrize(("options", "says"), [
    ({"url": "http://lists.riverside.example.org"}, "https URL"),
    ({"lists": []}, "lists"),
])
def test_bad_options_name_the_field(root: Path, options: dict[str, Any], says: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        build(root, **options)
    assert says in str(info.value)
    assert TOKEN not in str(info.value)


def test_http_is_allowed_for_a_server_on_this_machine(root: Path) -> None:
    assert build(root, url="http://127.0.0.1:9000").options.url == "http://127.0.0.1:9000/"
