"""The listening commands: ``carecast listen`` (once or ``--follow``) and ``carecast inbox``."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from carecast.cli.commands import JsonOption, _errors, _out, _print_json, app
from carecast.cli.workflow import _publisher
from carecast.errors import ConfigurationError, InvalidPost

__all__: list[str] = []


@app.command()
def listen(
    ctx: typer.Context,
    follow: Annotated[bool, typer.Option(
        "--follow", help="Keep reading every [listen] interval seconds until interrupted.")
    ] = False,
    rounds: Annotated[int | None, typer.Option(
        "--rounds", min=1, help="With --follow: stop after this many rounds.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Collect mentions, replies, quotes and comments of every account, and every
    [listen.queries] search, into the store; purge what is past its retention. Exit code 1
    when a source failed."""
    with _errors(as_json), _publisher(ctx) as publisher:
        from carecast.listen import Listener, check_spikes

        listener = Listener(publisher)
        if follow:
            reports = listener.follow(rounds=rounds)
        else:
            reports = [listener.run_once()]
            check_spikes(publisher, listener.store)
    results = [r for report in reports for r in report.results]
    if as_json:
        _print_json([r.to_dict() for r in reports] if follow else reports[0].to_dict())
    else:
        table = Table("source", "status", "read", "new", "note", header_style="bold", box=None)
        for r in results:
            table.add_row(Text(r.source), Text(r.status), str(r.read), str(r.new),
                          Text(r.message))
        out = _out()
        out.print(table if results else Text("nothing to listen to: no account reads "
                                             "mentions and [listen.queries] is empty"))
        for report in reports:
            for brand, count in sorted(report.purged.items()):
                out.print(f"purged {count} items of {brand or 'no brand'} past their retention")
    raise typer.Exit(1 if any(r.status == "failed" for r in results) else 0)


@app.command()
def inbox(
    ctx: typer.Context,
    brand: Annotated[str | None, typer.Option("--brand", help="Only this brand.")] = None,
    query: Annotated[str | None, typer.Option("--query", help="Only this query's items.")
                     ] = None,
    since: Annotated[str | None, typer.Option(
        "--since", help="Only items from this time on (ISO 8601 with a zone).")] = None,
    every: Annotated[bool, typer.Option(
        "--all", help="Every item, not only those triage labelled.")] = False,
    html: Annotated[Path | None, typer.Option(
        "--html", help="Also write the digest page here.")] = None,
    as_json: JsonOption = False,
) -> None:
    """What needs a person: crisis items first (with the brand's crisis protocol), then
    patient-identifying content, complaints, questions and competitor news; PHI masked."""
    with _errors(as_json), _publisher(ctx) as publisher:
        from carecast.listen import inbox as make_inbox
        from carecast.listen import inbox_html
        from carecast.store.mentions import MentionStore

        box = make_inbox(MentionStore(publisher.ledger), publisher.config, brand=brand,
                         query=query, since=_time(since), every=every)
        if html is not None:
            try:
                html.write_text(inbox_html(box), encoding="utf-8")
            except OSError as exc:
                raise ConfigurationError(f"--html: cannot write {html} ({exc.strerror}); give "
                                         "a path in a folder that exists and you may write "
                                         "to") from None
    if as_json:
        _print_json(box.to_dict())
        return
    out = _out()
    if html is not None:
        out.print(f"inbox page written to {html}", markup=False)
    for name, protocol in box.protocols:
        out.print(Text(f"CRISIS PROTOCOL ({name or 'no brand'}): {protocol}", style="bold red"))
    table = Table("labels", "when", "channel", "author", "text", header_style="bold", box=None)
    for item in box.items:
        table.add_row(Text(", ".join(item.labels), style="bold red" if "crisis" in item.labels
                           else ""), item.created_at.strftime("%Y-%m-%d %H:%M"),
                      Text(item.channel), Text(item.author), Text(item.text))
    out.print(table if box.items else "nothing waits for a person")


def _time(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        when = None
    if when is None or when.tzinfo is None:
        raise InvalidPost(f"--since: {value!r} is not an ISO 8601 time with a zone, such as "
                          "2026-09-21T09:00+00:00", [("since", "not a time with a zone")])
    return when
