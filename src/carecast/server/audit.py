"""Audit events of the REST service: every call, with the client's name, in the one chain.

Events go through `Ledger.note`, so they are hash-chained,
keyed and checkpointed like every other event. They hold the client, the verb, the HTTP
status and the accounts, never post text or a key.
"""

from __future__ import annotations

from typing import Any

from carecast.store import Ledger

__all__ = ["SUBMIT", "audit"]

#: The event that says which client stored a post (its callbacks go to that client).
SUBMIT = "api.submit"


def audit(ledger: Ledger, client: str, kind: str, post_id: str = "", account: str = "",
          **data: Any) -> None:
    """Append one ``kind`` event for ``client`` to the audit chain."""
    ledger.note(kind, {"client": client, **data}, post_id=post_id, account=account)
