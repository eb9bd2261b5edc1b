"""``carecast.toml``: brands, their accounts, the store and the publishing policy.

Secrets never need to be written in the file. For an account option, carecast reads, in this
order (later wins): the file, the secrets file (``CARECAST_SECRETS_FILE``, a TOML file of
``[accounts.NAME]`` tables), and the environment variable
``CARECAST_ACCOUNTS__<NAME>__<OPTION>`` (upper case, ``-`` as ``_``).
"""

from __future__ import annotations

import hashlib
import os
import re
import tomllib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_serializer,
    field_validator,
)

from carecast.confine import DEFAULT_MAX_BYTES, DEFAULT_MAX_PIXELS, MediaRules
from carecast.errors import ConfigurationError, InputRefused
from carecast.schedule import Slot, parse_slot, zone
from carecast.scrub import remember

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from carecast.settings import Settings

__all__ = [
    "AccountConfig",
    "ApprovalConfig",
    "ApprovalStep",
    "BrandConfig",
    "CheckSettings",
    "Config",
    "ListenBrand",
    "ListenConfig",
    "ListenQuery",
    "MediaConfig",
    "MetricsConfig",
    "PublishConfig",
    "ReplyRules",
    "SpikeConfig",
    "StoreConfig",
    "UtmConfig",
    "VoiceRules",
    "load_config",
]

T = TypeVar("T")
_NAME = r"^[a-z0-9][a-z0-9_-]{0,63}$"
_USERINFO = re.compile(r"^([a-z][a-z0-9+.-]*://[^:/@?#]*)(:[^@/?#]*)?@", re.IGNORECASE)
_ENV_ACCOUNT = re.compile(r"^CARECAST_ACCOUNTS__([A-Z0-9_]+?)__([A-Z0-9_]+)$")


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)


class StoreConfig(_Section):
    """Where the ledger lives: an SQLAlchemy URL; relative SQLite paths start at the file."""

    url: str = Field(default="sqlite:///carecast.db", repr=False)

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        yield "url", _masked_url(self.url)

    @field_serializer("url")
    def _dump_url(self, url: str) -> str:
        return _masked_url(url)


def _masked_url(url: str) -> str:
    """A URL with the password of its userinfo hidden (``postgresql://app:***@db/carecast``)."""
    return _USERINFO.sub(lambda m: m[1] + (":***" if m[2] else "") + "@", url)


class AuditConfig(_Section):
    """Where the audit key and the signed head checkpoint live, both outside the database.

    Relative paths start at the file. Unset with SQLite: ``<db>.audit-key`` (created, mode
    0600) and ``<db>.audit-checkpoint``; any other store needs ``key_file`` (or the
    ``CARECAST_AUDIT_KEY`` environment variable), and keeps its checkpoint in
    ``carecast-<store>.audit-checkpoint`` beside this file (``<store>``: 12 hex digits of the
    store URL's digest) unless ``checkpoint_file`` says otherwise.
    """

    key_file: Path | None = None
    checkpoint_file: Path | None = None


class ChannelLimits(_Section):
    """``[publish.channels.NAME]``: the limits of one channel's accounts and hosts."""

    per_account: int | None = Field(default=None, ge=1, le=256)
    per_host: int | None = Field(default=None, ge=1, le=1024)


