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
    from datetime import datetime

    from carecast.config import AccountConfig, BrandConfig, CheckSettings
    from carecast.findings import Finding
    from carecast.post import Draft, Mention, Post
    from carecast.records import Records

__all__ = ["hookimpl", "hookspec"]

PROJECT = "carecast"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def carecast_review_post(
    post: Post, brand: BrandConfig | None, settings: CheckSettings
) -> Iterable[Finding] | None:
    """Review a post once, before any channel renders it.

    ``settings.get("mycheck")`` is the check's ``[checks.mycheck]`` table as it applies to this
    post's brand and campaign.

    Fields in findings name places in the post (``text``, ``title``, ``link``, ``thread[N]``,
    ``media[N].alt_text`` or ``*``). A BLOCK or REVIEW here applies to every target; a REDACT
    rewrites the post before it is rendered.
    """


@hookspec
def carecast_review_draft(
    post: Post, draft: Draft, account: AccountConfig, brand: BrandConfig | None,
    settings: CheckSettings, records: Records, now: datetime,
) -> Iterable[Finding] | None:
    """Review what one account would receive, after the channel rendered it.

    ``settings`` applies to this account's brand and channel and the post's campaign.
    ``records`` reads recorded consents and approval decisions (read-only: a preview has no
    store), and ``now`` is the publisher's clock.

    Fields name places in the draft (``title``, ``link``, ``parts[N].text``,
    ``parts[N].media[M].alt_text``). Findings apply to this account only.
    """


@hookspec
def carecast_review_reply(
    mention: Mention, draft: Draft, brand: BrandConfig | None, settings: CheckSettings
) -> Iterable[Finding] | None:
    """Review a reply to ``mention`` (what a person wrote) before it is sent.

    Runs after ``carecast_review_post`` and ``carecast_review_draft`` reviewed the reply as
    a post, and fails closed like them: an implementation that raises blocks the reply. The
    built-in reply gate (``carecast.compliance.reply_guard``) blocks a reply that confirms
    the person is or was a patient or repeats the PHI they wrote. Fields name places in the
    draft (``parts[N].text``).
    """


@hookspec
def carecast_shorten_link(url: str, brand: str | None, campaign: str | None,
                          channel: str, account: str) -> str | None:
    """Give a short link for ``url`` (already UTM-tagged), or None to leave it as it is.

    Not a review hook: the first implementation that answers a link wins, and its link is
    what the channel renders and counts. Answer the same short link for the same ``url``
    every time (an approval is bound to the draft's exact text). Links of patient-facing
    portals (``[metrics] portal_hosts``) never reach this hook.
    """
