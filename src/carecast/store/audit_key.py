"""The audit key: the HMAC key of the audit chain, kept outside the database.

A database writer who lacks the key cannot recompute the chain. The key comes from (first
found): the ``audit_key`` given to the ledger (bytes, or a callable for a KMS), the
``CARECAST_AUDIT_KEY`` environment variable (hex), ``[audit] key_file``, or, for an SQLite
store only, a key file created next to the database (mode 0600).
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Callable
from pathlib import Path

from carecast.errors import ConfigurationError

__all__ = ["KeySource", "resolve_key"]

KeySource = bytes | Callable[[], bytes]
_ENV = "CARECAST_AUDIT_KEY"
_MIN_BYTES = 32
log = logging.getLogger(__name__)


def _checked(key: bytes, where: str) -> bytes:
    if len(key) < _MIN_BYTES:
        raise ConfigurationError(f"{where}: the audit key needs at least {_MIN_BYTES} bytes")
    return key


def _read_file(path: Path) -> bytes:
    try:
        text = path.read_text(encoding="ascii").strip()
        return _checked(bytes.fromhex(text), f"[audit] key_file {path}")
    except (OSError, ValueError, UnicodeDecodeError):
        raise ConfigurationError(
            f"[audit] key_file {path}: unreadable or not a hex key; write "
            f"{_MIN_BYTES} random bytes as hex (e.g. `python -c \"import secrets; "
            f"print(secrets.token_hex(32))\"`)") from None


def _create_file(path: Path) -> bytes:
    key = secrets.token_bytes(_MIN_BYTES)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another worker made it first
        return _read_file(path)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(key.hex() + "\n")
    log.warning("created the audit key %s (mode 0600); keep it, and a copy, outside the "
                "database: without it the audit trail cannot be verified", path)
    return key


def resolve_key(source: KeySource | None, key_file: Path | None, database: Path | None,
                *, memory: bool = False) -> bytes:
    """The audit key; ``database`` is the SQLite file (None for any other database)."""
    if callable(source):
        return _checked(source(), "audit_key callback")
    if source is not None:
        return _checked(source, "audit_key")
    env = os.environ.get(_ENV)
    if env:
        try:
            return _checked(bytes.fromhex(env.strip()), _ENV)
        except ValueError:
            raise ConfigurationError(f"{_ENV}: not a hex key") from None
    if key_file is not None:
        return _read_file(key_file)
    if memory:
        return secrets.token_bytes(_MIN_BYTES)  # an in-memory store ends with its process
    if database is None:
        raise ConfigurationError(
            "[audit] key_file is required for a store other than SQLite: set it in "
            f"carecast.toml (or {_ENV}, or pass audit_key= to the ledger) to a file of "
            f"{_MIN_BYTES} random bytes in hex kept outside the database")
    path = database.with_name(database.name + ".audit-key")
    return _read_file(path) if path.exists() else _create_file(path)