class PublishConfig(_Section):
    """Concurrency and the retry policy."""

    concurrency: int = Field(default=8, ge=1, le=256, description="Sends in flight at once.")
    per_account: int | None = Field(
        default=None, ge=1, le=256,
        description="Sends to one account in flight at once (default: the channel's own, "
                    "from the platform's documented limits); an account's `concurrency` wins.")
    per_host: int | None = Field(
        default=None, ge=1, le=1024,
        description="Sends to one platform host (a Mastodon instance, one API) in flight at "
                    "once, every account together (default: the channel's own).")
    channels: dict[str, ChannelLimits] = Field(
        default_factory=dict, description="Limits per channel name: per_account, per_host.")
    max_attempts: int = Field(default=5, ge=1, le=50)
    worker_rounds: int = Field(
        default=3, ge=1, le=20,
        description="A worker sends a target that failed or whose outcome is unknown (after "
                    "reconciling) again, in later passes, until it has been claimed this "
                    "many times; then it waits for carecast retry.")
    max_wait: float = Field(default=300.0, ge=0, description="Total seconds of waiting.")
    max_retry_after: float = Field(
        default=120.0, ge=0, description="Longest single wait a platform may ask for."
    )
    stale_sending_after: float = Field(
        default=300.0, ge=0,
        description="A target left 'sending' by a process on this machine that is gone (a "
                    "crash) is reconciled by the next run at once; one claimed by a live "
                    "process or another machine's worker only after this many seconds. Set "
                    "it above the longest send (a video upload).",
    )

    def in_flight(self, channel: str, defaults: tuple[int, int],
                  account: int | None = None) -> tuple[int, int]:
        """How many sends may be in flight at once to one account of ``channel`` and to one
        of its hosts: the first set of the account's own ``concurrency``,
        ``[publish.channels.NAME]``, ``[publish]``, and the channel's ``defaults``."""
        own = self.channels.get(channel)
        per_account = (account or (own.per_account if own else None) or self.per_account
                       or defaults[0])
        per_host = (own.per_host if own else None) or self.per_host or defaults[1]
        return per_account, per_host


