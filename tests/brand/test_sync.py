"""Sync: each drifting account's fixes become profile changes where the API allows them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import responses

from carecast.brand import AvatarCache, apply, audit, plan
from carecast.brand.sync import profile_fields
from carecast.channels.instagram import InstagramChannel
from carecast.channels.mastodon import MastodonChannel
from carecast.post import ProfileChanges
from carecast.publish import Publisher

from ._helpers import StaticChannel, UpdatableChannel, config
from ._images import brand_png, other_png

BRAND: dict[str, Any] = {
    "name": "Riverside General", "description": "Care close to home since 1921.",
    "website": "https://riverside-general.org", "phone": ["+12175550142"],
    "avatar": "logo.png", "handles": {"a": "@riverside"}}


def run(root: Path, profiles: dict[str, dict[str, Any]], channels: dict[str, str]
        ) -> tuple[Any, Publisher]:
    (root / "logo.png").write_bytes(brand_png())
    StaticChannel.profiles = profiles
    UpdatableChannel.changes = []
    cfg = config(BRAND, channels, root)
    publisher = Publisher(cfg, channel_classes={"static": StaticChannel,
                                                "updatable": UpdatableChannel},
                          entry_point_plugins=False)
    images = {"https://a/x.png": other_png(), "https://a/logo.png": brand_png()}
    report = audit(cfg, "r", publisher.channel, fetch_image=images.__getitem__,
                   cache=AvatarCache(root / "cache"))
    return report, publisher


def test_plan_splits_api_changes_from_steps_by_hand(tmp_path: Path) -> None:
    report, publisher = run(tmp_path, {
        "a": {"display_name": "Riverside Gen", "handle": "@rgh", "description": "Old bio.",
              "phone": "(217) 555-0100", "avatar_url": "https://a/x.png"},
        "b": {"display_name": "Riverside General", "description": "Old bio."},
        "ok": {"display_name": "Riverside General",
               "description": "Care close to home since 1921.",
               "website": "https://riverside-general.org/", "avatar_url": "https://a/logo.png"},
    }, {"a": "updatable", "b": "static", "ok": "updatable"})
    with publisher:
        syncs = plan(report, publisher.channel, root=tmp_path)
        assert [s.account for s in syncs] == ["a", "b"]  # "ok" matches: nothing to do
        a, b = syncs
        assert a.changes == ProfileChanges(display_name="Riverside General",
                                           description="Care close to home since 1921.")
        hand = {step.field: step for step in a.by_hand}
        assert set(hand) == {"handle", "website", "phone", "avatar"}
        assert "settings" in hand["handle"].reason
        assert hand["phone"].fix == "(217) 555-0142"
        assert "the Updatable API cannot change the phone number" in hand["phone"].reason
        assert hand["avatar"].fix == "logo.png"
        assert b.changes.fields() == []
        assert all("Static allows no profile update through its API" in s.reason
                   for s in b.by_hand)
        apply(syncs, publisher.channel)
    assert UpdatableChannel.changes == [("a", a.changes)]
    assert a.applied
    assert not b.applied


def test_a_description_fix_wins_over_a_phone_fix_in_the_bio(tmp_path: Path) -> None:
    report, publisher = run(tmp_path, {
        "a": {"display_name": "Riverside General",
              "description": "Care close to home since 1921. Call (217) 555-0100."},
    }, {"a": "updatable"})
    with publisher:
        (sync,) = plan(report, publisher.channel, root=tmp_path)
    assert sync.changes.description == "Care close to home since 1921."


def test_what_the_real_channels_can_change() -> None:
    assert profile_fields(MastodonChannel) == {"display_name", "description", "website",
                                               "avatar"}
    assert profile_fields(InstagramChannel) == frozenset()
    assert profile_fields(StaticChannel) == frozenset()


def test_apply_keeps_an_error_per_account(tmp_path: Path) -> None:
    (tmp_path / "logo.png").write_bytes(brand_png())
    base = "https://health.example.social"
    cfg = type(config(BRAND, {}, tmp_path)).from_dict({
        "brands": {"r": {"name": "Riverside General"}},
        "accounts": {"m": {"channel": "mastodon", "brand": "r", "api_base_url": base,
                           "access_token": "masto-s3cret"}}}, root=tmp_path)
    with responses.RequestsMock() as mocked, \
            Publisher(cfg, entry_point_plugins=False) as publisher:
        mocked.get(f"{base}/api/v1/accounts/verify_credentials", json={
            "id": "1", "username": "riverside", "acct": "riverside", "display_name": "RG",
            "note": "", "fields": [], "avatar": None, "url": f"{base}/@riverside"})
        mocked.patch(f"{base}/api/v1/accounts/update_credentials", status=401,
                     json={"error": "The access token was revoked"})
        report = audit(cfg, "r", publisher.channel, fetch_image=bytes,
                       cache=AvatarCache(tmp_path / "c"))
        syncs = plan(report, publisher.channel)
        apply(syncs, publisher.channel)
    (sync,) = syncs
    assert sync.changes == ProfileChanges(display_name="Riverside General")
    assert sync.error is not None
    assert "masto-s3cret" not in sync.error
    assert not sync.applied
