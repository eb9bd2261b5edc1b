"""Foursquare venues in the brand audit: the Places API at the HTTP layer, one row per venue.

The place bodies are shaped on the Places API's documented place details fields (name,
location with formatted_address, tel, website, hours with display / is_local_holiday /
open_now / regular[{day, open, close}]).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import responses
from responses import matchers

from carecast.brand import AvatarCache, Status, audit, plan
from carecast.channels.foursquare import FoursquareChannel, hours_table, listed_hours, show_hours
from carecast.config import AccountConfig, Config
from carecast.errors import (
    AuthenticationError,
    ChannelError,
    ChannelServerError,
    ConfigurationError,
    PermissionDenied,
    PlatformRejected,
    RateLimited,
)
from carecast.post import Post
from carecast.publish import Publisher

KEY = "fsq3Xk2-service-key-9b7e01c4"
MAIN = "4b0588f4f964a520a6d722e3"
EAST = "5a1c2e7d9f3b4c0012ab34cd"
WEEKDAYS = [{"day": d, "open": "0800", "close": "2000"} for d in range(1, 6)]


def place(name: str = "Riverside General Hospital", tel: str = "(217) 555-0142",
          regular: list[dict[str, Any]] | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "fsq_place_id": MAIN, "name": name,
        "location": {"address": "1 River Road", "locality": "Springfield", "region": "IL",
                     "postcode": "62701", "country": "US",
                     "formatted_address": "1 River Road, Springfield, IL 62701"},
        "tel": tel, "website": "https://www.riverside.example.org/",
        "hours": {"display": "Mon-Fri 8:00 AM-8:00 PM; Sat 9:00 AM-1:00 PM",
                  "is_local_holiday": False, "open_now": True,
                  "regular": [*WEEKDAYS, {"day": 6, "open": "0900", "close": "1300"}]
                  if regular is None else regular},
        **extra}


@pytest.fixture
def mock() -> Any:
    with responses.RequestsMock() as rsps:
        yield rsps


def channel(venue: str = MAIN, tmp_path: Path | None = None) -> FoursquareChannel:
    return FoursquareChannel.from_config(AccountConfig(
        name="fsq-main", channel="foursquare", options={"venue_id": venue, "api_key": KEY}),
        root=tmp_path)


def test_the_venue_is_read_with_the_service_key_and_the_api_version(mock: Any) -> None:
    mock.get(f"https://places-api.foursquare.com/places/{MAIN}", json=place(), match=[
        matchers.query_param_matcher({"fields": "name,location,tel,website,hours"}),
        matchers.header_matcher({"Authorization": f"Bearer {KEY}",
                                 "X-Places-Api-Version": "2025-06-17"})])
    profile = channel().fetch_profile()
    assert profile.display_name == "Riverside General Hospital"
    assert profile.location == "1 River Road, Springfield, IL 62701"
    assert (profile.phone, profile.website) == ("(217) 555-0142",
                                                "https://www.riverside.example.org/")
    assert profile.extra["hours"]["mon"] == ["08:00-20:00"]
    assert profile.extra["hours"]["sat"] == ["09:00-13:00"]
    assert profile.extra["hours"]["sun"] == []
    assert profile.extra["url"] == f"https://foursquare.com/v/{MAIN}"


def test_an_address_without_a_formatted_one_is_put_together(mock: Any) -> None:
    body = place()
    del body["location"]["formatted_address"]
    mock.get(f"https://places-api.foursquare.com/places/{MAIN}", json=body)
    assert channel().fetch_profile().location == "1 River Road, Springfield, IL 62701"


@pytest.mark.parametrize(("status", "body", "cls"), [
    (401, {"message": "Invalid request token."}, AuthenticationError),
    (403, {"message": "Forbidden"}, PermissionDenied),
    (400, {"message": "Invalid fields: tel2"}, PlatformRejected),
    (404, {"message": "Not Found"}, PlatformRejected),
    (429, {"message": "Quota exceeded"}, RateLimited),
    (500, {"message": "Internal Server Error"}, ChannelServerError),
    (503, {}, ChannelServerError),
])
def test_places_api_errors_map_to_carecast_errors(mock: Any, status: int, body: Any,
                                                  cls: type[ChannelError]) -> None:
    mock.get(f"https://places-api.foursquare.com/places/{MAIN}", status=status, json=body,
             headers={"Retry-After": "30"} if status == 429 else {})
    with pytest.raises(ChannelError) as info:
        channel().fetch_profile()
    error = info.value
    assert type(error) is cls
    assert error.status == status
    assert KEY not in str(error) + repr(error)
    if status == 404:
        assert "venue_id" in str(error)
    if status == 429:
        assert getattr(error, "retry_after", None) == 30


def test_a_post_is_refused_without_a_request(mock: Any) -> None:
    fsq = channel()
    with pytest.raises(PlatformRejected, match="no publishing API"):
        fsq.publish(fsq.render(Post(id="p", text="Flu clinic opens Monday.")), "key")
    assert len(mock.calls) == 0


def test_a_bad_venue_id_is_refused_naming_it() -> None:
    with pytest.raises(ConfigurationError, match=r"accounts\.fsq-main\.venue_id"):
        channel("not-a-venue")


def test_hours_tables_read_ranges_spans_and_closed_days() -> None:
    table = hours_table({"mon-fri": "8:00-20:00", "sat": "09:00-13:00, 14:00-17:00",
                         "sun": "closed"}, field="brands.r.hours.foursquare")
    assert table["wed"] == ["08:00-20:00"]
    assert table["sat"] == ["09:00-13:00", "14:00-17:00"]
    assert table["sun"] == []
    assert show_hours(table) == ("mon-fri 08:00-20:00; sat 09:00-13:00, 14:00-17:00; "
                                 "sun closed")
    assert listed_hours([{"day": 7, "open": "0000", "close": "2400"},
                         {"day": 9, "open": "0800", "close": "1700"},
                         {"day": 1, "open": "08", "close": "17"}])["sun"] == ["00:00-24:00"]


@pytest.mark.parametrize(("given", "says"), [
    ({"monday": "08:00-20:00"}, "brands.r.hours.foursquare.monday: not a day"),
    ({"fri-mon": "08:00-20:00"}, "not a day or a range"),
    ({"mon": "8am-8pm"}, "brands.r.hours.foursquare.mon: '8am-8pm' is not a span"),
    ({"mon": "08:00-25:00"}, "is not a span"),
])
def test_bad_hours_name_the_entry_and_the_fix(given: dict[str, str], says: str) -> None:
    with pytest.raises(ValueError, match=says):
        hours_table(given, field="brands.r.hours.foursquare")


def _config(root: Path) -> Config:
    return Config.from_dict({
        "store": {"url": f"sqlite:///{root}/carecast.db"},
        "brands": {"r": {
            "name": "Riverside General Hospital", "short_names": ["Riverside General"],
            "website": "https://riverside.example.org", "phone": ["+1 217 555 0142"],
            "address": ["1 River Road, Springfield, IL 62701",
                        "40 East Avenue, Springfield, IL 62702"],
            "hours": {"foursquare": {"mon-fri": "08:00-20:00", "sat": "09:00-13:00",
                                     "sun": "closed"}}}},
        "accounts": {
            "fsq-main": {"channel": "foursquare", "brand": "r", "venue_id": MAIN,
                         "api_key": KEY},
            "fsq-east": {"channel": "foursquare", "brand": "r", "venue_id": EAST,
                         "api_key": KEY},
            "news": {"channel": "outbox", "brand": "r", "path": "out.jsonl"}}},
        root=root)


def test_the_audit_gives_one_row_per_venue(mock: Any, tmp_path: Path) -> None:
    mock.get(f"https://places-api.foursquare.com/places/{MAIN}", json=place())
    mock.get(f"https://places-api.foursquare.com/places/{EAST}", json=place(
        name="Riverside Urgent Care", tel="(217) 555-0199",
        regular=[*WEEKDAYS, {"day": 6, "open": "0900", "close": "1700"},
                 {"day": 7, "open": "1000", "close": "1400"}],
        location={"formatted_address": "40 East Ave, Springfield, IL 62702"},
        website="https://bit.ly/riverside-uc"))
    cfg = _config(tmp_path)
    with Publisher(cfg, entry_point_plugins=False) as publisher:
        report = audit(cfg, "r", publisher.channel, fetch_image=bytes,
                       cache=AvatarCache(tmp_path / "cache"))
    rows = {r.account: r for r in report.accounts}
    assert set(rows) == {"fsq-main", "fsq-east"}  # the outbox has no public profile
    main = {c.field: c for c in rows["fsq-main"].checks}
    assert {f: c.status for f, c in main.items()} == {
        "name": Status.MATCH, "website": Status.MATCH, "phone": Status.MATCH,
        "address": Status.MATCH, "hours": Status.MATCH}
    assert rows["fsq-main"].url == f"https://foursquare.com/v/{MAIN}"
    east = {c.field: c for c in rows["fsq-east"].checks}
    assert east["name"].status is Status.DRIFT
    assert east["phone"].status is Status.DRIFT
    assert east["address"].status is Status.MATCH  # "Ave" is "Avenue"
    assert east["website"].status is Status.DRIFT  # a shortener hides the domain
    hours = east["hours"]
    assert hours.status is Status.DRIFT
    assert hours.note == "differs on sat, sun"
    assert hours.fix == "mon-fri 08:00-20:00; sat 09:00-13:00; sun closed"
    assert hours.live == "mon-fri 08:00-20:00; sat 09:00-17:00; sun 10:00-14:00"

    with Publisher(cfg, entry_point_plugins=False) as publisher:
        syncs = {s.account: s for s in plan(report, publisher.channel)}
    by_hand = {b.field: b for b in syncs["fsq-east"].by_hand}
    assert syncs["fsq-east"].fixes == []  # nothing is written to Foursquare
    assert by_hand["hours"].fix == "mon-fri 08:00-20:00; sat 09:00-13:00; sun closed"
    assert "Foursquare listing" in by_hand["hours"].reason
    assert set(by_hand) == {"name", "phone", "website", "hours"}


def test_a_venue_without_hours_is_missing_them(mock: Any, tmp_path: Path) -> None:
    body = place()
    del body["hours"]
    mock.get(f"https://places-api.foursquare.com/places/{MAIN}", json=body)
    mock.get(f"https://places-api.foursquare.com/places/{EAST}", status=401,
             json={"message": "Invalid request token."})
    cfg = _config(tmp_path)
    with Publisher(cfg, entry_point_plugins=False) as publisher:
        report = audit(cfg, "r", publisher.channel, fetch_image=bytes,
                       cache=AvatarCache(tmp_path / "cache"))
    rows = {r.account: r for r in report.accounts}
    hours = next(c for c in rows["fsq-main"].checks if c.field == "hours")
    assert hours.status is Status.MISSING
    assert rows["fsq-east"].error is not None
    assert KEY not in rows["fsq-east"].error


def test_posts_of_the_brand_never_go_to_a_listing(tmp_path: Path) -> None:
    cfg = _config(tmp_path)
    with Publisher(cfg, entry_point_plugins=False) as publisher:
        assert publisher.targets(Post(id="p", text="Flu clinic opens Monday.",
                                      brand="r")) == ["news"]
