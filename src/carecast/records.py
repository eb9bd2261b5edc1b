"""The records the pipeline keeps, as plain data: no database needed to hold or read them.

The store persists them; review reads approval decisions and consents through a read-only
view, so a preview or a dry run works with no database at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from carecast.errors import ChannelError, ConfigurationError, PostRejected
from carecast.findings import Finding
from carecast.post import Draft, Post, Receipt

if TYPE_CHECKING:
    from carecast.consent import Consent

__all__ = ["Attempt", "Decision", "ErrorInfo", "Freeze", "NoRecords", "Records", "State",
           "StoredPost"]


class State(StrEnum):
    """Where one (post, account) target stands."""

    PENDING = "pending"
    SENDING = "sending"
    PUBLISHED = "published"
    FAILED = "failed"
    UNKNOWN = "unknown"
    BLOCKED = "blocked"
    AWAITING_APPROVAL = "awaiting_approval"
    #: Waits for a person: its moment passed (``not_after``, or during a freeze) or a freeze
    #: took it off a platform's schedule; ``carecast schedule`` gives it a new time.
    HELD = "held"
    #: Was published, then deleted from the platform by a takedown.
    TAKEN_DOWN = "taken_down"


#: How a channel's error message names the post in a command it suggests
#: ("carecast retry POST_ID --resend-unknown"); the publisher writes the post's id there.
POST_ID = "POST_ID"


@dataclass(frozen=True)
class Freeze:
    """A crisis freeze: nothing of ``brand`` ('' for every brand) is sent while it is active."""

    id: int
    brand: str
    reason: str
    by: str
    started_at: datetime
    #: It ends by itself then, if nobody thaws it first.
    until: datetime | None
    ended_at: datetime | None

    def active(self, now: datetime) -> bool:
        """Whether it stops sends at ``now``."""
        return self.ended_at is None and (self.until is None or now < self.until)

    def covers(self, brand: str | None) -> bool:
        """Whether it applies to posts of ``brand``."""
        return not self.brand or self.brand == brand

    def to_dict(self) -> dict[str, Any]:
        """Plain data, for JSON."""
        return {k: v.isoformat() if isinstance(v, datetime) else v
                for k, v in self.__dict__.items()}


@dataclass(frozen=True)
class ErrorInfo:
    """Why a target did not publish: the error class, its safe message and HTTP details."""

    type: str
    message: str
    status: int | None = None
    retryable: bool = False
    retry_after: float | None = None
    request_id: str | None = None
    #: Nothing was sent because the post or the configuration must be fixed first.
    rejected: bool = False

    @classmethod
    def from_exception(cls, exc: BaseException, *, post_id: str | None = None) -> ErrorInfo:
        """Build from an exception; carecast messages never carry secrets or PHI. A channel,
        which sees no post, names it ``POST_ID`` in the command it suggests; given the
        ``post_id``, the command holds the post's own id instead."""
        message = str(exc)
        if post_id is not None:
            message = message.replace(POST_ID, post_id)
        if isinstance(exc, ChannelError):
            return cls(type(exc).__name__, message, exc.status, exc.retryable,
                       getattr(exc, "retry_after", None), exc.request_id)
        return cls(type(exc).__name__, message,
                   rejected=isinstance(exc, (PostRejected, ConfigurationError)))

    def to_dict(self) -> dict[str, Any]:
        """Plain data, for JSON."""
        return dict(self.__dict__)


@dataclass(frozen=True)
class Attempt:
    """One row of the ledger."""

    post_id: str
    account: str
    channel: str
    state: State
    key: str
    tries: int
    updated_at: datetime
    draft: Draft | None = None
    receipt: Receipt | None = None
    error: ErrorInfo | None = None
    findings: tuple[Finding, ...] = field(default=())


@dataclass(frozen=True)
class StoredPost:
    """A stored post, when it was first stored, and its targets' rows."""

    post: Post
    stored_at: datetime
    attempts: tuple[Attempt, ...]

    @property
    def due(self) -> datetime:
        """When it is (or was) due: its schedule, else when it was stored."""
        return self.post.schedule or self.stored_at


@dataclass(frozen=True)
class Decision:
    """One signature on one draft: ``approve`` or ``reject`` at a step."""

    step: str
    decision: str
    approver: str
    note: str
    at: datetime


@runtime_checkable
class Records(Protocol):
    """What review reads from the store, and nothing else: consents and approval decisions.

    The ledger is one; a preview gets a read-only view that never creates or writes a store.
    """

    def consent(self, consent_id: str) -> Consent | None:
        """The recorded consent with this id, or None."""
        ...  # pragma: no cover

    def decisions(self, post_id: str, account: str, draft_hash: str) -> list[Decision]:
        """The signatures on one draft, oldest first."""
        ...  # pragma: no cover


class NoRecords:
    """Records of a store that does not exist (yet): no consent recorded, nothing signed."""

    def consent(self, consent_id: str) -> Consent | None:
        """Always None."""
        return None

    def decisions(self, post_id: str, account: str, draft_hash: str) -> list[Decision]:
        """Always empty."""
        return []

    def __repr__(self) -> str:
        return "NoRecords()"
