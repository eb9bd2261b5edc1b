"""Worst-case inputs: how review, rendering and the reply gate grow with a text's length.

No input may hang the process. Each surface is given texts made by repeating one phrase
that starts some rule's search (a title, initials, an apology, a relative, a link, an
emoji sequence, an abbreviation that ends no sentence ...) to ``1/8`` of a length and to the
whole of it, and the CPU time of each is measured: a ratio near 8 is linear, near 64
quadratic. The slowest phrase of each surface is shown with its ratio. The surfaces:
``Publisher.preview`` of a post with every default check (16,000 characters), ``render``
of the Mastodon, Bluesky, X and Threads channels (16,000) and the reply gate
(``reply_guard.stops``, 10,000 characters, the most a reply may hold). Figures only.
Run: ``python benchmarks/bench_worst.py``.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from pathlib import Path

from _common import Row, ms, table

from carecast import Config, Post, Publisher
from carecast.compliance.reply_guard import stops
from carecast.errors import CarecastError
from carecast.replies import MAX_REPLY_CHARS

POST_CHARS = 16_000
PHRASES = (
    "Mr. ", "Mrs. Baker ", "J. ", "B.W., 58 ", "Dana K. ", "Dr. Smith ", "my mother Anna ",
    "your son ", "sorry you ", "so sorry about your wait in our ER ", "welcome back ",
    "Springfield, IL ", "123 Main St ", "Rm 4B ", "on 3/4 ", "aged 91 ", "MRN ", "DOB: ",
    "(555) 010-2000 ", "@someone ", "#Stroke2026 ", "https://a.example/p?id=1 ", "ER ",
    "take 2 tablets of ", "don't call 911, ", "you have ", "I want to die ", "cure ",
    "if you have ", "e.g. ", "U.S. ", "a.m. ", "... ", "\u00e9", "e\u0301",
    "\U0001f469\u200d\U0001f469\u200d\U0001f467 ", "\u4e2d\u6587", "word. ", "line\n",
)
_ACCOUNTS = {
    "mastodon": {"channel": "mastodon", "api_base_url": "https://social.example",
                 "access_token": "not-a-token"},
    "bluesky": {"channel": "bluesky", "handle": "clinic.bsky.social",
                "app_password": "aaaa-bbbb-cccc-dddd"},
    "x": {"channel": "x", "consumer_key": "k", "consumer_secret": "s", "access_token": "t",
          "access_token_secret": "u"},
    "threads": {"channel": "threads", "access_token": "not-a-token", "user_id": "1"},
}


def _cpu(fn: Callable[[str], object], text: str) -> float:
    start = time.process_time()
    with contextlib.suppress(CarecastError):  # a refusal (too long, blocked) is an answer too
        fn(text)
    return time.process_time() - start


def _worst(surface: str, fn: Callable[[str], object], length: int) -> list[Row]:
    slowest = ("", 0.0, 0.0)
    for phrase in PHRASES:
        whole = phrase * (length // len(phrase))
        eighth = phrase * (length // 8 // len(phrase))
        small, large = _cpu(fn, eighth), _cpu(fn, whole)
        if large > slowest[2]:
            slowest = (phrase, small, large)
    phrase, small, large = slowest
    return [Row("worst", f"{surface}: slowest, {phrase!r} to {length:,} chars", ms(large)),
            Row("worst", f"{surface}: its growth from 1/8 (8 linear, 64 quadratic)",
                f"{large / small:.1f}x" if small else "n/a")]


def run() -> list[Row]:
    config = Config.from_dict({
        "brands": {"clinic": {"name": "Riverside Clinic"}},
        "accounts": {name: {"brand": "clinic", **options}
                     for name, options in _ACCOUNTS.items()},
    }, root=Path("."), environ={})
    rows: list[Row] = []
    with Publisher(config, entry_point_plugins=False) as publisher:
        def preview(text: str) -> object:
            return publisher.preview(Post(id="worst", text=text), only=["mastodon"])

        preview("Warm-up: every pattern compiled.")
        rows += _worst("preview, every check", preview, POST_CHARS)
        for name in _ACCOUNTS:
            channel = publisher.channel(name)
            rows += _worst(f"{name} render",
                           lambda text, c=channel: c.render(Post(id="worst", text=text)),
                           POST_CHARS)
    rows += _worst("reply gate", lambda text: stops(text, "my son was here"), MAX_REPLY_CHARS)
    return rows


if __name__ == "__main__":
    print(table(run()))
