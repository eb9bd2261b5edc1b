"""The brand audit: every account's live profile against the brand, field by field.

Profiles are read concurrently through each channel's ``fetch_profile``; avatars are fetched,
kept in the ``AvatarCache`` and compared by perceptual hash. A field the brand does not give
is compared across the accounts: the value most of them share is proposed, and the others
drift from it.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from carecast.brand.avatar import MATCH_DISTANCE, AvatarCache, distance
from carecast.brand.compare import (
    Website,
    address_key,
    name_key,
    national,
    phone_e164,
    phones_in,
    similarity,
    website,
)
from carecast.brand.limits import BIO_LIMITS, NAME_LIMITS, counter, fit
from carecast.brand.report import FIELDS, AccountReport, BrandReport, FieldCheck, Status
from carecast.channels.base import Channel
from carecast.compliance._settings import has_phrase
from carecast.config import AccountConfig, BrandConfig, Config
from carecast.errors import CarecastError, ConfigurationError, InputRefused
from carecast.post import Profile

__all__ = ["DEFAULT_CONCURRENCY", "SIMILARITY", "audit", "cache_folder"]

#: Profiles (and avatars) read at once.
DEFAULT_CONCURRENCY = 32
#: Least ``rapidfuzz`` similarity (0-100) of a description that matches.
SIMILARITY = 90.0
#: Channels whose profile has a phone field, and those whose location is a street address.
PHONE_FIELD = frozenset({"facebook", "gbp", "foursquare"})
ADDRESS_FIELD = frozenset({"facebook", "linkedin", "gbp", "foursquare"})
#: Channels whose profile lists opening hours (``extra["hours"]``).
HOURS_FIELD = frozenset({"foursquare"})
_DIGIT = re.compile(r"\d")

Fetch = Callable[[str], bytes]
Resolve = Callable[[str], str | None]


@dataclass
class _Live:
    """What was read of one account."""

    account: AccountConfig
    profile: Profile | None = None
    error: str | None = None
    #: Which of the account's locations this is, when it lists several.
    location: str | None = None
    avatar_sha256: str | None = None
    avatar_phash: str | None = None
    avatar_error: str | None = None
    website: str | None = None
    redirect: str | None = None
    checks: list[FieldCheck] = field(default_factory=list)

    @property
    def channel(self) -> str:
        return self.account.channel


def cache_folder(config: Config) -> Path:
    """The default avatar cache: ``avatars/`` beside an SQLite store, else under ``root``."""
    url = config.store_url()
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        return Path(url.removeprefix("sqlite:///")).parent / ".carecast-cache" / "avatars"
    return config.root / ".carecast-cache" / "avatars"


def audit(config: Config, brand: str | None, channel_of: Callable[[str], Channel], *,
          fetch_image: Fetch | None = None, cache: AvatarCache | None = None,
          resolve: Resolve | None = None, concurrency: int = DEFAULT_CONCURRENCY,
          threshold: float = SIMILARITY) -> BrandReport:
    """Compare every enabled account of ``brand`` (the only brand when None) with it.

    ``channel_of`` gives an account's channel (``Publisher.channel``); ``fetch_image`` reads
    an avatar URL (default: over HTTP); ``resolve`` follows a shortened website to where it
    leads, compared there and noted (None leaves shorteners unresolved, and they drift).
    """
    name, cfg = _brand(config, brand)
    accounts = [a for a in config.accounts.values()
                if a.brand == name and a.enabled and _has_public_profile(a, channel_of)]
    if not accounts:
        raise ConfigurationError(
            f"brand {name!r} has no enabled account with a public profile (an outbox or a "
            f"webhook has none); set brand = \"{name}\" in their [accounts.NAME] tables")
    cache = cache or AvatarCache(cache_folder(config))
    canonical = _brand_avatar(config, name, cfg, cache)
    canonical_hash = cache.phash(canonical) if canonical else None
    if fetch_image is None:
        from carecast.brand.fetch import http_fetcher
        from carecast.channels.http import new_session

        fetch_image = http_fetcher(new_session())
    fetch = fetch_image

    def read(account: AccountConfig) -> _Live:
        return _read(account, channel_of, fetch, cache, resolve)

    with ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(accounts))),
                            thread_name_prefix="carecast-brand") as pool:
        lives = [one for live in pool.map(read, accounts) for one in _per_location(live)]
    readable = [x for x in lives if x.profile is not None]
    _names(readable, cfg)
    _handles(readable, cfg)
    _descriptions(readable, cfg, threshold)
    _websites(readable, cfg)
    _phones(readable, cfg, name)
    _addresses(readable, cfg)
    _hours(readable, cfg, name)
    _avatars(readable, cfg, canonical_hash)
    order = {f: i for i, f in enumerate(FIELDS)}
    return BrandReport(brand=name, name=cfg.name, avatar_sha256=canonical, accounts=tuple(
        AccountReport(
            account=x.account.name, channel=x.channel, error=x.error, location=x.location,
            handle=x.profile.handle if x.profile else None,
            url=_profile_url(x.profile) if x.profile else None,
            avatar_sha256=x.avatar_sha256,
            checks=tuple(sorted(x.checks, key=lambda c: order[c.field])))
        for x in lives))


# -- reading ---------------------------------------------------------------------------------


def _has_public_profile(account: AccountConfig, channel_of: Callable[[str], Channel]) -> bool:
    """Whether the account's channel has a profile followers see; a channel that cannot be
    built is kept, so the audit reports its error."""
    try:
        return type(channel_of(account.name)).public_profile
    except Exception:  # reported with the account by the audit itself
        return True


def _brand(config: Config, brand: str | None) -> tuple[str, BrandConfig]:
    name = brand or config.default_brand()
    if name is None:
        raise ConfigurationError(
            "several brands are configured; name one with --brand "
            f"({', '.join(sorted(config.brands)) or 'none'})" if config.brands else
            "no brand is configured; add a [brands.NAME] table to carecast.toml")
    if name not in config.brands:
        raise ConfigurationError(f"brand {name!r} is not configured (brands: "
                                 f"{', '.join(sorted(config.brands)) or 'none'})")
    return name, config.brands[name]


def _brand_avatar(config: Config, name: str, cfg: BrandConfig,
                  cache: AvatarCache) -> str | None:
    if cfg.avatar is None:
        return None
    path = Path(cfg.avatar).expanduser()
    path = path if path.is_absolute() else config.root / path
    rules = config.media_rules()
    problem: str | None = None
    try:
        data = rules.read(path, kind="image", field=f"brands.{name}.avatar")
    except InputRefused as exc:
        problem = str(exc)
    except OSError:
        problem = (f"brands.{name}.avatar: cannot read {path}; give the logo file (relative "
                   "paths start at carecast.toml's folder)")
    if problem is not None:
        raise ConfigurationError(problem)
    digest = cache.put(data)
    if cache.phash(digest) is None:
        raise ConfigurationError(f"brands.{name}.avatar: {path.name} is not an image")
    return digest


def _read(account: AccountConfig, channel_of: Callable[[str], Channel], fetch: Fetch,
          cache: AvatarCache, resolve: Resolve | None) -> _Live:
    live = _Live(account)
    try:
        live.profile = channel_of(account.name).fetch_profile()
    except CarecastError as exc:
        live.error = str(exc)
        return live
    except Exception as exc:  # a channel's bug: one account never stops the audit
        live.error = f"the {account.channel} channel failed ({type(exc).__name__})"
        return live
    profile = live.profile
    if profile.avatar_url:
        try:
            live.avatar_sha256 = cache.put(fetch(profile.avatar_url))
        except CarecastError as exc:
            live.avatar_error = f"could not fetch the avatar ({type(exc).__name__})"
        else:
            live.avatar_phash = cache.phash(live.avatar_sha256)
            if live.avatar_phash is None:
                live.avatar_error = "the avatar URL does not give an image"
    live.website = profile.website
    parsed = website(profile.website) if profile.website else None
    if parsed is not None and parsed.shortened and resolve is not None:
        try:
            final = resolve(profile.website or "")
        except CarecastError:
            final = None
        if final:
            live.website, live.redirect = final, parsed.host
    return live


def _per_location(live: _Live) -> list[_Live]:
    """One row per location when the profile lists several (``extra["locations"]``, as the
    Google Business Profile channel gives them), each compared like any other profile."""
    listed = live.profile.extra.get("locations") if live.profile is not None else None
    if not isinstance(listed, list) or not listed:
        return [live]
    rows: list[_Live] = []
    for item in listed:
        profile = Profile.model_validate(item)
        where = profile.extra.get("location")
        rows.append(_Live(live.account, profile=profile, website=profile.website,
                          location=where if isinstance(where, str) else None))
    return rows


def _profile_url(profile: Profile) -> str | None:
    url = profile.extra.get("url") or profile.extra.get("link")
    return url if isinstance(url, str) else None


# -- majority ---------------------------------------------------------------------------------


def _majority(values: Sequence[tuple[str, str]]) -> tuple[str, str] | None:
    """The (key, raw) most accounts share: held by two or more, and by more than any other."""
    counts = Counter(key for key, _ in values)
    ranked = counts.most_common(2)
    if not ranked or ranked[0][1] < 2 or (len(ranked) > 1 and ranked[1][1] == ranked[0][1]):
        return None
    key = ranked[0][0]
    return key, next(raw for k, raw in values if k == key)


# -- the fields --------------------------------------------------------------------------------


def _names(lives: Sequence[_Live], cfg: BrandConfig) -> None:
    allowed = {name_key(n) for n in (cfg.name, *cfg.short_names)}
    for live in lives:
        assert live.profile is not None
        value = live.profile.display_name
        fix = _fitting_name(cfg, live.channel)
        if not value:
            live.checks.append(FieldCheck(field="name", status=Status.MISSING,
                                          expected=cfg.name, fix=fix))
        elif name_key(value) in allowed:
            live.checks.append(FieldCheck(field="name", status=Status.MATCH, live=value,
                                          expected=cfg.name))
        else:
            live.checks.append(FieldCheck(
                field="name", status=Status.DRIFT, live=value, expected=cfg.name, fix=fix,
                note="not the brand's name or one of its short forms"))


def _fitting_name(cfg: BrandConfig, channel: str) -> str:
    """The official name, else the longest short form, that fits the platform's name limit."""
    limit, count = NAME_LIMITS.get(channel), counter(channel)
    for name in (cfg.name, *sorted(cfg.short_names, key=len, reverse=True)):
        if limit is None or count(name) <= limit:
            return name
    return fit(cfg.name, limit, count)


