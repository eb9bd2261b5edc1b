"""The gate: apply review findings to a post or a draft.

BLOCK stops the target, REVIEW holds it for a person's approval, REDACT rewrites the spans it
names, WARN and INFO only go into the report. A REDACT whose spans do not fit the field blocks:
the gate fails closed.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel

from carecast.findings import Action, Finding, Span
from carecast.post import Part

__all__ = ["GateResult", "apply_findings"]

M = TypeVar("M", bound=BaseModel)
_TOKEN = re.compile(r"([a-z_]+)(?:\[(\d+)\])?")


@dataclass(frozen=True)
class GateResult:
    """The gate's decision: ``blocked``, ``needs_review`` or neither, and the rewritten item."""

    item: Any
    findings: tuple[Finding, ...]

    @property
    def blocked(self) -> bool:
        """A BLOCK finding stops it."""
        return any(f.action is Action.BLOCK for f in self.findings)

    @property
    def needs_review(self) -> bool:
        """A REVIEW finding holds it until a person approves."""
        return any(f.action is Action.REVIEW for f in self.findings)


def apply_findings(item: M, findings: Sequence[Finding],
                   count: Callable[[str], int] | None = None) -> GateResult:
    """Apply REDACT findings to ``item`` (a Post or Draft) and report what else holds it.

    ``count`` re-measures a draft part after its text was redacted.
    """
    out: list[Finding] = []
    by_field: dict[str, list[Finding]] = {}
    for finding in findings:
        if finding.action is Action.REDACT:
            by_field.setdefault(finding.field, []).append(finding)
        else:
            out.append(finding)
    # Every span of a field is applied at once: spans are places in the text as reviewed, so
    # one redaction must not shift the next. Spans of several checks that overlap are merged.
    for field, group in by_field.items():
        try:
            spans = _merged([span for f in group for span in f.spans])
            item = _rewrite(item, _path(field), spans, count)
        except (ValueError, IndexError, AttributeError, TypeError):
            out.extend(Finding(
                action=Action.BLOCK, code="review.bad_redaction", check=f.check,
                account=f.account, field=f.field,
                message=f"{f.check or 'a check'} asked to redact {f.field}, but its "
                        "spans do not fit that field; the post is held",
            ) for f in group)
            continue
        out.extend(group)
    return GateResult(item, tuple(sorted(out, key=lambda f: f.action.rank)))


def _merged(spans: Sequence[Span]) -> list[Span]:
    """Spans in order, overlapping ones joined (the first one's replacement is kept)."""
    out: list[Span] = []
    for span in sorted(spans, key=lambda s: (s.start, s.end)):
        if out and span.start < out[-1].end:
            last = out[-1]
            out[-1] = last.model_copy(update={"end": max(last.end, span.end)})
        else:
            out.append(span)
    return out


def _path(field: str) -> list[str | int]:
    tokens: list[str | int] = []
    for piece in field.split("."):
        match = _TOKEN.fullmatch(piece)
        if match is None:
            raise ValueError(field)
        tokens.append(match.group(1))
        if match.group(2) is not None:
            tokens.append(int(match.group(2)))
    return tokens


def _rewrite(value: Any, path: list[str | int], spans: Sequence[Span],
             count: Callable[[str], int] | None) -> Any:
    if not path:
        if not isinstance(value, str):
            raise TypeError("only text can be redacted")
        return _redact(value, spans)
    head, rest = path[0], path[1:]
    if isinstance(head, int):
        items = list(value)
        items[head] = _rewrite(items[head], rest, spans, count)
        return tuple(items)
    if not isinstance(value, BaseModel) or head not in type(value).model_fields:
        raise AttributeError(head)
    new = _rewrite(getattr(value, head), rest, spans, count)
    update: dict[str, Any] = {head: new}
    if isinstance(value, Part) and head == "text" and count is not None:
        update["length"] = count(new)
    return value.model_copy(update=update)


def _redact(text: str, spans: Sequence[Span]) -> str:
    ordered = sorted(spans, key=lambda s: s.start)
    for a, b in itertools.pairwise(ordered):
        if b.start < a.end:
            raise ValueError("overlapping spans")
    if ordered and ordered[-1].end > len(text):
        raise IndexError("span past the end of the text")
    for span in reversed(ordered):
        text = text[:span.start] + span.replacement + text[span.end:]
    return text
