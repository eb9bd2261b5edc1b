"""``carecast init``: a starter ``carecast.toml`` and a first post, for a new project."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from typing import Annotated

import typer

from carecast.cli.commands import app

__all__ = ["STARTER_FILES", "write_starter"]

#: What ``init`` writes, by path under the target folder, from ``carecast/starter/``.
STARTER_FILES = {"carecast.toml": "carecast.toml", "posts/first-post.yaml": "first-post.yaml"}


def write_starter(folder: Path, *, force: bool = False) -> list[Path]:
    """Write the starter files under ``folder``; refuse (writing nothing) to overwrite one
    that exists unless ``force``. Returns the paths written."""
    targets = {folder / name: source for name, source in STARTER_FILES.items()}
    existing = [path for path in targets if path.exists()]
    if existing and not force:
        names = ", ".join(str(path) for path in existing)
        verb = "exists" if len(existing) == 1 else "exist"
        raise FileExistsError(f"{names} already {verb}; pass --force to overwrite")
    starter = files("carecast.starter")
    for path, source in targets.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(starter.joinpath(source).read_text(encoding="utf-8"), encoding="utf-8")
    return list(targets)


@app.command()
def init(
    folder: Annotated[Path, typer.Argument(
        metavar="FOLDER", help="Where to write the files (default: the working folder).")
    ] = Path("."),
    force: Annotated[bool, typer.Option(
        "--force", help="Overwrite starter files that already exist.")] = False,
) -> None:
    """Write a starter carecast.toml and posts/first-post.yaml that publish locally."""
    try:
        written = write_starter(folder, force=force)
    except FileExistsError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    for path in written:
        typer.echo(f"wrote {path}")
    go = "" if folder.resolve() == Path.cwd().resolve() else f"cd {folder} && "
    typer.echo(f"next: {go}carecast publish posts/first-post.yaml")
