"""API clients of ``carecast serve``: their keys (stored hashed), brands and verbs.

Clients live in their own TOML file (``carecast-clients.toml`` beside ``carecast.toml``), one
``[clients.NAME]`` table each, so the main configuration never holds a key hash and the file
can be kept readable by the service alone::

    [clients.cms]
    key_hash = "sha256:9f86d0..."
    brands = ["mercy"]                 # or ["*"] for every brand
    verbs = ["preview", "publish", "schedule", "status", "list"]
    callback_url = "https://cms.example.org/carecast-callback"

The callback's signing secret is ``callback_secret`` in the table, or the environment variable
``CARECAST_CLIENTS__<NAME>__CALLBACK_SECRET`` (which wins).

A key is 32 random bytes (``new_key``), so one SHA-256 round is enough to store it: a slow
password hash protects guessable secrets, and these are not guessable. ``hash_key`` refuses a
key with less entropy. The presented key is compared with every client's hash in constant
time (``hmac.compare_digest``), without stopping at the first match.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import tomllib
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from carecast.channels.webhook import MIN_SECRET_BITS, secret_bits
from carecast.confine import read_capped
from carecast.errors import ConfigurationError, InputRefused

__all__ = ["Client", "Clients", "Verb", "hash_key", "new_key"]

_PREFIX = "sha256:"
_ENV = "CARECAST_CLIENTS__{}__CALLBACK_SECRET"
_MAX_FILE = 1 << 20


class Verb(StrEnum):
    """What a client may do; each endpoint needs one."""

    PREVIEW = "preview"
    PUBLISH = "publish"
    SCHEDULE = "schedule"
    STATUS = "status"
    LIST = "list"
    APPROVE = "approve"
    REJECT = "reject"
    TAKEDOWN = "takedown"
    FREEZE = "freeze"
    THAW = "thaw"


def new_key() -> str:
    """A fresh API key (32 random bytes, URL-safe)."""
    return secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    """The stored form of an API key; refuses a key weaker than ``new_key``'s."""
    if secret_bits(key) < MIN_SECRET_BITS:
        raise ConfigurationError(
            f"the API key is too weak: give at least {MIN_SECRET_BITS // 8} random bytes "
            "(carecast serve add-client makes one)")
    return _PREFIX + hashlib.sha256(key.encode()).hexdigest()


class Client(BaseModel):
    """One API client: who it is, what it may touch, where its callbacks go."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")
    key_hash: str = Field(pattern=r"^sha256:[0-9a-f]{64}$",
                          description="What `carecast serve hash-key` prints.")
    brands: tuple[str, ...] = Field(min_length=1, description='Brand names, or ["*"].')
    verbs: tuple[Verb, ...] = Field(min_length=1)
    callback_url: SecretStr | None = Field(
        default=None, description="Where signed callbacks go (a URL may carry a token).")
    callback_secret: SecretStr | None = None

    @field_validator("callback_url")
    @classmethod
    def _http(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith(
                ("https://", "http://")):
            raise ValueError("give an http(s) URL")
        return value

    @field_validator("callback_secret")
    @classmethod
    def _strong(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and secret_bits(value.get_secret_value()) < MIN_SECRET_BITS:
            raise ValueError(f"the callback secret is too weak: give at least "
                             f"{MIN_SECRET_BITS // 8} random bytes")
        return value

    def may(self, verb: Verb, brand: str | None) -> bool:
        """Whether the client may ``verb`` posts of ``brand`` (None: every brand)."""
        if verb not in self.verbs:
            return False
        return "*" in self.brands or (brand is not None and brand in self.brands)


class Clients:
    """The clients of one service; ``authenticate`` finds the one a key belongs to."""

    def __init__(self, clients: Mapping[str, Client]) -> None:
        self.by_name = dict(clients)

    def __repr__(self) -> str:
        return f"<Clients {sorted(self.by_name)}>"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str = "clients",
                  environ: Mapping[str, str] | None = None) -> Clients:
        """Validate ``{"clients": {NAME: {...}}}``; errors name the client and field."""
        environ = os.environ if environ is None else environ
        tables = data.get("clients", {})
        unknown = sorted(set(data) - {"clients"})
        if unknown or not isinstance(tables, Mapping):
            raise ConfigurationError(f"{source}: only [clients.NAME] tables belong here "
                                     f"(found: {', '.join(unknown) or 'clients'})")
        out: dict[str, Client] = {}
        for name, table in tables.items():
            if not isinstance(table, Mapping):
                raise ConfigurationError(f"{source}: clients.{name} must be a table")
            raw = {**table, "name": name}
            secret = environ.get(_ENV.format(str(name).upper()))
            if secret:
                raw["callback_secret"] = secret
            try:
                out[name] = Client.model_validate(raw)
            except ValidationError as exc:
                problems = "; ".join(
                    f"clients.{name}.{'.'.join(map(str, e['loc']))}: "
                    f"{str(e['msg']).removeprefix('Value error, ')}" for e in exc.errors())
                raise ConfigurationError(f"{source}: {problems}") from None
        return cls(out)

    @classmethod
    def load(cls, path: Path, *, environ: Mapping[str, str] | None = None) -> Clients:
        """Read a clients file; a missing file is an error that says how to make one."""
        try:
            raw = read_capped(path, cap=_MAX_FILE, setting="", what="clients file")
        except FileNotFoundError:
            raise ConfigurationError(
                f"{path}: no clients file; add a client with: carecast serve add-client NAME "
                "--brand BRAND --verb publish") from None
        except (OSError, InputRefused) as exc:
            raise ConfigurationError(f"{path}: cannot read it ({type(exc).__name__})"
                                     ) from None
        try:
            data = tomllib.loads(raw.decode("utf-8"))
        except (UnicodeError, tomllib.TOMLDecodeError) as exc:
            raise ConfigurationError(f"{path}: not valid TOML ({exc})") from None
        return cls.from_dict(data, source=str(path), environ=environ)

    def authenticate(self, key: str) -> Client | None:
        """The client whose key this is, else None (every hash is compared, in constant
        time)."""
        digest = (_PREFIX + hashlib.sha256(key.encode()).hexdigest()).encode()
        found: Client | None = None
        for client in self.by_name.values():
            if hmac.compare_digest(digest, client.key_hash.encode()):
                found = client
        return found


def client_table(name: str, key_hash: str, brands: list[str], verbs: list[str],
                 callback_url: str | None = None) -> str:
    """A ``[clients.NAME]`` table to append to a clients file (validated first)."""
    Client(name=name, key_hash=key_hash, brands=tuple(brands),
           verbs=tuple(Verb(v) for v in verbs),
           callback_url=SecretStr(callback_url) if callback_url else None)
    lines = [f"[clients.{name}]", f"key_hash = {json.dumps(key_hash)}",
             f"brands = {json.dumps(brands)}", f"verbs = {json.dumps(verbs)}"]
    if callback_url:
        lines.append(f"callback_url = {json.dumps(callback_url)}")
    return "\n".join(lines) + "\n"
