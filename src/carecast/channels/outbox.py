"""Outbox: append each draft as one JSON line to a file, for review queues and CMS pipelines.

Each publish appends ``{"event": "publish", "key", "at", "draft"}``; each delete appends
``{"event": "delete", "key", "remote_id", "at"}``. Lines are written whole under an exclusive
``flock`` and synced to disk, so concurrent threads and processes never interleave them. The
consumer tails the file; ``lookup`` scans it for a publish line not followed by a delete.
POSIX only (``fcntl``).
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field

from carecast.channels.base import Channel, ChannelOptions
from carecast.post import Draft, MediaKind, Profile, Receipt

__all__ = ["OutboxChannel", "OutboxOptions"]


class OutboxOptions(ChannelOptions):
    """Settings of an outbox account."""

    path: str = Field(default="outbox.jsonl",
                      description="The JSON Lines file, relative to the config file.")


class OutboxChannel(Channel):
    """Append drafts to a JSON Lines file."""

    name: ClassVar[str] = "outbox"
    title: ClassVar[str] = "Outbox (JSON Lines file)"
    Options = OutboxOptions
    max_media = 100
    media_kinds = frozenset(MediaKind)
    supports_threads = True  # thread parts stay separate parts of the draft
    #: The file lock orders the writers.
    per_account: ClassVar[int] = 16
    per_host: ClassVar[int] = 16
    rate_limits_by: ClassVar[str] = "host"
    public_profile = False  # a delivery point, not a face followers see
    options: OutboxOptions

    @property
    def file(self) -> Path:
        """The outbox file, resolved against the config file's folder."""
        return self.root / Path(self.options.path).expanduser()

    def publish(self, draft: Draft, key: str) -> Receipt:
        at = self.clock.now()
        self._append({"event": "publish", "key": key, "at": at.isoformat(),
                      "draft": draft.model_dump(mode="json")})
        return self._receipt(draft.post_id, key, at)

    def lookup(self, key: str, draft: Draft) -> Receipt | None:
        found: datetime | None = None
        for line in self._lines():
            if line.get("key") != key:
                continue
            if line.get("event") == "publish":
                found = datetime.fromisoformat(line["at"])
            elif line.get("event") == "delete":
                found = None
        return self._receipt(draft.post_id, key, found) if found else None

    def delete(self, receipt: Receipt) -> None:
        """Append a delete line; the consumer withdraws the post."""
        self._append({"event": "delete", "key": receipt.remote_id,
                      "remote_id": receipt.remote_id, "at": self.clock.now().isoformat()})

    def fetch_profile(self) -> Profile:
        """An outbox has no public profile: the account name only."""
        return Profile(channel=self.name, account=self.account, display_name=self.account)

    def _receipt(self, post_id: str, key: str, at: datetime) -> Receipt:
        return Receipt(post_id=post_id, account=self.account, channel=self.name,
                       remote_id=key, published_at=at)

    def _append(self, event: dict[str, Any]) -> None:
        line = json.dumps(event, ensure_ascii=False, separators=(",", ":")) + "\n"
        self.file.parent.mkdir(parents=True, exist_ok=True)
        with open(self.file, "ab+") as f:
            fcntl.flock(f, fcntl.LOCK_EX)  # freed when the file closes
            f.seek(0, os.SEEK_END)
            if f.tell():  # a crash mid-line must not glue the next line to it
                f.seek(-1, os.SEEK_END)
                if f.read(1) != b"\n":
                    line = "\n" + line
            f.write(line.encode())
            f.flush()
            os.fsync(f.fileno())

    def _lines(self) -> Iterator[dict[str, Any]]:
        """The file's events in order; a torn or foreign line is skipped."""
        if not self.file.exists():
            return
        with open(self.file, "rb") as f:
            fcntl.flock(f, fcntl.LOCK_SH)
            for raw in f:
                try:
                    event = json.loads(raw)
                except ValueError:
                    continue
                if isinstance(event, dict):
                    yield event
