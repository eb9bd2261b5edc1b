"""Microsoft Teams: post each draft to a channel through its incoming webhook.

An example carecast channel plugin. The webhook URL carries its own token, so it is a secret.
Teams answers 200 on success and gives no message id, no idempotency key and no way to list
or delete what a webhook posted: ``lookup`` is not offered (an unknown outcome waits for a
person) and ``delete`` says to remove the message in Teams.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field, SecretStr, field_validator

from carecast.channels.base import Channel, ChannelOptions
from carecast.channels.http import new_session, send
from carecast.errors import PermissionDenied
from carecast.post import Draft, Profile, Receipt

__all__ = ["TeamsChannel", "TeamsOptions"]


class TeamsOptions(ChannelOptions):
    """Settings of a Teams account: the incoming webhook's URL."""

    webhook_url: SecretStr = Field(description="The incoming webhook's URL (holds a token).")
    timeout: float = Field(default=10.0, gt=0, le=120)

    @field_validator("webhook_url")
    @classmethod
    def _https(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().startswith("https://"):
            raise ValueError("give the https URL Teams shows for the incoming webhook")
        return value


class TeamsChannel(Channel):
    """Post drafts as Adaptive Cards to a Teams channel's incoming webhook."""

    name: ClassVar[str] = "teams"
    title: ClassVar[str] = "Microsoft Teams (incoming webhook)"
    Options = TeamsOptions
    # Teams refuses a webhook message over 28 KB; 7,000 characters stay under it in any script.
    max_text: ClassVar[int | None] = 7000
    max_title = 200
    public_profile = False  # a delivery point inside the organisation
    options: TeamsOptions

    def __init__(self, account: str, options: ChannelOptions, **kw: Any) -> None:
        session = kw.pop("session", None)
        super().__init__(account, options, session=session or new_session(), **kw)
        self.owns_session = session is None

    def card(self, draft: Draft) -> dict[str, Any]:
        """The Adaptive Card message Teams renders."""
        body: list[dict[str, Any]] = []
        if draft.title:
            body.append({"type": "TextBlock", "text": draft.title, "weight": "Bolder",
                         "size": "Medium", "wrap": True})
        body += [{"type": "TextBlock", "text": part.text, "wrap": True} for part in draft.parts]
        return {"type": "message", "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "content": {"$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                        "type": "AdaptiveCard", "version": "1.4", "body": body}}]}

    def publish(self, draft: Draft, key: str) -> Receipt:
        send(self.session, "POST", self.options.webhook_url.get_secret_value(),
             channel=self.name, account=self.account, timeout=self.options.timeout,
             now=self.clock.time, json=self.card(draft))
        return Receipt(post_id=draft.post_id, account=self.account, channel=self.name,
                       remote_id=key, url=None, published_at=self.clock.now())

    def delete(self, receipt: Receipt) -> None:
        raise PermissionDenied("a Teams incoming webhook cannot delete what it posted; "
                               "remove the message in Teams", channel=self.name,
                               account=self.account)

    def fetch_profile(self) -> Profile:
        """A webhook has no public profile: the account name only."""
        return Profile(channel=self.name, account=self.account, display_name=self.account)
