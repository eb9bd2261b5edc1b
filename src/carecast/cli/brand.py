"""``carecast brand``: audit every profile of a brand, and sync them where the API allows."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from carecast.cli import commands
from carecast.cli.commands import JsonOption, _errors, _out, _print_json, app
from carecast.errors import ConfigurationError

if TYPE_CHECKING:
    from carecast.brand import AvatarCache, BrandReport
    from carecast.config import Config
    from carecast.publish import Publisher

__all__ = ["brand_app"]

brand_app = typer.Typer(help="Audit every profile of a brand against it; sync where the "
                             "platform's API allows.", no_args_is_help=True)
app.add_typer(brand_app, name="brand")

BrandOption = Annotated[str | None, typer.Option(
    "--brand", metavar="NAME", show_default=False,
    help="The brand (default: the only one configured).")]
CacheOption = Annotated[Path | None, typer.Option(
    "--cache-dir", metavar="DIR", show_default=False,
    help="Where fetched avatars are kept (default: .carecast-cache/avatars beside the store).")]
ConcurrencyOption = Annotated[int | None, typer.Option(
    "--concurrency", min=1, max=256, show_default=False,
    help="Profiles read at once (default: 32).")]


def _publisher(config: Config) -> Publisher:
    """``commands.open_publisher``, looked up at each call so tests can replace it."""
    return commands.open_publisher(config)


def _audit(config: Config, brand: str | None, publisher: Publisher, cache: AvatarCache,
           concurrency: int | None) -> BrandReport:
    """The audit, avatars and shortened links read over one HTTP session."""
    from carecast.brand import DEFAULT_CONCURRENCY, audit
    from carecast.brand.fetch import http_fetcher, http_resolver
    from carecast.channels.http import new_session

    with new_session() as session:
        return audit(config, brand, publisher.channel, cache=cache,
                     concurrency=concurrency or DEFAULT_CONCURRENCY,
                     fetch_image=http_fetcher(session), resolve=http_resolver(session))


def _cache(config: Config, folder: Path | None) -> AvatarCache:
    from carecast.brand import AvatarCache, cache_folder

    return AvatarCache(folder or cache_folder(config))


@brand_app.command("audit")
def audit(
    ctx: typer.Context,
    brand: BrandOption = None,
    as_json: JsonOption = False,
    html: Annotated[Path | None, typer.Option(
        "--html", metavar="FILE", show_default=False,
        help="Write the report as one self-contained HTML page.")] = None,
    cache_dir: CacheOption = None,
    concurrency: ConcurrencyOption = None,
) -> None:
    """Compare every account's live profile with the brand; exit code 1 on any drift."""
    from carecast import brand as brand_pkg

    with _errors(as_json):
        if as_json and html is not None:
            raise ConfigurationError("--json and --html: give one of them")
        config = commands._config(ctx)
        cache = _cache(config, cache_dir)
        with _publisher(config) as publisher:
            report = _audit(config, brand, publisher, cache, concurrency)
        if html is not None:
            try:
                html.write_text(brand_pkg.report_html(report, cache), encoding="utf-8")
            except OSError as exc:
                raise ConfigurationError(
                    f"--html: cannot write {html} ({type(exc).__name__})") from None
    if as_json:
        _print_json(report.to_dict())
    else:
        out = _out()
        out.print(brand_pkg.report_table(report))
        counts = report.counts()
        out.print(", ".join(f"{v} {k}" for k, v in counts.items()), markup=False)
        if html is not None:
            out.print(f"report written to {html}", markup=False)
    raise typer.Exit(1 if report.drift else 0)


@brand_app.command("sync")
def sync(
    ctx: typer.Context,
    brand: BrandOption = None,
    apply: Annotated[bool, typer.Option(
        "--apply", help="Make the changes; without it, only show them.")] = False,
    as_json: JsonOption = False,
    cache_dir: CacheOption = None,
    concurrency: ConcurrencyOption = None,
) -> None:
    """Show, per account, the profile changes that fix the drift; --apply makes them."""
    from carecast import brand as brand_pkg

    with _errors(as_json):
        config = commands._config(ctx)
        with _publisher(config) as publisher:
            report = _audit(config, brand, publisher, _cache(config, cache_dir), concurrency)
            syncs = brand_pkg.plan(report, publisher.channel, root=config.root)
            if apply:
                brand_pkg.apply(syncs, publisher.channel)
    failed = any(s.error for s in syncs)
    if as_json:
        _print_json([{
            "account": s.account, "channel": s.channel, "applied": s.applied, "error": s.error,
            "changes": s.changes.model_dump(mode="json", exclude_none=True),
            "by_hand": [{"field": b.field, "fix": b.fix, "reason": b.reason}
                        for b in s.by_hand]} for s in syncs])
    else:
        out = _out()
        if not syncs:
            out.print("every profile matches the brand; nothing to change", markup=False)
        else:
            out.print(brand_pkg.sync_table(syncs, applied=apply))
            if not apply and any(s.changes.fields() for s in syncs):
                out.print("run again with --apply to make these changes", markup=False)
    raise typer.Exit(1 if failed else 0)
