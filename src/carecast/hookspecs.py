"""The review hooks a compliance or brand plugin implements.

Each hook is a bare function with its exact signature. Every implementation runs (no
``firstresult``); each returns ``Finding`` objects (or ``None``). An implementation may take
fewer arguments than the spec names. An implementation that raises blocks the post: review
fails closed. Register plugins with the ``carecast.hooks`` entry-point group, or pass them to
``Publisher(plugins=[...])``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from carecast.config import AccountConfig, BrandConfig
    from carecast.findings import Finding
    from carecast.post import Draft, Post

__all__ = ["hookimpl", "hookspec"]

PROJECT = "carecast"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def carecast_review_post(post: Post, brand: BrandConfig | None) -> Iterable[Finding] | None:
    """Review a post once, before any channel renders it.

    Fields in findings name places in the post (``text``, ``title``, ``link``, ``thread[N]``,
    ``media[N].alt_text`` or ``*``). A BLOCK or REVIEW here applies to every target; a REDACT
    rewrites the post before it is rendered.
    """


@hookspec
def carecast_review_draft(
    post: Post, draft: Draft, account: AccountConfig, brand: BrandConfig | None
) -> Iterable[Finding] | None:
    """Review what one account would receive, after the channel rendered it.

    Fields name places in the draft (``title``, ``link``, ``parts[N].text``,
    ``parts[N].media[M].alt_text``). Findings apply to this account only.
    """
