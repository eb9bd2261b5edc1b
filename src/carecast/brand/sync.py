"""Sync: from an audit's fixes to profile updates, where the platform's API allows them.

``plan`` turns each drifting account's fixes into the ``ProfileChanges`` its channel can make
(``update_profile`` and the channel's ``profile_fields``) and the steps left to do by hand,
each with the reason; ``apply`` makes the changes, one account's failure never stopping the
others.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from carecast.brand.report import BrandReport, FieldCheck, Status
from carecast.channels.base import Channel
from carecast.errors import CarecastError
from carecast.post import ProfileChanges

__all__ = ["AccountSync", "apply", "plan", "profile_fields"]

#: The ``ProfileChanges`` field each audited field is written to.
CHANGE_OF = {"name": "display_name", "description": "description", "website": "website",
             "phone": "phone", "address": "location", "avatar": "avatar"}
_LABEL = {"display_name": "the display name", "description": "the description",
          "website": "the website", "phone": "the phone number", "location": "the address",
          "avatar": "the avatar"}


@dataclass(frozen=True)
class ByHand:
    """A fix the API cannot make: the field, what to set, and why it is left to a person."""

    field: str
    fix: str | None
    reason: str


@dataclass
class AccountSync:
    """One account: the changes to send, the checks they fix, and what is left by hand."""

    account: str
    channel: str
    changes: ProfileChanges
    fixes: list[FieldCheck] = field(default_factory=list)
    by_hand: list[ByHand] = field(default_factory=list)
    error: str | None = None
    applied: bool = False


def profile_fields(channel: type[Channel]) -> frozenset[str]:
    """The ``ProfileChanges`` fields a channel's ``update_profile`` can change."""
    if "update_profile" not in channel.capabilities():
        return frozenset()
    declared: frozenset[str] = getattr(channel, "profile_fields", frozenset())
    return frozenset(declared)


def plan(report: BrandReport, channel_of: Callable[[str], Channel], *,
         root: Path | None = None) -> list[AccountSync]:
    """What ``apply`` would change on each drifting account, and what is left by hand.

    ``root`` is the folder the brand's avatar path starts from (the configuration's).
    """
    out: list[AccountSync] = []
    for account in report.accounts:
        if account.error is not None or not account.drift:
            continue
        cls = type(channel_of(account.account))
        can = profile_fields(cls)
        title = getattr(cls, "title", account.channel)
        values: dict[str, object] = {}
        sync = AccountSync(account.account, account.channel, ProfileChanges())
        checks = sorted((c for c in account.checks if c.status is not Status.MATCH),
                        key=lambda c: c.field != "description")  # a new bio wins
        for check in checks:
            target = check.sets or CHANGE_OF.get(check.field)
            if check.field == "handle":
                sync.by_hand.append(ByHand(check.field, check.expected,
                                           f"a handle is changed in the {title} settings; "
                                           "it must match the brand's pattern"))
                continue
            if target is None:  # opening hours: no profile update carries them
                sync.by_hand.append(ByHand(check.field, check.fix,
                                           f"set the {check.field} in the {title} listing "
                                           "itself"))
                continue
            if check.fix is None:
                sync.by_hand.append(ByHand(check.field, None, _no_fix(check)))
                continue
            if target in values:
                continue  # the description fix already carries it
            if target not in can:
                sync.by_hand.append(ByHand(check.field, check.fix, _not_by_api(
                    title, target, bool(can))))
                continue
            value: object = check.fix
            if target == "avatar":
                path = Path(check.fix).expanduser()
                value = path if path.is_absolute() or root is None else root / path
            values[target] = value
            sync.fixes.append(check)
        sync.changes = ProfileChanges.model_validate(values)
        out.append(sync)
    return out


def apply(syncs: Sequence[AccountSync], channel_of: Callable[[str], Channel]) -> None:
    """Send each account's changes; an error is kept on its ``AccountSync``."""
    for sync in syncs:
        if not sync.changes.fields():
            continue
        try:
            channel_of(sync.account).update_profile(sync.changes)
        except CarecastError as exc:
            sync.error = str(exc)
        else:
            sync.applied = True


def _no_fix(check: FieldCheck) -> str:
    if check.field == "avatar":
        return "set the brand's avatar file ([brands.NAME] avatar) to have a logo to upload"
    return "the brand gives no value for it; set it in [brands.NAME]"


def _not_by_api(title: str, target: str, any_field: bool) -> str:
    if not any_field:
        return (f"{title} allows no profile update through its API: change "
                f"{_LABEL[target]} by hand in its settings")
    return (f"the {title} API cannot change {_LABEL[target]}: change it by hand in its "
            "settings")
