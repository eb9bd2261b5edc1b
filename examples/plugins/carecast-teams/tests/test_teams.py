"""The Teams channel: carecast's channel contract suite, and what Teams receives."""

from __future__ import annotations

import json

import pytest
import responses
from carecast_teams import TeamsChannel

from carecast.channels import get_channel_class
from carecast.config import AccountConfig
from carecast.errors import (
    AuthenticationError,
    ChannelServerError,
    PermissionDenied,
    PlatformRejected,
    RateLimited,
)
from carecast.post import Post
from carecast.testing import ChannelContract, FrozenClock, PlatformAnswer

URL = "https://example.webhook.office.com/webhookb2/T0KEN-teams-5f2a"


class TestTeamsContract(ChannelContract):
    channel = TeamsChannel
    options = {"webhook_url": URL}
    answers = [
        PlatformAnswer(200, json=1),
        PlatformAnswer(400, PlatformRejected),
        PlatformAnswer(401, AuthenticationError),
        PlatformAnswer(403, PermissionDenied),
        PlatformAnswer(413, PlatformRejected),
        PlatformAnswer(429, RateLimited, headers={"Retry-After": "3"}, retryable=True),
        PlatformAnswer(502, ChannelServerError, retryable=True),
    ]


def test_the_entry_point_registers_the_channel() -> None:
    assert get_channel_class("teams") is TeamsChannel


@responses.activate
def test_a_draft_goes_out_as_an_adaptive_card() -> None:
    responses.add(responses.POST, URL, body="1")
    clock = FrozenClock()
    channel = TeamsChannel.from_config(
        AccountConfig(name="staff", channel="teams", options={"webhook_url": URL}))
    channel.clock = clock
    draft = channel.render(Post(id="p1", title="Flu clinic", text="Shots for staff today."))
    receipt = channel.publish(draft, "cc-p1-staff")
    card = json.loads(responses.calls[0].request.body)["attachments"][0]["content"]
    assert [b["text"] for b in card["body"]] == ["Flu clinic", "Shots for staff today."]
    assert receipt.published_at == clock.now()


def test_the_webhook_url_must_be_https() -> None:
    from carecast.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="webhook_url"):
        TeamsChannel.from_config(AccountConfig(
            name="staff", channel="teams", options={"webhook_url": "http://x.example/T0KEN"}))
