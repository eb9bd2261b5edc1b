"""Tables and plain data for the ``carecast`` command; no decisions are made here.

Everything from a post, a platform or a check is wrapped in ``rich.text.Text`` so that square
brackets in it (``parts[0].text``, ``[redacted]``) are printed as they are, never as markup.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rich import box
from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from carecast.records import State

if TYPE_CHECKING:  # the publishing stack is not loaded for a listing (carecast channels)
    from carecast.findings import Finding
    from carecast.post import Draft, Media, Post
    from carecast.publish import Outcome, Preview, PublishReport, TargetPreview
    from carecast.records import Attempt

__all__ = [
    "ChannelRow",
    "attempt_outcome",
    "channels_table",
    "findings_table",
    "marked_post",
    "preview_dict",
    "preview_view",
    "progress",
    "report_table",
    "status_dict",
    "status_table",
]

_STYLE = {
    State.PUBLISHED: "green",
    State.PENDING: "cyan",
    State.SENDING: "yellow",
    State.AWAITING_APPROVAL: "yellow",
    State.UNKNOWN: "magenta",
    State.FAILED: "red",
    State.BLOCKED: "bold red",
    State.HELD: "yellow",
    State.TAKEN_DOWN: "dim",
}
_ACTION_STYLE = {"block": "bold red", "review": "yellow", "redact": "magenta", "warn": "yellow",
                 "info": "dim"}


def _state(state: State) -> Text:
    return Text(str(state), style=_STYLE.get(state, ""))


def _table(*columns: str) -> Table:
    table = Table(box=box.SIMPLE_HEAD, show_edge=False)
    for column in columns:
        table.add_column(column, overflow="fold")
    return table


def _titled(title: str, table: Table) -> Group:
    return Group(Text(title, style="bold"), table)


# -- publish, retry, status -------------------------------------------------------------------


def report_table(report: PublishReport, source: str | None = None) -> Group:
    """One row per target: account, channel, state and ``Outcome.summary``."""
    what = f"post {report.post_id}" + (f" ({source})" if source else "")
    title = f"{what}: dry run, nothing stored or sent" if report.dry_run else what
    table = _table("account", "channel", "state", "detail")
    for outcome in report.outcomes:
        detail = outcome.summary
        if report.dry_run and detail == str(State.PENDING):
            detail = "would be sent"
        table.add_row(Text(outcome.account), Text(outcome.channel), _state(outcome.state),
                      Text(detail))
    return _titled(title, table)


def findings_table(findings: Sequence[Finding], title: str = "findings") -> Group | None:
    """Review findings (messages say where, never quote the content); None when there are none."""
    if not findings:
        return None
    table = _table("account", "action", "code", "field", "message")
    for f in findings:
        table.add_row(Text(f.account or "(all)"), Text(str(f.action),
                      style=_ACTION_STYLE.get(str(f.action), "")),
                      Text(f.code), Text(f.field), Text(f.message))
    return _titled(title, table)


def report_findings(report: PublishReport) -> list[Finding]:
    """The post's findings and each target's, once each."""
    seen: dict[str, Finding] = {}
    for f in [*report.findings, *(f for o in report.outcomes for f in o.findings)]:
        seen.setdefault(f.model_dump_json(), f)
    return list(seen.values())


def attempt_outcome(attempt: Attempt) -> Outcome:
    """A ledger row as an ``Outcome``, for its summary."""
    from carecast.publish.report import Outcome

    return Outcome.of(attempt.account, attempt.channel, attempt.state, draft=attempt.draft,
                      receipt=attempt.receipt, error=attempt.error, findings=attempt.findings,
                      tries=attempt.tries)


def status_table(post_id: str, rows: Sequence[Attempt]) -> Group:
    """The ledger rows of one post."""
    table = _table("account", "channel", "state", "tries", "updated", "detail")
    for row in rows:
        table.add_row(Text(row.account), Text(row.channel), _state(row.state), str(row.tries),
                      row.updated_at.strftime("%Y-%m-%d %H:%M:%S %Z"),
                      Text(attempt_outcome(row).summary))
    return _titled(f"post {post_id}", table)


def status_dict(post_id: str, rows: Sequence[Attempt]) -> dict[str, Any]:
    """The ledger rows as plain data (no post text)."""
    return {"post_id": post_id, "targets": [
        {**attempt_outcome(row).to_dict(), "key": row.key,
         "updated_at": row.updated_at.isoformat()} for row in rows]}


@contextmanager
def progress(console: Console, label: str, *, enabled: bool = True
             ) -> Iterator[Callable[[Outcome], None] | None]:
    """A progress bar over the fan-out; yields the ``on_progress`` callback (None if disabled)."""
    if not enabled:
        yield None
        return
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
               TextColumn("{task.completed} done"), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task(label, total=None)

        def advance(outcome: Outcome) -> None:  # called from worker threads; rich locks
            bar.update(task, advance=1,
                       description=f"{label}: {outcome.account} {outcome.state}")

        yield advance


# -- preview ----------------------------------------------------------------------------------


def _media_line(index: int, item: Media) -> Text:
    line = Text(f"  media {index + 1}: {item.filename} ({item.kind})  alt text: ")
    if item.alt_text:
        line.append(item.alt_text)
    else:
        line.append("MISSING", style="bold red")
    return line


def _length(length: int, limit: int | None, unit: str) -> Text:
    over = limit is not None and length > limit
    return Text(f"{length}/{limit} {unit}" if limit is not None else f"{length} {unit}",
                style="bold red" if over else "green")


def _draft_lines(draft: Draft, target: TargetPreview) -> list[RenderableType]:
    channel = target.instance
    unit = channel.text_unit if channel is not None else "characters"
    max_title = channel.max_title if channel is not None else None
    lines: list[RenderableType] = []
    if draft.title is not None:
        lines.append(Text.assemble("title: ", draft.title, "  ",
                                   _length(len(draft.title), max_title, "characters")))
    if draft.link:
        lines.append(Text.assemble("link: ", draft.link))
    total = len(draft.parts)
    for i, part in enumerate(draft.parts):
        head = f"part {i + 1} of {total}" if total > 1 else "text"
        lines.append(Text.assemble((head, "bold"), "  ", _length(part.length, part.limit, unit),
                                   *_segments(draft)))
        lines.append(Text(part.text))
        lines.extend(_media_line(j, m) for j, m in enumerate(part.media))
    return lines


def _segments(draft: Draft) -> tuple[str, ...]:
    """How an SMS draft is split into carrier segments, for the preview."""
    count, encoding = draft.options.get("segments"), draft.options.get("encoding")
    if count is None or encoding is None:
        return ()
    return (f"  {count} SMS segment{'s' if count != 1 else ''} ({encoding})",)


def marked_post(post: Post, findings: Sequence[Finding]) -> list[Text]:
    """The post's own texts with each flagged span underlined and tagged with its category
    (``«phi.name»``): for the terminal only, never for a report, log or the store. The
    marking is the HTML preview's (``carecast.preview_page.marks``)."""
    from carecast.preview_page import marks, post_texts, segments

    lines: list[Text] = []
    for field_name, value in post_texts(post).items():
        found = marks(findings, field_name, value)
        if not found:
            continue
        line = Text(f"{field_name}: ", style="bold")
        for piece, mark in segments(value, found):
            if mark is None:
                line.append(piece)
            else:
                line.append(piece, style="bold red underline")
                line.append(f"«{mark.code}»", style="red")
        lines.append(line)
    return lines