class ApprovalStep(_Section):
    """One step of the approval chain and who may sign it."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")
    approvers: list[str] = Field(
        default_factory=list, description="Who may sign this step; empty: anyone but the author.")


class ApprovalConfig(_Section):
    """Which posts need approval, the chain of steps, and the deadline before a schedule.

    A post with a REVIEW finding always needs the chain; so does every post of a listed
    campaign or brand, or every post at all with ``every_post``.
    """

    steps: list[ApprovalStep] = Field(
        default_factory=lambda: [ApprovalStep(name="review")], min_length=1)
    campaigns: list[str] = Field(default_factory=list)
    brands: list[str] = Field(default_factory=list)
    every_post: bool = False
    deadline: float = Field(
        default=0.0, ge=0,
        description="Seconds before a scheduled post's time by which the chain must be done.")

    @field_validator("steps")
    @classmethod
    def _distinct(cls, value: list[ApprovalStep]) -> list[ApprovalStep]:
        names = [s.name for s in value]
        if len(set(names)) != len(names):
            raise ValueError("each step needs its own name")
        return value


class VoiceRules(_Section):
    """How a brand writes: its names' spellings, what it never says, the hashtags it owes.

    Whether a finding warns or blocks is the brand's ``[brands.NAME.checks.voice]`` setting.
    """

    names: list[str] = Field(
        default_factory=list,
        description="Preferred spellings of brand and service names (MyChart, Riverside "
                    "General); a near miss or another casing is flagged.")
    banned: list[str] = Field(default_factory=list, description="Words and phrases never used.")
    suggest: dict[str, str] = Field(
        default_factory=dict, description="What to write instead of a banned phrase.")
    hashtags: list[str] = Field(default_factory=list, description="Hashtags every post carries.")
    campaign_hashtags: dict[str, list[str]] = Field(
        default_factory=dict, description="Hashtags every post of a campaign carries.")

    @field_validator("hashtags")
    @classmethod
    def _bare(cls, value: list[str]) -> list[str]:
        return [tag.removeprefix("#") for tag in value]

    @field_validator("campaign_hashtags")
    @classmethod
    def _bare_each(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        return {k: [tag.removeprefix("#") for tag in tags] for k, tags in value.items()}

    @field_validator("suggest")
    @classmethod
    def _suggest_banned(cls, value: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        banned = {b.casefold() for b in info.data.get("banned", [])}
        for phrase in value:
            if phrase.casefold() not in banned:
                raise ValueError(f"suggest names {phrase!r}, which is not in banned")
        return value


class ReplyRules(_Section):
    """``[brands.NAME.replies]``: the brand's approved reply templates and who answers.

    A template's ``{contact}`` is filled with ``contact`` (the patient-relations team's
    number or address), so the templates never repeat it and a new number changes them all.
    """

    contact: str = Field(
        default="", max_length=200,
        description="How to reach patient relations (a phone number, an address, a page).")
    templates: dict[str, str] = Field(
        default_factory=dict, max_length=100,
        description="Approved replies by name; '{contact}' is replaced by contact.")
    approval: bool = Field(
        default=True, description="Every reply needs the approval chain (the default).")

    @field_validator("templates")
    @classmethod
    def _placeholders(cls, value: dict[str, str]) -> dict[str, str]:
        for name, text in value.items():
            if not text.strip() or len(text) > 2000:
                raise ValueError(f"templates.{name}: give a reply of 1 to 2000 characters")
            leftover = re.sub(r"\{contact\}", "", text)
            if "{" in leftover or "}" in leftover:
                raise ValueError(f"templates.{name}: the only placeholder is {{contact}}")
        return value


class BrandConfig(_Section):
    """A brand: one hospital or service line with its own face on every channel.

    ``phone``, ``email``, ``address``, ``website`` and ``staff`` are also the PHI guard's
    allow-lists. The brand audit compares every account's profile with these values; keys of
    ``handles`` and ``descriptions`` are a channel name (``x``) or an account name.
    """

    name: str = Field(min_length=1)
    short_names: list[str] = Field(
        default_factory=list, description="Other names a profile may carry (Riverside).")
    website: str | None = None
    description: str | None = None
    descriptions: dict[str, str] = Field(
        default_factory=dict, description="The description for one channel or account.")
    key_phrases: list[str] = Field(
        default_factory=list, description="Phrases every profile description must hold.")
    handles: dict[str, str] = Field(
        default_factory=dict,
        description="A regular expression each handle on a channel (or account) must match.")
    avatar: str | None = Field(
        default=None, description="The avatar image file; relative paths start at the file.")
    region: str = Field(
        default="US", description="Region of phone numbers written without a country code.")
    timezone: str = Field(
        default="UTC", description="IANA time zone local post times are read in.")
    phone: list[str] = Field(default_factory=list, description="The brand's public numbers.")
    email: list[str] = Field(default_factory=list, description="The brand's public addresses.")
    address: list[str] = Field(default_factory=list, description="Its sites' street addresses.")
    staff: list[str] = Field(
        default_factory=list, description="Names of staff who may be named in posts (a roster).")
    hours: dict[str, dict[str, str]] = Field(
        default_factory=dict,
        description="Opening hours a listing must show, by account or channel name: "
                    "{mon-fri = '08:00-20:00', sun = 'closed'}.")
    voice: VoiceRules = VoiceRules()
    replies: ReplyRules = ReplyRules()
    checks: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="Per-brand [checks.NAME] settings; see CheckSettings.")

    @field_validator("handles")
    @classmethod
    def _patterns(cls, value: dict[str, str]) -> dict[str, str]:
        for key, pattern in value.items():
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"handles.{key}: not a regular expression ({exc.msg})") from None
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            zone(value)
        except ConfigurationError:
            raise ValueError(f"{value!r} is not an IANA time zone; give one such as "
                             "'America/New_York'") from None
        return value

    @field_validator("region")
    @classmethod
    def _region(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z]{2}", value):
            raise ValueError("give a two-letter region code such as 'US' or 'GB'")
        return value.upper()


class AccountConfig(_Section):
    """One configured instance of a channel; ``options`` go to the channel as they are."""

    name: str = Field(pattern=_NAME)
    channel: str = Field(min_length=1)
    brand: str | None = None
    enabled: bool = True
    concurrency: int | None = Field(default=None, ge=1, le=256)
    slots: list[str] = Field(
        default_factory=list, max_length=100,
        description="Weekly posting slots in the brand's time, such as 'Tue, Thu 10:00'.")
    options: dict[str, Any] = Field(default_factory=dict, repr=False)

    @field_validator("slots")
    @classmethod
    def _slots(cls, value: list[str]) -> list[str]:
        for spec in value:
            parse_slot(spec)
        return value

    def posting_slots(self) -> list[Slot]:
        """The account's slots, parsed."""
        return [parse_slot(spec) for spec in self.slots]

    @field_serializer("options")
    def _dump_options(self, options: dict[str, Any]) -> dict[str, Any]:
        """Dumped with every value hidden: options hold the account's tokens, passwords and
        secret URLs, and only the channel knows which (it reads ``options`` itself)."""
        return dict.fromkeys(options, "**********")


