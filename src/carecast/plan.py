"""A messaging plan: a brand's campaigns, weekly themes, cadence per channel, and the posts
assigned to dates or slots over (usually) ninety days, read from a YAML or TOML file.

``check_plan`` finds what a communications lead must fix before the plan is applied: weeks
or channels with nothing planned, weeks over a channel's cadence, posts outside their
campaign's dates, approval chains that cannot be finished in time, and national health
observances in the window that no campaign takes up (see ``carecast.observances``).
It reads only the plan, its post files and the configuration: no store, no network.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from carecast.approvals import approval_due, needs_approval
from carecast.config import Config
from carecast.errors import InvalidPost
from carecast.observances import observances_between
from carecast.post import Post, _loc, _message, load_post, post_from_dict, read_document
from carecast.schedule import in_zone

__all__ = ["Cadence", "Campaign", "Plan", "PlanEntry", "PlanIssue", "Planned", "check_plan",
           "day_start", "load_plan", "plan_from_dict", "resolve"]

_NAME = r"^[a-z0-9][a-z0-9_-]{0,63}$"
#: The longest plan carecast reads (days).
MAX_PLAN_DAYS = 400


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Cadence(_Model):
    """Posts per week on one channel (or account): at least ``min``, at most ``max``."""

    min: int = Field(default=1, ge=0, le=100)
    max: int | None = Field(default=None, ge=1, le=100)

    @model_validator(mode="after")
    def _ordered(self) -> Cadence:
        if self.max is not None and self.max < self.min:
            raise ValueError("max is below min")
        return self


class Campaign(_Model):
    """A campaign: its days, its owner, and the observance it takes up, if any."""

    id: str = Field(pattern=_NAME)
    title: str = Field(min_length=1, max_length=200)
    start: date
    end: date
    owner: str | None = None
    observance: str | None = Field(
        default=None, description="The id of the national health observance it takes up.")

    @model_validator(mode="after")
    def _ordered(self) -> Campaign:
        if self.end < self.start:
            raise ValueError("end is before start")
        return self


class PlanEntry(_Model):
    """One planned post: a post file or an inline draft, at a time or in an account's slot."""

    id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$",
                           description="Stable id; else the post's own, else derived from "
                                       "the entry.")
    file: str | None = None
    draft: dict[str, Any] | None = None
    at: datetime | None = Field(default=None, description="Its time (brand time unless "
                                "it has a UTC offset).")
    slot: str | None = Field(default=None, description="An account: its first free posting "
                             "slot on or after `day` (or the plan's start).")
    day: date | None = None
    campaign: str | None = None
    owner: str | None = None
    accounts: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _one_of_each(self) -> PlanEntry:
        if (self.file is None) == (self.draft is None):
            raise ValueError("give either file (a post file) or draft (the post's fields)")
        if self.at is not None and self.slot is not None:
            raise ValueError("give at (a time) or slot (an account's next slot), not both")
        return self


