"""Builders shared by the compliance tests: a configuration with [checks], drafts, one review."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from carecast import Finding
from carecast.config import CheckSettings, Config
from carecast.plugins import plugin_manager, run_hook
from carecast.post import Draft, Media, Part, Post

# The brand of these tests, shaped like a community hospital's profile.
BRAND = {
    "name": "Riverside General Hospital",
    "website": "https://www.riverside-general.example",
    "phone": ["+1 555 010 2000"],
    "address": ["1200 River Road, Springfield"],
    "staff": ["Maria Okafor", "Daniel Reyes"],
}


def config(checks: Mapping[str, Any] | None = None, *,
           brand_checks: Mapping[str, Any] | None = None,
           accounts: Mapping[str, str] | Sequence[str] = ("web",), root: Path | None = None
           ) -> Config:
    """One brand (``riverside``) with fake accounts; ``accounts`` maps names to channels."""
    channels = dict(accounts) if isinstance(accounts, Mapping) else dict.fromkeys(accounts, "fake")
    return Config.from_dict({
        "store": {"url": "sqlite:///:memory:"},
        "brands": {"riverside": {**BRAND, "checks": dict(brand_checks or {})}},
        "accounts": {n: {"channel": c, "brand": "riverside"} for n, c in channels.items()},
        "checks": dict(checks or {}),
    }, root=root, environ={})


def draft(text: str = "", *, title: str | None = None, media: Sequence[Media] = (),
          channel: str = "fake", thread: Sequence[str] = (), **options: Any) -> Draft:
    """A draft as a channel renders it: the text, then each thread part."""
    parts = [Part(text=text, media=tuple(media), length=len(text))]
    parts += [Part(text=t, length=len(t)) for t in thread]
    return Draft(post_id="p-1", account="web", channel=channel, parts=tuple(parts), title=title,
                 options=options)


def review(plugin: object, item: Draft, cfg: Config | None = None, *,
           campaign: str | None = None) -> list[Finding]:
    """Run ``plugin``'s draft hook the way the publisher does (fail-closed wrapper included)."""
    cfg = cfg or config()
    account = cfg.accounts["web"]
    pm = plugin_manager([plugin], entry_points=False, defaults=False)
    return run_hook(pm, "carecast_review_draft",
                    for_account="web", post=Post(text=item.text or "x"), draft=item,
                    account=account, brand=cfg.brand_of(account),
                    settings=CheckSettings(cfg, account.brand, item.channel, campaign))


def codes(findings: Sequence[Finding]) -> list[str]:
    return [f"{f.code}:{f.action.value}" for f in findings]


def phi_found(text: str, allow: tuple[str, ...] = (), least: float = 0.6
              ) -> set[tuple[str, str]]:
    """``{(category, text found)}`` by the PHI scanner at ``least`` confidence and up (0.6:
    what the guard reports by default)."""
    from carecast.compliance.phi import scan

    return {(s.category, text[s.start:s.end]) for s in scan(text, allow) if s.confidence >= least}
