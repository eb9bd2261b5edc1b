"""Values the store keeps for a while but must not hold readable: a resumable upload's
session URI is a bearer capability (whoever has it may upload into the session), so it is
sealed before it is written.

AES-256-GCM (the ``cryptography`` package, not a cipher of our own) under a key derived from
the audit key, which is kept outside the database: a reader of the database or of its backups
learns nothing, and a row moved to another key (its ``context``) does not open. A value sealed
under a retired audit key still opens after a rotation.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = ["seal", "unseal"]

_PREFIX = "sealed1:"
_PURPOSE = b"carecast sealed store values v1"


def _cipher(audit_key: bytes) -> AESGCM:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    return AESGCM(hmac.new(audit_key, _PURPOSE, hashlib.sha256).digest())


def seal(audit_key: bytes, context: str, value: str) -> str:
    """``value`` sealed for the row ``context`` (text, safe for any column)."""
    nonce = os.urandom(12)
    box = _cipher(audit_key).encrypt(nonce, value.encode(), context.encode())
    return _PREFIX + base64.urlsafe_b64encode(nonce + box).decode("ascii")


def unseal(audit_keys: Sequence[bytes], context: str, stored: str) -> str | None:
    """The value ``seal`` sealed for ``context`` under one of ``audit_keys``; None when it
    opens under none of them (a foreign or altered row). A value stored before sealing
    existed (no prefix) is returned as it is."""
    if not stored.startswith(_PREFIX):
        return stored
    from cryptography.exceptions import InvalidTag

    try:
        raw = base64.urlsafe_b64decode(stored[len(_PREFIX):])
    except ValueError:
        return None
    for key in audit_keys:
        try:
            opened = _cipher(key).decrypt(raw[:12], raw[12:], context.encode())
        except (InvalidTag, ValueError):
            continue
        return opened.decode()
    return None
