"""``BrandReport``: per account and field, match / drift / missing, and the exact fix."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["AccountReport", "BrandReport", "FieldCheck", "Status"]

#: The fields the audit compares, in report order.
FIELDS = ("name", "handle", "description", "website", "phone", "address", "hours", "avatar")


class Status(StrEnum):
    """How a profile field compares with the brand."""

    MATCH = "match"
    DRIFT = "drift"
    MISSING = "missing"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class FieldCheck(_Model):
    """One field of one account: what it is, what it should be, and how to fix it."""

    field: str
    status: Status
    live: str | None = None
    expected: str | None = None
    fix: str | None = Field(
        default=None, description="The value to set, fitted to the platform's limit.")
    note: str = ""
    sets: str | None = Field(
        default=None, description="The profile field the fix is written to, when it is not "
                                  "this one (a phone number in the description).")
    majority: bool = Field(
        default=False, description="The expected value is the accounts' majority, not the "
                                   "brand's (the brand gives none).")


class AccountReport(_Model):
    """One account's profile against the brand; ``error`` when it could not be read."""

    account: str
    channel: str
    #: The place this row is about when one account lists several (a Business Profile's
    #: locations, ``locations/{id}``); None for an account with one profile.
    location: str | None = None
    handle: str | None = None
    url: str | None = None
    avatar_sha256: str | None = None
    checks: tuple[FieldCheck, ...] = ()
    error: str | None = None

    @property
    def drift(self) -> bool:
        """True when a field drifts or is missing, or the profile could not be read."""
        return self.error is not None or any(c.status is not Status.MATCH for c in self.checks)

    def check(self, field: str) -> FieldCheck | None:
        """The check of ``field``, if the audit made one."""
        return next((c for c in self.checks if c.field == field), None)


class BrandReport(_Model):
    """Every account of a brand against its canonical profile (or the accounts' majority)."""

    brand: str
    name: str
    avatar_sha256: str | None = Field(default=None, description="The brand's avatar file.")
    accounts: tuple[AccountReport, ...] = ()

    @property
    def drift(self) -> bool:
        """True when any account drifts (the ``brand audit`` exit code 1)."""
        return any(a.drift for a in self.accounts)

    def counts(self) -> dict[str, int]:
        """How many field checks match, drift or are missing; and accounts not read."""
        out = {s.value: 0 for s in Status} | {"error": 0}
        for account in self.accounts:
            out["error"] += account.error is not None
            for check in account.checks:
                out[check.status.value] += 1
        return out

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON, with the counts and the overall drift."""
        return {**self.model_dump(mode="json"), "drift": self.drift, "counts": self.counts()}