def _handles(lives: Sequence[_Live], cfg: BrandConfig) -> None:
    for live in lives:
        assert live.profile is not None
        pattern = cfg.handles.get(live.account.name) or cfg.handles.get(live.channel)
        if pattern is None:
            continue
        handle = live.profile.handle
        if not handle:
            live.checks.append(FieldCheck(field="handle", status=Status.MISSING,
                                          expected=pattern))
            continue
        ok = any(re.fullmatch(pattern, h, re.IGNORECASE) for h in (handle, handle.lstrip("@")))
        live.checks.append(FieldCheck(
            field="handle", status=Status.MATCH if ok else Status.DRIFT, live=handle,
            expected=pattern, note="" if ok else
            "does not match the brand's handle pattern; rename it in the platform's settings"))


def _descriptions(lives: Sequence[_Live], cfg: BrandConfig, threshold: float) -> None:
    majority = None
    if cfg.description is None:
        majority = _majority([(name_key(x.profile.description), x.profile.description)
                              for x in lives if x.profile and x.profile.description])
    for live in lives:
        assert live.profile is not None
        expected = (cfg.descriptions.get(live.account.name)
                    or cfg.descriptions.get(live.channel) or cfg.description
                    or (majority[1] if majority else None))
        if expected is None:
            continue
        limit, count = BIO_LIMITS.get(live.channel), counter(live.channel)
        fix = fit(expected, limit, count)
        note = f"cut to the {live.channel} limit of {limit}" if fix != expected.strip() else ""
        lost = [p for p in cfg.key_phrases if has_phrase(expected, p) and not has_phrase(fix, p)]
        if lost:
            note += (f", which loses {lost[0]!r}: give a shorter descriptions."
                     f"{live.channel}")
        from_majority = majority is not None and expected == majority[1]
        value = live.profile.description
        if not value:
            live.checks.append(FieldCheck(field="description", status=Status.MISSING,
                                          expected=expected, fix=fix, note=note,
                                          majority=from_majority))
            continue
        score = max(similarity(value, expected), similarity(value, fix))
        lacking = [p for p in cfg.key_phrases if not has_phrase(value, p)]
        ok = score >= threshold and not lacking
        why = [f"{score:.0f}% alike"] + [f"lacks {p!r}" for p in lacking]
        live.checks.append(FieldCheck(
            field="description", status=Status.MATCH if ok else Status.DRIFT, live=value,
            expected=expected, fix=None if ok else fix, majority=from_majority,
            note="; ".join(why + ([note] if note and not ok else []))))


