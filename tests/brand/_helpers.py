"""A channel that shows a given profile, for audits whose platforms do not matter."""

from __future__ import annotations

import time
from typing import Any, ClassVar

from carecast.channels.base import Channel
from carecast.config import Config
from carecast.post import Draft, Profile, ProfileChanges, Receipt


class StaticChannel(Channel):
    """``profiles[account]`` is what ``fetch_profile`` answers, after ``delay`` seconds."""

    name: ClassVar[str] = "static"
    title: ClassVar[str] = "Static"
    profiles: ClassVar[dict[str, dict[str, Any]]] = {}
    delay: ClassVar[float] = 0.0

    def publish(self, draft: Draft, key: str) -> Receipt:
        raise AssertionError("an audit never publishes")

    def delete(self, receipt: Receipt) -> None:
        raise AssertionError("an audit never deletes")

    def fetch_profile(self) -> Profile:
        if self.delay:
            time.sleep(self.delay)
        return Profile(channel=self.name, account=self.account, **self.profiles[self.account])


class UpdatableChannel(StaticChannel):
    """A static channel whose profile text can be changed; it records each change."""

    name: ClassVar[str] = "updatable"
    title: ClassVar[str] = "Updatable"
    profile_fields: ClassVar[frozenset[str]] = frozenset({"display_name", "description"})
    changes: ClassVar[list[tuple[str, ProfileChanges]]] = []

    def update_profile(self, changes: ProfileChanges) -> None:
        self.changes.append((self.account, changes))


def config(brand: dict[str, Any], accounts: dict[str, str], root: Any) -> Config:
    """A config with brand ``r`` and ``accounts`` (name -> channel), all of the brand."""
    return Config.from_dict({
        "store": {"url": f"sqlite:///{root}/carecast.db"},
        "brands": {"r": brand},
        "accounts": {name: {"channel": channel, "brand": "r"}
                     for name, channel in accounts.items()}}, root=root)
