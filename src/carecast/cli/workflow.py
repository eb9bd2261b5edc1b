"""The compliance workflow commands: approve, reject, pending, consent and audit."""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TextIO

import typer
from rich.table import Column, Table
from rich.text import Text

from carecast.cli import commands
from carecast.cli.commands import JsonOption, _errors, _out, _print_json, app
from carecast.errors import InputRefused, InvalidPost

if TYPE_CHECKING:
    from carecast.publish import Publisher

__all__ = ["audit_app", "consent_app"]

AsOption = Annotated[str, typer.Option("--as", metavar="NAME", show_default=False,
                                       help="Who signs (recorded in the audit trail).")]
AccountsOption = Annotated[list[str] | None, typer.Option(
    "--account", metavar="ACCOUNT", help="Only this target account (repeatable).")]

consent_app = typer.Typer(help="The patient-consent registry: add, revoke and list consents.",
                          no_args_is_help=True)
audit_app = typer.Typer(help="Verify and export the tamper-evident audit trail.",
                        no_args_is_help=True)
app.add_typer(consent_app, name="consent")
app.add_typer(audit_app, name="audit")


def _publisher(ctx: typer.Context) -> Publisher:
    """``commands.open_publisher``, looked up at each call so tests can replace it."""
    return commands.open_publisher(commands._config(ctx))


def _targets_of(publisher: Publisher, post_id: str, accounts: list[str] | None) -> list[str]:
    rows = publisher.status(post_id)
    names = [r.account for r in rows]
    unknown = [a for a in accounts or () if a not in names]
    if unknown:
        raise InvalidPost(f"--account: {', '.join(unknown)} is not a target of post {post_id} "
                          f"(targets: {', '.join(names)})", [("account", "not a target")])
    return names


def _nothing(publisher: Publisher, post_id: str) -> None:
    """Why nothing was signed: every step already is (the drafts wait for ``resume``), or
    no draft of the post waits for a signature at all."""
    rows = publisher.status(post_id)
    unsigned = {p.account for p in publisher.pending() if p.post_id == post_id}
    signed = sorted(r.account for r in rows
                    if r.state == "awaiting_approval" and r.account not in unsigned)
    if signed:
        typer.echo(f"every approval step of post {post_id} is already signed for "
                   f"{', '.join(signed)}; send it with: carecast resume {post_id}", err=True)
        return
    states = ", ".join(f"{r.account}: {r.state}" for r in rows)
    typer.echo(f"nothing of post {post_id} awaits approval ({states})", err=True)


@app.command()
def approve(
    ctx: typer.Context,
    post_id: Annotated[str, typer.Argument(metavar="POST_ID", show_default=False)],
    approver: AsOption,
    step: Annotated[str | None, typer.Option(
        "--step", metavar="STEP", help="The step you sign; refused if it is not the next.")] = None,
    accounts: AccountsOption = None,
    note: Annotated[str, typer.Option("--note", metavar="TEXT",
                                      help="Why, kept with the approval.")] = "",
    as_json: JsonOption = False,
) -> None:
    """Sign the next approval step of a post's drafts (all, or --account ones)."""
    with _errors(as_json), _publisher(ctx) as publisher:
        _targets_of(publisher, post_id, accounts)
        approved = publisher.approve(post_id, approver, step=step, accounts=accounts or (),
                                     note=note)
        waiting = {p.account: p.next_step for p in publisher.pending()
                   if p.post_id == post_id and p.account in approved and p.next_step}
        if as_json:
            _print_json({"post_id": post_id, "approver": approver, "approved": approved,
                         "next_steps": waiting})
        elif approved:
            left = sorted({s for s in waiting.values() if s})
            then = (f"next step: {', '.join(left)}" if left
                    else f"send it with: carecast resume {post_id}")
            typer.echo(f"approved post {post_id} for {', '.join(approved)} as {approver}; "
                       f"{then} (an edit voids the approval)")
        else:
            _nothing(publisher, post_id)
    raise typer.Exit(0 if approved else 1)


