"""What a test does when real software it runs against (PostgreSQL, Redis, WordPress, the
Bluesky network) cannot start here: skip, unless the environment variable that CI sets says
the software is required, then fail."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def unavailable(what: str, required_by: str, reason: object) -> NoReturn:
    """Fail when ``required_by`` (e.g. ``CARECAST_TEST_REQUIRE_REDIS``) is set, else skip."""
    if os.environ.get(required_by):
        pytest.fail(f"{what} is required here: {reason}")
    pytest.skip(f"{what} is not available: {reason}")
