"""The Jinja2 templates of carecast's HTML pages (the calendar, the post preview) and the one
environment they are rendered with: autoescape on (post text is user input), undefined names
an error."""

from __future__ import annotations

from functools import cache
from typing import Any

__all__ = ["environment"]


@cache
def environment() -> Any:
    """The environment over this folder (Jinja2 is imported on first use)."""
    import jinja2

    return jinja2.Environment(loader=jinja2.PackageLoader("carecast", "templates"),
                              autoescape=True, undefined=jinja2.StrictUndefined,
                              trim_blocks=True, lstrip_blocks=True)