class ListenQuery(_Section):
    """One ``[listen.queries.NAME]``: words to search for on every account that can search."""

    terms: list[str] = Field(min_length=1, max_length=50, description=(
        "Words or phrases, any of which matches: brand names and their misspellings, service "
        "lines, competitor names."))
    kind: Literal["brand", "service", "competitor"] = "brand"
    brand: str | None = Field(default=None, description="The brand it listens for.")
    accounts: list[str] = Field(default_factory=list, description=(
        "The accounts that search it (empty: every account of the brand that can search)."))

    @field_validator("terms")
    @classmethod
    def _terms(cls, value: list[str]) -> list[str]:
        for term in value:
            if not 1 <= len(term.strip()) <= 200:
                raise ValueError("each term is 1 to 200 characters")
        return [t.strip() for t in value]


class ListenBrand(_Section):
    """``[listen.brands.NAME]``: how long a brand keeps what others wrote, and what its
    team does first when someone writes of suicide or self-harm."""

    retention_days: int | None = Field(default=None, ge=1, le=3650)
    crisis_protocol: str = Field(default="", max_length=2000, description=(
        "Shown first in the inbox above every crisis item: who to call, what to do."))


class SpikeConfig(_Section):
    """``[listen.spikes]``: when a query's volume is a spike, and where the alert goes."""

    window: float = Field(default=3600.0, ge=60, le=7 * 86400, description="Seconds a window "
                          "spans.")
    baseline_windows: int = Field(default=24, ge=1, le=1000, description=(
        "The windows before it whose average is the baseline."))
    sensitivity: float = Field(default=3.0, ge=1.0, le=1000.0, description=(
        "A window is a spike when it holds this many times the baseline."))
    min_count: int = Field(default=5, ge=1, le=1_000_000, description=(
        "And at least this many items."))
    cooldown: float = Field(default=6 * 3600.0, ge=0, le=30 * 86400, description=(
        "Seconds after an alert for the same query during which no new one is sent."))
    alert: list[str] = Field(default_factory=list, description=(
        "Accounts the alert is published to (a signed webhook, an outbox, a chat webhook)."))


class ListenConfig(_Section):
    """``[listen]``: what ``carecast listen`` collects and how long it is kept."""

    queries: dict[str, ListenQuery] = Field(default_factory=dict)
    brands: dict[str, ListenBrand] = Field(default_factory=dict)
    retention_days: int = Field(default=90, ge=1, le=3650, description=(
        "Days an item is kept before it is purged (a brand may set its own)."))
    lookback_days: int = Field(default=7, ge=1, le=90, description=(
        "How far back the first collection of a source reads."))
    x_monthly_reads: int = Field(default=0, ge=0, le=100_000_000, description=(
        "Posts an X account may read a month, mentions and searches together (X bills each "
        "read); 0 turns X listening off."))
    interval: float = Field(default=300.0, ge=5, le=86400, description=(
        "Seconds between rounds of carecast listen --follow."))
    spikes: SpikeConfig = SpikeConfig()
    stream: bool = Field(default=True, description=(
        "With --follow, stream Mastodon (its streaming API) and Bluesky (Jetstream) instead "
        "of polling them; polling covers what a stream cannot."))
    jetstream_url: str = Field(
        default="wss://jetstream2.us-east.bsky.network/subscribe",
        pattern=r"^wss?://[^\s?#]+$", description="The Jetstream instance Bluesky accounts "
        "stream from (its subscribe endpoint).")
    stream_heartbeat: float = Field(default=60.0, ge=1, le=600, description=(
        "Seconds a stream may stay silent (no event, no heartbeat) before it is reopened."))
    stream_max_bytes: int = Field(default=1_000_000, ge=1024, le=16_000_000, description=(
        "Largest streamed event or frame; a larger one closes the stream, which reopens."))

    @field_validator("queries")
    @classmethod
    def _names(cls, value: dict[str, ListenQuery]) -> dict[str, ListenQuery]:
        for name in value:
            if not re.fullmatch(_NAME, name):
                raise ValueError(f"query name {name!r}: lower-case letters, digits, - and _")
        return value

    def retention(self, brand: str) -> int:
        """Days ``brand``'s items are kept."""
        own = self.brands.get(brand)
        return own.retention_days if own and own.retention_days else self.retention_days