class Plan(_Model):
    """A brand's plan over ``days`` days from ``start``."""

    brand: str = Field(pattern=_NAME)
    start: date
    days: int = Field(default=90, ge=7, le=MAX_PLAN_DAYS)
    owner: str | None = None
    approval_days: float = Field(
        default=1.0, ge=0, le=30,
        description="Days an approval step takes at least: a post that needs the chain "
                    "must be ready this long per step before its approval deadline.")
    cadence: dict[str, Cadence] = Field(
        default_factory=dict, description="Per channel or account name.")
    campaigns: tuple[Campaign, ...] = ()
    themes: dict[int, str] = Field(default_factory=dict, description="By week (1, 2, ...).")
    posts: tuple[PlanEntry, ...] = ()
    #: The plan file's folder: post files are read relative to it.
    root: Path = Field(default=Path("."), exclude=True)

    @property
    def end(self) -> date:
        """Its last day."""
        return self.start + timedelta(days=self.days - 1)

    @property
    def weeks(self) -> int:
        """How many weeks (of seven days from ``start``) it spans."""
        return -(-self.days // 7)

    def week_of(self, day: date) -> int:
        """The plan week (1-based) ``day`` falls in."""
        return (day - self.start).days // 7 + 1

    def campaign(self, campaign_id: str | None) -> Campaign | None:
        """The campaign with this id, or None."""
        return next((c for c in self.campaigns if c.id == campaign_id), None)


def load_plan(path: str | Path, *, max_bytes: int | None = None) -> Plan:
    """Read a plan file (YAML, TOML or JSON, at most ``max_bytes``: by default
    ``CARECAST_MAX_POST_BYTES``); raises ``InvalidPost`` naming the field and the fix."""
    path = Path(path)
    data = read_document(path, max_bytes=max_bytes, what="plan file")
    return plan_from_dict(data, source=str(path), root=path.resolve().parent)


def plan_from_dict(data: Any, *, source: str = "plan", root: Path = Path(".")) -> Plan:
    """Validate plain data into a ``Plan``; raises ``InvalidPost`` naming each field."""
    if not isinstance(data, dict):
        raise InvalidPost(f"{source}: expected a mapping of plan fields",
                          [("", "expected a mapping")])
    try:
        return Plan.model_validate({**data, "root": root})
    except ValidationError as exc:
        problems = [(_loc(err["loc"]), _message(err)) for err in exc.errors()]
    lines = "\n".join(f"  {field or '(plan)'}: {msg}" for field, msg in problems)
    raise InvalidPost(f"{source} is not a valid plan:\n{lines}", problems)


@dataclass(frozen=True)
class PlanIssue:
    """Something in a plan to fix (``error``), to look at (``warning``), or an idea
    (``suggestion``); ``where`` names the field (``posts[3]``) or the week."""

    severity: Literal["error", "warning", "suggestion"]
    code: str
    message: str
    where: str = ""

    def to_dict(self) -> dict[str, str]:
        """Plain data, for JSON."""
        return dict(self.__dict__)


@dataclass(frozen=True)
class Planned:
    """One entry resolved: its post (brand, campaign, targets and a stable id set), its time
    if known now (a slot is found when the plan is applied), and its channels."""

    index: int
    entry: PlanEntry
    post: Post
    when: datetime | None
    accounts: tuple[str, ...]

    @property
    def where(self) -> str:
        """The entry's place in the file."""
        return f"posts[{self.index}]"


def resolve(plan: Plan, config: Config) -> tuple[list[Planned], list[PlanIssue]]:
    """Each entry's post, with the faults that stop it from being planned at all."""
    issues: list[PlanIssue] = []
    if plan.brand not in config.brands:
        issues.append(PlanIssue("error", "plan.brand", f"brand {plan.brand!r} is not in the "
                                "configuration; give one of its [brands.NAME]", "brand"))
        return [], issues
    zone = config.zone_of(plan.brand)
    brand_accounts = [a.name for a in config.accounts.values()
                      if a.enabled and a.brand == plan.brand]
    out = []
    for i, entry in enumerate(plan.posts):
        where = f"posts[{i}]"
        try:
            post = _entry_post(plan, entry, where)
            at = entry.at or (post.schedule if entry.slot is None else None)
            if at is None and entry.slot is None:
                raise InvalidPost(f"{where}: give at (a time) or slot (an account's next "
                                  "slot); the post has no schedule of its own",
                                  [(where, "no time")])
            when = in_zone(at, zone, field=f"{where}.at") if at else None
        except InvalidPost as exc:
            issues.append(PlanIssue("error", "plan.post", str(exc), where))
            continue
        accounts = entry.accounts or post.targets or tuple(brand_accounts)
        unknown = [a for a in (*accounts, *([entry.slot] if entry.slot else []))
                   if a not in config.accounts]
        if unknown:
            issues.append(PlanIssue("error", "plan.account", f"{', '.join(unknown)} is not "
                                    "an account in the configuration", where))
            continue
        if entry.slot is not None and not config.accounts[entry.slot].slots:
            issues.append(PlanIssue("error", "plan.slot", f"account {entry.slot!r} has no "
                                    "posting slots; add slots to it or give the post a time "
                                    "(at)", where))
            continue
        if entry.campaign is not None and plan.campaign(entry.campaign) is None:
            issues.append(PlanIssue("error", "plan.campaign", f"campaign {entry.campaign!r} "
                                    "is not in the plan's campaigns", where))
            continue
        own = post.id != "p-" + post.content_hash()[:24]  # the file or draft gave an id
        post = post.model_copy(update={
            "id": entry.id or (post.id if own else _entry_id(plan, entry)),
            "brand": plan.brand, "targets": tuple(accounts), "schedule": when,
            "campaign": entry.campaign or post.campaign})
        out.append(Planned(i, entry, post, when, tuple(accounts)))
    return out, issues


def _entry_post(plan: Plan, entry: PlanEntry, where: str) -> Post:
    if entry.file is not None:
        path = Path(entry.file)
        return load_post(path if path.is_absolute() else plan.root / path)
    return post_from_dict(entry.draft or {}, source=f"{where}.draft")


def _entry_id(plan: Plan, entry: PlanEntry) -> str:
    """A stable id for an entry without one: the plan's brand and start, and what the entry
    points at and when, so re-applying the plan finds the same post (an edited text
    keeps its id; a post moved to another day gets a new one)."""
    import hashlib

    what = entry.file or repr(sorted((entry.draft or {}).items()))
    when = entry.at.isoformat() if entry.at else f"{entry.slot}@{entry.day or plan.start}"
    key = "|".join([plan.brand, plan.start.isoformat(), what, when, ",".join(entry.accounts)])
    return f"plan-{plan.brand}-{hashlib.sha256(key.encode()).hexdigest()[:16]}"


def check_plan(plan: Plan, config: Config, now: datetime) -> list[PlanIssue]:
    """Every issue of ``plan`` against ``config`` at ``now`` (errors first)."""
    planned, issues = resolve(plan, config)
    if plan.brand not in config.brands:
        return issues
    issues += _outside(plan, planned, config)
    issues += _cadence(plan, planned, config)
    issues += _approvals(plan, planned, config, now)
    issues += _themes(plan)
    issues += _observances(plan)
    order = {"error": 0, "warning": 1, "suggestion": 2}
    return sorted(issues, key=lambda i: order[i.severity])


def _day(planned: Planned, plan: Plan, config: Config) -> date:
    zone = config.zone_of(plan.brand)
    if planned.when is not None:
        return planned.when.astimezone(zone).date()
    return planned.entry.day or plan.start


def _outside(plan: Plan, planned: list[Planned], config: Config) -> list[PlanIssue]:
    issues = []
    for p in planned:
        day = _day(p, plan, config)
        if not plan.start <= day <= plan.end:
            issues.append(PlanIssue("warning", "plan.outside_window", f"{day} is outside the "
                                    f"plan ({plan.start} to {plan.end})", p.where))
        campaign = plan.campaign(p.post.campaign)
        if campaign is not None and not campaign.start <= day <= campaign.end \
                and p.when is not None:
            issues.append(PlanIssue(
                "error", "plan.outside_campaign", f"{day} is outside campaign "
                f"{campaign.id!r} ({campaign.start} to {campaign.end}); move the post or the "
                "campaign's dates", p.where))
    return issues


def _cadence(plan: Plan, planned: list[Planned], config: Config) -> list[PlanIssue]:
    """Weeks with nothing, and per channel (or account) weeks under or over its cadence."""
    counts: dict[tuple[int, str], int] = {}
    per_week = dict.fromkeys(range(1, plan.weeks + 1), 0)
    for p in planned:
        week = plan.week_of(_day(p, plan, config))
        if week in per_week:
            per_week[week] += 1
        for account in p.accounts:
            for key in (account, config.accounts[account].channel):
                counts[week, key] = counts.get((week, key), 0) + 1
    issues = [PlanIssue("warning", "plan.empty_week", f"week {w} ({_week_days(plan, w)}) "
                        "has nothing planned", f"week {w}")
              for w, n in per_week.items() if n == 0]
    for key, cadence in sorted(plan.cadence.items()):
        known = key in config.accounts or any(a.channel == key
                                              for a in config.accounts.values())
        if not known:
            issues.append(PlanIssue("error", "plan.cadence", f"cadence names {key!r}, which is "
                                    "neither a channel nor an account of the configuration",
                                    f"cadence.{key}"))
            continue
        for week, planned_that_week in per_week.items():
            n = counts.get((week, key), 0)
            if n < cadence.min and planned_that_week:  # an empty week is said once
                issues.append(PlanIssue(
                    "warning", "plan.channel_gap", f"{key}: {n} post(s) in week {week} "
                    f"({_week_days(plan, week)}), fewer than its cadence's {cadence.min}",
                    f"week {week}"))
            elif cadence.max is not None and n > cadence.max:
                issues.append(PlanIssue(
                    "error", "plan.over_cadence", f"{key}: {n} posts in week {week} "
                    f"({_week_days(plan, week)}), more than its cadence's {cadence.max}",
                    f"week {week}"))
    brand_channels = {a.channel for a in config.accounts.values()
                      if a.enabled and a.brand == plan.brand}
    for channel in sorted(brand_channels):
        if not any(k[1] == channel for k in counts):
            issues.append(PlanIssue("warning", "plan.unused_channel", f"nothing is planned "
                                    f"on {channel} in the whole plan", "posts"))
    return issues


def _week_days(plan: Plan, week: int) -> str:
    first = plan.start + timedelta(weeks=week - 1)
    return f"{first:%b %d}-{min(first + timedelta(days=6), plan.end):%b %d}"


def _approvals(plan: Plan, planned: list[Planned], config: Config, now: datetime
               ) -> list[PlanIssue]:
    """Posts whose approval chain cannot be complete by its deadline from ``now``."""
    policy, issues = config.approvals, []
    steps = len(policy.steps)
    for p in planned:
        if p.when is None or not needs_approval(policy, p.post, plan.brand, ()):
            continue
        due = approval_due(policy, p.post)
        assert due is not None
        needed = timedelta(days=plan.approval_days * steps)
        if now + needed > due:
            issues.append(PlanIssue(
                "error", "plan.approval_deadline",
                f"its approval chain ({steps} step(s), {plan.approval_days:g} day(s) each) "
                f"must be complete by {due.isoformat()}, which cannot be met from "
                f"{now.isoformat(timespec='minutes')}; move the post later or start sooner",
                p.where))
    return issues


def _themes(plan: Plan) -> list[PlanIssue]:
    return [PlanIssue("error", "plan.theme", f"week {w} is outside the plan's "
                      f"{plan.weeks} weeks", f"themes.{w}")
            for w in sorted(plan.themes) if not 1 <= w <= plan.weeks]


def _observances(plan: Plan) -> list[PlanIssue]:
    """Observances in the window that no campaign takes up (by id or by name)."""
    taken = {c.observance for c in plan.campaigns if c.observance}
    titles = [c.title.casefold() for c in plan.campaigns]
    issues = []
    for obs, first, last in observances_between(plan.start, plan.end):
        if obs.id in taken or any(obs.name.casefold() in t for t in titles):
            continue
        overlap = (min(last, plan.end) - max(first, plan.start)).days + 1
        if overlap < min(7, (last - first).days + 1):
            continue  # a month the plan only touches: the next plan's
        span = f"{first:%b %d}" if first == last else f"{first:%b %d} to {last:%b %d}"
        issues.append(PlanIssue(
            "suggestion", "plan.observance", f"{obs.name} ({span}, {obs.kind}; "
            f"{obs.sponsor}) falls in the plan and no campaign takes it up "
            f"(campaign observance = {obs.id!r})", obs.id))
    return issues


def day_start(day: date, config: Config, brand: str) -> datetime:
    """The first moment of ``day`` in the brand's time, in UTC."""
    return datetime.combine(day, time(), tzinfo=config.zone_of(brand)).astimezone(UTC)
