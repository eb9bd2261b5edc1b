"""The ``carecast`` command: a thin shell over the public API (typer + rich).

Exit codes: 0 when every target is published (or, for a preview or a dry run, would be sent);
1 when a target failed, is unknown or awaits approval; 2 for an invalid post, an invalid
configuration or a blocked post. Errors are one paragraph on stderr that says where the fault is
and how to fix it; they never carry a secret or the post's text.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

import carecast
from carecast.errors import CarecastError, ConfigurationError, InvalidPost, PostRejected

if TYPE_CHECKING:  # each command imports what it needs: `carecast channels` loads no config
    from carecast.config import Config, PublishConfig
    from carecast.findings import Finding
    from carecast.post import Post
    from carecast.publish import Publisher, PublishReport
    from carecast.records import ErrorInfo

__all__ = ["app", "exit_code", "main", "open_publisher"]

app = typer.Typer(
    name="carecast",
    help="Publish one healthcare story to every channel, safely. Exit codes: 0 published, "
         "1 failed / unknown / awaiting approval, 2 invalid input, configuration or blocked.",
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_show_locals=False,  # locals may hold tokens or the post's text
)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON on stdout instead of "
                                                         "tables.")]
OnlyOption = Annotated[list[str] | None, typer.Option(
    "--only", metavar="ACCOUNT", help="Only this target account (repeatable).")]
ResendOption = Annotated[bool, typer.Option(
    "--resend-unknown", help="Send targets whose outcome is unknown without looking them up "
                             "first; only after checking by hand that the platform does not "
                             "have the post.")]


def open_publisher(config: Config) -> Publisher:
    """The publisher every command uses (tests and embedders may replace this function)."""
    from carecast.publish import Publisher

    return Publisher(config)


def _stored_rows(config: Config, post_id: str) -> list[Any]:
    """A post's ledger rows, read from the store alone (no publisher, channels or checks
    load: ``carecast status`` starts fast); ``InvalidPost`` for an id it does not hold."""
    from carecast.store import Ledger

    key_file, checkpoint_file = config.audit_paths()
    rows: list[Any] = []
    try:
        ledger = Ledger(config.store_url(), readonly=True, key_file=key_file,
                        checkpoint_file=checkpoint_file)
    except ConfigurationError:
        ledger = None
    if ledger is not None:
        with ledger:
            rows = ledger.attempts(post_id)
            if rows or ledger.get_post(post_id) is not None:
                return rows
    raise InvalidPost(f"post_id: no post {post_id!r} in the store; carecast posts lists the "
                      "stored ones", [("post_id", "unknown")])


def _code(state: str, error: ErrorInfo | None) -> int:
    """0, 1 or 2 for one target (``State`` is a ``str`` enum)."""
    if state == "blocked" or (state == "failed" and error is not None and error.rejected):
        return 2
    return 1 if state in ("failed", "unknown", "awaiting_approval", "sending",
                                 "held") else 0


def exit_code(targets: Iterable[Any]) -> int:
    """The exit code for outcomes, ledger rows or previewed targets (anything with
    ``state`` and ``error``): the worst of 0 (done or would be sent), 1 (failed, unknown or
    awaiting approval) and 2 (blocked, or failed for a fault in the post or configuration)."""
    return max((_code(t.state, t.error) for t in targets), default=0)


def _out() -> Console:
    return Console(highlight=False)


def _err() -> Console:
    return Console(stderr=True, highlight=False)


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


def _error_dict(exc: CarecastError) -> dict[str, Any]:
    data: dict[str, Any] = {"type": type(exc).__name__, "message": str(exc)}
    if isinstance(exc, InvalidPost):
        data["problems"] = [{"field": f, "message": m} for f, m in exc.problems]
    return data


def _report_error(exc: CarecastError, as_json: bool) -> int:
    """Print a carecast error (its message is safe to show) and return its exit code."""
    code = 2 if isinstance(exc, (PostRejected, ConfigurationError)) else 1
    typer.echo(f"error: {exc}", err=True)
    if as_json:
        _print_json({"error": _error_dict(exc)})
    return code


@contextmanager
def _errors(as_json: bool) -> Iterator[None]:
    """Turn a carecast error into its message and exit code; anything else is a bug."""
    try:
        yield
    except CarecastError as exc:
        raise typer.Exit(_report_error(exc, as_json)) from None


def _config(ctx: typer.Context) -> Config:
    from carecast.config import load_config

    return load_config(ctx.obj)


def _load(path: Path) -> Post:
    from carecast.post import load_post

    return load_post(path)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"carecast {carecast.__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    config: Annotated[Path | None, typer.Option(
        "--config", "-c", metavar="PATH", show_default=False,
        help="carecast.toml to use (default: $CARECAST_CONFIG, else ./carecast.toml).")] = None,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    ctx.obj = config


@app.command()
def publish(
    ctx: typer.Context,
    files: Annotated[list[Path], typer.Argument(
        metavar="FILE", show_default=False, help="Post files: .yaml, .yml, .json or .toml.")],
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Render and review only: nothing is stored or sent.")] = False,
    only: OnlyOption = None,
    resend_unknown: ResendOption = False,
    as_json: JsonOption = False,
) -> None:
    """Publish posts to their accounts; a target already published is never sent again."""
    from carecast.cli import render

    with _errors(as_json):
        posts = [(path, _load(path)) for path in files]  # every file valid before any send
        config = _config(ctx)
    out, err, code, results = _out(), _err(), 0, []
    with _errors(as_json), open_publisher(config) as publisher:
        for path, post in posts:
            try:
                with render.progress(err, f"{post.id}", enabled=not as_json) as on_progress:
                    reports = publisher.publish_series(
                        post, dry_run=dry_run, on_progress=on_progress) if post.repeat else [
                        publisher.publish(post, only=only or (), dry_run=dry_run,
                                          resend_unknown=resend_unknown,
                                          on_progress=on_progress)]
            except CarecastError as exc:  # one post's fault never stops the others
                code = max(code, _report_error(exc, False))
                results.append({"file": str(path), "error": _error_dict(exc)})
                continue
            for report in reports:  # a recurring post: one report per occurrence
                code = max(code, exit_code(report.outcomes))
                results.append({"file": str(path), **report.to_dict()})
                if not as_json:
                    out.print(render.report_table(report, str(path)))
                    _print_findings(out, render.report_findings(report))
                    _hints(err, report.post_id, report.outcomes, dry_run=dry_run)
    if as_json:
        _print_json(results)
    raise typer.Exit(code)


@app.command()
def preview(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(metavar="FILE", show_default=False,
                                         help="A post file.")],
    only: OnlyOption = None,
    html: Annotated[Path | None, typer.Option(
        "--html", metavar="OUT", help="Also write the preview as one self-contained HTML page "
                                      "(each account's draft as its platform shows it).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Show what each account would receive and what review says; nothing is stored or sent."""
    from carecast.cli import render

    with _errors(as_json):
        post = _load(file)
        with open_publisher(_config(ctx)) as publisher:
            result = publisher.preview(post, only=only or ())
        if html is not None:
            from carecast.preview_page import preview_html

            try:
                html.write_text(preview_html(result), encoding="utf-8")
            except OSError as exc:
                raise ConfigurationError(f"--html: cannot write {html} ({exc.strerror}); give "
                                         "a path in a folder that exists and you may write "
                                         "to") from None
    if as_json:
        _print_json(render.preview_dict(result))
    else:
        out = _out()
        out.print(f"post {result.post.id} ({file})", markup=False)
        _print_findings(out, result.findings, title="findings on the post")
        for line in render.marked_post(result.post, result.findings):  # terminal only
            out.print(line)
        for panel in render.preview_view(result):
            out.print(panel)
        if html is not None:
            out.print(f"preview page written to {html}", markup=False)
    raise typer.Exit(exit_code(result.targets))


