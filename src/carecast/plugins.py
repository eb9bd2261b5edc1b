"""Load review plugins and run their hooks, failing closed.

The built-in checks are listed here, in code (``DEFAULT_PLUGINS``, as datasette does), and
always load: switching off third-party plugins never switches off the PHI guard. Turning one
off is a setting per brand (``[checks.NAME] enabled = false`` with ``disabled_by``), which the
review records in the audit trail. Third-party plugins come through the ``carecast.hooks``
entry-point group or ``Publisher(plugins=[...])``.
"""

from __future__ import annotations

import importlib
import inspect
import logging
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any

import pluggy

from carecast import hookspecs
from carecast.errors import AuditTampered, ConfigurationError
from carecast.findings import Action, Finding

__all__ = ["DEFAULT_PLUGINS", "ENTRY_POINT_GROUP", "BrokenPlugin", "plugin_manager",
           "run_hook"]

log = logging.getLogger("carecast.plugins")

ENTRY_POINT_GROUP = "carecast.hooks"

#: The built-in checks: (name of its ``[checks.NAME]`` table, module). Every one always loads.
#: ``consent`` checks each pictured patient's consent; ``images`` also strips the metadata of
#: every uploaded image at send time (that part cannot be turned off).
DEFAULT_PLUGINS: tuple[tuple[str, str], ...] = (
    ("phi", "carecast.compliance.phi_guard"),
    ("advice", "carecast.compliance.advice"),
    ("policy", "carecast.compliance.policy"),
    ("accessibility", "carecast.compliance.accessibility"),
    ("images", "carecast.compliance.images"),
    ("consent", "carecast.consent"),
    ("sms", "carecast.compliance.sms_phi"),
    ("voice", "carecast.brand.voice"),
    ("replies", "carecast.compliance.reply_guard"),
)


#: Arguments through which a hook's answer can differ between accounts given the same draft.
_PER_ACCOUNT = frozenset({"account", "records", "now"})


@dataclass(frozen=True)
class BrokenPlugin:
    """An installed plugin that could not be loaded; while it is installed, nothing is sent."""

    name: str
    error: str

    def finding(self) -> Finding:
        """The BLOCK that holds every post until the plugin loads (review fails closed)."""
        return Finding(action=Action.BLOCK, code="review.plugin_error", check=self.name[:64],
                       message=f"the plugin {self.name} could not be loaded ({self.error}); "
                               "fix or uninstall it: review fails closed until it loads")


def plugin_manager(plugins: Iterable[object] = (), *, entry_points: bool = True,
                   defaults: bool = True) -> pluggy.PluginManager:
    """A plugin manager with the hook specs, the built-in checks, the installed plugins (when
    ``entry_points``) and ``plugins``. The publisher always loads the built-in checks;
    ``defaults=False`` is for testing one check on its own.

    A plugin that implements a hook that does not exist, or takes an argument the hook does
    not give, raises ``ConfigurationError`` naming it and the fix. An installed plugin that
    fails to import is logged on one line and listed in ``pm.broken``: review blocks then.
    """
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    broken: list[BrokenPlugin] = []
    for name, module in DEFAULT_PLUGINS if defaults else ():
        _register(pm, importlib.import_module(module), name)
    if entry_points:
        broken.extend(_load_entry_points(pm))
    for plugin in plugins:
        if not pm.is_registered(plugin):
            _register(pm, plugin, None)
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise _unknown_hook(exc) from None
    pm.broken = tuple(broken)  # type: ignore[attr-defined]
    return pm


def broken_plugins(pm: pluggy.PluginManager) -> tuple[BrokenPlugin, ...]:
    """The installed plugins that failed to load."""
    return tuple(getattr(pm, "broken", ()))


def _load_entry_points(pm: pluggy.PluginManager) -> list[BrokenPlugin]:
    builtin = {module for _, module in DEFAULT_PLUGINS}
    broken: list[BrokenPlugin] = []
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.value in builtin or pm.get_plugin(ep.name) is not None:
            continue
        failed: str | None = None
        try:
            plugin = ep.load()
        except Exception as exc:  # one line, not a traceback: the plugin's own bug
            kind = type(exc).__name__
            failed = f"{kind}: {_first_line(exc)}" if str(exc).strip() else kind
        if failed is not None:
            log.error("carecast: the plugin %s (%s) failed to import: %s; posts are held "
                      "until it is fixed or uninstalled", ep.name, ep.value, failed)
            broken.append(BrokenPlugin(ep.name, failed))
            continue
        _register(pm, plugin, ep.name)
    return broken


def _register(pm: pluggy.PluginManager, plugin: object, name: str | None) -> None:
    label = name or _label(plugin)
    try:
        pm.register(plugin, name=name)
    except pluggy.PluginValidationError:
        raise ConfigurationError(
            f"the plugin {label} does not fit carecast's hooks: {_wrong_arguments(plugin)}; "
            "take only the arguments the hook documents (docs/hooks.md)") from None
    except ValueError as exc:  # registered twice under one name
        raise ConfigurationError(f"the plugin {label} is registered twice ({exc})") from None


