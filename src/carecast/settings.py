"""Process-level settings from ``CARECAST_*`` environment variables (pydantic-settings).

Kept apart from ``carecast.config`` so that ``import carecast`` does not load pydantic-settings.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["DEFAULT_CONFIG", "Settings"]

DEFAULT_CONFIG = "carecast.toml"


class Settings(BaseSettings):
    """Process-level settings, from ``CARECAST_*`` environment variables."""

    model_config = SettingsConfigDict(env_prefix="CARECAST_", extra="ignore")

    config: Path = Field(default=Path(DEFAULT_CONFIG), description="Path of carecast.toml.")
    store_url: str | None = Field(default=None, description="Overrides [store] url.")
    secrets_file: Path | None = None
    max_post_bytes: int = Field(default=1 << 20, ge=1, description="Largest post file read.")
    max_config_bytes: int = Field(
        default=1 << 20, ge=1, description="Largest configuration or secrets file read.")
    max_export_bytes: int = Field(
        default=1 << 30, ge=1, description="Largest audit export read by audit verify --file.")
