"""The audit over real channels, their profiles fetched through mocked platform answers.

Bodies are shaped as each channel's own tests shape them: X ``GET /2/users/me`` (sns-sdks'
user__me_resp.json with the user fields asked for), Mastodon ``verify_credentials``
(entities/Account), the Graph API Page and IG user nodes (python-facebook's test data), and
Bluesky ``createSession`` / ``app.bsky.actor.getProfile`` (profileViewDetailed, docs.bsky.app).
Each account carries a realistic drift: a link shortener, an old phone number in a bio, a bio
naming a former CEO, an old site's address, a retired logo, another domain, a shortened name.
"""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import responses

from carecast.brand import AvatarCache, BrandReport, Status, audit
from carecast.brand.limits import fit
from carecast.errors import ConfigurationError
from carecast.publish import Publisher

from ._helpers import StaticChannel, config
from ._images import brand_png, other_png, recompressed_jpeg, resized_png

DESCRIPTION = ("Riverside General Hospital cares for the river valley: emergency, cancer and "
               "maternity care in Springfield, Illinois, since 1921. Call 217-555-0142. News "
               "and health tips, not medical advice.")
X_BIO = ("Emergency, cancer and maternity care in Springfield, Illinois, since 1921. Call "
         "217-555-0142. Not medical advice.")
BRAND: dict[str, Any] = {
    "name": "Riverside General Hospital", "short_names": ["Riverside General", "Riverside"],
    "website": "https://riverside-general.org", "description": DESCRIPTION,
    "descriptions": {"x": X_BIO},
    "key_phrases": ["not medical advice"], "phone": ["+1 217 555 0142"],
    "address": ["1 River Road, Suite 200, Springfield, IL 62701"], "avatar": "logo.png",
    "handles": {"x": "@?RiversideGeneral", "bluesky": r"riverside[\w-]*\.bsky\.social"},
}
X_ME = "https://api.twitter.com/2/users/me"
MASTODON = "https://health.example.social"
GRAPH = "https://graph.facebook.com/v27.0"
PAGE, IG_USER = "175154750010052", "17841400008460056"
DID, HANDLE = "did:plc:ewvi7nxzyoun6zhxrhs64oiz", "riverside-health.bsky.social"
AVATARS = {
    "https://pbs.twimg.com/profile_images/1/logo_400x400.jpg": recompressed_jpeg(),
    "https://files.example.social/avatars/r.png": resized_png(),
    "https://scontent.xx.fbcdn.net/p200x200/logo.jpg": other_png(),
    "https://cdn.bsky.app/img/avatar/plain/r@png": resized_png(96),
    "https://scontent.cdninstagram.com/v/t51/ig-logo.png": brand_png(),
}


def mock_platforms(mocked: responses.RequestsMock) -> None:
    mocked.get(X_ME, json={"data": {
        "id": "2244994945", "name": "Riverside General", "username": "RiversideGeneral",
        "description": X_BIO, "location": "Springfield, IL",
        "url": "https://t.co/xyz", "profile_image_url": next(iter(AVATARS)),
        "entities": {"url": {"urls": [{"start": 0, "end": 23, "url": "https://t.co/xyz",
                                       "expanded_url": "https://bit.ly/rgh-home",
                                       "display_url": "bit.ly/rgh-home"}]}}}})
    note = DESCRIPTION.replace("217-555-0142", "217-555-0199")
    mocked.get(f"{MASTODON}/api/v1/accounts/verify_credentials", json={
        "id": "109337262836745983", "username": "riverside", "acct": "riverside",
        "display_name": "Riverside General Hospital", "locked": False, "bot": False,
        "created_at": "2022-11-08T00:00:00.000Z", "note": f"<p>{note}</p>",
        "url": f"{MASTODON}/@riverside", "avatar": "https://files.example.social/avatars/r.png",
        "avatar_static": "https://files.example.social/avatars/r.png",
        "header": "https://files.example.social/headers/r.png", "followers_count": 5120,
        "following_count": 80, "statuses_count": 940, "emojis": [], "fields": [
            {"name": "Website", "value": '<a href="http://www.riverside-general.org/?utm_source='
             'mastodon" rel="nofollow noopener me">riverside-general.org</a>',
             "verified_at": None},
            {"name": "Location", "value": "Springfield, IL", "verified_at": None}]})
    mocked.get(f"{GRAPH}/{PAGE}", json={
        "name": "Riverside General Hospital", "username": "riversidegeneral",
        "about": "Riverside General Hospital, led by CEO Jane Roe, cares for the river valley.",
        "website": "riverside-general.org/", "phone": "(217) 555-0100",
        "single_line_address": "400 Oak Street, Springfield, IL 62704",
        "link": "https://www.facebook.com/riversidegeneral/", "category": "Hospital",
        "picture": {"data": {"height": 200, "is_silhouette": False, "width": 200,
                             "url": "https://scontent.xx.fbcdn.net/p200x200/logo.jpg"}},
        "id": PAGE})
    mocked.get(f"{GRAPH}/{IG_USER}", json={
        "username": "riversidegeneral", "name": "Riverside General",
        "profile_picture_url": "https://scontent.cdninstagram.com/v/t51/ig-logo.png",
        "followers_count": 2100, "media_count": 310, "id": IG_USER})
    for url, data in AVATARS.items():
        mocked.get(url, body=data, content_type="image/png")


