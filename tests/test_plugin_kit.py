"""The example plugin packages: each installs from its own pyproject.toml and its tests pass.

Each is copied (the build writes beside its sources), installed with pip into a folder of its
own (offline: no index, no dependencies, the test environment's hatchling), and its tests
run in a fresh interpreter that sees it there, so its entry points are found as an installed
package's are.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PLUGINS = Path(__file__).resolve().parent.parent / "examples" / "plugins"


@pytest.mark.parametrize("name", ["carecast-teams", "carecast-irb"])
def test_an_example_plugin_installs_and_its_tests_pass(name: str, tmp_path: Path) -> None:
    source = tmp_path / name
    shutil.copytree(PLUGINS / name, source)
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--no-index", "--no-build-isolation", "--target", str(site), str(source)],
                   check=True, capture_output=True, text=True)
    assert list(site.glob(f"{name.replace('-', '_')}-*.dist-info/entry_points.txt"))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(site), *filter(None, [os.environ.get("PYTHONPATH")])])}
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          # an other-date run's sitecustomize imports time_machine first
                          "-W", "error", "-W", "ignore::pytest.PytestAssertRewriteWarning",
                          str(source / "tests")], cwd=tmp_path, env=env,
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert " passed" in run.stdout
    assert " failed" not in run.stdout
