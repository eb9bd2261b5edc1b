"""The API reference covers the public face: every name in ``carecast.__all__`` is documented
(in the inventory mkdocstrings writes, so a name the build left out fails), every public member
has a docstring, and every carecast type a public signature uses is itself exported.
"""

from __future__ import annotations

import enum
import inspect
import sys
import typing
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from mkdocstrings import Inventory

import carecast
from carecast import hookspecs
from test_docs import built_site  # noqa: F401  (the session's one docs build)

PUBLIC = sorted(n for n in carecast.__all__ if n != "__version__")


def documented(site: Path) -> set[str]:
    with (site / "objects.inv").open("rb") as inv:
        return set(Inventory.parse_sphinx(inv))


def members(cls: type) -> Iterator[tuple[str, Callable[..., Any]]]:
    """The public methods and properties a class itself defines."""
    for name, value in vars(cls).items():
        if name.startswith("_") and name != "__init__":
            continue
        if isinstance(value, classmethod | staticmethod):
            value = value.__func__
        elif isinstance(value, property):
            value = value.fget
        if inspect.isfunction(value):
            yield name, value


def test_every_public_name_is_in_the_reference(built_site: Path) -> None:  # noqa: F811
    names = documented(built_site)
    assert [n for n in PUBLIC if f"carecast.{n}" not in names] == []


def test_every_public_method_is_in_the_reference(built_site: Path) -> None:  # noqa: F811
    names = documented(built_site)
    wanted = [f"carecast.{n}.{m}" for n in PUBLIC if inspect.isclass(getattr(carecast, n))
              for m, _ in members(getattr(carecast, n)) if m != "__init__"]
    assert "carecast.Publisher.apublish" in wanted  # the async API
    assert [w for w in wanted if w not in names] == []


def test_the_testing_plugin_is_in_the_reference(built_site: Path) -> None:  # noqa: F811
    import carecast.testing

    names = documented(built_site)
    assert [n for n in carecast.testing.__all__ if f"carecast.testing.{n}" not in names] == []


@pytest.mark.parametrize("name", PUBLIC)
def test_every_public_name_and_member_has_a_docstring(name: str) -> None:
    obj = getattr(carecast, name)
    if name == "hookimpl":  # a pluggy marker: documented in hookspecs' module docstring
        assert hookspecs.__doc__
        return
    own = vars(obj).get("__doc__") if inspect.isclass(obj) else obj.__doc__
    assert (own or "").strip(), f"carecast.{name} has no docstring"
    if inspect.isclass(obj) and not issubclass(obj, BaseException | enum.Enum):
        bare = [m for m, fn in members(obj) if m != "__init__" and not inspect.getdoc(fn)]
        assert bare == [], f"carecast.{name}: members without a docstring"


def _namespace() -> dict[str, Any]:
    """Every class of every loaded carecast module, for annotations imported only when type
    checking (``if TYPE_CHECKING:``)."""
    space: dict[str, Any] = {"ZoneInfo": ZoneInfo}
    for module_name, module in list(sys.modules.items()):
        if module_name.split(".")[0] == "carecast":
            space.update({k: v for k, v in vars(module).items() if isinstance(v, type)})
    return space


def _carecast_types(annotation: Any) -> Iterator[type]:
    args = typing.get_args(annotation)
    if args:
        for arg in args:
            yield from _carecast_types(arg)
    elif isinstance(annotation, type) and annotation.__module__.split(".")[0] == "carecast":
        yield annotation


def _signatures() -> Iterator[tuple[str, Callable[..., Any] | type]]:
    for name in PUBLIC:
        obj = getattr(carecast, name)
        if inspect.isclass(obj):
            yield name, obj  # its fields
            yield from ((f"{name}.{m}", fn) for m, fn in members(obj))
        elif inspect.isfunction(obj):
            yield name, obj
    for fn in vars(hookspecs).values():  # what a plugin's hook receives
        if inspect.isfunction(fn) and fn.__name__.startswith("carecast_"):
            yield fn.__name__, fn


def test_every_type_a_public_signature_uses_is_exported() -> None:
    for name in PUBLIC:
        getattr(carecast, name)  # load every module behind the lazy names
    space = _namespace()
    exported = {getattr(carecast, n) for n in PUBLIC}
    unexported: dict[str, set[str]] = {}
    for where, obj in _signatures():
        own = vars(sys.modules[obj.__module__])  # the module's own names come first
        hints = typing.get_type_hints(obj, localns={k: v for k, v in space.items()
                                                    if k not in own})
        for annotation in hints.values():
            for tp in _carecast_types(annotation):
                if tp not in exported and not tp.__name__.startswith("_"):
                    unexported.setdefault(f"{tp.__module__}.{tp.__name__}", set()).add(where)
    assert unexported == {}