def preview_view(preview: Preview) -> list[RenderableType]:
    """One panel per account: the draft's parts, lengths, title, media, findings."""
    from rich.panel import Panel

    out: list[RenderableType] = []
    for target in preview.targets:
        body: list[RenderableType] = []
        if target.held_until is not None:
            body.append(Text(f"held until {target.held_until.isoformat()} (the channel cannot "
                             "schedule; publish again at or after that time)", style="cyan"))
        if target.error is not None:
            body.append(Text(f"{target.error.type}: {target.error.message}", style="red"))
        if target.draft is not None:
            body.extend(_draft_lines(target.draft, target))
        table = findings_table(target.findings)
        if table is not None:
            body.append(table)
        title = Text.assemble(target.account, " · ", target.channel, " · ",
                              _state(target.state))
        out.append(Panel(Group(*body), title=title, title_align="left", box=box.ROUNDED))
    return out


def _media_dict(item: Media) -> dict[str, Any]:
    return {"source": item.source, "filename": item.filename, "kind": str(item.kind),
            "alt_text": item.alt_text}


def preview_dict(preview: Preview) -> dict[str, Any]:
    """The preview as plain data, drafts included."""
    targets = []
    for t in preview.targets:
        draft = t.draft
        targets.append({
            "account": t.account, "channel": t.channel, "state": str(t.state),
            "held_until": t.held_until.isoformat() if t.held_until else None,
            "error": t.error.to_dict() if t.error else None,
            "findings": [f.model_dump(mode="json") for f in t.findings],
            "title": draft.title if draft else None,
            "link": draft.link if draft else None,
            "parts": [{"number": i + 1, "text": p.text, "length": p.length, "limit": p.limit,
                       "media": [_media_dict(m) for m in p.media]}
                      for i, p in enumerate(draft.parts)] if draft else [],
        })
    return {"post_id": preview.post.id, "ok": preview.ok,
            "findings": [f.model_dump(mode="json") for f in preview.findings],
            "targets": targets}


