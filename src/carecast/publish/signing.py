"""Signing: approve or reject stored drafts step by step, and list what waits for a person.

The rules of a chain (listed signers, no self-approval, one person per step, bound to the
draft's hash, a deadline before a scheduled time) are in ``carecast.approvals``; this applies
them to the ledger's rows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from carecast.approvals import approval_due, chain_state, same_person
from carecast.clock import Clock
from carecast.config import Config
from carecast.errors import ApprovalRefused, InvalidPost
from carecast.findings import Finding
from carecast.post import Post
from carecast.records import Attempt, ErrorInfo, State
from carecast.store import Ledger

__all__ = ["PendingApproval", "Signing"]


@dataclass(frozen=True)
class PendingApproval:
    """One target waiting for a signature: the step it waits for, and who signed so far."""

    post_id: str
    account: str
    channel: str
    next_step: str | None
    signed: tuple[tuple[str, str], ...]
    schedule: datetime | None
    due: datetime | None
    findings: tuple[Finding, ...]


@dataclass
class Signing:
    """Approvals and rejections of the drafts a ledger holds."""

    config: Config
    ledger: Callable[[], Ledger]
    stored: Callable[[str], Post]
    clock: Clock

    def decide(self, post_id: str, approver: str, decision: str, *, step: str | None = None,
               accounts: Sequence[str] = (), note: str = "") -> list[str]:
        """Sign (``approve``) or ``reject`` the next step of the drafts awaiting approval;
        returns the accounts signed for."""
        if not approver.strip() or len(approver) > 200 or not approver.isprintable():
            raise InvalidPost("approver: give the name of the person who signs (1 to 200 "
                              "printable characters)", [("approver", "invalid")])
        if decision == "reject" and not note.strip():
            raise InvalidPost("note: say why the post is rejected", [("note", "missing")])
        post = self.stored(post_id)
        policy = self.config.approvals
        ledger = self.ledger()
        if decision == "approve" and same_person(approver, post.author):
            raise ApprovalRefused(f"{approver} wrote post {post_id}; someone else must "
                                  "approve it")
        due = approval_due(policy, post)
        if due is not None and self.clock.now() >= due:
            raise ApprovalRefused(
                f"post {post_id}: approvals were due by {due.isoformat()}; it will not be "
                "published at its scheduled time: give it a new schedule")
        todo: list[tuple[Attempt, str, str]] = []
        for a in ledger.attempts(post_id):
            if a.state != State.AWAITING_APPROVAL or a.draft is None or (
                    accounts and a.account not in accounts):
                continue
            digest = a.draft.content_hash()
            chain = chain_state(policy, ledger.decisions(post_id, a.account, digest))
            nxt = chain.next_step
            if nxt is None or (step is not None and step != nxt):
                continue
            allowed = next(s.approvers for s in policy.steps if s.name == nxt)
            if allowed and not any(same_person(approver, name) for name in allowed):
                raise ApprovalRefused(f"{approver} is not listed for the {nxt} step "
                                      f"(listed: {', '.join(allowed)})")
            if decision == "approve" and " ".join(approver.casefold().split()) \
                    in chain.signers():
                raise ApprovalRefused(f"{approver} already signed an earlier step of post "
                                      f"{post_id}; each step needs a different person")
            todo.append((a, digest, nxt))
        for a, digest, nxt in todo:
            ledger.approve(post_id, a.account, approver=approver, draft_hash=digest,
                           note=note, step=nxt, decision=decision)
            if decision == "reject":
                ledger.mark_failed(post_id, a.account, State.BLOCKED, ErrorInfo(
                    "Rejected", f"rejected by {approver} at the {nxt} step; edit the post "
                    "(a new draft needs the chain again)", rejected=True))
        return [a.account for a, _, _ in todo]

    def pending(self) -> list[PendingApproval]:
        """Every target of every stored post that waits for a signature (a fully signed
        target is not listed: ``resume`` sends it)."""
        ledger = self.ledger()
        out: list[PendingApproval] = []
        posts: dict[str, Post | None] = {}
        for a in ledger.awaiting_approval():
            if a.draft is None:
                continue
            post = posts.setdefault(a.post_id, ledger.get_post(a.post_id))
            chain = chain_state(self.config.approvals, ledger.decisions(
                a.post_id, a.account, a.draft.content_hash()))
            if chain.next_step is None:  # signed: it waits for 'carecast resume', not a person
                continue
            out.append(PendingApproval(
                a.post_id, a.account, a.channel, chain.next_step,
                tuple((d.step, d.approver) for d in chain.approved),
                post.schedule if post else None,
                approval_due(self.config.approvals, post) if post else None,
                tuple(f for f in a.findings if f.action == "review")))
        return out
