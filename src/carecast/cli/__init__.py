"""The ``carecast`` command line: a thin shell over the public API (see ``carecast --help``).

``main`` imports only the module that registers the command it runs (``COMMANDS``), so
``carecast status`` loads the configuration and the store, not the worker, the planner or
the REST service. ``app``, and ``carecast`` without a command or with ``--help`` before it,
has every command.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from importlib import import_module
from typing import TYPE_CHECKING, Any

from carecast.cli import commands

if TYPE_CHECKING:
    import typer

    app: typer.Typer

__all__ = ["COMMANDS", "app", "main"]

#: The module of ``carecast.cli`` that registers each top-level command.
COMMANDS = {
    **dict.fromkeys(("publish", "preview", "status", "retry", "resume", "channels"),
                    "commands"),
    "brand": "brand", "doctor": "doctor", "init": "init",
    **dict.fromkeys(("worker", "schedule", "freeze", "thaw", "takedown", "posts"), "loop"),
    "plan": "plan", "calendar": "plan",
    "serve": "serve", "reply": "reply",
    "listen": "listen", "inbox": "listen",
    "metrics": "metrics", "report": "metrics",
    **dict.fromkeys(("approve", "reject", "pending", "consent", "audit"), "workflow"),
}
#: Options of ``carecast`` itself that take a value.
_ROOT_VALUES = ("--config", "-c")


def load(command: str | None = None) -> typer.Typer:
    """The app with ``command``'s module registered (every module for None or a name that is
    not a command: the help lists them all)."""
    names = [COMMANDS[command]] if command in COMMANDS else sorted(set(COMMANDS.values()))
    for name in names:
        import_module(f"carecast.cli.{name}")
    return commands.app


def command_of(args: Sequence[str]) -> str | None:
    """The command ``args`` run: the first word after the root options (None for help)."""
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg in _ROOT_VALUES:
            skip = True
        elif arg in ("--help", "-h"):
            return None
        elif not arg.startswith("-"):
            return arg
    return None


def main() -> None:
    """Entry point of the ``carecast`` script and ``python -m carecast``."""
    load(command_of(sys.argv[1:]))(prog_name="carecast")


def __getattr__(name: str) -> Any:
    if name == "app":
        return load()
    raise AttributeError(f"module 'carecast.cli' has no attribute {name!r}")
