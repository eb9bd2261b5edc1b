"""Approval chains: which drafts need people to sign them, in what order, by when.

Every decision is bound to the exact draft it was given on (its content hash): an edit makes a
new draft that needs the whole chain again. Each step is signed by a different person, never
by the post's author, and, for a scheduled post, before ``[approvals] deadline`` seconds ahead
of its time. A rejection at any step holds the draft for good.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from carecast.config import ApprovalConfig
from carecast.findings import Finding
from carecast.post import Post
from carecast.records import Decision

__all__ = ["ChainState", "approval_due", "chain_state", "needs_approval",
           "same_person"]


@dataclass(frozen=True)
class ChainState:
    """Where a draft's approval chain stands."""

    steps: tuple[str, ...]
    approved: tuple[Decision, ...]
    rejected: Decision | None = None

    @property
    def complete(self) -> bool:
        """Every step is signed and nobody rejected."""
        return self.rejected is None and len(self.approved) == len(self.steps)

    @property
    def next_step(self) -> str | None:
        """The step waiting for a signature; None when complete or rejected."""
        if self.rejected is not None or self.complete:
            return None
        return self.steps[len(self.approved)]

    def signers(self) -> set[str]:
        """Who signed so far (normalised names)."""
        return {_norm(d.approver) for d in self.approved}


def chain_state(config: ApprovalConfig, decisions: Sequence[Decision]) -> ChainState:
    """The chain's state from a draft's decisions, oldest first."""
    steps = tuple(s.name for s in config.steps)
    approved: list[Decision] = []
    for decision in decisions:
        if decision.decision == "reject":
            return ChainState(steps, tuple(approved), decision)
        if len(approved) < len(steps) and decision.step == steps[len(approved)]:
            approved.append(decision)
    return ChainState(steps, tuple(approved))


def needs_approval(config: ApprovalConfig, post: Post, brand: str | None,
                   findings: Sequence[Finding]) -> bool:
    """Whether a draft of ``post`` needs the chain: a REVIEW finding, or the policy says so."""
    return (any(f.action == "review" for f in findings) or config.every_post
            or (post.campaign is not None and post.campaign in config.campaigns)
            or (brand is not None and brand in config.brands))


def approval_due(config: ApprovalConfig, post: Post) -> datetime | None:
    """When the chain must be complete: ``deadline`` seconds before the schedule, if any."""
    if post.schedule is None:
        return None
    return post.schedule - timedelta(seconds=config.deadline)


def same_person(a: str | None, b: str | None) -> bool:
    """Whether two names are the same person's (case and spacing ignored)."""
    return bool(a and b and _norm(a) == _norm(b))


def _norm(name: str) -> str:
    return " ".join(name.casefold().split())
