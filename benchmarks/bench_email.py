"""The email newsletter channel: CPU to build one message, memory for a message with large
images, and messages per second delivered to an SMTP server on 127.0.0.1 (aiosmtpd).

- build: render and MIME of a 2,000-character post with one 200 KB inline image (median).
- memory: peak Python allocation (tracemalloc) while building a message with 10 inline images
  of 1 MB each, against the message's own size.
- send: 50 messages, each its own connection, to a loopback server that accepts at once:
  messages per second, and the CPU of carecast's own thread per message (the server runs in
  this process too, and its share is left out).

Figures only. Run: ``python benchmarks/bench_email.py``.
"""

from __future__ import annotations

import os
import socket
import tempfile
import time
import tracemalloc
from pathlib import Path

from _common import Row, median, ms, table

from carecast.channels.email import EmailChannel
from carecast.config import AccountConfig
from carecast.post import Media, Post

RUNS = 30
SENDS = 50


class _Accept:
    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        return "250 OK"


def _channel(root: Path, port: int) -> EmailChannel:
    return EmailChannel.from_config(AccountConfig(name="news", channel="email", options={
        "host": "127.0.0.1", "port": port, "security": "none",
        "from_address": "Riverside News <news@riverside.example.org>",
        "list_address": "patients@lists.riverside.example.org",
        "list_id": "news.riverside.example.org",
        "unsubscribe_url": "https://riverside.example.org/unsubscribe"}), root=root)


def _post(images: int, size: int, root: Path) -> Post:
    media = []
    for i in range(images):
        (root / f"img{i}.png").write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(size))
        media.append(Media(source=f"img{i}.png", alt_text=f"Picture {i}"))
    text = ("Our flu clinic opens Monday at 9. Walk-ins welcome; bring your card. " * 30)[:2000]
    return Post(id=f"bench-{images}", title="Flu clinic opens Monday", text=text,
                media=tuple(media))


def run() -> list[Row]:
    from aiosmtpd.controller import Controller

    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        channel = _channel(root, port)
        draft = channel.render(_post(1, 200_000, root))
        times = []
        for _ in range(RUNS):
            start = time.process_time()
            channel.message(draft).as_bytes()
            times.append(time.process_time() - start)
        rows.append(Row("email", "build one message (200 KB image), CPU", ms(median(times))))

        big = channel.render(_post(10, 1_000_000, root))
        tracemalloc.start()
        size = len(channel.message(big).as_bytes())
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        rows.append(Row("email", "peak memory, 10 x 1 MB images",
                        f"{peak / 1e6:.1f} MB for a {size / 1e6:.1f} MB message"))

        controller = Controller(_Accept(), hostname="127.0.0.1", port=port)
        controller.start()
        try:
            channel.publish(draft, "warm-up")
            start, cpu = time.perf_counter(), time.thread_time()
            for i in range(SENDS):
                channel.publish(draft, f"key-{i}")
            wall, cpu = time.perf_counter() - start, time.thread_time() - cpu
        finally:
            controller.stop()
        rows.append(Row("email", f"{SENDS} messages to a loopback SMTP server",
                        f"{SENDS / wall:.1f} messages/s (200 KB image each; the server, "
                        "in this process, reads them in Python)"))
        rows.append(Row("email", "carecast's CPU per message sent (its thread)",
                        ms(cpu / SENDS)))
    return rows


if __name__ == "__main__":
    print(table(run()))