@app.command()
def reject(
    ctx: typer.Context,
    post_id: Annotated[str, typer.Argument(metavar="POST_ID", show_default=False)],
    approver: AsOption,
    note: Annotated[str, typer.Option("--note", metavar="TEXT", show_default=False,
                                      help="Why (required; kept, never printed).")],
    accounts: AccountsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Reject a post's drafts awaiting approval: they are held until the post is edited."""
    with _errors(as_json), _publisher(ctx) as publisher:
        _targets_of(publisher, post_id, accounts)
        rejected = publisher.reject(post_id, approver, note=note, accounts=accounts or ())
        if as_json:
            _print_json({"post_id": post_id, "approver": approver, "rejected": rejected})
        elif rejected:
            typer.echo(f"rejected post {post_id} for {', '.join(rejected)} as {approver}")
        else:
            _nothing(publisher, post_id)
    raise typer.Exit(0 if rejected else 1)


@app.command()
def pending(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """List every draft waiting for a signature: the step, who signed, and the deadline."""
    with _errors(as_json), _publisher(ctx) as publisher:
        waiting = publisher.pending()
    if as_json:
        _print_json([{"post_id": p.post_id, "account": p.account, "channel": p.channel,
                      "next_step": p.next_step,
                      "signed": [{"step": s, "by": who} for s, who in p.signed],
                      "schedule": p.schedule.isoformat() if p.schedule else None,
                      "due": p.due.isoformat() if p.due else None,
                      "findings": [f.code for f in p.findings]} for p in waiting])
        return
    if not waiting:
        typer.echo("nothing awaits approval")
        return
    # The post id is what ``approve`` needs: never wrapped or cut, however narrow the terminal.
    widest = max(len(p.post_id) for p in waiting)
    table = Table(Column("post", no_wrap=True, min_width=widest), "account", "channel",
                  "next step", "signed", "due", "why", header_style="bold", box=None)
    for p in waiting:
        table.add_row(Text(p.post_id), Text(p.account), Text(p.channel), Text(p.next_step or ""),
                      Text(", ".join(f"{s}: {who}" for s, who in p.signed) or "-"),
                      Text(p.due.isoformat(timespec="minutes") if p.due else "-"),
                      Text(", ".join(sorted({f.code for f in p.findings})) or "policy"))
    _out().print(table)


# -- consent ---------------------------------------------------------------------------------


def _when(value: str) -> datetime:
    """A date (midnight UTC) or a timezone-aware ISO time."""
    try:
        return datetime.combine(date.fromisoformat(value), time(), UTC)
    except ValueError:
        pass
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        when = None
    if when is None or when.tzinfo is None:
        raise InvalidPost("--expires: give a date (2027-06-30) or a time with its timezone "
                          "(2027-06-30T17:00:00-05:00)", [("expires", "invalid")])
    return when


@consent_app.command("add")
def consent_add(
    ctx: typer.Context,
    consent_id: Annotated[str, typer.Argument(metavar="ID", show_default=False)],
    initials: Annotated[str, typer.Option("--initials", show_default=False,
                                          help="The person's initials only, such as JD.")],
    expires: Annotated[str, typer.Option("--expires", show_default=False,
                                         help="When it ends: a date or an ISO time.")],
    channels: Annotated[list[str], typer.Option(
        "--channel", show_default=False,
        help="A channel or account it covers, or * for all (repeatable).")],
    media: Annotated[list[str], typer.Option(
        "--media", show_default=False,
        help="A file name, URL or sha256:HEX it covers, or * (repeatable).")],
    by: Annotated[str, typer.Option("--by", metavar="NAME",
                                    help="Who records it.")] = "",
    as_json: JsonOption = False,
) -> None:
    """Record a patient's consent to appear in the media it covers."""
    from pydantic import ValidationError

    from carecast.consent import Consent

    with _errors(as_json):
        problem = None
        try:
            consent = Consent(id=consent_id, initials=initials, channels=tuple(channels),
                              media=tuple(media), expires=_when(expires), recorded_by=by)
        except ValidationError as exc:
            problem = "; ".join(f"{'.'.join(map(str, e['loc']))}: "
                                f"{str(e['msg']).removeprefix('Value error, ')}"
                                for e in exc.errors())
        if problem is not None:  # raised outside the except: pydantic quotes the input
            raise InvalidPost(f"consent: {problem}", [("consent", problem)])
        with _publisher(ctx) as publisher:
            publisher.ledger.add_consent(consent)
    if as_json:
        _print_json(consent.model_dump(mode="json"))
    else:
        typer.echo(f"recorded consent {consent.id} ({consent.initials}), until "
                   f"{consent.expires.isoformat()}")


@consent_app.command("revoke")
def consent_revoke(
    ctx: typer.Context,
    consent_id: Annotated[str, typer.Argument(metavar="ID", show_default=False)],
    by: Annotated[str, typer.Option("--by", metavar="NAME", help="Who revokes it.")] = "",
    as_json: JsonOption = False,
) -> None:
    """Revoke a consent: every later post using it is blocked."""
    with _errors(as_json), _publisher(ctx) as publisher:
        consent = publisher.ledger.revoke_consent(consent_id, by=by)
    if as_json:
        _print_json(consent.model_dump(mode="json"))
    else:
        typer.echo(f"revoked consent {consent.id}; posts that use it are blocked from now on")


@consent_app.command("list")
def consent_list(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """List the recorded consents."""
    with _errors(as_json), _publisher(ctx) as publisher:
        consents = publisher.ledger.consents()
        now = publisher.clock.now()
    if as_json:
        _print_json([c.model_dump(mode="json") for c in consents])
        return
    table = Table("id", "initials", "channels", "media", "expires", "state",
                  header_style="bold", box=None)
    for c in consents:
        state = "revoked" if c.revoked else "expired" if now >= c.expires else "valid"
        table.add_row(Text(c.id), Text(c.initials), Text(", ".join(c.channels)),
                      Text(", ".join(c.media)), Text(c.expires.date().isoformat()), Text(state))
    _out().print(table)


# -- audit -----------------------------------------------------------------------------------


def _regular_export(file: Path) -> None:
    """Refuse a FIFO, a device or an export over ``CARECAST_MAX_EXPORT_BYTES`` before reading."""
    from carecast.confine import open_regular
    from carecast.settings import Settings

    handle, _ = open_regular(file, cap=Settings().max_export_bytes,
                             setting="CARECAST_MAX_EXPORT_BYTES", what="export")
    handle.close()


@audit_app.command("verify")
def audit_verify(
    ctx: typer.Context,
    file: Annotated[Path | None, typer.Option(
        "--file", metavar="PATH", help="Verify an exported JSON-lines file instead of the "
                                       "store.")] = None,
    full: Annotated[bool, typer.Option(
        "--full", help="Check every event one by one, not only those after the last "
                       "verified one.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Check that no audit event was edited, deleted or reordered (exit 1 if one was)."""
    from carecast.store.audit import verify_file

    warning = ""
    checked_from = 1
    with _errors(as_json), _publisher(ctx) as publisher:
        if file is None:
            report = publisher.ledger.verify(full=full)
            count, head, problems = report.events, report.head, report.problems
            checked_from = report.checked_from
            if publisher.ledger.checkpoint_file is None:
                warning = ("warning: no [audit] checkpoint_file, so removed newest events "
                           "(a truncated chain) cannot be detected; set one outside the "
                           "database")
        else:
            try:
                _regular_export(file)
                events, problems = verify_file(file, publisher.ledger.export_key(),
                                               publisher.ledger.retired_keys)
            except (OSError, ValueError, RecursionError, InputRefused) as exc:
                raise InvalidPost(f"--file: {exc}", [("file", "unreadable")]) from None
            count, head = len(events), events[-1].hash if events else "-"
    if as_json:
        _print_json({"events": count, "sound": not problems, "problems": problems,
                     "checked_from": checked_from, "warnings": [warning] if warning else []})
        raise typer.Exit(1 if problems else 0)
    if warning:
        typer.echo(warning, err=True)
    if problems:
        typer.echo(f"the audit trail was altered ({len(problems)} problems):", err=True)
        for problem in problems:
            typer.echo(f"  {problem}", err=True)
    else:
        earlier = (f" (events 1 to {checked_from - 1} by the digest of their rows, verified "
                   "before; --full checks each)") if checked_from > 1 else ""
        typer.echo(f"audit trail sound: {count} events, newest hash "
                   f"{head if count else '-'}{earlier}")
    raise typer.Exit(1 if problems else 0)


@audit_app.command("rotate-key")
def audit_rotate_key(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Re-key the audit chain with a fresh key; the old one is kept to verify the history.

    Stop every worker first. The new key replaces the key file; the old key is appended to
    ``<key file>.retired``. Keep both outside the database.
    """
    import secrets

    from carecast.errors import ConfigurationError
    from carecast.store.audit import key_id
    from carecast.store.audit_key import retire, stage

    with _errors(as_json), _publisher(ctx) as publisher:
        ledger = publisher.ledger
        path = ledger.key_file
        if path is None:
            raise ConfigurationError(
                "the audit key is not read from a file (CARECAST_AUDIT_KEY or audit_key=): "
                "rotate with Ledger.rotate_key(new_key), then give carecast the new key and "
                "the old one as retired_keys=")
        old, new = ledger.export_key(), secrets.token_bytes(32)
        staged = stage(path, new)
        try:
            seq = ledger.rotate_key(new)
        except BaseException:
            staged.unlink(missing_ok=True)
            raise
        retire(path, old)
    result = {"event": seq, "new_key": key_id(new), "old_key": key_id(old),
              "key_file": str(path), "retired": f"{path}.retired"}
    if as_json:
        _print_json(result)
        return
    typer.echo(f"rotated the audit key at event {seq}: key {key_id(new)} is in {path}; the "
               f"old key {key_id(old)} is kept in {path}.retired (keep both outside the "
               "database, and restart every worker)")


@audit_app.command("adopt-key")
def audit_adopt_key(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Seal a store made before the keyed chain: verify its unkeyed events, then anchor them
    with a keyed event (refused if they do not verify)."""
    with _errors(as_json), _publisher(ctx) as publisher:
        seq = publisher.ledger.adopt_key()
    if as_json:
        _print_json({"event": seq})
        return
    typer.echo(f"adopted the unkeyed audit events: sealed by event {seq}; `carecast audit "
               "verify` checks them from now on")


@audit_app.command("export")
def audit_export(
    ctx: typer.Context,
    fmt: Annotated[str, typer.Option("--format", help="jsonl or csv.")] = "jsonl",
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", metavar="PATH", help="Write here instead of stdout.")] = None,
    post_id: Annotated[str | None, typer.Option(
        "--post", metavar="POST_ID", help="Only this post's events (not verifiable alone).")
    ] = None,
) -> None:
    """Export the audit trail as JSON lines (verifiable with --file) or CSV."""
    from carecast.store.audit import write_csv, write_jsonl

    with _errors(False):
        if fmt not in ("jsonl", "csv"):
            raise InvalidPost("--format: jsonl or csv", [("format", "invalid")])
        with _publisher(ctx) as publisher:
            events = publisher.ledger.audit_events(post_id)
            key = publisher.ledger.export_key()

        def write(out: TextIO) -> int:
            return write_jsonl(events, out, key) if fmt == "jsonl" else write_csv(events, out)

        if output is None:
            write(sys.stdout)
            return
        try:
            with output.open("w", encoding="utf-8", newline="") as fh:
                count = write(fh)
        except OSError as exc:
            raise InvalidPost(f"--output: cannot write {output} ({exc.strerror})",
                              [("output", "unwritable")]) from None
    typer.echo(f"wrote {count} events to {output}", err=True)
