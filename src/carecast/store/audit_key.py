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

__all__ = ["KeySource", "key_path", "resolve_key", "resolve_retired", "retire", "source_file",
           "stage"]

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


def key_path(key_file: Path | None, database: Path | None) -> Path | None:
    """The file the key is read from when no key is given nor in the environment."""
    if key_file is not None:
        return key_file
    return database.with_name(database.name + ".audit-key") if database else None


def source_file(source: KeySource | None, key_file: Path | None, database: Path | None
                ) -> Path | None:
    """The file ``resolve_key`` reads the key from; None when it comes from elsewhere."""
    if source is not None or os.environ.get(_ENV):
        return None
    return key_path(key_file, database)


def resolve_retired(key_file: Path | None, database: Path | None) -> list[bytes]:
    """The keys a rotation replaced: one hex key a line in ``<key file>.retired``."""
    path = key_path(key_file, database)
    retired = path.with_name(path.name + ".retired") if path else None
    if retired is None or not retired.exists():
        return []
    try:
        lines = retired.read_text(encoding="ascii").split()
        return [_checked(bytes.fromhex(line), f"retired audit keys {retired}")
                for line in lines]
    except (OSError, ValueError, UnicodeDecodeError):
        raise ConfigurationError(f"retired audit keys {retired}: unreadable or not hex keys, "
                                 "one a line") from None


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


def stage(path: Path, new: bytes) -> Path:
    """Before a rotation: write ``new`` to ``<path>.new`` (mode 0600), so a crash after the
    rotation's commit cannot lose the key the chain is now under."""
    staged = path.with_name(path.name + ".new")
    fd = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(new.hex() + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    return staged


def retire(path: Path, old: bytes) -> None:
    """After a rotation: add ``old`` to ``<path>.retired``, then move the staged new key
    over ``path``."""
    fd = os.open(path.with_name(path.name + ".retired"),
                 os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "a", encoding="ascii") as fh:
        fh.write(old.hex() + "\n")
    os.replace(path.with_name(path.name + ".new"), path)