def _websites(lives: Sequence[_Live], cfg: BrandConfig) -> None:
    parsed = {id(x): website(x.website) if x.website else None for x in lives}
    expected_raw = cfg.website
    expected = website(cfg.website) if cfg.website else None
    from_majority = False
    if expected is None:
        found = _majority([(w.host, w.raw) for w in parsed.values()
                           if w is not None and not w.shortened])
        if found is None:
            return
        expected_raw, expected, from_majority = found[1], website(found[1]), True
    assert expected is not None
    assert expected_raw is not None
    for live in lives:
        value: Website | None = parsed[id(live)]
        if value is None:
            live.checks.append(FieldCheck(
                field="website", status=Status.MISSING if not live.website else Status.DRIFT,
                live=live.website, expected=expected_raw, fix=expected_raw,
                majority=from_majority,
                note="" if not live.website else "not a web address"))
            continue
        notes = [f"redirects through {live.redirect}"] if live.redirect else []
        if value.shortened:
            status = Status.DRIFT
            notes.append(f"a link shortener ({value.host}) hides the brand's domain")
        elif value.host != expected.host:
            status = Status.DRIFT
            notes.append(f"another domain ({value.host})")
        else:
            status = Status.MATCH
            if value.path != expected.path:
                notes.append(f"a page of the site ({value.path or '/'})")
        live.checks.append(FieldCheck(
            field="website", status=status, live=live.website, expected=expected_raw,
            fix=expected_raw if status is not Status.MATCH else None, majority=from_majority,
            note="; ".join(notes)))


