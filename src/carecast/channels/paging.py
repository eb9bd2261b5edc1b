"""Reading an account's posts back, newest first, as far as the send looked up.

A lookup that finds posts by listing them must see every post made since the send it looks
for: one page is not enough once the account posts more in between. ``since_send`` follows a
platform's pages until it passes the send time (``earliest_send``) or the history ends, and
answers a non-retryable ``OutcomeUnknown`` when it cannot see that far: never "not found",
which would resend a post that may be there.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Generic, TypeVar

from carecast.channels.base import earliest_send
from carecast.errors import OutcomeUnknown

__all__ = ["MAX_PAGES", "Page", "since_send"]

T = TypeVar("T")
C = TypeVar("C")
#: Pages read at most in one lookup; past that the outcome stays unknown.
MAX_PAGES = 25


class Page(Generic[T, C]):
    """One page of posts, newest first, and the cursor of the next (older) page, if any."""

    def __init__(self, items: Sequence[T], older: C | None) -> None:
        self.items = list(items)
        self.older = older


def since_send(fetch: Callable[[C | None], Page[T, C]], created: Callable[[T], datetime | None],
               *, channel: str, account: str, max_pages: int | None = None) -> list[T]:
    """Every post of ``fetch``'s pages (``None``: the newest page) down to the send time.

    Stops at the first page holding a post made before ``earliest_send()`` or at the end of
    the history; a platform error on any page propagates (the caller's outcome stays
    unknown). Without a known send time the whole history must be read within the cap.
    """
    max_pages = max_pages or MAX_PAGES
    bound = earliest_send()
    seen: list[T] = []
    cursor: C | None = None
    for _ in range(max_pages):
        page = fetch(cursor)
        seen.extend(page.items)
        times = [t for t in map(created, page.items) if t is not None]
        if not page.items or page.older is None or (
                bound is not None and any(t < bound for t in times)):
            return seen
        cursor = page.older
    raise OutcomeUnknown(
        f"the post may be older than the {len(seen)} latest posts read ({max_pages} pages); "
        "check the account by hand, then run: carecast retry POST_ID --resend-unknown",
        channel=channel, account=account, retryable=False, next_step_given=True)