def _wrong_arguments(plugin: object) -> str:
    """Which hook implementations of ``plugin`` take arguments their hook does not give."""
    problems = []
    for name in sorted(n for n in dir(hookspecs) if n.startswith("carecast_")):
        impl = getattr(plugin, name, None)
        if impl is None or not callable(impl):
            continue
        given = set(inspect.signature(getattr(hookspecs, name)).parameters)
        taken = [p for p in inspect.signature(impl).parameters if p not in ("self", "cls")]
        extra = [p for p in taken if p not in given]
        if extra:
            problems.append(f"{name} takes {', '.join(extra)}, which the hook does not give "
                            f"(it gives {', '.join(sorted(given))})")
    return "; ".join(problems) or "a hook implementation does not match its hook"


def _unknown_hook(exc: pluggy.PluginValidationError) -> ConfigurationError:
    hooks = sorted(n for n in dir(hookspecs) if n.startswith("carecast_"))
    label = _label(exc.plugin)
    return ConfigurationError(
        f"the plugin {label} implements a hook carecast does not have ({_first_line(exc)}); "
        f"check its spelling: the hooks are {', '.join(hooks)}")


def _label(plugin: object) -> str:
    return str(getattr(plugin, "__name__", None) or type(plugin).__name__)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__


def run_hook(pm: pluggy.PluginManager, name: str, *, for_account: str | None = None,
             reuse: dict[Hashable, list[Finding]] | None = None, reuse_key: Hashable = None,
             **kwargs: Any) -> list[Finding]:
    """Call every implementation of hook ``name``; one that raises or misbehaves blocks.

    Each finding is stamped with the plugin that made it and ``for_account``. A plugin that
    failed to load blocks too (in the post's review, ``for_account`` None).

    ``reuse`` keeps the answers of built-in checks that take nothing of the account (no
    ``account``, ``records`` or ``now``) under ``reuse_key``, which must name everything else
    they are given: accounts whose drafts are alike are then reviewed by them once.
    """
    caller = getattr(pm.hook, name)
    # A plugin that failed to load blocks the post once, with the post's own findings.
    findings = [b.finding() for b in broken_plugins(pm)] if for_account is None else []
    for impl in caller.get_hookimpls():  # in registration order
        memo = reuse if reuse is not None and _account_free(impl) else None
        key = (_plugin_name(impl), reuse_key) if memo is not None else None
        try:
            if memo is not None and key in memo:
                items = memo[key]
            else:
                result = impl.function(*map(kwargs.__getitem__, impl.argnames))
                if memo is None and (result is None or (type(result) is list and not result)):
                    continue  # nothing found (most checks of most drafts): nothing to stamp
                items = list(result) if result is not None else []
                bad = [x for x in items if not isinstance(x, Finding)] if items else ()
                if bad:
                    raise TypeError(f"returned {type(bad[0]).__name__}, not Finding")
                if memo is not None:
                    memo[key] = items
        except AuditTampered:  # the store's records disagree with the chain: stop, loudly
            raise
        except Exception as exc:  # fail closed: a broken check must not let a post through
            plugin = _plugin_name(impl)
            findings.append(Finding(
                action=Action.BLOCK, code="review.error", check=_short(plugin), account=for_account,
                message=f"the check {_short(plugin)} failed ({type(exc).__name__}); "
                        "the post is held until it runs cleanly",
            ))
            continue
        plugin = _plugin_name(impl) if items else ""
        for item in items:
            update: dict[str, Any] = {"check": item.check or _short(plugin)}
            if for_account is not None:
                update["account"] = for_account
            findings.append(item.model_copy(update=update))
    return findings


def _plugin_name(impl: Any) -> str:
    """The name a hook implementation's plugin was registered under (its module's or class's
    name when registered without one: pluggy then uses its id)."""
    plugin: str = impl.plugin_name or ""
    if not plugin or plugin.isdigit():
        plugin = getattr(impl.plugin, "__name__", None) or type(impl.plugin).__name__
    return plugin


def _account_free(impl: Any) -> bool:
    """A built-in check whose answer depends on nothing of the account: its own arguments
    (a third-party plugin may keep state, so it is always called)."""
    return impl.plugin_name in _BUILTIN and \
        getattr(impl.plugin, "__name__", None) == _BUILTIN[impl.plugin_name] and \
        not _PER_ACCOUNT.intersection(impl.argnames)


_BUILTIN = dict(DEFAULT_PLUGINS)


def _short(name: str) -> str:
    return name.rsplit(".", 1)[-1][:64] if name.count(".") > 2 else name[:64]
