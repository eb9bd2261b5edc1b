"""Send a draft's parts as a reply thread, all or nothing.

A thread is several platform calls, so one can fail after others succeeded. ``send_thread``
keeps the ledger's promise, one post per (post, account) and never half of one: when a later
part fails it deletes the parts already sent, newest first, and raises the failure, so a retry
sends the whole thread again. A platform that deduplicates each part by its own key (Mastodon's
``Idempotency-Key``) passes ``undo=None``: a retry with the same keys finds the parts it sent.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from carecast.errors import ChannelError, OutcomeUnknown
from carecast.post import Part

__all__ = ["part_key", "send_thread"]

#: ``send(index, part, reply_to)`` posts one part and returns its remote id.
Send = Callable[[int, Part, str | None], str]


def part_key(key: str, index: int) -> str:
    """The idempotency key of part ``index``: the post's key for the first part."""
    return key if index == 0 else f"{key}.{index}"


def send_thread(parts: Sequence[Part], send: Send,
                undo: Callable[[str], None] | None) -> list[str]:
    """Send ``parts`` in order, each replying to the one before; the remote ids, in order.

    When part ``k > 0`` fails, the parts before it are deleted with ``undo`` and the error is
    raised as it was. If that clean-up fails, the error becomes a non-retryable
    ``OutcomeUnknown`` naming how many parts are live: a person must decide.
    """
    sent: list[str] = []
    for index, part in enumerate(parts):
        try:
            sent.append(send(index, part, sent[-1] if sent else None))
        except ChannelError as exc:
            if not sent or undo is None:
                raise
            _roll_back(sent, undo, exc)
            raise
    return sent


def _roll_back(sent: list[str], undo: Callable[[str], None], cause: ChannelError) -> None:
    for done, remote_id in enumerate(reversed(sent)):
        try:
            undo(remote_id)
        except ChannelError:
            live = len(sent) - done
            raise OutcomeUnknown(
                f"part {len(sent) + 1} of the thread failed ({type(cause).__name__}) and "
                f"{live} earlier part(s) could not be deleted (first id {sent[0]}); delete "
                "them on the platform, then run 'carecast retry'",
                channel=cause.channel, account=cause.account, retryable=False,
                next_step_given=True) from cause
