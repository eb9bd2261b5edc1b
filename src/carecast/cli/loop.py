"""The publishing-loop commands: worker, schedule, freeze, thaw, takedown and posts."""

from __future__ import annotations

import signal
import threading
from datetime import datetime
from types import FrameType
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from carecast.cli import commands
from carecast.cli.commands import JsonOption, _errors, _out, _print_json, app
from carecast.cli.workflow import AccountsOption, AsOption, _publisher
from carecast.errors import InvalidPost
from carecast.records import State

__all__: list[str] = []


def _time(value: str, name: str) -> datetime:
    """An ISO time; without a UTC offset it is the brand's local time."""
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise InvalidPost(f"{name}: give a time such as 2027-03-14T09:00 (the brand's local "
                          "time) or 2027-03-14T09:00-04:00", [(name.lstrip("-"), "invalid")]
                          ) from None


@app.command()
def worker(
    ctx: typer.Context,
    once: Annotated[bool, typer.Option("--once", help="One pass, then exit (for cron).")] = False,
    interval: Annotated[float, typer.Option(min=0.1, max=3600, help="Seconds between passes.")
                        ] = 10.0,
    celery: Annotated[bool, typer.Option(
        "--celery", help="Run as a Celery worker (the celery extra; CARECAST_CELERY_*).")
                      ] = False,
    beat: Annotated[bool, typer.Option(
        "--beat", help="With --celery: also run the schedule that enqueues what is due.")
                    ] = False,
    metrics: Annotated[bool, typer.Option(
        "--metrics", help="Also collect outcome metrics on their schedule ([metrics]).")
                       ] = False,
    metrics_interval: Annotated[float, typer.Option(
        min=1, max=86400, help="Seconds between metrics collections.")] = 300.0,
) -> None:
    """Publish what is due: scheduled posts, approved drafts, sends a crashed worker left.
    Runs until stopped; SIGTERM or Ctrl-C finishes the sends in flight, then exits."""
    if celery:
        from carecast.celery import make_app, worker_argv

        with _errors(False):
            celery_app = make_app(commands._config(ctx))
        celery_app.worker_main(worker_argv(beat=beat))
        return
    stop = threading.Event()

    def _stop(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    from carecast.publish.worker import Worker

    with _errors(False), _publisher(ctx) as publisher, Worker(publisher) as work:
        previous = {s: signal.signal(s, _stop) for s in (signal.SIGTERM, signal.SIGINT)}
        collecting = _collecting(publisher, stop, metrics_interval, once) if metrics else None
        try:
            sent = work.run(once=once, interval=interval, stop=stop)
        finally:
            if collecting is not None:
                if not once:  # --once collects everything due; otherwise stop with the worker
                    stop.set()
                collecting.join()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
    typer.echo(f"worker stopped: {sent} target(s) handled", err=True)


def _collecting(publisher: Any, stop: threading.Event, interval: float, once: bool
                ) -> threading.Thread:
    """The worker's metrics thread: one collection with ``once``, else ``Collector.run``
    every ``interval`` seconds until ``stop``."""
    from carecast.metrics import Collector

    collector = Collector(publisher)
    thread = threading.Thread(
        target=collector.collect if once else collector.run,
        kwargs={"stop": stop} if once else {"stop": stop, "interval": interval},
        name="carecast-metrics", daemon=True)
    thread.start()
    return thread


@app.command()
def schedule(
    ctx: typer.Context,
    post_id: str,
    at: Annotated[str | None, typer.Option(
        "--at", help="The new time (the brand's local time unless it has an offset).")] = None,
    next_slot: Annotated[str | None, typer.Option(
        "--next-slot", metavar="ACCOUNT", help="The account's next free posting slot.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Give a stored post a new time; targets held because their time passed wait again."""
    with _errors(as_json), _publisher(ctx) as publisher:
        if (at is None) == (next_slot is None):
            raise InvalidPost("give either --at TIME or --next-slot ACCOUNT",
                              [("at", "missing")])
        when = _time(at, "--at") if at is not None else publisher.next_slot(str(next_slot))
        post = publisher.schedule(post_id, when)
    assert post.schedule is not None
    if as_json:
        _print_json({"post_id": post.id, "schedule": post.schedule.isoformat()})
    else:
        typer.echo(f"post {post.id} scheduled for {post.schedule.isoformat()}")


@app.command()
def freeze(
    ctx: typer.Context,
    reason: Annotated[str, typer.Option(help="Why (recorded in the audit trail).")],
    by: AsOption,
    brand: Annotated[str | None, typer.Option(help="Only this brand (default: all).")] = None,
    until: Annotated[str | None, typer.Option(help="It ends by itself then.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Stop every send at once (running workers stop within a second) and take natively
    scheduled posts off the platforms' schedules."""
    with _errors(as_json), _publisher(ctx) as publisher:
        frozen = publisher.freeze(reason=reason, by=by, brand=brand,
                                  until=_time(until, "--until") if until else None)
    if as_json:
        _print_json(frozen.to_dict())
    else:
        typer.echo(f"freeze {frozen.id} of {frozen.brand or 'every brand'} started; "
                   "carecast thaw ends it")


@app.command()
def thaw(
    ctx: typer.Context,
    by: AsOption,
    brand: Annotated[str | None, typer.Option(help="Only this brand's freezes.")] = None,
    as_json: JsonOption = False,
) -> None:
    """End the freeze; posts whose time passed during it wait for a person."""
    with _errors(as_json), _publisher(ctx) as publisher:
        ended = publisher.thaw(by=by, brand=brand)
    if as_json:
        _print_json([f.to_dict() for f in ended])
    else:
        typer.echo(f"{len(ended)} freeze(s) ended" if ended else "nothing was frozen")


@app.command()
def takedown(
    ctx: typer.Context,
    post_id: str,
    reason: Annotated[str, typer.Option(help="Why (recorded in the audit trail).")],
    by: AsOption,
    account: AccountsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Delete a post from every platform it reached; report where it was and when it came
    down. Exit code 1 when a deletion failed."""
    with _errors(as_json), _publisher(ctx) as publisher:
        done = publisher.takedown(post_id, reason=reason, by=by, accounts=account or ())
    if as_json:
        _print_json([d.to_dict() for d in done])
    else:
        table = Table("account", "channel", "remote id", "published", "removed",
                      header_style="bold", box=None)
        for d in done:
            table.add_row(Text(d.account), Text(d.channel), Text(d.remote_id),
                          Text(d.published_at.isoformat(timespec="seconds")),
                          Text(d.removed_at.isoformat(timespec="seconds")) if d.removed_at
                          else Text(f"failed: {d.error.message if d.error else ''}",
                                    style="red"))
        _out().print(table if done else "nothing of it was published")
    raise typer.Exit(1 if any(d.removed_at is None for d in done) else 0)


@app.command()
def posts(
    ctx: typer.Context,
    brand: Annotated[str | None, typer.Option(help="Only this brand's posts.")] = None,
    state: Annotated[State | None, typer.Option(help="Only posts with a target in it.")
                     ] = None,
    as_json: JsonOption = False,
) -> None:
    """List stored posts, newest first, with their times and each target's state."""
    with _errors(as_json), _publisher(ctx) as publisher:
        rows: list[dict[str, Any]] = []
        for stored in publisher.ledger.stored():
            post, targets = stored.post, stored.attempts
            if brand and (post.brand or publisher.config.default_brand()) != brand:
                continue
            if state is not None and all(t.state != state for t in targets):
                continue
            rows.append({"post_id": post.id, "brand": post.brand,
                         "stored_at": stored.stored_at.isoformat(),
                         "schedule": post.schedule.isoformat() if post.schedule else None,
                         "not_after": post.not_after.isoformat() if post.not_after else None,
                         "targets": {t.account: str(t.state) for t in targets}})
    if as_json:
        _print_json(rows)
        return
    table = Table("post", "stored", "scheduled", "targets", header_style="bold", box=None)
    for r in rows:
        table.add_row(Text(r["post_id"]), Text(str(r["stored_at"] or "-")[:16]),
                      Text(str(r["schedule"] or "-")[:16]),
                      Text(", ".join(f"{a}: {s}" for a, s in r["targets"].items())))
    _out().print(table if rows else "no posts in the store")