class MediaConfig(_Section):
    """``[media]``: where local media may be read from, which media hosts may be private, caps.

    Relative roots start at the configuration's folder; with no roots, the configuration's
    folder is the only root (a post file kept elsewhere needs its folder listed).
    """

    roots: list[Path] = Field(
        default_factory=list, description="Folders media files must lie in (symlinks resolved).")
    allow_hosts: list[str] = Field(
        default_factory=list,
        description="Media URL hosts that may be loopback, link-local or private addresses.")
    max_bytes: dict[str, int] = Field(
        default_factory=lambda: dict(DEFAULT_MAX_BYTES),
        description="Largest media file by kind (image, gif, video, audio), in bytes.")
    max_pixels: int = Field(
        default=DEFAULT_MAX_PIXELS, ge=1, description="Largest image (width times height) decoded.")
    hard_links: bool = Field(
        default=False, description="Accept media files that have other hard links.")
    env_proxy: bool = Field(
        default=False, description="Download media URLs through HTTPS_PROXY / HTTP_PROXY "
                                   "(NO_PROXY respected); each host is still refused unless "
                                   "all its addresses are public.")

    @field_validator("max_bytes")
    @classmethod
    def _kinds(cls, value: dict[str, int]) -> dict[str, int]:
        kinds = ("image", "gif", "video", "audio")
        for kind, cap in value.items():
            if kind not in kinds or not isinstance(cap, int) or cap < 1:
                raise ValueError(f"max_bytes.{kind}: give a kind ({', '.join(kinds)}) and a "
                                 "positive number of bytes")
        defaults = cls.model_fields["max_bytes"].get_default(call_default_factory=True)
        return {**defaults, **value}


class UtmConfig(_Section):
    """``[metrics.utm]``: the UTM parameters carecast adds to links at render time.

    Off until ``enabled = true``. Values may name ``{brand}``, ``{campaign}``, ``{channel}``
    and ``{account}``; an empty value adds no parameter; a link that has a ``utm_*`` already
    is left as it is.
    """

    enabled: bool = False
    source: str = Field(default="{channel}", max_length=200)
    medium: str = Field(default="social", max_length=200)
    campaign: str = Field(default="{campaign}", max_length=200)
    content: str = Field(default="", max_length=200)
    #: Hosts whose links are tagged; empty: the post's link and the brand's website.
    hosts: list[str] = Field(default_factory=list, max_length=200)


class MetricsConfig(_Section):
    """``[metrics]``: when outcomes are collected and how links are tracked."""

    #: When each published post's metrics are read, after it was published.
    schedule: list[str] = Field(default_factory=lambda: ["1h", "24h", "7d", "28d"],
                                min_length=1, max_length=32)
    #: Read each account's followers and posts once a day.
    account_daily: bool = True
    concurrency: int = Field(default=16, ge=1, le=256, description="Reads in flight at once.")
    #: Seconds after which another collector takes over a slot whose claim was not finished.
    stale_claim_after: float = Field(default=600.0, gt=0, le=86400)
    #: A slot whose read failed this many times is given up (recorded, never read again).
    max_tries: int = Field(default=5, ge=1, le=50)
    #: Hosts of patient-facing portals: their links are never tagged or shortened.
    portal_hosts: list[str] = Field(default_factory=list, max_length=200)
    utm: UtmConfig = UtmConfig()
    #: ``[metrics.brands.NAME]``: a brand's own UTM parameters.
    brands: dict[str, UtmConfig] = Field(default_factory=dict)

    @field_validator("schedule")
    @classmethod
    def _offsets(cls, value: list[str]) -> list[str]:
        seconds = [_offset_seconds(item) for item in value]
        if len(set(seconds)) != len(seconds):
            raise ValueError("two offsets are the same time; give each once")
        return value

    def offsets(self) -> list[int]:
        """The schedule in seconds after publication, earliest first."""
        return sorted(_offset_seconds(item) for item in self.schedule)


_OFFSET = re.compile(r"(\d{1,5})\s*(m|h|d|w)")
_UNIT_SECONDS = {"m": 60, "h": 3600, "d": 86400, "w": 604800}


