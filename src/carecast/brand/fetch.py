"""What the audit reads over HTTP besides profiles: avatar images, and where a shortened
link leads. Both go through ``carecast.channels.http.send`` and raise ``ChannelError``."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

from carecast.channels.http import send
from carecast.clock import SYSTEM_CLOCK, Clock

__all__ = ["MAX_BYTES", "http_fetcher", "http_resolver"]

#: Largest avatar read, in bytes.
MAX_BYTES = 10 * 1024 * 1024


def http_fetcher(session: Any, *, timeout: float = 10.0,
                 clock: Clock = SYSTEM_CLOCK) -> Callable[[str], bytes]:
    """A fetcher of avatar URLs over a ``requests`` session (at most ``MAX_BYTES``)."""

    def fetch(url: str) -> bytes:
        response = send(session, "GET", url, channel="brand", account="avatar",
                        timeout=timeout, now=clock.time, stream=True, allow_redirects=True)
        buffer = io.BytesIO()
        with response:
            for chunk in response.iter_content(64 * 1024):
                buffer.write(chunk)
                if buffer.tell() > MAX_BYTES:
                    break
        return buffer.getvalue()

    return fetch


def http_resolver(session: Any, *, timeout: float = 10.0,
                  clock: Clock = SYSTEM_CLOCK) -> Callable[[str], str | None]:
    """Where a shortened link leads: a ``HEAD`` request following its redirects."""

    def resolve(url: str) -> str | None:
        response = send(session, "HEAD", url, channel="brand", account="website",
                        timeout=timeout, now=clock.time, allow_redirects=True)
        return str(response.url) if response.history else None

    return resolve
