"""`import carecast` stays light: no platform SDK, store, HTTP or CLI stack."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import carecast

HEAVY = ["sqlalchemy", "requests", "tenacity", "pluggy", "typer", "rich", "yaml",
         "tweepy", "googleapiclient", "mastodon", "atproto", "httpx", "pygal", "celery",
         "starlette", "PIL", "jinja2", "pydantic_settings", "importlib.metadata"]


def test_import_carecast_does_not_load_heavy_modules() -> None:
    code = ("import sys, json, carecast; "
            f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))")
    # without the other-date runs' clock shift, whose time-machine import loads pluggy
    env = {k: v for k, v in os.environ.items() if k != "CARECAST_TEST_TIME_SHIFT"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env=env)
    assert json.loads(out.stdout) == []


def test_all_is_sorted_and_resolves() -> None:
    names = [n for n in carecast.__all__ if n != "__version__"]
    assert names == sorted(names)
    for name in carecast.__all__:
        assert getattr(carecast, name) is not None


def test_carecast_channels_does_not_load_the_publishing_stack() -> None:
    """``carecast channels`` lists the channels' limits: no publisher, store or checks."""
    code = ("import sys, json\n"
            "from carecast.cli import main\n"
            "sys.argv = ['carecast', 'channels', '--json']\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "heavy = ['carecast.publish', 'carecast.store', 'carecast.compliance', "
            "'sqlalchemy', 'pluggy']\n"
            "print(json.dumps([m for m in heavy if m in sys.modules]), file=sys.stderr)")
    env = {k: v for k, v in os.environ.items() if k != "CARECAST_TEST_TIME_SHIFT"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env=env)
    assert json.loads(out.stderr.strip().splitlines()[-1]) == []


def test_import_carecast_loads_no_model_library() -> None:
    """Everything but the errors loads on first use: ``import carecast`` needs no pydantic."""
    code = "import sys, carecast; print('pydantic' in sys.modules, carecast.Post.__name__)"
    env = {k: v for k, v in os.environ.items() if k != "CARECAST_TEST_TIME_SHIFT"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env=env)
    assert out.stdout.split() == ["False", "Post"]


def _modules_after(args: list[str], heavy: list[str], cwd: str | None = None,
                   setup: str = "") -> list[str]:
    """The ``heavy`` modules loaded by running ``carecast ARGS`` in a fresh interpreter."""
    code = (f"import sys, json\n{setup}\n"
            "from carecast.cli import main\n"
            f"sys.argv = ['carecast', *{args!r}]\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            f"print(json.dumps([m for m in {heavy!r} if m in sys.modules]), file=sys.stderr)")
    env = {k: v for k, v in os.environ.items()
           if k != "CARECAST_TEST_TIME_SHIFT" and not k.startswith("CARECAST_")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env=env, cwd=cwd)
    return json.loads(out.stderr.strip().splitlines()[-1])


def test_carecast_status_reads_the_store_alone(tmp_path) -> None:
    """``carecast status`` loads the configuration and the store: no publisher, checks,
    channels, PHI lexicons, planner, worker or REST service."""
    (tmp_path / "carecast.toml").write_text(
        f'[store]\nurl = "sqlite:///{tmp_path / "cc.db"}"\n'
        '[brands.clinic]\nname = "Riverside Clinic"\n')
    setup = ("from datetime import UTC, datetime\n"
             "from carecast import Post\n"
             "from carecast.records import Attempt, State\n"
             "from carecast.store import Ledger\n"
             f"with Ledger('sqlite:///{tmp_path / 'cc.db'}') as ledger:\n"
             "    post = Post(id='p1', text='Clinic hours.')\n"
             "    ledger.record(post, [Attempt('p1', 'hook', 'webhook', State.PENDING, 'k', 0, "
             "datetime.now(UTC))])\n")
    heavy = ["carecast.publish.publisher", "carecast.publish.dispatch", "carecast.compliance",
             "carecast.compliance.phi", "carecast.channels", "carecast.plan",
             "carecast.observances", "carecast.cli.loop", "carecast.cli.serve",
             "carecast.cli.plan", "carecast.server", "tenacity", "requests",
             # the review plugins' machinery, and what only publishing or a preview needs
             "pluggy", "carecast.hookspecs", "carecast.consent", "carecast.plugins",
             "rich.progress", "rich.panel", "yaml", "PIL", "jinja2", "httpx", "celery",
             "starlette", "pygal"]
    assert _modules_after(["status", "p1"], heavy, str(tmp_path), setup) == []


def test_a_publisher_reads_no_phi_lexicon_until_it_reviews() -> None:
    """Importing the publishing stack and building a publisher reads no PHI lexicon: the PHI
    check reads them when it first scans a draft."""
    code = ("from carecast.publish import Publisher\n"
            "from carecast.compliance import phi\n"
            "from carecast.testing import fake_config\n"
            "Publisher(fake_config(['a'])).close()\n"
            "print(phi._lexicon.cache_info().currsize)")
    env = {k: v for k, v in os.environ.items()
           if k != "CARECAST_TEST_TIME_SHIFT" and not k.startswith("CARECAST_")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env=env)
    assert out.stdout.split() == ["0"]


def test_every_command_has_its_module_listed() -> None:
    """``main`` imports only the running command's module: each one must be listed."""
    import typer

    from carecast.cli import COMMANDS, app

    group = typer.main.get_command(app)
    assert set(group.commands) == set(COMMANDS)  # type: ignore[attr-defined]
    for module in sorted(set(COMMANDS.values())):
        names = sorted(c for c, m in COMMANDS.items() if m == module)
        code = ("import json, typer\nfrom carecast.cli import load\n"
                f"group = typer.main.get_command(load({names[0]!r}))\n"
                f"print(json.dumps(sorted(set({names!r}) - set(group.commands))))")
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             check=True)
        assert json.loads(out.stdout) == [], module


def test_the_command_is_read_after_the_root_options() -> None:
    from carecast.cli import command_of

    assert command_of(["status", "p1"]) == "status"
    assert command_of(["--config", "status", "audit", "verify"]) == "audit"
    assert command_of(["-c", "x.toml", "channels"]) == "channels"
    assert command_of(["--config=x.toml", "posts"]) == "posts"
    assert command_of(["--help"]) is None
    assert command_of([]) is None
    assert command_of(["--version"]) is None