def _offset_seconds(text: str) -> int:
    """``"1h"``, ``"24h"``, ``"7d"``, ``"2w"`` as seconds; ValueError naming the fix."""
    found = _OFFSET.fullmatch(text.strip().lower()) if isinstance(text, str) else None
    seconds = int(found[1]) * _UNIT_SECONDS[found[2]] if found else 0
    if not found or not 60 <= seconds <= 366 * 86400:
        raise ValueError(f"{text!r} is not an offset; give minutes, hours, days or weeks "
                         "between 1m and 366d, such as \"1h\", \"24h\", \"7d\" or \"4w\"")
    return seconds


class Config(_Section):
    """The whole configuration; ``root`` is the folder relative paths start from."""

    root: Path = Field(default_factory=Path.cwd)
    store: StoreConfig = StoreConfig()
    audit: AuditConfig = AuditConfig()
    publish: PublishConfig = PublishConfig()
    brands: dict[str, BrandConfig] = Field(default_factory=dict)
    accounts: dict[str, AccountConfig] = Field(default_factory=dict)
    checks: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="[checks.NAME] settings of the review checks.")
    approvals: ApprovalConfig = ApprovalConfig()
    media: MediaConfig = MediaConfig()
    listen: ListenConfig = ListenConfig()
    metrics: MetricsConfig = MetricsConfig()

    @field_validator("accounts")
    @classmethod
    def _keys_match(cls, value: dict[str, AccountConfig]) -> dict[str, AccountConfig]:
        for key, account in value.items():
            if key != account.name:
                raise ValueError(f"account {key!r} carries the name {account.name!r}")
        return value

    def brand_of(self, account: AccountConfig) -> BrandConfig | None:
        """The account's brand, if it has one."""
        return self.brands.get(account.brand) if account.brand else None

    def media_rules(self) -> MediaRules:
        """The ``[media]`` rules, relative roots resolved against ``root``."""
        roots = tuple(r if r.is_absolute() else self.root / r for r in self.media.roots)
        return MediaRules(roots=roots or (self.root,),
                          allow_hosts=frozenset(h.lower() for h in self.media.allow_hosts),
                          max_bytes=dict(self.media.max_bytes), max_pixels=self.media.max_pixels,
                          hard_links=self.media.hard_links, env_proxy=self.media.env_proxy)

    def default_brand(self) -> str | None:
        """The only brand, when there is exactly one."""
        return next(iter(self.brands)) if len(self.brands) == 1 else None

    def zone_of(self, brand: str | None) -> ZoneInfo:
        """The time zone local times of ``brand``'s posts are read in (UTC without one)."""
        config = self.brands.get(brand) if brand else None
        return zone(config.timezone if config else "UTC")

    def store_url(self) -> str:
        """The store URL with a relative SQLite path resolved against ``root``."""
        url = self.store.url
        prefix = "sqlite:///"
        if url.startswith(prefix) and url != "sqlite:///:memory:":
            path = Path(url[len(prefix):])
            if not path.is_absolute():
                return prefix + str(self.root / path)
        return url

    def audit_paths(self) -> tuple[Path | None, Path | None]:
        """``[audit]`` key_file and checkpoint_file, resolved against ``root``; a store other
        than SQLite keeps its checkpoint beside the config file unless told otherwise (an
        SQLite store's is beside its database), so a truncated chain is always caught."""
        key, checkpoint = self.audit.key_file, self.audit.checkpoint_file
        if checkpoint is None and not self.store.url.startswith("sqlite"):
            store = hashlib.sha256(_masked_url(self.store.url).encode()).hexdigest()[:12]
            checkpoint = Path(f"carecast-{store}.audit-checkpoint")
        return (None if key is None else self.root / key.expanduser(),
                None if checkpoint is None else self.root / checkpoint.expanduser())

    @classmethod
    def from_dict(
        cls,
        data: Mapping[str, Any],
        *,
        root: Path | None = None,
        environ: Mapping[str, str] | None = None,
        secrets: Mapping[str, Any] | None = None,
        source: str = "configuration",
    ) -> Config:
        """Build a config from parsed TOML; secrets are merged from ``secrets`` and ``environ``."""
        if not isinstance(data, Mapping):
            raise ConfigurationError(f"{source}: expected tables of settings")
        unknown = set(data) - {"store", "publish", "brands", "accounts", "checks", "approvals",
                               "media", "listen", "metrics"}
        if unknown:
            raise ConfigurationError(
                f"{source}: unknown section {sorted(unknown)[0]!r}; the sections are [store], "
                "[publish], [brands.NAME], [accounts.NAME], [checks.NAME], [approvals], "
                "[media], [listen] and [metrics]"
            )
        accounts_raw = data.get("accounts", {})
        if not isinstance(accounts_raw, Mapping):
            raise ConfigurationError(f"{source}: [accounts] must be tables, one per account")
        merged = _merge_secrets(accounts_raw, secrets or {}, environ if environ is not None
                                else os.environ, source)
        accounts: dict[str, Any] = {}
        for name, table in merged.items():
            if not isinstance(table, Mapping):
                raise ConfigurationError(f"{source}: accounts.{name} must be a table")
            fields = {k: table[k] for k in ("channel", "brand", "enabled", "concurrency", "slots")
                      if k in table}
            options = {k: v for k, v in table.items() if k not in fields}
            accounts[name] = {"name": name, **fields, "options": options}
        problem: str | None = None
        try:
            config = cls.model_validate({
                "root": root or Path.cwd(),
                "store": data.get("store", {}),
                "publish": data.get("publish", {}),
                "brands": data.get("brands", {}),
                "accounts": accounts,
                "checks": data.get("checks", {}),
                "approvals": data.get("approvals", {}),
                "media": data.get("media", {}),
                "listen": data.get("listen", {}),
                "metrics": data.get("metrics", {}),
            })
        except ValidationError as exc:
            problem = _describe(exc, source)
        if problem is not None:  # raised outside the except: pydantic's error quotes inputs
            raise ConfigurationError(problem)
        for account in config.accounts.values():
            if account.brand is not None and account.brand not in config.brands:
                raise ConfigurationError(
                    f"{source}: accounts.{account.name}.brand names {account.brand!r}, "
                    f"which is not one of the brands ({', '.join(sorted(config.brands)) or 'none'})"
                )
        for brand in config.approvals.brands:
            if brand not in config.brands:
                raise ConfigurationError(
                    f"{source}: approvals.brands names {brand!r}, which is not one of the "
                    f"brands ({', '.join(sorted(config.brands)) or 'none'})")
        return config


