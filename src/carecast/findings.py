"""What a review hook returns: a ``Finding`` with the ``Action`` the gate takes."""

from __future__ import annotations

import re
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["Action", "Finding", "Span"]

_FIELD = re.compile(r"^(text|title|link|thread\[\d+\]|parts\[\d+\]\.text|"
                    r"(parts\[\d+\]\.)?media\[\d+\]\.(alt_text|title|source)|\*)$")


class Action(StrEnum):
    """What the gate does with a finding, strongest first."""

    BLOCK = "block"
    REVIEW = "review"
    REDACT = "redact"
    WARN = "warn"
    INFO = "info"

    @property
    def rank(self) -> int:
        """0 for BLOCK up to 4 for INFO."""
        return list(Action).index(self)


class Span(BaseModel):
    """A character range ``[start, end)`` in a field, and what REDACT puts in its place."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    start: int = Field(ge=0)
    end: int = Field(ge=0)
    replacement: str = "[redacted]"

    @model_validator(mode="after")
    def _order(self) -> Span:
        if self.end < self.start:
            raise ValueError("a span's end must not be before its start")
        return self


class Finding(BaseModel):
    """One thing a check noticed.

    ``message`` must say *where* and *why*, never quote the protected information itself:
    findings are stored, audited and printed. ``field`` names the place: ``text``, ``title``,
    ``link``, ``thread[N]``, ``media[N].alt_text`` on a post; ``parts[N].text`` or
    ``parts[N].media[M].alt_text`` on a draft; ``*`` for the whole post.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    action: Action
    code: str = Field(pattern=r"^[a-z0-9_.-]{1,64}$", description="Such as 'phi.ssn'.")
    message: str = Field(max_length=500)
    field: str = "*"
    spans: tuple[Span, ...] = ()
    confidence: float | None = Field(default=None, ge=0.0, le=1.0)
    check: str = Field(default="", description="The plugin that made it; set by carecast.")
    account: str | None = Field(
        default=None, description="The account it applies to; None for the whole post."
    )

    @model_validator(mode="after")
    def _valid(self) -> Finding:
        if not _FIELD.fullmatch(self.field):
            raise ValueError(
                f"field {self.field!r} is not a place in a post or draft; use 'text', 'title', "
                "'link', 'thread[N]', 'media[N].alt_text', 'parts[N].text' or '*'"
            )
        if self.action is Action.REDACT and not self.spans:
            raise ValueError("a REDACT finding needs the spans to redact")
        return self
