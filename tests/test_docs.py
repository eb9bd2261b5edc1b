"""The docs build and keep up with the code: a hook, a command or an error without docs fails.

In the manner of datasette: every hook spec's exact signature and docstring appear in
docs/hooks.md, every CLI command and option in docs/cli.md, every error class in
docs/errors.md.
"""

from __future__ import annotations

import inspect
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.main import get_command

from carecast import errors, hookspecs
from carecast.cli import app

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def read(name: str) -> str:
    return (DOCS / name).read_text(encoding="utf-8")


def squash(text: str) -> str:
    return " ".join(text.split())


def hookspec_functions() -> list[Callable[..., Any]]:
    return [fn for name, fn in vars(hookspecs).items()
            if name.startswith(f"{hookspecs.PROJECT}_") and callable(fn)
            and hasattr(fn, f"{hookspecs.PROJECT}_spec")]


def signature(fn: Callable[..., Any]) -> str:
    """``name(arg: Type, ...) -> Return`` as written in hookspecs.py."""
    sig = inspect.signature(fn)
    params = ", ".join(f"{p.name}: {p.annotation}" for p in sig.parameters.values())
    return f"{fn.__name__}({params}) -> {sig.return_annotation}"


@pytest.fixture(scope="session")
def built_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site as ``mkdocs build --strict`` writes it, built once per run (the API reference
    reads the code through mkdocstrings; its test reads the inventory)."""
    site = tmp_path_factory.mktemp("docs") / "site"
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict",
         "-f", str(ROOT / "mkdocs.yml"), "-d", str(site)],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert done.returncode == 0, done.stdout + done.stderr
    return site


def test_mkdocs_build_strict(built_site: Path) -> None:
    assert (built_site / "index.html").is_file()
    assert (built_site / "reference" / "publishing" / "index.html").is_file()


def _nav_files(items: Any) -> list[str]:
    if isinstance(items, str):
        return [items]
    if isinstance(items, list):
        return [f for item in items for f in _nav_files(item)]
    if isinstance(items, dict):
        return [f for value in items.values() for f in _nav_files(value)]
    return []


def test_every_page_is_in_the_nav() -> None:
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    nav = set(_nav_files(config["nav"]))
    pages = {p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md")}
    assert pages - nav == set()
    for name in ("channels/blog.md", "channels/outbox.md", "channels/webhook.md"):
        assert name in nav


def test_hookspecs_are_found() -> None:
    names = [fn.__name__ for fn in hookspec_functions()]
    assert "carecast_review_post" in names
    assert "carecast_review_draft" in names


@pytest.mark.parametrize("fn", hookspec_functions(), ids=lambda fn: fn.__name__)
def test_every_hook_is_documented_with_its_exact_signature(fn: Callable[..., Any]) -> None:
    page = read("hooks.md")
    assert f"## {fn.__name__}" in page, f"docs/hooks.md has no section for {fn.__name__}"
    assert signature(fn) in page, f"docs/hooks.md lacks the signature {signature(fn)}"
    doc = inspect.getdoc(fn)
    assert doc, f"{fn.__name__} has no docstring"
    for paragraph in doc.split("\n\n"):
        assert squash(paragraph) in squash(page), (
            f"docs/hooks.md does not carry the docstring of {fn.__name__}")


def test_hooks_page_documents_no_hook_that_does_not_exist() -> None:
    documented = set(re.findall(r"^## (carecast_\w+)", read("hooks.md"), re.MULTILINE))
    assert documented == {fn.__name__ for fn in hookspec_functions()}


COMMAND = get_command(app)


@pytest.mark.parametrize("name", sorted(COMMAND.commands))  # type: ignore[attr-defined]
def test_every_cli_command_and_option_is_documented(name: str) -> None:
    page = read("cli.md")
    assert f"## carecast {name}" in page, f"docs/cli.md has no section for carecast {name}"
    section = page.split(f"## carecast {name}", 1)[1].split("\n## ", 1)[0]
    command = COMMAND.commands[name]  # type: ignore[attr-defined]
    for param in command.params:
        for opt in param.opts:
            if opt.startswith("--") and opt != "--help":
                assert opt in section, f"docs/cli.md: carecast {name} lacks {opt}"


def test_global_options_are_documented() -> None:
    page = read("cli.md")
    for param in COMMAND.params:
        for opt in param.opts:
            if opt.startswith("--") and opt != "--help":
                assert opt in page


@pytest.mark.parametrize("name", errors.__all__)
def test_every_error_is_documented(name: str) -> None:
    page = read("errors.md")
    assert re.search(rf"^#+ `?{name}`?", page, re.MULTILINE), (
        f"docs/errors.md has no section for {name}")


def test_error_tree_matches_the_module() -> None:
    tree = errors.__doc__.split("```")[1].strip()  # type: ignore[union-attr]
    assert tree in read("errors.md")


def test_readme_quick_start_has_exactly_two_commands() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    quick = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```(?:console|bash|sh)\n(.*?)```", quick, re.DOTALL)
    commands = [line for block in blocks for line in block.strip().splitlines()
                if line.strip() and not line.startswith("#")]
    assert len(commands) == 2, commands
    assert commands[1].endswith("python -m pytest")


@pytest.mark.skipif(shutil.which("chromium") is None
                    and not os.environ.get("CARECAST_TEST_REQUIRE_CHROMIUM"),
                    reason="headless Chromium is not installed (apt-get install -y chromium)")
@pytest.mark.parametrize(("page", "anchor", "shot"), [
    ("reference/publishing", 'id="carecast.Publisher.apublish"', "reference.png"),
    ("server", 'id="the-preview-page"', "server-page.png")])
def test_the_built_pages_render_in_chromium(built_site: Path, tmp_path: Path, page: str,
                                            anchor: str, shot: str) -> None:
    from PIL import Image

    chromium = shutil.which("chromium")
    assert chromium is not None
    url = (built_site / page / "index.html").as_uri()
    flags = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
             "--no-first-run", "--disable-background-networking", "--disable-component-update",
             "--disable-sync", "--hide-scrollbars", f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run([*flags, "--dump-dom", url], capture_output=True, text=True,
                         timeout=120, check=False).stdout
    assert anchor in dom
    png = tmp_path / shot
    done = subprocess.run([*flags, "--window-size=1280,900", f"--screenshot={png}", url],
                          capture_output=True, text=True, timeout=120, check=False)
    assert png.is_file(), done.stderr[-2000:]
    with Image.open(png) as image:
        assert image.convert("RGB").getpixel((5, 5)) == (0, 148, 133)  # the theme's header
    if os.environ.get("CARECAST_WRITE_SCREENSHOTS"):  # how docs/images/<shot> is made
        (DOCS / "images" / shot).write_bytes(png.read_bytes())
