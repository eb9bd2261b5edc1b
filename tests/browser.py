"""Headless Chromium for the tests that look at a page carecast makes (Debian's ``chromium``;
a test marked ``needs_chromium`` is skipped without it, unless CI requires it)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

needs_chromium = pytest.mark.skipif(
    CHROMIUM is None and not os.environ.get("CARECAST_TEST_REQUIRE_CHROMIUM"),
    reason="headless Chromium is not installed (apt-get install -y chromium)")


def _flags(profile: Path) -> list[str]:
    assert CHROMIUM is not None, "CARECAST_TEST_REQUIRE_CHROMIUM is set: install chromium"
    return [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--hide-scrollbars",
            f"--user-data-dir={profile}"]


def dump_dom(page: Path, profile: Path) -> str:
    """The page's DOM once Chromium has loaded it, offline."""
    return subprocess.run([*_flags(profile), "--dump-dom", page.as_uri()], capture_output=True,
                          text=True, timeout=120, check=False).stdout


def screenshot(page: Path, png: Path, profile: Path, *, size: str) -> None:
    """The page drawn at ``size`` (``"WIDTH,HEIGHT"``) into ``png``."""
    done = subprocess.run([*_flags(profile), f"--window-size={size}", f"--screenshot={png}",
                           page.as_uri()], capture_output=True, text=True, timeout=120,
                          check=False)
    assert png.is_file(), done.stderr[-2000:]
