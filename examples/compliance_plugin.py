"""A compliance plugin of your own, configured from carecast.toml like the built-in checks.

    python examples/compliance_plugin.py

The research office embargoes a study's results until the journal publishes them. This check
BLOCKs any post that names an embargoed study (by its ClinicalTrials.gov number or its short
name) when it would go out before the embargo lifts. Its settings are a ``[checks.embargo]``
table, which carecast merges per brand, channel and campaign:

    [checks.embargo]
    studies = { NCT01234567 = "2026-12-01T05:00:00Z" }
    names = { NCT01234567 = "HEART-STEP" }

``CheckConfig`` gives it the switches every built-in check has (``enabled``, ``action``,
``actions.KIND = "off"``) and errors that name ``checks.embargo.KEY``. To install it for every
publisher, add an entry point to your package's pyproject.toml:

    [project.entry-points."carecast.hooks"]
    embargo = "riverside_checks.embargo"
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar

from pydantic import AwareDatetime, Field

import carecast
from carecast.compliance import CheckConfig
from carecast.config import CheckSettings

HERE = Path(__file__).resolve().parent


class EmbargoSettings(CheckConfig):
    """``[checks.embargo]``: when each study's results may be published."""

    NAME: ClassVar[str] = "embargo"
    DEFAULTS: ClassVar[dict[str, carecast.Action]] = {"study": carecast.Action.BLOCK}

    studies: dict[str, AwareDatetime] = Field(default_factory=dict)
    names: dict[str, str] = Field(default_factory=dict)


class Embargo:
    """No post names an embargoed study before its embargo lifts."""

    def __init__(self, now: datetime | None = None) -> None:
        self.now = now

    @carecast.hookimpl
    def carecast_review_post(self, post: carecast.Post, settings: CheckSettings
                             ) -> list[carecast.Finding]:
        cfg = EmbargoSettings.read(settings)
        if not isinstance(cfg, EmbargoSettings):  # off: [], or a BLOCK naming the bad key
            return cfg
        goes_out = post.schedule or self.now or datetime.now(UTC)
        fields = [("text", post.text), ("title", post.title or "")]
        fields += [(f"thread[{i}]", part) for i, part in enumerate(post.thread)]
        findings = []
        for study, lifts in cfg.studies.items():
            if goes_out >= lifts:
                continue
            words = [study, *([cfg.names[study]] if study in cfg.names else [])]
            for field, text in fields:
                hits = [text.lower().find(w.lower()) for w in words]
                if max(hits) < 0:
                    continue
                finding = cfg.finding(
                    "study", field, f"{field} at {min(h for h in hits if h >= 0)}: names study "
                    f"{study}, under embargo until {lifts:%Y-%m-%d %H:%M} UTC; schedule the "
                    "post after that")
                if finding is not None:  # None: actions.study = "off"
                    findings.append(finding)
        return findings


def main() -> None:
    config = carecast.load_config(HERE / "carecast.toml")
    config = config.model_copy(update={"checks": {**config.checks, "embargo": {
        "studies": {"NCT01234567": "2026-12-01T05:00:00Z"},
        "names": {"NCT01234567": "HEART-STEP"},
    }}})
    today = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
    posts = {
        "too early": carecast.Post(
            text="Big news from our cardiology team: the HEART-STEP trial met its goal.",
            targets=("outbox",)),
        "scheduled after the embargo": carecast.Post(
            text="Big news from our cardiology team: the HEART-STEP trial met its goal.",
            schedule=datetime(2026, 12, 1, 14, 0, tzinfo=UTC), targets=("outbox",)),
        "no study named": carecast.load_post(HERE / "posts" / "visiting-hours.json"),
    }
    with carecast.Publisher(config, plugins=[Embargo(now=today)]) as publisher:
        for label, post in posts.items():
            preview = publisher.preview(post)
            blocked = any(t.state == carecast.State.BLOCKED for t in preview.targets)
            print(f"{label}: {'blocked' if blocked else 'passes review'}")
            for target in preview.targets:
                print(f"  {target.account}: {target.state}")
                for f in target.findings:
                    print(f"    {f.action} {f.code} ({f.check}): {f.message}")


if __name__ == "__main__":
    main()
