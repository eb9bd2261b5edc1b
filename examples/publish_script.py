"""Publish a post from a script: what ``carecast publish`` does, with the library API.

    python examples/publish_script.py

Run it twice: the second run sends nothing and reports every target as already published.
"""

from __future__ import annotations

import sys
from pathlib import Path

import carecast

HERE = Path(__file__).resolve().parent


def main() -> int:
    config = carecast.load_config(HERE / "carecast.toml")  # secrets come from the environment
    post = carecast.load_post(HERE / "posts" / "flu-clinic.yaml")

    with carecast.Publisher(config) as publisher:
        report = publisher.publish(post)

    print(f"post {report.post_id}: {report.counts}")
    for outcome in report.outcomes:
        print(f"  {outcome.account:<10} {outcome.channel:<8} {outcome.summary}")
    for finding in report.findings:
        print(f"  finding: {finding.action} {finding.code} in {finding.field}")

    try:
        report.raise_for_failures()
    except carecast.PublishError as exc:  # exc.report holds every outcome
        print(exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
