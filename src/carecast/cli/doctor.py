"""``carecast doctor``: is the store, the broker and every account ready? Nothing is sent."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

import typer
from rich.table import Table
from rich.text import Text

from carecast.cli import commands
from carecast.cli.commands import JsonOption, _errors, _out, _print_json, app
from carecast.config import Config
from carecast.errors import CarecastError

__all__ = ["Check", "run_checks"]


@dataclass(frozen=True)
class Check:
    """One check: what was checked, whether it is fine, and what was found (or the fix)."""

    name: str
    ok: bool | None  # None: not checked here (said why in detail)
    detail: str
    metrics: dict[str, int | float] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"check": self.name, "ok": self.ok, "detail": self.detail,
                "metrics": self.metrics or {}}


def _guard(name: str, run: Callable[[], Check]) -> Check:
    """A check that raises reports the error class and its safe message, never a trace."""
    try:
        return run()
    except CarecastError as exc:
        return Check(name, False, f"{type(exc).__name__}: {exc}")
    except Exception as exc:  # a driver's error text may hold a URL with a password
        return Check(name, False, f"{type(exc).__name__} (see the service's own log)")


def _store_exists(url: str) -> bool:
    """Whether the store was created: an SQLite file, or carecast's tables in a database
    (a database that cannot be reached raises, and the check fails)."""
    import sqlalchemy as sa

    from carecast.store.schema import audit_head

    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ":memory:"
        return database != ":memory:" and Path(database).expanduser().is_file()
    args = {"connect_timeout": 5} if parsed.get_driver_name() == "psycopg" else {}
    engine = sa.create_engine(url, hide_parameters=True, connect_args=args)
    try:
        return sa.inspect(engine).has_table(audit_head.name)
    finally:
        engine.dispose()


def _store(config: Config) -> Check:
    from carecast.store import Ledger

    if not _store_exists(config.store_url()):
        return Check("store", None, "no store yet: carecast creates it at the first publish "
                     "or when a worker starts", {"targets_due": 0, "audit_problems": 0})
    key_file, checkpoint_file = config.audit_paths()
    with Ledger(config.store_url(), readonly=True, key_file=key_file,
                checkpoint_file=checkpoint_file) as ledger:
        publish = config.publish
        due = len(ledger.due_targets(stale_after=publish.stale_sending_after,
                                     rounds=publish.worker_rounds))
        problems = ledger.verify_audit()
    detail = "reachable; audit chain sound" if not problems else \
        f"reachable; the audit chain has {len(problems)} problem(s): run carecast audit verify"
    return Check("store", not problems, detail, {"targets_due": due,
                                                 "audit_problems": len(problems)})


def _broker(config: Config) -> Check:
    try:
        import celery  # noqa: F401
    except ImportError:
        return Check("broker", None, "not checked: the celery extra is not installed")
    from kombu.exceptions import OperationalError

    from carecast.celery import CelerySettings, make_app

    settings = CelerySettings()
    where = urlsplit(settings.broker_url)
    celery_app = make_app(config, settings=settings)
    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, interval_start=0.2, interval_step=0.2,
                                   timeout=5)
            declared = conn.default_channel.queue_declare(settings.queue, passive=False,
                                                          durable=True, auto_delete=False)
            queued = int(declared.message_count)
    except (OperationalError, OSError) as exc:
        return Check("broker", False, f"not reachable at {where.hostname}:{where.port} "
                     f"({type(exc).__name__}): start it, or set CARECAST_CELERY_BROKER_URL")
    return Check("broker", True, f"reachable; {queued} task(s) queued in {settings.queue!r}",
                 {"tasks_queued": queued})


def _account(publisher: Any, name: str) -> Check:
    channel = publisher.channel(name)
    profile = channel.fetch_profile()
    what = "no profile call on the platform: configuration only" \
        if channel.name in ("webhook", "outbox", "blog") else "credentials accepted"
    return Check(f"account {name}", True, f"{what} ({profile.display_name or name})")


def run_checks(config: Config, *, broker: bool = True) -> list[Check]:
    """Every check, in order: the store, the broker, each account (reads only)."""
    checks = [_guard("store", lambda: _store(config))]
    if broker:
        checks.append(_guard("broker", lambda: _broker(config)))
    from carecast.publish import Publisher

    with Publisher(config, entry_point_plugins=False) as publisher:
        for name in sorted(config.accounts):
            checks.append(_guard(f"account {name}",
                                 lambda n=name: _account(publisher, n)))  # type: ignore[misc]
    return checks


@app.command()
def doctor(
    ctx: typer.Context,
    broker: Annotated[bool, typer.Option(
        "--broker/--no-broker", help="Check the Celery broker (CARECAST_CELERY_BROKER_URL).")
                      ] = True,
    as_json: JsonOption = False,
) -> None:
    """Check the store, the broker and each account's credentials without sending anything.
    Exit code 1 when a check failed."""
    with _errors(as_json):
        checks = run_checks(commands._config(ctx), broker=broker)
    if as_json:
        _print_json([c.to_dict() for c in checks])
    else:
        table = Table("check", "", "detail", header_style="bold", box=None)
        for c in checks:
            mark = Text("ok", "green") if c.ok else Text("-", "dim") if c.ok is None \
                else Text("FAILED", "red")
            table.add_row(Text(c.name), mark, Text(c.detail))
        _out().print(table)
    raise typer.Exit(1 if any(c.ok is False for c in checks) else 0)