@app.command()
def status(
    ctx: typer.Context,
    post_id: Annotated[str, typer.Argument(metavar="POST_ID", show_default=False)],
    as_json: JsonOption = False,
) -> None:
    """Show the ledger: every target of a post, its state, tries and receipt or error."""
    from carecast.cli import render

    with _errors(as_json):
        rows = _stored_rows(_config(ctx), post_id)
    if as_json:
        _print_json(render.status_dict(post_id, rows))
    else:
        _out().print(render.status_table(post_id, rows))
    raise typer.Exit(exit_code(rows))


@app.command()
def retry(
    ctx: typer.Context,
    post_id: Annotated[str, typer.Argument(metavar="POST_ID", show_default=False)],
    resend_unknown: ResendOption = False,
    as_json: JsonOption = False,
) -> None:
    """Publish a stored post again to its failed and unknown targets only."""
    _rerun(ctx, post_id, as_json, lambda publisher, on_progress: publisher.retry(
        post_id, resend_unknown=resend_unknown, on_progress=on_progress))


@app.command()
def resume(
    ctx: typer.Context,
    post_id: Annotated[str, typer.Argument(metavar="POST_ID", show_default=False)],
    as_json: JsonOption = False,
) -> None:
    """Publish a stored post to every target not yet published: approved ones, scheduled ones
    whose time has come, and failed ones."""
    _rerun(ctx, post_id, as_json, lambda publisher, on_progress: publisher.resume(
        post_id, on_progress=on_progress))