def _phones(lives: Sequence[_Live], cfg: BrandConfig, brand: str) -> None:
    region = cfg.region
    wanted: list[str] = []
    for i, number in enumerate(cfg.phone):
        e164 = phone_e164(number, region)
        if e164 is None:
            raise ConfigurationError(
                f"brands.{brand}.phone[{i}]: not a valid phone number for region {region}; "
                "write it with its country code (+1 217 555 0142)")
        wanted.append(e164)
    found: dict[int, list[tuple[int, int, str]]] = {}
    for live in lives:
        assert live.profile is not None
        if live.profile.phone:
            e164 = phone_e164(live.profile.phone, region)
            found[id(live)] = [(-1, -1, e164 or "")]
        elif live.profile.description:
            found[id(live)] = phones_in(live.profile.description, region)
    from_majority = False
    if not wanted:
        top = _majority([(n, n) for spans in found.values() for _, _, n in spans if n])
        if top is None:
            return
        wanted, from_majority = [top[0]], True
    expected = national(wanted[0])
    for live in lives:
        assert live.profile is not None
        spans = found.get(id(live)) or []
        if not spans:
            if live.channel in PHONE_FIELD:
                live.checks.append(FieldCheck(field="phone", status=Status.MISSING,
                                              expected=expected, fix=expected,
                                              majority=from_majority))
            continue
        wrong = [s for s in spans if s[2] not in wanted]
        in_bio = spans[0][0] >= 0
        shown = (", ".join(national(n) if n else "not a valid number" for _, _, n in spans)
                 if in_bio else live.profile.phone)
        if not wrong:
            live.checks.append(FieldCheck(field="phone", status=Status.MATCH, live=shown,
                                          expected=expected, majority=from_majority,
                                          note="in the description" if in_bio else ""))
            continue
        fix = expected
        if in_bio:
            text = live.profile.description or ""
            for start, end, _ in sorted(wrong, reverse=True):
                text = text[:start] + expected + text[end:]
            fix = fit(text, BIO_LIMITS.get(live.channel), counter(live.channel))
        live.checks.append(FieldCheck(
            field="phone", status=Status.DRIFT, live=shown, expected=expected, fix=fix,
            majority=from_majority, sets="description" if in_bio else None,
            note="the description holds another number; the fix is the description with "
                 "the brand's number" if in_bio else "not one of the brand's numbers"))


