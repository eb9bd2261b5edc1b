"""The outcome commands: metrics collect, metrics show and report."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from carecast.cli.commands import JsonOption, _errors, _out, _print_json, app
from carecast.cli.workflow import _publisher
from carecast.errors import InvalidPost

__all__: list[str] = []

metrics_app = typer.Typer(help="Collect and show outcome metrics.", no_args_is_help=True)
app.add_typer(metrics_app, name="metrics")


@metrics_app.command("collect")
def metrics_collect(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Read what is due on the decay schedule ([metrics] schedule) and each account's daily
    counts, once per slot however often it runs (for cron; the worker does it with
    --metrics). Exit code 1 when some reads failed (they are tried again later)."""
    from carecast.metrics import Collector

    with _errors(as_json), _publisher(ctx) as publisher:
        done = Collector(publisher).collect()
    if as_json:
        _print_json(done.model_dump())
    else:
        failed = ", ".join(f"{n} {error}" for error, n in sorted(done.failed.items()))
        typer.echo(f"{done.due} due, {done.claimed} claimed, {done.written} post readings and "
                   f"{done.accounts_written} account readings written"
                   + (f"; failed: {failed}" if failed else ""))
    raise typer.Exit(1 if done.failed else 0)


@metrics_app.command("show")
def metrics_show(
    ctx: typer.Context,
    post_id: Annotated[str | None, typer.Argument(help="Only this post.")] = None,
    brand: Annotated[str | None, typer.Option(help="Only this brand.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Each post's readings on the schedule, as stored."""
    from carecast.metrics import Collector, MetricsView

    with _errors(as_json), _publisher(ctx) as publisher:
        series = MetricsView(Collector(publisher).store).posts(post_id=post_id, brand=brand)
    if as_json:
        _print_json([s.model_dump(mode="json") for s in series])
        return
    from carecast.report.render import offset_label

    table = Table("post", "account", "at", "likes", "reposts", "replies", "reach", "clicks",
                  header_style="bold", box=None)
    for s in series:
        for p in s.points:
            table.add_row(Text(s.post_id), Text(s.account), offset_label(p.offset_s),
                          *(str(v) if v is not None else "" for v in (
                              p.likes, p.reposts, p.replies, p.seen, p.clicks)))
    _out().print(table if series else "no readings yet: run carecast metrics collect")


@app.command()
def report(
    ctx: typer.Context,
    brand: Annotated[str | None, typer.Option(help="Only this brand.")] = None,
    campaign: Annotated[str | None, typer.Option(help="Only this campaign.")] = None,
    start: Annotated[str | None, typer.Option(
        "--from", help="First day (default: 28 days before --to).")] = None,
    end: Annotated[str | None, typer.Option(
        "--to", help="Day after the last (default: tomorrow, in brand time).")] = None,
    html: Annotated[Path | None, typer.Option(help="Write the HTML page with charts here.")
                    ] = None,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print CSV on stdout.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Reach, engagements, engagement rate, clicks and follower growth per post, channel,
    campaign and brand, the best posting times, and the change from the period before."""
    from carecast.metrics import Collector, MetricsView
    from carecast.report import build_report, report_csv, report_html, report_json

    with _errors(as_json):
        if sum((html is not None, as_csv, as_json)) != 1:
            raise InvalidPost("give one of --html FILE, --csv or --json", [("html", "missing")])
        with _publisher(ctx) as publisher:
            made = build_report(MetricsView(Collector(publisher).store), publisher.config,
                                now=publisher.clock.now(), brand=brand, campaign=campaign,
                                start=_day(start, "--from"), end=_day(end, "--to"))
        if html is not None:
            html.write_text(report_html(made), encoding="utf-8")
            typer.echo(f"{len(made.posts)} posts; the report is in {html}", err=True)
    if as_json:
        sys.stdout.write(report_json(made) + "\n")
    elif as_csv:
        sys.stdout.write(report_csv(made))


def _day(value: str | None, name: str) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        raise InvalidPost(f"{name}: give a day such as 2027-03-01",
                          [(name.lstrip("-"), "invalid")]) from None