def _rerun(ctx: typer.Context, post_id: str, as_json: bool,
           call: Callable[[Publisher, Any], PublishReport]) -> None:
    from carecast.cli import render

    with _errors(as_json), open_publisher(_config(ctx)) as publisher, \
            render.progress(_err(), post_id, enabled=not as_json) as on_progress:
        report = call(publisher, on_progress)
    if as_json:
        _print_json(report.to_dict())
    else:
        out = _out()
        out.print(render.report_table(report))
        _print_findings(out, render.report_findings(report))
        _hints(_err(), post_id, report.outcomes)
    raise typer.Exit(exit_code(report.outcomes))


@app.command()
def channels(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """List every installed channel with its limits and capabilities; sends in flight per
    account and per host as carecast.toml's [publish] sets them, when there is one."""
    from carecast.channels import channel_names, get_channel_class
    from carecast.cli.render import ChannelRow, channel_notes, channels_table

    rows = []
    with _errors(as_json):
        names = channel_names()
        publish = _publish_settings(ctx)
    for name in names:
        try:
            cls = get_channel_class(name)
        except Exception as exc:  # a broken plugin is listed, not a crash
            message = str(exc) if isinstance(exc, CarecastError) else type(exc).__name__
            rows.append(ChannelRow(name, error=message))
            continue
        limits = cls.limits()
        if publish is not None:
            limits["per_account"], limits["per_host"] = publish.in_flight(
                name, (cls.per_account, cls.per_host))
            limits["concurrency"] = publish.concurrency
        rows.append(ChannelRow(name, cls.title, limits, tuple(sorted(cls.capabilities())),
                               features=cls.features()))
    if as_json:
        _print_json([row.__dict__ for row in rows])
    else:
        _out().print(channels_table(rows))
        for line in channel_notes(rows):
            _out().print(line, markup=False, highlight=False)
    raise typer.Exit(1 if any(row.error for row in rows) else 0)


def _publish_settings(ctx: typer.Context) -> PublishConfig | None:
    """``[publish]`` of the configuration file given, or of the default one if it exists;
    None without one (the channels' own defaults apply)."""
    if ctx.obj is None:
        from carecast.settings import Settings

        if not Settings().config.is_file():
            return None
    return _config(ctx).publish


def _print_findings(out: Console, findings: Sequence[Finding], title: str = "findings"
                    ) -> None:
    from carecast.cli.render import findings_table

    table = findings_table(findings, title)
    if table is not None:
        out.print(table)


def _hints(err: Console, post_id: str, outcomes: Iterable[Any], *, dry_run: bool = False
           ) -> None:
    """What to do next, on stderr."""
    codes = {(str(o.state), _code(o.state, o.error)) for o in outcomes}
    hints = []
    if any(code == 2 for _, code in codes):
        hints.append("edit the post or the configuration as the detail says, then publish "
                     "the file again")
    if not dry_run and ("awaiting_approval", 1) in codes:
        hints.append(f"approve with: carecast approve {post_id} --as NAME, then send with: "
                     f"carecast resume {post_id}")
    if not dry_run and {("failed", 1), ("unknown", 1)} & codes:
        hints.append(f"after fixing the cause, run: carecast retry {post_id}")
    for hint in hints:
        err.print(hint, markup=False)


def main() -> None:
    """Entry point of the ``carecast`` script and ``python -m carecast``."""
    from carecast.cli import main as run

    run()
