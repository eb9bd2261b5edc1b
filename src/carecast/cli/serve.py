"""``carecast serve``: run the REST service, and manage its clients' keys."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from carecast.cli import commands
from carecast.cli.commands import _errors, app
from carecast.errors import ConfigurationError

__all__ = ["serve_app"]

CLIENTS_FILE = "carecast-clients.toml"

serve_app = typer.Typer(
    help="The REST service for CMSs (needs the server extra); without a command, serve.",
    invoke_without_command=True)
app.add_typer(serve_app, name="serve")

ClientsOption = Annotated[Path | None, typer.Option(
    "--clients", metavar="PATH", show_default=False,
    help=f"The clients file (default: {CLIENTS_FILE} beside carecast.toml).")]


def _clients_path(ctx: typer.Context, clients: Path | None) -> Path:
    if clients is not None:
        return clients
    return commands._config(ctx).root / CLIENTS_FILE


def _server() -> None:
    try:
        import carecast.server  # noqa: F401
    except ImportError:
        raise ConfigurationError("carecast serve needs the server extra: "
                                 "pip install 'carecast[server]'") from None


@serve_app.callback()
def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8750,
    clients: ClientsOption = None,
    max_body: Annotated[int, typer.Option(min=1024, help="Largest request body (bytes).")
                        ] = 1 << 20,
) -> None:
    """Serve the API (OpenAPI schema at /v1/openapi.json) until Ctrl-C or SIGTERM."""
    if ctx.invoked_subcommand is not None:
        return
    with _errors(False):
        _server()
        from carecast.server import Clients
        from carecast.server import serve as run

        known = Clients.load(_clients_path(ctx, clients))
        with commands.open_publisher(commands._config(ctx)) as publisher:
            run(publisher, known, host=host, port=port, max_body=max_body)


@serve_app.command("add-client")
def add_client(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The client's name (recorded in the audit).")],
    brand: Annotated[list[str], typer.Option(
        "--brand", help="A brand it may touch (repeatable; '*' for every brand).")],
    verb: Annotated[list[str], typer.Option(
        "--verb", help="A verb it may use (repeatable): preview, publish, schedule, status, "
                       "list, approve, reject, takedown, freeze, thaw.")],
    callback_url: Annotated[str | None, typer.Option(
        help="Where its signed callbacks go.")] = None,
    clients: ClientsOption = None,
) -> None:
    """Add a client to the clients file and print its new key once (only its hash is kept)."""
    with _errors(False):
        _server()
        from carecast.server.clients import Clients, client_table, hash_key, new_key

        path = _clients_path(ctx, clients)
        existing = Clients.load(path) if path.exists() else Clients({})
        if name in existing.by_name:
            raise ConfigurationError(f"{path}: client {name} exists; remove its table first")
        key = new_key()
        try:
            table = client_table(name, hash_key(key), brand, verb, callback_url)
        except ValueError as exc:  # pydantic's errors name the field; no secret is in them
            raise ConfigurationError(f"client {name}: {exc}") from None
        with path.open("a", encoding="utf-8") as fh:
            fh.write(("\n" if existing.by_name else "") + table)
        path.chmod(0o600)
        Clients.load(path)
    typer.echo(f"client {name} added to {path}; its key (shown once):", err=True)
    typer.echo(key)


@serve_app.command("hash-key")
def hash_key_command() -> None:
    """Read a key on standard input and print the key_hash to put in the clients file."""
    with _errors(False):
        _server()
        from carecast.server.clients import hash_key

        typer.echo(hash_key(sys.stdin.readline().strip()))
