"""Find channel classes through the ``carecast.channels`` entry-point group.

Built-in channels register there exactly as third-party plugins do, so a plugin package
only needs ``[project.entry-points."carecast.channels"] name = "module:Class"``.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from functools import cache
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import Any

from carecast.channels.base import Channel
from carecast.clock import SYSTEM_CLOCK, Clock
from carecast.config import AccountConfig
from carecast.errors import ConfigurationError, UnknownChannelError

__all__ = ["build_channel", "channel_classes", "channel_names", "get_channel_class"]

GROUP = "carecast.channels"


@cache
def _entry_points() -> dict[str, EntryPoint]:
    found: dict[str, EntryPoint] = {}
    for ep in entry_points(group=GROUP):
        other = found.get(ep.name)
        if other is not None and other.value != ep.value:
            raise ConfigurationError(
                f"two installed packages register the channel {ep.name!r}: "
                f"{_origin(other)} and {_origin(ep)}; uninstall one of them"
            )
        found[ep.name] = ep  # the same one seen twice happens with editable installs
    return dict(sorted(found.items()))


def _origin(ep: EntryPoint) -> str:
    return ep.dist.name if ep.dist else ep.value


@cache
def _load(name: str) -> type[Channel]:
    ep = _entry_points()[name]
    try:
        cls = ep.load()
    except ImportError as exc:
        raise ConfigurationError(
            f"the channel {name!r} from {_origin(ep)} cannot be imported ({exc.name or exc})"
        ) from None
    if not (isinstance(cls, type) and issubclass(cls, Channel)):
        raise ConfigurationError(
            f"the entry point {name!r} of {_origin(ep)} is not a carecast Channel class"
        )
    if cls.name != name:
        raise ConfigurationError(
            f"the entry point {name!r} of {_origin(ep)} loads a channel named {cls.name!r}; "
            "the two names must match"
        )
    return cls


def channel_names(extra: Mapping[str, type[Channel]] | None = None) -> list[str]:
    """The names of every installed channel (nothing is imported)."""
    return sorted({*_entry_points(), *(extra or {})})


def channel_classes(extra: Mapping[str, type[Channel]] | None = None) -> dict[str, type[Channel]]:
    """Every installed channel by name, plus ``extra`` (for tests and embedded use).

    This imports every channel module; ``get_channel_class`` imports only the one it needs.
    """
    return {name: get_channel_class(name, extra) for name in channel_names(extra)}


def get_channel_class(name: str, extra: Mapping[str, type[Channel]] | None = None
                      ) -> type[Channel]:
    """The channel class called ``name``; ``UnknownChannelError`` says what is installed."""
    extra = extra or {}
    if name in extra:
        if name in _entry_points() and _load(name) is not extra[name]:
            raise ConfigurationError(f"the channel {name!r} is already installed")
        return extra[name]
    if name not in _entry_points():
        raise UnknownChannelError(_unknown(name, channel_names(extra)))
    return _load(name)


def _unknown(name: str, installed: list[str]) -> str:
    """Why ``name`` is not a channel, with the likeliest fix. Every carecast channel is always
    installed (an extra adds only its platform's SDK), so a name that is not one is a typo or
    a plugin from another package."""
    close = difflib.get_close_matches(name, installed, n=1, cutoff=0.6)
    fix = (f"did you mean {close[0]!r}?" if close else
           "a channel from another package is installed with that package (pip install ...)")
    return (f"no installed channel is called {name!r}; {fix} "
            f"(installed: {', '.join(installed)})")


def build_channel(account: AccountConfig, *, root: Path | None = None,
                  extra: Mapping[str, type[Channel]] | None = None,
                  session: Any = None, clock: Clock = SYSTEM_CLOCK) -> Channel:
    """The channel instance for a configured account."""
    cls = get_channel_class(account.channel, extra)
    return cls.from_config(account, root=root, session=session, clock=clock)