def jwt(exp: float) -> str:
    """A token shaped like the PDS's (atproto reads ``exp`` to refresh early)."""
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return ".".join([part({"typ": "at+jwt", "alg": "ES256K"}),
                     part({"scope": "com.atproto.appPass", "sub": DID, "exp": int(exp)}),
                     "c2lnbmF0dXJl"])


def pds(request: httpx.Request) -> httpx.Response:
    """createSession and getProfile, as a PDS and the AppView answer them."""
    name = request.url.path.rsplit("/", 1)[-1]
    if name == "com.atproto.server.createSession":
        return httpx.Response(200, json={
            "did": DID, "handle": HANDLE, "accessJwt": jwt(time.time() + 7200),
            "refreshJwt": jwt(time.time() + 86400),
            "active": True})
    if name == "app.bsky.actor.getProfile":
        return httpx.Response(200, json={
            "did": DID, "handle": HANDLE, "displayName": "Riverside Gen. Hosp.",
            "description": fit(DESCRIPTION, 256), "website": "https://riverside-health.org",
            "avatar": "https://cdn.bsky.app/img/avatar/plain/r@png", "followersCount": 1520,
            "followsCount": 80, "postsCount": 311, "labels": []})
    return httpx.Response(400, json={"error": "InvalidRequest", "message": name})


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "logo.png").write_bytes(brand_png())
    return tmp_path


@pytest.fixture
def report(root: Path) -> BrandReport:
    cfg = config(BRAND, {}, root).model_copy(update={"accounts": {}})
    cfg = type(cfg).from_dict({
        "store": {"url": f"sqlite:///{root}/carecast.db"}, "brands": {"r": BRAND},
        "accounts": {
            "rg-x": {"channel": "x", "brand": "r", "consumer_key": "ck-s3cret",
                     "consumer_secret": "cs-s3cret", "access_token": "2244994945-at-s3cret",
                     "access_token_secret": "ats-s3cret"},
            "rg-masto": {"channel": "mastodon", "brand": "r", "api_base_url": MASTODON,
                         "access_token": "masto-s3cret"},
            "rg-fb": {"channel": "facebook", "brand": "r", "page_id": PAGE,
                      "access_token": "EAAG-s3cret"},
            "rg-ig": {"channel": "instagram", "brand": "r", "ig_user_id": IG_USER,
                      "access_token": "EAAG-ig-s3cret"},
            "rg-sky": {"channel": "bluesky", "brand": "r", "handle": HANDLE,
                       "app_password": "abcd-efgh-ijkl-mnop"}}}, root=root)
    sky = httpx.Client(transport=httpx.MockTransport(pds))
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mocked, \
            Publisher(cfg, sessions={"rg-sky": sky}, entry_point_plugins=False) as publisher:
        mock_platforms(mocked)
        return audit(cfg, "r", publisher.channel, cache=AvatarCache(root / "cache"))


def status(report: BrandReport, account: str, field: str) -> Status | None:
    found = next(a for a in report.accounts if a.account == account).check(field)
    return found.status if found else None


def check(report: BrandReport, account: str, field: str) -> Any:
    return next(a for a in report.accounts if a.account == account).check(field)


def test_every_account_is_read(report: BrandReport) -> None:
    assert [a.account for a in report.accounts] == ["rg-x", "rg-masto", "rg-fb", "rg-ig",
                                                    "rg-sky"]
    assert all(a.error is None for a in report.accounts)
    assert report.drift


def test_name_short_forms_match_and_a_shortened_name_drifts(report: BrandReport) -> None:
    assert status(report, "rg-x", "name") is Status.MATCH  # "Riverside General": a short form
    assert status(report, "rg-ig", "name") is Status.MATCH
    drift = check(report, "rg-sky", "name")
    assert drift.status is Status.DRIFT
    assert drift.fix == "Riverside General Hospital"


def test_handles_by_pattern(report: BrandReport) -> None:
    assert status(report, "rg-x", "handle") is Status.MATCH
    assert status(report, "rg-sky", "handle") is Status.MATCH
    assert status(report, "rg-fb", "handle") is None  # no pattern for facebook


def test_description_cut_to_the_bio_limit_matches(report: BrandReport) -> None:
    assert status(report, "rg-x", "description") is Status.MATCH
    assert status(report, "rg-sky", "description") is Status.MATCH


def test_a_bio_naming_a_former_ceo_drifts_with_a_fix_that_fits(report: BrandReport) -> None:
    drift = check(report, "rg-fb", "description")
    assert drift.status is Status.DRIFT
    assert "lacks 'not medical advice'" in drift.note
    assert len(drift.fix) <= 100  # Facebook's about
    assert DESCRIPTION.startswith(drift.fix)
    assert not drift.fix.endswith(" ")


