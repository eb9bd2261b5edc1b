"""`import carecast` stays light: no platform SDK, store, HTTP or CLI stack."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import carecast

HEAVY = ["sqlalchemy", "requests", "tenacity", "pluggy", "typer", "rich", "yaml",
         "tweepy", "googleapiclient", "mastodon", "atproto"]


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
