"""A publishing process for the crash-safety test; the test kills it with SIGKILL.

    python crash_worker.py CONFIG_TOML POSTS

Builds a ``Publisher`` from ``CONFIG_TOML`` (webhook accounts at the local fault server, an
SQLite store beside the file) and publishes ``POSTS`` posts with fixed ids, one after another.
It prints ``ready`` once the publisher is built, ``post ID SENT`` after each post (SENT: how
many targets this run published, not counting those already published) and ``done`` at the
end, each line flushed at once so the parent can time its kill.
"""

from __future__ import annotations

import sys

from carecast import Post, Publisher


def posts(count: int) -> list[Post]:
    """The posts, identical in every run (same ids, same content)."""
    return [Post(id=f"crash-{i:03d}",
                 text=f"Community health note {i}: free blood pressure checks on Saturday.",
                 hashtags=["health"])
            for i in range(count)]


def main(argv: list[str]) -> int:
    config, count = argv[1], int(argv[2])
    with Publisher.from_config_file(config, entry_point_plugins=False) as publisher:
        print("ready", flush=True)
        for post in posts(count):
            report = publisher.publish(post)
            if not report.ok:
                print(f"failed {post.id} {report.counts}", flush=True)
                return 1
            sent = sum(1 for o in report.outcomes if not o.already_published)
            print(f"post {post.id} {sent}", flush=True)
    print("done", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
