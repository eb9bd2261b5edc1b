"""A review plugin of your own: a hospital's rule, checked on every draft before it is sent.

    python examples/custom_check.py

A plugin is any object with ``@carecast.hookimpl`` methods named after the hooks in
``carecast.hookspecs``. Pass it to ``Publisher(plugins=[...])``, or install it for every
publisher with an entry point in the ``carecast.hooks`` group. It returns ``Finding``s; the
gate BLOCKs, holds for REVIEW (a person's approval), REDACTs, or only WARNs. Nothing is stored
or sent here: ``preview`` reviews without side effects.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import carecast

HERE = Path(__file__).resolve().parent
OUR_SITE = "riverside-general.example"
_URL = re.compile(r"https?://[^\s<>\"']+")
_PROMISE = re.compile(r"\b(cure[sd]?|guaranteed?|miracle)\b", re.IGNORECASE)


class RiversideRules:
    """Links go to our own site (else a person approves); no promises of cures."""

    @carecast.hookimpl
    def carecast_review_draft(self, draft: carecast.Draft) -> list[carecast.Finding]:
        findings = []
        for i, part in enumerate(draft.parts):
            field = f"parts[{i}].text"
            for url in _URL.findall(part.text):
                host = urlsplit(url).hostname or ""
                if host != OUR_SITE and not host.endswith("." + OUR_SITE):
                    findings.append(carecast.Finding(
                        action=carecast.Action.REVIEW, code="riverside.external_link",
                        field=field,
                        message=f"{field} links outside {OUR_SITE}; communications approves "
                                "external links",
                    ))
            for match in _PROMISE.finditer(part.text):
                findings.append(carecast.Finding(
                    action=carecast.Action.WARN, code="riverside.promise", field=field,
                    message=f"{field} at {match.start()}: avoid promising outcomes",
                ))
        return findings


def main() -> None:
    config = carecast.load_config(HERE / "carecast.toml")
    posts = [
        carecast.load_post(HERE / "posts" / "flu-clinic.yaml"),
        carecast.Post(text="A miracle cure? Read the study: https://news.example.com/study"),
    ]
    with carecast.Publisher(config, plugins=[RiversideRules()]) as publisher:
        for post in posts:
            preview = publisher.preview(post)
            print(f"post {post.id}: {'ready' if preview.ok else 'held'}")
            for target in preview.targets:
                print(f"  {target.account}: {target.state}")
                for f in target.findings:
                    print(f"    {f.action} {f.code} ({f.check}): {f.message}")


if __name__ == "__main__":
    main()
