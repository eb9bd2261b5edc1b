"""The planning commands: plan check, plan apply and calendar."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from carecast.cli.commands import JsonOption, _errors, _out, _print_json, app
from carecast.cli.workflow import _publisher
from carecast.errors import InvalidPost

__all__: list[str] = []

plan_app = typer.Typer(help="Check a messaging plan, and schedule it.", no_args_is_help=True)
app.add_typer(plan_app, name="plan")

PlanFile = Annotated[Path, typer.Argument(metavar="PLAN", show_default=False,
                                          help="A plan file: .yaml, .yml or .toml.")]
_STYLE = {"error": "bold red", "warning": "yellow", "suggestion": "cyan"}


@plan_app.command("check")
def plan_check(ctx: typer.Context, file: PlanFile, as_json: JsonOption = False) -> None:
    """Gaps, over-posting, posts outside their campaign, approval deadlines that cannot be
    met, and observances no campaign takes up. Exit code 1 when there are errors."""
    with _errors(as_json):
        from carecast.plan import load_plan

        plan = load_plan(file)
        with _publisher(ctx) as publisher:
            issues = publisher.plan_check(plan)
    if as_json:
        _print_json([i.to_dict() for i in issues])
    else:
        table = Table("severity", "where", "issue", header_style="bold", box=None)
        for i in issues:
            table.add_row(Text(i.severity, style=_STYLE[i.severity]), Text(i.where),
                          Text(i.message))
        _out().print(table if issues else f"plan {file}: nothing to fix")
    raise typer.Exit(1 if any(i.severity == "error" for i in issues) else 0)


@plan_app.command("apply")
def plan_apply(
    ctx: typer.Context,
    file: PlanFile,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Say what it would schedule; nothing is stored.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Schedule every post of the plan; applying it again changes nothing. Refused while
    carecast plan check finds errors."""
    with _errors(as_json):
        from carecast.plan import load_plan

        plan = load_plan(file)
        with _publisher(ctx) as publisher:
            steps = publisher.plan_apply(plan, dry_run=dry_run)
    if as_json:
        _print_json([s.to_dict() for s in steps])
    else:
        table = Table("entry", "post", "action", "time", "accounts", "owner",
                      header_style="bold", box=None)
        for s in steps:
            action = f"would {s.action}" if dry_run and s.action in ("schedule", "update") \
                else s.action
            table.add_row(Text(s.where), Text(s.post_id), Text(action),
                          Text(s.schedule.isoformat(timespec="minutes")),
                          Text(", ".join(s.accounts)), Text(s.owner or ""))
        _out().print(table if steps else "the plan has no posts")
    raise typer.Exit(1 if any(s.action == "failed" for s in steps) else 0)


def _day(value: str | None, name: str) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        raise InvalidPost(f"{name}: give a day such as 2027-03-01",
                          [(name.lstrip("-"), "invalid")]) from None


@app.command()
def calendar(
    ctx: typer.Context,
    brand: Annotated[str | None, typer.Option(help="Only this brand's accounts.")] = None,
    start: Annotated[str | None, typer.Option(
        "--from", help="First day (default: today, in brand time).")] = None,
    end: Annotated[str | None, typer.Option(
        "--to", help="Last day (default: 90 days after the first).")] = None,
    plan: Annotated[Path | None, typer.Option(
        help="A plan file: its posts not yet applied show as planned.")] = None,
    html: Annotated[Path | None, typer.Option(help="Write the HTML page here.")] = None,
    ics: Annotated[Path | None, typer.Option(help="Write the iCalendar file here.")] = None,
    as_json: JsonOption = False,
) -> None:
    """What is planned, scheduled, published, held, blocked and frozen, per account: an HTML
    month and week view, an iCalendar file for Outlook or Google Calendar, or --json."""
    from carecast.calendar import build_calendar, calendar_html, calendar_ics

    with _errors(as_json):
        if html is None and ics is None and not as_json:
            raise InvalidPost("give --html FILE, --ics FILE or --json", [("html", "missing")])
        from carecast.plan import load_plan

        the_plan = load_plan(plan) if plan else None
        with _publisher(ctx) as publisher:
            zone = publisher.config.zone_of(brand or publisher.config.default_brand())
            first = _day(start, "--from") or publisher.clock.now().astimezone(zone).date()
            last = _day(end, "--to") or first + timedelta(days=90)
            cal = build_calendar(publisher, first=first, last=last, brand=brand,
                                 plan=the_plan)
        if html is not None:
            html.write_text(calendar_html(cal), encoding="utf-8")
        if ics is not None:
            ics.write_bytes(calendar_ics(cal))
    if as_json:
        _print_json([{"at": e.at.isoformat(), "account": e.account, "channel": e.channel,
                      "status": e.status, "post_id": e.post_id, "label": e.label,
                      "campaign": e.campaign, "owner": e.owner, "url": e.url}
                     for e in cal.entries])
    else:
        typer.echo(f"{len(cal.entries)} entries from {cal.first} to {cal.last}", err=True)