def test_missing_description(report: BrandReport) -> None:
    missing = check(report, "rg-ig", "description")
    assert missing.status is Status.MISSING
    assert len(missing.fix) <= 150
    assert "loses 'not medical advice': give a shorter descriptions.instagram" in missing.note


def test_a_channel_variant_is_the_expected_description(report: BrandReport) -> None:
    assert check(report, "rg-x", "description").expected == X_BIO


def test_websites(report: BrandReport) -> None:
    assert status(report, "rg-masto", "website") is Status.MATCH  # www, utm_source, http
    assert status(report, "rg-fb", "website") is Status.MATCH  # no scheme, trailing slash
    shortened = check(report, "rg-x", "website")
    assert shortened.status is Status.DRIFT
    assert "bit.ly" in shortened.note
    other = check(report, "rg-sky", "website")
    assert (other.status, other.fix) == (Status.DRIFT, "https://riverside-general.org")
    assert status(report, "rg-ig", "website") is Status.MISSING


def test_phones(report: BrandReport) -> None:
    assert status(report, "rg-sky", "phone") is Status.MATCH  # in the description
    old = check(report, "rg-fb", "phone")
    assert (old.status, old.live, old.fix) == (Status.DRIFT, "(217) 555-0100", "(217) 555-0142")
    in_bio = check(report, "rg-masto", "phone")
    assert in_bio.status is Status.DRIFT
    assert in_bio.sets == "description"
    assert "(217) 555-0142" in in_bio.fix
    assert "0199" not in in_bio.fix
    assert status(report, "rg-masto", "description") is Status.MATCH  # one number apart


def test_addresses(report: BrandReport) -> None:
    old = check(report, "rg-fb", "address")
    assert (old.status, old.fix) == (Status.DRIFT, BRAND["address"][0])
    assert status(report, "rg-masto", "address") is None  # "Springfield, IL": a city


def test_avatars_by_perceptual_hash(report: BrandReport) -> None:
    assert status(report, "rg-x", "avatar") is Status.MATCH  # re-compressed JPEG
    assert status(report, "rg-masto", "avatar") is Status.MATCH  # resized
    assert status(report, "rg-ig", "avatar") is Status.MATCH  # the file itself
    retired = check(report, "rg-fb", "avatar")
    assert (retired.status, retired.fix) == (Status.DRIFT, "logo.png")
    assert "another image" in retired.note


def test_a_shortened_website_is_followed_when_a_resolver_is_given(root: Path) -> None:
    StaticChannel.profiles = {"a": {"display_name": "Riverside",
                                    "website": "https://bit.ly/rgh"}}
    cfg = config({"name": "Riverside", "website": "https://riverside-general.org"},
                 {"a": "static"}, root)
    with Publisher(cfg, channel_classes={"static": StaticChannel},
                   entry_point_plugins=False) as publisher:
        report = audit(cfg, None, publisher.channel, fetch_image=bytes.fromhex,
                       resolve=lambda url: "https://www.riverside-general.org/?fbclid=9")
    found = report.accounts[0].check("website")
    assert found is not None
    assert found.status is Status.MATCH
    assert "redirects through bit.ly" in found.note


def test_a_profile_that_cannot_be_read_is_an_error_not_a_crash(root: Path) -> None:
    cfg = type(config({"name": "R"}, {}, root)).from_dict({
        "brands": {"r": {"name": "R"}},
        "accounts": {"m": {"channel": "mastodon", "brand": "r", "api_base_url": MASTODON,
                           "access_token": "masto-s3cret-token"}}}, root=root)
    with responses.RequestsMock() as mocked, \
            Publisher(cfg, entry_point_plugins=False) as publisher:
        mocked.get(f"{MASTODON}/api/v1/accounts/verify_credentials", status=401,
                   json={"error": "The access token is invalid"})
        report = audit(cfg, "r", publisher.channel, fetch_image=bytes,
                       cache=AvatarCache(root / "c"))
    assert report.drift
    assert report.accounts[0].error is not None
    assert "masto-s3cret-token" not in json.dumps(report.to_dict())


def test_bad_brand_settings_name_the_field(root: Path) -> None:
    cfg = config({"name": "R", "phone": ["12"], "avatar": "nope.png"}, {"a": "static"}, root)
    with pytest.raises(ConfigurationError, match=r"brands\.r\.avatar"):
        audit(cfg, "r", lambda name: StaticChannel(name, StaticChannel.Options()),
              fetch_image=bytes)
    cfg = config({"name": "R", "phone": ["12"]}, {"a": "static"}, root)
    StaticChannel.profiles = {"a": {"display_name": "R"}}
    with pytest.raises(ConfigurationError, match=r"brands\.r\.phone\[0\]"):
        audit(cfg, "r", lambda name: StaticChannel(name, StaticChannel.Options()),
              fetch_image=bytes)
    with pytest.raises(ConfigurationError, match="not configured"):
        audit(cfg, "other", lambda name: StaticChannel(name, StaticChannel.Options()))
