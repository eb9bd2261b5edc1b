"""What publishing did: one ``Outcome`` per target, gathered in a ``PublishReport``."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from carecast.errors import PublishError
from carecast.findings import Finding
from carecast.post import Draft, Receipt
from carecast.records import ErrorInfo, State

__all__ = ["Outcome", "PublishReport"]

_FAILED = (State.FAILED, State.UNKNOWN, State.BLOCKED)


@dataclass(frozen=True)
class Outcome:
    """Where one target ended. Holds no post text: reports are safe to log and print."""

    account: str
    channel: str
    state: State
    receipt: Receipt | None = None
    error: ErrorInfo | None = None
    findings: tuple[Finding, ...] = ()
    tries: int = 0
    #: True when an earlier run had already published it (nothing was sent this time).
    already_published: bool = False
    #: Part lengths against the limit, from the draft.
    lengths: tuple[tuple[int, int | None], ...] = ()
    #: A scheduled post waits until then on a channel that cannot schedule it itself.
    held_until: datetime | None = None

    @classmethod
    def of(cls, account: str, channel: str, state: State, *, draft: Draft | None = None,
           **kw: Any) -> Outcome:
        """An outcome, with the draft reduced to its part lengths."""
        lengths = tuple((p.length, p.limit) for p in draft.parts) if draft else ()
        return cls(account, channel, state, lengths=lengths, **kw)

    @property
    def summary(self) -> str:
        """One line for people."""
        if self.state == State.PUBLISHED:
            where = self.receipt.url or self.receipt.remote_id if self.receipt else ""
            note = " (already published)" if self.already_published else ""
            note += " (found by reconcile)" if self.receipt and self.receipt.reconciled else ""
            return f"published {where}{note}".strip()
        if self.error is not None:
            return f"{self.state}: {self.error.message}"
        if self.state == State.SENDING:
            return "sending: another publish is sending it right now; check its status later"
        if self.held_until is not None:
            return (f"scheduled for {self.held_until.isoformat()}; a worker (carecast "
                    "worker) publishes it then")
        blocking = [f for f in self.findings if f.action in ("block", "review")]
        if blocking:
            return f"{self.state}: " + "; ".join(f"{f.code} in {f.field}" for f in blocking)
        return str(self.state)

    def to_dict(self) -> dict[str, Any]:
        """Plain data, for JSON."""
        return {
            "account": self.account, "channel": self.channel, "state": str(self.state),
            "receipt": self.receipt.model_dump(mode="json") if self.receipt else None,
            "error": self.error.to_dict() if self.error else None,
            "findings": [f.model_dump(mode="json") for f in self.findings],
            "tries": self.tries, "already_published": self.already_published,
            "lengths": [list(x) for x in self.lengths],
            "held_until": self.held_until.isoformat() if self.held_until else None,
        }


@dataclass(frozen=True)
class PublishReport:
    """Every target's outcome for one post. One failing channel never stops the others."""

    post_id: str
    outcomes: tuple[Outcome, ...]
    findings: tuple[Finding, ...] = field(default=())
    dry_run: bool = False

    @property
    def counts(self) -> dict[str, int]:
        """How many targets ended in each state."""
        return dict(Counter(str(o.state) for o in self.outcomes))

    @property
    def published(self) -> tuple[Outcome, ...]:
        """Targets that are published (now or before)."""
        return tuple(o for o in self.outcomes if o.state == State.PUBLISHED)

    @property
    def failures(self) -> tuple[Outcome, ...]:
        """Targets that failed, are unknown or were blocked."""
        return tuple(o for o in self.outcomes if o.state in _FAILED)

    @property
    def waiting(self) -> tuple[Outcome, ...]:
        """Targets held for an approval or a scheduled time, or being sent by another call
        right now (not failures, not published yet)."""
        return tuple(o for o in self.outcomes if not self.dry_run and o.state in (
            State.AWAITING_APPROVAL, State.PENDING, State.SENDING))

    @property
    def ok(self) -> bool:
        """True when nothing failed, is unknown or was blocked (some may still be waiting)."""
        return not self.failures

    def __getitem__(self, account: str) -> Outcome:
        for outcome in self.outcomes:
            if outcome.account == account:
                return outcome
        raise KeyError(account)

    def raise_for_failures(self) -> PublishReport:
        """Raise ``PublishError`` if any target failed; return the report otherwise."""
        if self.failures:
            names = ", ".join(f"{o.account} ({o.state})" for o in self.failures)
            raise PublishError(f"post {self.post_id}: not published to {names}", self)
        return self

    def to_dict(self) -> dict[str, Any]:
        """Plain data, for JSON."""
        return {
            "post_id": self.post_id, "dry_run": self.dry_run, "counts": self.counts,
            "findings": [f.model_dump(mode="json") for f in self.findings],
            "outcomes": [o.to_dict() for o in self.outcomes],
        }