def _addresses(lives: Sequence[_Live], cfg: BrandConfig) -> None:
    def street(live: _Live) -> str | None:
        assert live.profile is not None
        location = live.profile.location
        if location and (live.channel in ADDRESS_FIELD or _DIGIT.search(location)):
            return location
        return None

    wanted = {address_key(a): a for a in cfg.address}
    from_majority = False
    if not wanted:
        top = _majority([(address_key(s), s) for x in lives if (s := street(x))])
        if top is None:
            return
        wanted, from_majority = {top[0]: top[1]}, True
    expected = next(iter(wanted.values()))
    for live in lives:
        value = street(live)
        if value is None:
            if live.channel in ADDRESS_FIELD:
                live.checks.append(FieldCheck(field="address", status=Status.MISSING,
                                              expected=expected, fix=expected,
                                              majority=from_majority))
            continue
        ok = address_key(value) in wanted
        live.checks.append(FieldCheck(
            field="address", status=Status.MATCH if ok else Status.DRIFT, live=value,
            expected=expected, fix=None if ok else expected, majority=from_majority,
            note="" if ok else "not one of the brand's addresses"))


def _hours(lives: Sequence[_Live], cfg: BrandConfig, brand: str) -> None:
    """Opening hours a listing shows (``extra["hours"]``) against the brand's table for its
    account or channel; listings without a table are not judged."""
    from carecast.channels.foursquare import hours_table, show_hours

    for live in lives:
        assert live.profile is not None
        key = live.account.name if live.account.name in cfg.hours else live.channel
        given = cfg.hours.get(key)
        listed = live.profile.extra.get("hours")
        if given is None or (listed is None and live.channel not in HOURS_FIELD):
            continue
        try:
            wanted = hours_table(given, field=f"brands.{brand}.hours.{key}")
        except ValueError as exc:
            raise ConfigurationError(str(exc)) from None
        expected = show_hours(wanted)
        if not isinstance(listed, dict) or not any(listed.values()):
            live.checks.append(FieldCheck(field="hours", status=Status.MISSING,
                                          expected=expected, fix=expected))
            continue
        shown = show_hours(listed)
        wrong = [day for day in wanted if sorted(listed.get(day) or ()) != wanted[day]]
        ok = not wrong
        live.checks.append(FieldCheck(
            field="hours", status=Status.MATCH if ok else Status.DRIFT, live=shown,
            expected=expected, fix=None if ok else expected,
            note="" if ok else f"differs on {', '.join(wrong)}"))


def _avatars(lives: Sequence[_Live], cfg: BrandConfig, canonical: str | None) -> None:
    expected, from_majority = canonical, False
    label = cfg.avatar or ""
    if expected is None:
        hashes = [x.avatar_phash for x in lives if x.avatar_phash]
        near = [(sum(distance(h, o) <= MATCH_DISTANCE for o in hashes), h) for h in hashes]
        best = max(near, default=(0, ""))
        if best[0] < 2 or best[0] * 2 <= len(hashes):
            return
        expected, from_majority = best[1], True
        label = f"the avatar {best[0]} of {len(hashes)} accounts share"
    for live in lives:
        assert live.profile is not None
        url = live.profile.avatar_url
        if not url:
            live.checks.append(FieldCheck(field="avatar", status=Status.MISSING,
                                          expected=label, fix=cfg.avatar,
                                          majority=from_majority))
            continue
        if live.avatar_phash is None:
            live.checks.append(FieldCheck(field="avatar", status=Status.DRIFT, live=url,
                                          expected=label, fix=cfg.avatar,
                                          majority=from_majority,
                                          note=live.avatar_error or "not an image"))
            continue
        bits = distance(live.avatar_phash, expected)
        ok = bits <= MATCH_DISTANCE
        live.checks.append(FieldCheck(
            field="avatar", status=Status.MATCH if ok else Status.DRIFT, live=url,
            expected=label, fix=None if ok else cfg.avatar, majority=from_majority,
            note=f"{bits} of 64 bits differ" + ("" if ok else "; another image")))