@dataclass(frozen=True)
class CheckSettings:
    """The ``[checks.NAME]`` settings as they apply to one post, or one account's draft.

    ``get(name)`` merges, later winning key by key: ``[checks.NAME]``, its
    ``channels.CHANNEL`` and ``campaigns.CAMPAIGN`` tables, then the same three under
    ``[brands.BRAND.checks.NAME]``. Each check validates its own keys; ``enabled`` (default
    true) turns a check off. One object serves every draft of a publish with the same brand,
    channel and campaign: each table is merged and validated once (``once``), not per
    draft.
    """

    config: Config
    brand: str | None = None
    channel: str | None = None
    campaign: str | None = None
    _memo: dict[Any, Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    def get(self, check: str) -> dict[str, Any]:
        """The merged settings of the check called ``check`` (without the sub-tables)."""
        if ("get", check) not in self._memo:
            self._memo["get", check] = self._merge(check)
        return dict(self._memo["get", check])

    def once(self, key: object, compute: Callable[[], T]) -> T:
        """``compute()``, once for these settings (a check's validated model, keyed by its
        class); a failure is raised again on each call, never kept."""
        if ("once", key) not in self._memo:
            self._memo["once", key] = compute()
        return self._memo["once", key]  # type: ignore[no-any-return]

    def _merge(self, check: str) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        brand = self.config.brands.get(self.brand) if self.brand else None
        for table in (self.config.checks.get(check), brand.checks.get(check) if brand else None):
            if not table:
                continue
            merged.update({k: v for k, v in table.items() if k not in ("channels", "campaigns")})
            for key, which in (("channels", self.channel), ("campaigns", self.campaign)):
                sub = table.get(key, {})
                if which is not None and isinstance(sub, Mapping) and isinstance(
                        sub.get(which), Mapping):
                    merged.update(sub[which])
        return merged

    def enabled(self, check: str) -> bool:
        """Whether the check is on for this post (``enabled = false`` turns it off)."""
        return self.get(check).get("enabled", True) is not False


def _merge_secrets(
    accounts: Mapping[str, Any],
    secrets: Mapping[str, Any],
    environ: Mapping[str, str],
    source: str,
) -> dict[str, Any]:
    by_env_name: dict[str, str] = {}
    for name in accounts:
        if not isinstance(name, str):
            raise ConfigurationError(f"{source}: account names must be text, not {name!r}")
        if "__" in name:
            raise ConfigurationError(
                f"{source}: account name {name!r} holds '__', which separates the parts of "
                "CARECAST_ACCOUNTS__<NAME>__<OPTION> variables; rename it")
        env_name = name.upper().replace("-", "_")
        if env_name in by_env_name:
            raise ConfigurationError(
                f"{source}: accounts {by_env_name[env_name]!r} and {name!r} share the "
                f"environment prefix CARECAST_ACCOUNTS__{env_name}__; rename one of them")
        by_env_name[env_name] = name
    merged: dict[str, Any] = {name: dict(table) if isinstance(table, Mapping) else table
                              for name, table in accounts.items()}
    secret_accounts = secrets.get("accounts", {})
    if not isinstance(secret_accounts, Mapping):
        raise ConfigurationError("secrets file: [accounts] must be tables, one per account")
    for name, table in secret_accounts.items():
        if name not in merged:
            raise ConfigurationError(
                f"secrets file: accounts.{name} is not an account in {source}"
            )
        if not isinstance(table, Mapping):
            raise ConfigurationError(
                f"secrets file: accounts.{name} must be a table of options ([accounts.{name}])")
        if isinstance(merged[name], dict):
            merged[name].update(table)
        # What the secrets file holds is secret: hidden from every error text and log from
        # now on, whether or not this process ever builds that account's channel.
        remember(*(value for value in table.values() if isinstance(value, str)))
    for key, value in environ.items():
        match = _ENV_ACCOUNT.match(key)
        if not match:
            continue
        target = by_env_name.get(match.group(1))
        if target is None:
            raise ConfigurationError(
                f"environment variable {key} names no account in {source}"
            )
        if isinstance(merged[target], dict):
            merged[target][match.group(2).lower()] = value
    return merged


def _describe(exc: ValidationError, source: str) -> str:
    lines = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"] if p != "options")
        msg = str(err["msg"]).removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown setting; check its spelling"
        lines.append(f"  {loc}: {msg}")
    return f"{source} is not valid:\n" + "\n".join(lines)


def _read(path: Path, cap: int, what: str) -> str:
    from carecast.confine import read_capped

    return read_capped(path, cap=cap, setting="CARECAST_MAX_CONFIG_BYTES",
                       what=what).decode("utf-8")


def load_config(path: str | Path | None = None, *, settings: Settings | None = None) -> Config:
    """Read ``carecast.toml`` (or ``path``), merging secrets from the environment."""
    if settings is None:
        from carecast.settings import Settings

        settings = Settings()
    path = Path(path) if path is not None else settings.config
    cap = settings.max_config_bytes
    try:
        data = tomllib.loads(_read(path, cap, "configuration file"))
    except InputRefused as exc:
        raise ConfigurationError(f"{path}: {exc}") from None
    except FileNotFoundError:
        raise ConfigurationError(
            f"{path}: no such file; create it (see examples/carecast.toml) or pass --config"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"{path}: not valid TOML ({exc})") from None
    except (OSError, UnicodeError, ValueError) as exc:  # ValueError: a NUL in the path
        raise ConfigurationError(f"{path}: cannot read it ({type(exc).__name__})") from None
    secrets: dict[str, Any] = {}
    failed: str | None = None
    if settings.secrets_file is not None:
        try:
            secrets = tomllib.loads(_read(settings.secrets_file, cap, "secrets file"))
        except InputRefused as exc:
            failed = str(exc)
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            failed = type(exc).__name__
    if failed is not None:
        # The parser's message may quote a secret: name only the file and the error type,
        # and raise outside the except so the parser's error is not kept as the context.
        raise ConfigurationError(f"secrets file {settings.secrets_file}: cannot read it ({failed})")
    config = Config.from_dict(
        data, root=path.resolve().parent, secrets=secrets, source=str(path)
    )
    if settings.store_url:
        config = config.model_copy(update={"store": StoreConfig(url=settings.store_url)})
    return config
