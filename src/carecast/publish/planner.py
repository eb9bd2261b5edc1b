"""Applying a messaging plan: each planned post scheduled through the same ``publish``
(review, approval chain, ledger), once.

Applying a plan twice changes nothing: each entry has a stable post id, a post already
stored as planned is left alone, and a post given a slot keeps the slot it got the first
time. A planned time already passed is skipped (never published late).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from carecast.errors import CarecastError, InvalidPost
from carecast.plan import Plan, check_plan, day_start, resolve
from carecast.schedule import next_slot
from carecast.store import Ledger

if TYPE_CHECKING:
    from carecast.publish.publisher import Publisher

__all__ = ["PlanStep", "apply_plan"]

Action = Literal["schedule", "update", "unchanged", "skipped", "failed"]


@dataclass(frozen=True)
class PlanStep:
    """What applying one plan entry did (or, in a dry run, would do)."""

    where: str
    post_id: str
    action: Action
    schedule: datetime
    accounts: tuple[str, ...]
    owner: str | None
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Plain data, for JSON."""
        return {**self.__dict__, "schedule": self.schedule.isoformat(),
                "accounts": list(self.accounts)}


def apply_plan(publisher: Publisher, plan: Plan, *, dry_run: bool = False) -> list[PlanStep]:
    """Schedule every post of ``plan``; a plan with errors (``check_plan``) is refused.
    ``dry_run`` says what it would do and writes nothing (nor creates a store)."""
    config, now = publisher.config, publisher.clock.now()
    errors = [i for i in check_plan(plan, config, now) if i.severity == "error"]
    if errors:
        lines = "\n".join(f"  {i.where or '(plan)'}: {i.message}" for i in errors)
        raise InvalidPost(f"the plan has {len(errors)} error(s); run carecast plan check:\n"
                          f"{lines}", [(i.where, i.code) for i in errors])
    planned, _ = resolve(plan, config)
    store: Ledger | None = publisher.ledger if not dry_run else (
        publisher.records if isinstance(publisher.records, Ledger) else None)
    start = day_start(plan.start, config, plan.brand)
    mine = {p.post.id for p in planned}
    existing = {s.post.id: s for s in store.stored(ids=sorted(mine))} if store else {}
    taken: dict[str, set[datetime]] = {}
    for other in store.stored(scheduled_after=start - timedelta(seconds=1)) if store else ():
        if other.post.id not in mine and other.post.schedule is not None:
            for row in other.attempts:
                taken.setdefault(row.account, set()).add(other.post.schedule)
    zone = config.zone_of(plan.brand)
    steps = []
    for p in planned:
        stored = existing.get(p.post.id)
        when = p.when
        if when is None:  # a slot: the one it got before, else the account's next free one
            account = str(p.entry.slot)
            if stored is not None and stored.post.schedule is not None:
                when = stored.post.schedule
            else:
                after = day_start(p.entry.day or plan.start, config, plan.brand)
                when = next_slot(config.accounts[account].posting_slots(), zone,
                                 after - timedelta(microseconds=1),
                                 frozenset(taken.get(account, ())), account=account)
            taken.setdefault(account, set()).add(when)
        post = p.post.model_copy(update={"schedule": when})
        owner = p.entry.owner or (plan.campaign(post.campaign).owner  # type: ignore[union-attr]
                                  if plan.campaign(post.campaign) else None) or plan.owner
        action: Action = "schedule" if stored is None else (
            "unchanged" if stored.post.content_hash() == post.content_hash() else "update")
        note = ""
        if action != "unchanged" and when <= now:
            action, note = "skipped", "its time has passed: it is not published late"
        if not dry_run and action in ("schedule", "update"):
            try:
                publisher.publish(post)
            except CarecastError as exc:  # one entry's fault never stops the others
                action, note = "failed", str(exc)
        steps.append(PlanStep(p.where, post.id, action, when, p.accounts, owner, note))
    return steps
