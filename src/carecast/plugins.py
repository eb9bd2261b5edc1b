"""Load review plugins and run their hooks, failing closed."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pluggy

from carecast import hookspecs
from carecast.findings import Action, Finding

__all__ = ["ENTRY_POINT_GROUP", "plugin_manager", "run_hook"]

ENTRY_POINT_GROUP = "carecast.hooks"


def plugin_manager(plugins: Iterable[object] = (), *, entry_points: bool = True
                   ) -> pluggy.PluginManager:
    """A plugin manager with the hook specs, the installed plugins and ``plugins``."""
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    if entry_points:
        pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
    for plugin in plugins:
        pm.register(plugin)
    return pm


def run_hook(pm: pluggy.PluginManager, name: str, *, for_account: str | None = None,
             **kwargs: Any) -> list[Finding]:
    """Call every implementation of hook ``name``; one that raises or misbehaves blocks.

    Each finding is stamped with the plugin that made it and ``for_account``.
    """
    caller = getattr(pm.hook, name)
    findings: list[Finding] = []
    for impl in caller.get_hookimpls():  # in registration order
        plugin = pm.get_name(impl.plugin) or ""
        if not plugin or plugin.isdigit():  # registered without a name: pluggy uses id()
            plugin = getattr(impl.plugin, "__name__", None) or type(impl.plugin).__name__
        try:
            result = impl.function(*[kwargs[arg] for arg in impl.argnames])
            items = list(result) if result is not None else []
            bad = [x for x in items if not isinstance(x, Finding)]
            if bad:
                raise TypeError(f"returned {type(bad[0]).__name__}, not Finding")
        except Exception as exc:  # fail closed: a broken check must not let a post through
            findings.append(Finding(
                action=Action.BLOCK, code="review.error", check=_short(plugin), account=for_account,
                message=f"the check {_short(plugin)} failed ({type(exc).__name__}); "
                        "the post is held until it runs cleanly",
            ))
            continue
        for item in items:
            update: dict[str, Any] = {"check": item.check or _short(plugin)}
            if for_account is not None:
                update["account"] = for_account
            findings.append(item.model_copy(update=update))
    return findings


def _short(name: str) -> str:
    return name.rsplit(".", 1)[-1][:64] if name.count(".") > 2 else name[:64]