# -- channels ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChannelRow:
    """One installed channel, or the error that stops it from loading."""

    name: str
    title: str = ""
    limits: dict[str, Any] = field(default_factory=dict)
    capabilities: tuple[str, ...] = ()
    error: str | None = None
    #: ``Channel.features()``: the flags, the extra it needs and the platform's notes.
    features: dict[str, Any] = field(default_factory=dict)


def _limits_text(limits: dict[str, Any]) -> str:
    text = limits.get("max_text")
    bits = [f"text {text} {limits.get('text_unit')}" if text else "text unlimited"]
    if limits.get("url_length"):
        bits.append(f"URLs count {limits['url_length']}")
    if limits.get("max_title"):
        bits.append(f"title {limits['max_title']}")
    if limits.get("requires_title"):
        bits.append("title required")
    kinds = ", ".join(limits.get("media_kinds", [])) or "none"
    bits.append(f"media {limits.get('max_media', 0)} ({kinds})")
    if limits.get("requires_media"):
        bits.append("media required")
    if limits.get("per_account"):  # with a carecast.toml, as its [publish] sets them
        cap = f", {limits['concurrency']} in all" if limits.get("concurrency") else ""
        bits.append(f"in flight: {limits['per_account']} per account, "
                    f"{limits.get('per_host')} per host{cap}; a rate limit slows the "
                    f"{limits.get('rate_limits_by', 'account')}")
    return "; ".join(bits)


def _features(row: ChannelRow) -> str:
    flags = [name for name in ("supports_threads", "supports_scheduling") if row.limits.get(name)]
    names = [f.removeprefix("supports_") for f in flags] + list(row.capabilities)
    # two a line: the limits beside them keep their width
    return "\n".join(", ".join(names[i:i + 2]) for i in range(0, len(names), 2))


def channel_notes(rows: Sequence[ChannelRow]) -> list[str]:
    """What the table cannot hold: each channel's missing extra and its platform's notes."""
    lines = []
    for row in rows:
        if row.features.get("missing_packages"):
            lines.append(f"{row.name}: needs pip install 'carecast[{row.features['extra']}]'")
        lines.extend(f"{row.name}: {note}" for note in row.features.get("notes", ()))
    return lines


def channels_table(rows: Sequence[ChannelRow]) -> Table:
    """Every installed channel with its limits and capabilities."""
    table = _table("name", "title", "limits", "features")
    for row in rows:
        if row.error is not None:
            table.add_row(Text(row.name), Text("cannot be loaded", style="red"),
                          Text(row.error, style="red"), "")
        else:
            table.add_row(Text(row.name), Text(row.title), Text(_limits_text(row.limits)),
                          Text(_features(row)))
    return table
