"""The Bluesky channel against a fake PDS behind ``httpx.MockTransport``.

Response bodies follow the XRPC lexicons and docs.bsky.app: ``createSession`` (with its DID
document), ``createRecord`` ``{uri, cid, commit, validationStatus}``, ``uploadBlob`` ``{blob}``,
``getRecord`` ``{uri, cid, value}``, errors ``{"error": NAME, "message": ...}``, ``getProfile``
(profileViewDetailed), ``listNotifications`` and ``getPosts`` (postView with counts).
"""

from __future__ import annotations

import base64
import io
import json
import re
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from carecast.channels.bluesky import (
    BLOB_LIMIT,
    IMAGE_LIMIT,
    BlueskyChannel,
    BlueskyOptions,
    graphemes,
    record_key,
)
from carecast.channels.thread import part_key
from carecast.config import AccountConfig, Config
from carecast.errors import (
    AuthenticationError,
    ChannelConnectionError,
    ChannelServerError,
    ChannelTimeout,
    ConfigurationError,
    DuplicatePost,
    LimitExceeded,
    OutcomeUnknown,
    PermissionDenied,
    PlatformRejected,
    RateLimited,
)
from carecast.post import Media, Post, Receipt
from carecast.publish import Publisher
from carecast.publish.publisher import idempotency_key
from carecast.records import State
from carecast.testing import FrozenClock

HANDLE = "riverside-health.bsky.social"
DID = "did:plc:ewvi7nxzyoun6zhxrhs64oiz"
PDS = "https://morel.us-east.host.bsky.network"
PASSWORD = "abcd-efgh-ijkl-mnop"  # an app password's shape
NOW = 1_790_000_000.0
TID = re.compile(r"^[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}$")  # specs/tid
POST = Post(id="flu-1", text="Flu shots on Monday.", hashtags=["flu"], language="en")


def jwt(exp: float, scope: str = "com.atproto.appPass") -> str:
    """A token shaped like the PDS's (atproto reads ``exp`` to refresh early)."""
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()
    return ".".join([part({"typ": "at+jwt", "alg": "ES256K"}),
                     part({"scope": scope, "sub": DID, "iat": int(exp) - 7200,
                           "exp": int(exp), "aud": "did:web:morel.us-east.host.bsky.network"}),
                     "c2lnbmF0dXJl"])


class FakePDS:
    """Enough of a PDS and AppView for the channel: records, blobs, sessions, scripted faults.

    ``fail[nsid]`` is a list of actions used one per call: an ``httpx.Response`` to answer
    instead, an exception to raise before storing, or ``("after", exc)`` to store, then raise
    ``exc`` (or answer with it, when it is a response).
    """

    def __init__(self) -> None:
        self.records: dict[str, dict[str, Any]] = {}  # rkey -> {"uri", "cid", "value"}
        self.calls: list[httpx.Request] = []
        self.fail: dict[str, list[Any]] = {}
        self.blobs: list[tuple[str, bytes]] = []
        self.sessions = 0
        self.handles = {"dr-lee.bsky.social": "did:plc:drlee4k2lzhfh5x6ysb3w4g7"}
        self.access = jwt(time.time() + 7200)
        self.notifications: list[dict[str, Any]] = []
        self.counts = {"likeCount": 12, "repostCount": 3, "replyCount": 2, "quoteCount": 1}

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def nsids(self) -> list[str]:
        return [c.url.path.rsplit("/", 1)[-1] for c in self.calls]

    def bodies(self, nsid: str) -> list[dict[str, Any]]:
        return [json.loads(c.content) for c in self.calls
                if c.url.path.endswith(nsid) and c.content]

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(request)
        nsid = request.url.path.rsplit("/", 1)[-1]
        action = self.fail.get(nsid, []).pop(0) if self.fail.get(nsid) else None
        if isinstance(action, httpx.Response):
            return action
        if isinstance(action, BaseException):
            raise action
        if nsid != "com.atproto.server.createSession" and \
                request.headers.get("Authorization") != f"Bearer {self.access}":
            return error(400, "ExpiredToken", "Token has expired")
        response = getattr(self, nsid.replace(".", "_"))(request)
        if isinstance(action, tuple) and isinstance(action[1], httpx.Response):
            return action[1]
        if isinstance(action, tuple):
            raise action[1]
        return response

    # -- the XRPC methods used -----------------------------------------------------------------

    def com_atproto_server_createSession(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        if body != {"identifier": HANDLE, "password": PASSWORD}:
            return error(401, "AuthenticationRequired", "Invalid identifier or password")
        self.sessions += 1
        self.access = jwt(time.time() + 7200 + self.sessions)
        return httpx.Response(200, json={
            "did": DID, "handle": HANDLE, "email": "comms@riverside.example",
            "emailConfirmed": True, "emailAuthFactor": False, "active": True,
            "accessJwt": self.access, "refreshJwt": jwt(time.time() + 86400, "refresh"),
            "didDoc": {
                "@context": ["https://www.w3.org/ns/did/v1",
                             "https://w3id.org/security/multikey/v1"],
                "id": DID, "alsoKnownAs": [f"at://{HANDLE}"],
                "verificationMethod": [{
                    "id": f"{DID}#atproto", "type": "Multikey", "controller": DID,
                    "publicKeyMultibase": "zQ3shXjHeiBuRCKmM36cuYnm7YEMzhGnCmCyW92sRJ9pribSF"}],
                "service": [{"id": "#atproto_pds", "type": "AtprotoPersonalDataServer",
                             "serviceEndpoint": PDS}]}})

    def com_atproto_identity_resolveHandle(self, request: httpx.Request) -> httpx.Response:
        did = self.handles.get(request.url.params["handle"])
        if did is None:
            return error(400, "InvalidRequest", "Unable to resolve handle")
        return httpx.Response(200, json={"did": did})

    def com_atproto_repo_uploadBlob(self, request: httpx.Request) -> httpx.Response:
        mime = request.headers["Content-Type"]
        self.blobs.append((mime, request.content))
        return httpx.Response(200, json={"blob": {
            "$type": "blob", "ref": {"$link": f"bafkreiblob{len(self.blobs)}"},
            "mimeType": mime, "size": len(request.content)}})

    def com_atproto_repo_createRecord(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        rkey = body["rkey"]
        if rkey in self.records:  # the reference PDS fails inside its repo write
            return error(500, "InternalServerError", "Internal Server Error")
        uri = f"at://{body['repo']}/{body['collection']}/{rkey}"
        cid = f"bafyreicid{len(self.records) + 1}"
        self.records[rkey] = {"uri": uri, "cid": cid, "value": body["record"]}
        return httpx.Response(200, json={
            "uri": uri, "cid": cid, "validationStatus": "valid",
            "commit": {"cid": "bafyreicommit", "rev": "3lbqfyx6ixk2a"}})

    def com_atproto_repo_getRecord(self, request: httpx.Request) -> httpx.Response:
        held = self.records.get(request.url.params["rkey"])
        if held is None:
            return error(400, "RecordNotFound",
                         f"Could not locate record: at://{DID}/app.bsky.feed.post/x")
        return httpx.Response(200, json=held)

    def com_atproto_repo_deleteRecord(self, request: httpx.Request) -> httpx.Response:
        self.records.pop(json.loads(request.content)["rkey"], None)
        return httpx.Response(200, json={"commit": {"cid": "bafyreicommit2", "rev": "3lbq"}})

    def app_bsky_actor_getProfile(self, request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={
            "did": DID, "handle": HANDLE, "displayName": "Riverside Health",
            "description": "News from Riverside General. https://riverside.example/news.",
            "avatar": f"https://cdn.bsky.app/img/avatar/plain/{DID}/bafkreiavatar@jpeg",
            "followersCount": 1520, "followsCount": 80, "postsCount": 311,
            "indexedAt": "2026-01-02T10:00:00.000Z", "labels": []})

    def app_bsky_notification_listNotifications(self, request: httpx.Request
                                                ) -> httpx.Response:
        cursor = request.url.params.get("cursor")
        start = int(cursor) if cursor else 0
        page = self.notifications[start:start + 2]
        body: dict[str, Any] = {"notifications": page, "seenAt": "2026-03-01T00:00:00.000Z"}
        if start + 2 < len(self.notifications):
            body["cursor"] = str(start + 2)
        return httpx.Response(200, json=body)

    def app_bsky_feed_getPosts(self, request: httpx.Request) -> httpx.Response:
        uris = request.url.params.get_list("uris")
        held = [r for r in self.records.values() if r["uri"] in uris]
        return httpx.Response(200, json={"posts": [{
            "uri": r["uri"], "cid": r["cid"], "record": r["value"],
            "author": {"did": DID, "handle": HANDLE}, "indexedAt": r["value"]["createdAt"],
            "labels": [], **self.counts} for r in held]})


def error(status: int, name: str, message: str, **headers: str) -> httpx.Response:
    return httpx.Response(status, json={"error": name, "message": message}, headers=headers)


@pytest.fixture
def pds() -> FakePDS:
    return FakePDS()


@pytest.fixture
def http(pds: FakePDS) -> httpx.Client:
    return httpx.Client(transport=pds.transport())


@pytest.fixture
def sky(http: httpx.Client, tmp_path: Path) -> BlueskyChannel:
    return make(http, tmp_path)


def make(http: httpx.Client, root: Path, **options: Any) -> BlueskyChannel:
    opts = BlueskyOptions(handle=f"@{HANDLE}", app_password=PASSWORD, **options)
    return BlueskyChannel("clinic", opts, root=root, session=http,
                          clock=FrozenClock(datetime.fromtimestamp(NOW, UTC)))


def assert_no_secrets(pds: FakePDS, *objects: object) -> None:
    secrets = [PASSWORD, pds.access]
    for obj in objects:
        texts = [str(obj), repr(obj)]
        if isinstance(obj, BaseException):
            texts.append("".join(traceback.format_exception(obj)))
        for text in texts:
            for secret in secrets:
                assert secret not in text


def png(width: int, height: int, *, noise: bool = False) -> bytes:
    if noise:
        import random

        rnd = random.Random(7)
        image = Image.frombytes("RGB", (width, height), rnd.randbytes(width * height * 3))
    else:
        image = Image.new("RGB", (width, height), (10, 120, 200))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


# -- graphemes, counting, record keys ------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    ("abc", 3),
    ("e\u0301te\u0301", 3),  # combining acute accents
    ("\U0001F468\u200D\U0001F469\u200D\U0001F467\u200D\U0001F466", 1),  # family, ZWJ
    ("\U0001F44D\U0001F3FD", 1),  # thumbs up, medium skin tone
    ("\U0001F9D1\U0001F3FE\u200D\u2695\uFE0F", 1),  # health worker, skin tone, ZWJ, VS16
    ("\U0001F1FA\U0001F1F8\U0001F1E8\U0001F1E6", 2),  # two flags: US, CA
    ("\U0001F1FA\U0001F1F8\U0001F1E8", 2),  # a flag and a lone regional indicator
    ("\U0001F3F4\U000E0067\U000E0062\U000E0065\U000E006E\U000E0067\U000E007F", 1),  # England
    ("1\uFE0F\u20E3", 1),  # keycap one
    ("\u1100\u1161\u11A8", 1),  # Hangul jamo L V T
    ("\uD55C\uAE00", 2),  # Hangul syllables
    ("a\r\nb", 3),  # CR LF is one
    ("\u2764\uFE0F\u200D\U0001F525", 1),  # heart on fire
    ("a\u200D\U0001F525", 2),  # ZWJ after a letter does not join the emoji
])
def test_graphemes_count_as_people_see_them(text: str, expected: int) -> None:
    assert len(graphemes(text)) == expected
    assert "".join(graphemes(text)) == text


ALPHABET = st.sampled_from([
    "a", "Z", "é", "e", "\u0301", "\u0308", " ", "\r", "\n", "\u200D", "\uFE0F", "\u20E3",
    "\U0001F468", "\U0001F469", "\U0001F3FD", "\U0001F44D", "\U0001F1FA", "\U0001F1F8",
    "\u2764", "\U0001F525", "\u2695", "1", "#", "\u1100", "\u1161", "\u11A8", "\uD55C",
    "\U0001F3F4", "\U000E0067", "\U000E007F", "\u0915", "\u0940", "\U0001F600", "\u00E9",
    "\u200C", "\u00A9", "\u2122", "\U0001FAE0", "\u0E01", "\u0E33", "\u0645", "\u064E",
    "\u05D0", "\u05B8", "\u4E2D", "\u3042", "\u3099", "\U0001F9D1", "\U0001F3FB",
])


@settings(max_examples=300, deadline=None)
@given(st.lists(ALPHABET, max_size=25).map("".join))
def test_graphemes_agree_with_the_regex_module(text: str) -> None:
    regex = pytest.importorskip("regex")  # a full UAX #29 implementation, as the oracle
    assert graphemes(text) == regex.findall(r"\X", text)


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # count is pure
@given(text=st.text(st.characters(max_codepoint=0x7F), max_size=40)
       | st.lists(ALPHABET, max_size=25).map("".join))
def test_count_is_the_number_of_graphemes_ascii_fast_path_included(
        sky: BlueskyChannel, text: str) -> None:
    assert sky.count(text) == len(graphemes(text))


def test_count_is_graphemes_and_links_count_in_full(sky: BlueskyChannel) -> None:
    assert sky.count("\U0001F469\u200D\u2695\uFE0F " * 3) == 6
    assert sky.count("https://example.org/a") == len("https://example.org/a")
    assert BlueskyChannel.limits()["text_unit"] == "graphemes"
    assert BlueskyChannel.limits()["max_text"] == 300


def test_300_emoji_fit_in_one_post_but_301_make_a_thread(sky: BlueskyChannel) -> None:
    doctor = "\U0001F9D1\U0001F3FD\u200D\u2695\uFE0F"  # 1 grapheme, 7 code points
    draft = sky.render(Post(id="p", text=" ".join([doctor] * 150)))  # 299 graphemes
    assert len(draft.parts) == 1
    assert draft.parts[0].length == 299
    long = sky.render(Post(id="p", text=" ".join(["Vaccines save lives."] * 20)))
    assert len(long.parts) > 1
    assert all(p.length <= 300 for p in long.parts)
    assert long.parts[0].text.endswith(f" 1/{len(long.parts)}")


def test_the_3000_byte_limit_is_checked_too(sky: BlueskyChannel) -> None:
    family = "\U0001F468\u200D\U0001F469\u200D\U0001F467\u200D\U0001F466"  # 25 bytes
    with pytest.raises(LimitExceeded) as info:
        sky.render(Post(id="p", text=family * 200))  # 200 graphemes, 5000 bytes
    assert (info.value.field, info.value.limit, info.value.value) == ("text", 3000, 5000)
    with pytest.raises(LimitExceeded) as info:
        sky.render(Post(id="p", text="Short.", thread=(family * 130,)))
    assert info.value.field == "thread[0]"


def test_record_keys_are_tids_fixed_by_the_key() -> None:
    keys = [record_key(part_key("cc-abc", i)) for i in range(5)]
    assert all(TID.fullmatch(k) for k in keys)
    assert len(set(keys)) == 5
    assert record_key("cc-abc") == record_key("cc-abc") == keys[0]
    assert record_key("cc-abd") != keys[0]
    for key in keys:  # the timestamp part lies between 2023 and now
        value = 0
        for char in key:
            value = value * 32 + "234567abcdefghijklmnopqrstuvwxyz".index(char)
        micros = value >> 10
        assert 1_672_531_200_000_000 <= micros < 1_750_000_000_000_000


# -- publishing ------------------------------------------------------------------------------


def test_publish_creates_a_record_with_our_record_key(sky: BlueskyChannel, pds: FakePDS) -> None:
    receipt = sky.publish(sky.render(POST), "cc-key-1")
    rkey = record_key("cc-key-1")
    assert receipt.remote_id == f"at://{DID}/app.bsky.feed.post/{rkey}"
    assert receipt.url == f"https://bsky.app/profile/{HANDLE}/post/{rkey}"
    assert receipt.part_ids == (receipt.remote_id,)
    assert receipt.extra == {"cid": "bafyreicid1", "rkey": rkey}
    assert receipt.published_at == datetime.fromtimestamp(NOW, UTC)
    assert pds.nsids() == ["com.atproto.server.createSession", "com.atproto.repo.createRecord"]
    create = pds.calls[-1]
    assert create.url.host == "morel.us-east.host.bsky.network"  # the PDS from the DID doc
    body = json.loads(create.content)
    assert (body["repo"], body["collection"], body["rkey"]) == (DID, "app.bsky.feed.post", rkey)
    record = body["record"]
    assert record["$type"] == "app.bsky.feed.post"
    assert record["text"] == "Flu shots on Monday.\n\n#flu"
    assert record["createdAt"] == "2026-09-21T14:13:20.000Z"
    assert record["langs"] == ["en"]
    assert record["facets"] == [{
        "$type": "app.bsky.richtext.facet",
        "index": {"$type": "app.bsky.richtext.facet#byteSlice", "byteStart": 22, "byteEnd": 26},
        "features": [{"$type": "app.bsky.richtext.facet#tag", "tag": "flu"}]}]
    assert "embed" not in record
    assert "reply" not in record


def test_facets_use_utf8_byte_offsets(sky: BlueskyChannel, pds: FakePDS) -> None:
    text = ("Vacunación 💉 gratis 👩🏽‍⚕️: https://riverside.example/gripe "
            "pregunte a @dr-lee.bsky.social o @nobody.bsky.social #salud")
    sky.publish(sky.render(Post(id="es", text=text)), "cc-es")
    record = pds.bodies("createRecord")[0]["record"]
    raw = record["text"].encode()
    spans = {}
    for facet in record["facets"]:
        (feature,) = facet["features"]
        start, end = facet["index"]["byteStart"], facet["index"]["byteEnd"]
        spans[feature["$type"].split("#")[1]] = (raw[start:end].decode(), feature)
    assert spans["link"] == ("https://riverside.example/gripe", {
        "$type": "app.bsky.richtext.facet#link", "uri": "https://riverside.example/gripe"})
    assert spans["mention"] == ("@dr-lee.bsky.social", {
        "$type": "app.bsky.richtext.facet#mention", "did": "did:plc:drlee4k2lzhfh5x6ysb3w4g7"})
    assert spans["tag"] == ("#salud", {"$type": "app.bsky.richtext.facet#tag", "tag": "salud"})
    assert len(record["facets"]) == 3  # the handle that does not resolve gets no facet
    link = record["facets"][0]["index"]
    assert link["byteStart"] != text.index("https://")  # bytes, not characters
    assert link["byteStart"] == len(text[:text.index("https://")].encode())
    assert pds.nsids().count("com.atproto.identity.resolveHandle") == 2


def test_the_session_is_reused(sky: BlueskyChannel, pds: FakePDS) -> None:
    sky.publish(sky.render(POST), "k1")
    sky.publish(sky.render(POST.model_copy(update={"id": "flu-2"})), "k2")
    sky.lookup("k1", sky.render(POST))
    assert pds.sessions == 1
    assert pds.nsids().count("com.atproto.server.createSession") == 1


def test_an_expired_token_logs_in_again_once(sky: BlueskyChannel, pds: FakePDS) -> None:
    sky.publish(sky.render(POST), "k1")
    pds.access = jwt(time.time() + 7200, "rotated")  # the PDS no longer takes our token
    receipt = sky.publish(sky.render(POST.model_copy(update={"id": "flu-2"})), "k2")
    assert receipt.remote_id.endswith(record_key("k2"))
    assert pds.sessions == 2
    assert pds.nsids()[-3:] == ["com.atproto.repo.createRecord",
                                "com.atproto.server.createSession",
                                "com.atproto.repo.createRecord"]


def test_a_wrong_app_password_says_how_to_make_one(http: httpx.Client, pds: FakePDS,
                                                   tmp_path: Path) -> None:
    opts = BlueskyOptions(handle=HANDLE, app_password="wrong-pass-word-abcd")
    channel = BlueskyChannel("clinic", opts, root=tmp_path, session=http)
    with pytest.raises(AuthenticationError) as info:
        channel.publish(channel.render(POST), "k")
    assert "App passwords" in str(info.value)
    assert info.value.status == 401
    assert "wrong-pass-word-abcd" not in "".join(traceback.format_exception(info.value))
    assert pds.nsids() == ["com.atproto.server.createSession"]


def test_two_factor_accounts_are_told_to_use_an_app_password(sky: BlueskyChannel,
                                                             pds: FakePDS) -> None:
    pds.fail["com.atproto.server.createSession"] = [
        error(401, "AuthFactorTokenRequired", "A sign in code has been sent to your email")]
    with pytest.raises(AuthenticationError, match="use an app password"):
        sky.publish(sky.render(POST), "k")


def test_a_link_becomes_a_card_from_the_draft(sky: BlueskyChannel, pds: FakePDS,
                                              tmp_path: Path) -> None:
    (tmp_path / "card.png").write_bytes(png(1200, 630))
    post = Post(id="card", title="Flu clinic", text="Book your flu shot.",
                link="https://riverside.example/flu",
                overrides={"bluesky": {"options": {"description": "Walk-ins welcome.",
                                                   "card_image": "card.png"}}})
    sky.publish(sky.render(post), "cc-card")
    record = pds.bodies("createRecord")[0]["record"]
    assert record["embed"] == {"$type": "app.bsky.embed.external", "external": {
        "$type": "app.bsky.embed.external#external", "uri": "https://riverside.example/flu",
        "title": "Flu clinic", "description": "Walk-ins welcome.",
        "thumb": {"$type": "blob", "ref": {"$link": "bafkreiblob1"}, "mimeType": "image/png",
                  "size": len(pds.blobs[0][1])}}}
    assert pds.blobs[0][0] == "image/png"


def test_a_card_without_an_image_has_no_thumbnail(sky: BlueskyChannel, pds: FakePDS) -> None:
    sky.publish(sky.render(Post(id="c", text="Read more.", link="https://riverside.example/a")),
                "cc-c")
    external = pds.bodies("createRecord")[0]["record"]["embed"]["external"]
    assert "thumb" not in external
    assert (external["title"], external["description"]) == ("", "")
    assert pds.blobs == []


def test_images_go_with_alt_text_and_aspect_ratio(sky: BlueskyChannel, pds: FakePDS,
                                                  tmp_path: Path) -> None:
    (tmp_path / "wide.png").write_bytes(png(800, 400))
    (tmp_path / "tall.png").write_bytes(png(300, 600))
    post = Post(id="img", text="Our new clinic.", link="https://riverside.example/clinic",
                media=[Media(source="wide.png", alt_text="The clinic's glass entrance"),
                       Media(source="tall.png", alt_text="A nurse at the front desk")])
    sky.publish(sky.render(post), "cc-img")
    embed = pds.bodies("createRecord")[0]["record"]["embed"]
    assert embed["$type"] == "app.bsky.embed.images"  # images win over the link card
    assert [(i["alt"], i["aspectRatio"]["width"], i["aspectRatio"]["height"])
            for i in embed["images"]] == [("The clinic's glass entrance", 800, 400),
                                          ("A nurse at the front desk", 300, 600)]
    assert [i["image"]["ref"]["$link"] for i in embed["images"]] == ["bafkreiblob1",
                                                                     "bafkreiblob2"]
    assert [mime for mime, _ in pds.blobs] == ["image/png", "image/png"]
    assert pds.blobs[0][1] == (tmp_path / "wide.png").read_bytes()  # small: sent as it is


def test_a_large_image_is_resized_under_the_image_limit(sky: BlueskyChannel, pds: FakePDS,
                                                        tmp_path: Path) -> None:
    big = png(2400, 1200, noise=True)
    assert len(big) > IMAGE_LIMIT
    (tmp_path / "big.png").write_bytes(big)
    sky.publish(sky.render(Post(id="big", text="Aerial view.", media=[
        Media(source="big.png", alt_text="The hospital from above")])), "cc-big")
    mime, data = pds.blobs[0]
    assert mime == "image/jpeg"
    assert len(data) <= IMAGE_LIMIT
    sent = Image.open(io.BytesIO(data))
    assert sent.format == "JPEG"
    assert max(sent.size) <= 2000
    ratio = pds.bodies("createRecord")[0]["record"]["embed"]["images"][0]["aspectRatio"]
    assert (ratio["width"], ratio["height"]) == sent.size
    assert abs(sent.width / sent.height - 2.0) < 0.01


def test_a_post_image_between_one_and_two_megabytes_goes_as_it_is(
        sky: BlueskyChannel, pds: FakePDS, tmp_path: Path) -> None:
    # Post images may be 2,000,000 bytes since April 2026 (bluesky-social/atproto#4823).
    photo = png(760, 760, noise=True)
    assert BLOB_LIMIT < len(photo) <= IMAGE_LIMIT
    (tmp_path / "ward.png").write_bytes(photo)
    sky.publish(sky.render(Post(id="ward", text="The new ward.", media=[
        Media(source="ward.png", alt_text="Beds by a window")])), "cc-ward")
    assert pds.blobs == [("image/png", photo)]


def test_a_card_thumbnail_keeps_the_one_megabyte_limit(sky: BlueskyChannel, pds: FakePDS,
                                                       tmp_path: Path) -> None:
    card = png(760, 760, noise=True)
    assert BLOB_LIMIT < len(card) <= IMAGE_LIMIT
    (tmp_path / "card.png").write_bytes(card)
    sky.publish(sky.render(Post(id="c", text="Read more.", link="https://riverside.example/a",
                                overrides={"bluesky": {"options": {"card_image": "card.png"}}})),
                "cc-c")
    mime, data = pds.blobs[0]
    assert mime == "image/jpeg"
    assert len(data) <= BLOB_LIMIT


def test_an_image_by_url_is_downloaded(tmp_path: Path) -> None:
    import responses  # media downloads go through carecast.channels.media (requests)

    pds = FakePDS()
    picture = png(640, 480)
    channel = make(httpx.Client(transport=httpx.MockTransport(pds.handle)), tmp_path)
    with responses.RequestsMock() as cdn:
        cdn.get("https://cdn.riverside.example/lobby.png", body=picture,
                content_type="image/png")
        channel.publish(channel.render(Post(id="u", text="Lobby.", media=[
            Media(source="https://cdn.riverside.example/lobby.png", alt_text="The lobby")])),
            "k")
    assert pds.blobs == [("image/png", picture)]


def test_an_unreadable_image_is_refused_before_anything_is_posted(
        sky: BlueskyChannel, pds: FakePDS, tmp_path: Path) -> None:
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(40))
    with pytest.raises(PlatformRejected, match=r"media\[0\]: not an image"):
        sky.publish(sky.render(Post(id="b", text="x", media=[
            Media(source="broken.png", alt_text="x")])), "k")
    assert "com.atproto.repo.createRecord" not in pds.nsids()


def test_a_thread_replies_with_root_and_parent(sky: BlueskyChannel, pds: FakePDS) -> None:
    post = Post(id="t", text="Flu season is here.", thread=("Shots are free.", "Walk in."))
    receipt = sky.publish(sky.render(post), "cc-t")
    bodies = pds.bodies("createRecord")
    assert [b["rkey"] for b in bodies] == [record_key(part_key("cc-t", i)) for i in range(3)]
    uris = [f"at://{DID}/app.bsky.feed.post/{b['rkey']}" for b in bodies]
    assert receipt.part_ids == tuple(uris)
    assert "reply" not in bodies[0]["record"]
    root = {"$type": "com.atproto.repo.strongRef", "uri": uris[0], "cid": "bafyreicid1"}
    assert bodies[1]["record"]["reply"] == {"$type": "app.bsky.feed.post#replyRef",
                                            "root": root, "parent": root}
    assert bodies[2]["record"]["reply"]["root"] == root
    assert bodies[2]["record"]["reply"]["parent"] == {
        "$type": "com.atproto.repo.strongRef", "uri": uris[1], "cid": "bafyreicid2"}


def test_each_thread_part_has_its_own_later_created_at(sky: BlueskyChannel,
                                                      pds: FakePDS) -> None:
    # The AppView orders a thread by createdAt: parts stamped alike came back as 2, 1, 4, 5, 3.
    post = Post(id="t", text="One.", thread=("Two.", "Three.", "Four.", "Five."))
    receipt = sky.publish(sky.render(post), "cc-t")  # the clock is frozen: no time passes
    stamps = [b["record"]["createdAt"] for b in pds.bodies("createRecord")]
    assert stamps == [f"2026-09-21T14:13:20.00{i}Z" for i in range(5)]
    assert receipt.published_at == datetime.fromtimestamp(NOW, UTC)


def test_thread_created_at_follows_the_injected_clock(http: httpx.Client, pds: FakePDS,
                                                      tmp_path: Path) -> None:
    clock = FrozenClock(datetime.fromtimestamp(NOW, UTC))
    channel = BlueskyChannel("clinic", BlueskyOptions(handle=HANDLE, app_password=PASSWORD),
                             root=tmp_path, session=http, clock=clock)
    original = pds.com_atproto_repo_createRecord

    def slow(request: httpx.Request) -> httpx.Response:
        clock.advance(2.5)  # each create takes the platform 2.5 s
        return original(request)

    pds.com_atproto_repo_createRecord = slow  # type: ignore[method-assign]
    channel.publish(channel.render(Post(id="t", text="One.", thread=("Two.", "Three."))), "k")
    stamps = [b["record"]["createdAt"] for b in pds.bodies("createRecord")]
    assert stamps == ["2026-09-21T14:13:20.000Z", "2026-09-21T14:13:22.500Z",
                      "2026-09-21T14:13:25.000Z"]


def test_a_failed_part_deletes_the_parts_before_it(sky: BlueskyChannel, pds: FakePDS) -> None:
    pds.fail["com.atproto.repo.createRecord"] = [None, error(
        400, "InvalidRequest", "Invalid app.bsky.feed.post record: Record/text must not be "
        "longer than 300 graphemes")]
    with pytest.raises(PlatformRejected) as info:
        sky.publish(sky.render(Post(id="t", text="One.", thread=("Two.",))), "cc-t")
    assert info.value.code == "InvalidRequest"
    assert "300 graphemes" in str(info.value)
    assert pds.records == {}
    assert pds.bodies("deleteRecord") == [{"repo": DID, "collection": "app.bsky.feed.post",
                                           "rkey": record_key("cc-t")}]


def test_a_reply_part_whose_answer_was_lost_is_found(sky: BlueskyChannel, pds: FakePDS) -> None:
    pds.fail["com.atproto.repo.createRecord"] = [
        None, ("after", httpx.ReadTimeout("timed out"))]
    receipt = sky.publish(sky.render(Post(id="t", text="One.", thread=("Two.",))), "cc-t")
    assert len(receipt.part_ids) == 2
    assert len(pds.records) == 2
    assert pds.nsids().count("com.atproto.repo.createRecord") == 2  # never sent twice


def test_an_orphan_reply_from_a_rolled_back_attempt_is_replaced(sky: BlueskyChannel,
                                                               pds: FakePDS) -> None:
    pds.records[record_key("cc-t.1")] = {
        "uri": f"at://{DID}/app.bsky.feed.post/{record_key('cc-t.1')}", "cid": "bafyreiold",
        "value": {"text": "Two.", "createdAt": "2026-01-01T00:00:00.000Z",
                  "reply": {"root": {"uri": "at://x", "cid": "old"},
                            "parent": {"uri": "at://x", "cid": "old"}}}}
    receipt = sky.publish(sky.render(Post(id="t", text="One.", thread=("Two.",))), "cc-t")
    held = pds.records[record_key("cc-t.1")]
    assert held["value"]["reply"]["parent"]["uri"] == receipt.part_ids[0]


def test_a_500_on_a_create_at_a_held_key_is_looked_up_at_once(sky: BlueskyChannel,
                                                               pds: FakePDS) -> None:
    # The reference PDS answers a create at a record key it holds with HTTP 500
    # InternalServerError (bluesky-social/atproto#3718), never RecordAlreadyExists.
    first = sky.publish(sky.render(POST), "cc-once")  # a send whose answer the caller lost
    sky.clock.advance(3600)
    again = sky.publish(sky.render(POST), "cc-once")
    assert pds.nsids()[-2:] == ["com.atproto.repo.createRecord", "com.atproto.repo.getRecord"]
    assert pds.nsids().count("com.atproto.repo.createRecord") == 2
    assert len(pds.records) == 1
    assert (again.remote_id, again.extra) == (first.remote_id, first.extra)
    assert again.reconciled
    assert not first.reconciled
    assert again.published_at == first.published_at  # the stored record's time


def test_a_500_on_a_create_with_nothing_stored_stays_a_server_error(sky: BlueskyChannel,
                                                                    pds: FakePDS) -> None:
    pds.fail["com.atproto.repo.createRecord"] = [
        error(500, "InternalServerError", "Internal Server Error")]
    with pytest.raises(ChannelServerError) as info:
        sky.publish(sky.render(POST), "cc-k")
    assert info.value.retryable
    assert info.value.may_have_been_sent
    assert pds.nsids()[-1] == "com.atproto.repo.getRecord"  # looked, found nothing
    assert pds.records == {}


def test_a_thread_part_answered_500_at_its_held_key_is_taken(sky: BlueskyChannel,
                                                             pds: FakePDS) -> None:
    pds.fail["com.atproto.repo.createRecord"] = [
        None, ("after", error(500, "InternalServerError", "Internal Server Error"))]
    receipt = sky.publish(sky.render(Post(id="t", text="One.", thread=("Two.",))), "cc-t")
    assert len(receipt.part_ids) == 2
    assert len(pds.records) == 2
    assert pds.nsids().count("com.atproto.repo.createRecord") == 2
    assert pds.nsids().count("com.atproto.repo.deleteRecord") == 0


# -- errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("response", "cls", "code"), [
    (error(400, "InvalidRequest", "Invalid app.bsky.feed.post record"), PlatformRejected,
     "InvalidRequest"),
    (error(403, "Forbidden", "Forbidden"), PermissionDenied, "Forbidden"),
    (error(409, "RecordAlreadyExists", "Record already exists"), DuplicatePost,
     "RecordAlreadyExists"),
    (error(413, "PayloadTooLarge", "request entity too large"), PlatformRejected,
     "PayloadTooLarge"),
    (error(500, "InternalServerError", "Internal Server Error"), ChannelServerError,
     "InternalServerError"),
    (httpx.Response(502, text="Bad Gateway"), ChannelServerError, None),
    (error(503, "NotEnoughResources", "try again later", **{"Retry-After": "12"}),
     ChannelServerError, "NotEnoughResources"),
    (httpx.Response(302, headers={"Location": "https://elsewhere.example/"}),
     PlatformRejected, None),
])
def test_platform_errors_map_to_carecast_errors(sky: BlueskyChannel, pds: FakePDS,
                                                response: httpx.Response, cls: type,
                                                code: str | None) -> None:
    pds.fail["com.atproto.repo.createRecord"] = [response]
    with pytest.raises(cls) as info:
        sky.publish(sky.render(POST), "k")
    error_ = info.value
    assert type(error_) is cls
    assert (error_.status, error_.code) == (response.status_code, code)
    assert (error_.channel, error_.account) == ("bluesky", "clinic")
    assert f"HTTP {response.status_code}" in str(error_)
    assert error_.may_have_been_sent == (response.status_code >= 500)
    if response.status_code == 503:
        assert error_.retry_after == 12
    assert "Flu shots" not in str(error_)
    assert_no_secrets(pds, error_)


def test_a_refused_token_twice_is_an_authentication_error(sky: BlueskyChannel,
                                                          pds: FakePDS) -> None:
    refused = error(401, "AuthenticationRequired", "Authentication Required")
    pds.fail["com.atproto.repo.createRecord"] = [refused, refused]
    with pytest.raises(AuthenticationError, match="app password") as info:
        sky.publish(sky.render(POST), "k")
    assert info.value.status == 401
    assert pds.sessions == 2  # logged in again once, then gave up
    assert_no_secrets(pds, info.value)


def test_rate_limits_carry_bluesky_s_reset_time(sky: BlueskyChannel, pds: FakePDS) -> None:
    pds.fail["com.atproto.repo.createRecord"] = [error(
        429, "RateLimitExceeded", "Rate Limit Exceeded", **{
            "ratelimit-limit": "5000", "ratelimit-remaining": "0",
            "ratelimit-reset": str(int(NOW) + 45), "ratelimit-policy": "5000;w=3600"})]
    with pytest.raises(RateLimited) as info:
        sky.publish(sky.render(POST), "k")
    assert info.value.retry_after == 45
    assert info.value.retryable
    assert not info.value.may_have_been_sent


@pytest.mark.parametrize(("exc", "cls", "sent"), [
    (httpx.ConnectError("[Errno 111] Connection refused"), ChannelConnectionError, False),
    (httpx.ConnectTimeout("timed out"), ChannelTimeout, False),
    (httpx.ReadTimeout("The read operation timed out"), OutcomeUnknown, True),
    (httpx.WriteTimeout("timed out"), OutcomeUnknown, True),
    (httpx.ReadError("Connection reset by peer"), OutcomeUnknown, True),
    (httpx.RemoteProtocolError("Server disconnected without sending a response."),
     OutcomeUnknown, True),
])
def test_transport_errors_map_to_carecast_errors(sky: BlueskyChannel, pds: FakePDS,
                                                 exc: Exception, cls: type,
                                                 sent: bool) -> None:
    pds.fail["com.atproto.repo.createRecord"] = [exc]
    with pytest.raises(cls) as info:
        sky.publish(sky.render(POST), "k")
    assert type(info.value) is cls
    assert info.value.may_have_been_sent is sent
    assert info.value.retryable
    assert_no_secrets(pds, info.value)


def test_without_atproto_the_channel_says_what_to_install(
        sky: BlueskyChannel, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "atproto_client", None)
    assert sky.render(POST).parts  # rendering needs no SDK
    with pytest.raises(ConfigurationError, match=r"pip install 'carecast\[bluesky\]'"):
        sky.publish(sky.render(POST), "k")


# -- lookup and delete -----------------------------------------------------------------------


def test_lookup_finds_the_post_by_its_record_key(sky: BlueskyChannel, pds: FakePDS) -> None:
    draft = sky.render(Post(id="t", text="One.", thread=("Two.",)))
    assert sky.lookup("cc-t", draft) is None
    sent = sky.publish(draft, "cc-t")
    found = sky.lookup("cc-t", draft)
    assert found is not None
    assert (found.remote_id, found.part_ids, found.url) == (sent.remote_id, sent.part_ids,
                                                            sent.url)
    assert found.published_at == sent.published_at
    gets = [c for c in pds.calls if c.url.path.endswith("getRecord")]
    assert dict(gets[-1].url.params) == {"repo": DID, "collection": "app.bsky.feed.post",
                                         "rkey": record_key("cc-t.1")}


def test_lookup_of_a_half_thread_needs_a_person(sky: BlueskyChannel, pds: FakePDS) -> None:
    draft = sky.render(Post(id="t", text="One.", thread=("Two.",)))
    sky.publish(draft, "cc-t")
    del pds.records[record_key("cc-t.1")]
    with pytest.raises(OutcomeUnknown, match="only in part") as info:
        sky.lookup("cc-t", draft)
    assert not info.value.retryable


def test_lookup_that_cannot_tell_raises(sky: BlueskyChannel, pds: FakePDS) -> None:
    pds.fail["com.atproto.repo.getRecord"] = [error(500, "InternalServerError", "oops")]
    with pytest.raises(ChannelServerError):
        sky.lookup("cc-key", sky.render(POST))


def test_delete_removes_every_part_last_first(sky: BlueskyChannel, pds: FakePDS) -> None:
    receipt = sky.publish(sky.render(Post(id="t", text="One.", thread=("Two.", "3.")),), "k")
    sky.delete(receipt)
    assert pds.records == {}
    assert [b["rkey"] for b in pds.bodies("deleteRecord")] == [
        record_key(part_key("k", i)) for i in (2, 1, 0)]
    sky.delete(Receipt(post_id="x", account="clinic", channel="bluesky",
                       remote_id=receipt.remote_id, published_at=receipt.published_at))
    assert pds.bodies("deleteRecord")[-1]["rkey"] == record_key("k")


# -- reading ---------------------------------------------------------------------------------


def test_fetch_profile(sky: BlueskyChannel, pds: FakePDS) -> None:
    profile = sky.fetch_profile()
    assert (profile.display_name, profile.handle) == ("Riverside Health", HANDLE)
    assert profile.description.startswith("News from Riverside General.")
    assert profile.website == "https://riverside.example/news"  # from the description
    assert profile.avatar_url.startswith("https://cdn.bsky.app/img/avatar/")
    assert profile.extra["did"] == DID
    assert dict(pds.calls[-1].url.params) == {"actor": DID}


def test_the_profile_website_field_wins(sky: BlueskyChannel, pds: FakePDS) -> None:
    real = pds.app_bsky_actor_getProfile

    def with_website(request: httpx.Request) -> httpx.Response:
        body = json.loads(real(request).content)
        return httpx.Response(200, json={**body, "website": "https://riverside.example/"})

    pds.app_bsky_actor_getProfile = with_website  # type: ignore[method-assign]
    assert sky.fetch_profile().website == "https://riverside.example/"


def test_close_closes_only_its_own_http_client(sky: BlueskyChannel, http: httpx.Client,
                                               tmp_path: Path) -> None:
    sky.close()
    assert not http.is_closed
    own = BlueskyChannel("clinic", BlueskyOptions(handle=HANDLE, app_password=PASSWORD),
                         root=tmp_path)
    client = own._http()
    assert own.owns_session
    own.close()
    assert client.is_closed


def notification(n: int, reason: str, when: str) -> dict[str, Any]:
    uri = f"at://did:plc:author{n}/app.bsky.feed.post/3lbq{n}"
    return {"uri": uri, "cid": f"bafyreinote{n}", "reason": reason, "isRead": False,
            "indexedAt": when, "labels": [],
            "author": {"did": f"did:plc:author{n}", "handle": f"patient{n}.bsky.social"},
            "record": {"$type": "app.bsky.feed.post", "text": f"note {n}", "createdAt": when}}


def test_fetch_mentions_since_oldest_first(sky: BlueskyChannel, pds: FakePDS) -> None:
    pds.notifications = [
        notification(1, "mention", "2026-03-05T12:00:00.000Z"),
        notification(2, "reply", "2026-03-04T12:00:00.000Z"),
        notification(3, "mention", "2026-03-03T12:00:00.000Z"),
        notification(4, "mention", "2026-02-01T12:00:00.000Z"),  # before since
        notification(5, "mention", "2026-01-01T12:00:00.000Z"),  # never fetched
    ]
    found = sky.fetch_mentions(datetime(2026, 3, 1, tzinfo=UTC))
    assert [(m.text, m.kind) for m in found] == [("note 3", "mention"), ("note 2", "reply"),
                                                 ("note 1", "mention")]
    assert found[0].author == "patient3.bsky.social"
    assert found[0].url == "https://bsky.app/profile/patient3.bsky.social/post/3lbq3"
    pages = [c for c in pds.calls if c.url.path.endswith("listNotifications")]
    assert len(pages) == 2  # the second page reached before 'since', so it stopped
    assert pages[0].url.params.get_list("reasons") == ["mention", "reply", "quote"]
    assert pages[1].url.params["cursor"] == "2"


def test_fetch_metrics(sky: BlueskyChannel, pds: FakePDS) -> None:
    receipt = sky.publish(sky.render(POST), "k")
    metrics = sky.fetch_metrics(receipt)
    assert (metrics.likes, metrics.reposts, metrics.replies) == (12, 3, 2)
    assert metrics.extra == {"quotes": 1}
    assert metrics.impressions is None
    sky.delete(receipt)
    with pytest.raises(PlatformRejected, match="not on Bluesky"):
        sky.fetch_metrics(receipt)


# -- options ---------------------------------------------------------------------------------


def test_options_are_checked_and_the_password_never_shown(sky: BlueskyChannel,
                                                          pds: FakePDS) -> None:
    assert sky.options.handle == HANDLE  # the @ is dropped
    assert sky.options.service_url == "https://bsky.social"
    assert_no_secrets(pds, sky, sky.options, sky.options.model_dump())
    account = AccountConfig(name="clinic", channel="bluesky", options={
        "handle": "riverside health", "app_password": PASSWORD,
        "service_url": "bsky.social"})
    with pytest.raises(ConfigurationError) as info:
        BlueskyChannel.from_config(account)
    assert "accounts.clinic.handle" in str(info.value)
    assert "accounts.clinic.service_url: give an http(s) URL" in str(info.value)
    assert PASSWORD not in str(info.value)


# -- through the publisher -------------------------------------------------------------------


def config(tmp_path: Path) -> Config:
    return Config.from_dict({
        "brands": {"riverside": {"name": "Riverside General"}},
        "accounts": {"clinic": {"channel": "bluesky", "brand": "riverside", "handle": HANDLE}},
    }, root=tmp_path, environ={"CARECAST_ACCOUNTS__CLINIC__APP_PASSWORD": PASSWORD})


def test_publisher_waits_out_a_rate_limit(tmp_path: Path, no_sleep: Any, pds: FakePDS,
                                          http: httpx.Client) -> None:
    reset = str(int(no_sleep.clock.time()) + 30)
    pds.fail["com.atproto.repo.createRecord"] = [error(
        429, "RateLimitExceeded", "Rate Limit Exceeded", **{"ratelimit-reset": reset})]
    with Publisher(config(tmp_path), entry_point_plugins=False, retry=no_sleep,
                   sessions={"clinic": http}) as publisher:
        outcome = publisher.publish(POST)["clinic"]
    assert outcome.state == State.PUBLISHED
    assert outcome.tries == 2
    assert 25 <= no_sleep.clock.sleeps[0] <= 31
    assert pds.nsids().count("com.atproto.repo.createRecord") == 2
    assert outcome.receipt.remote_id.endswith(record_key(idempotency_key(POST.id, "clinic")))


def test_publisher_reconciles_a_timeout_without_posting_twice(
        tmp_path: Path, no_sleep: Any, pds: FakePDS, http: httpx.Client) -> None:
    pds.fail["com.atproto.repo.createRecord"] = [("after", httpx.ReadTimeout("timed out"))]
    with Publisher(config(tmp_path), entry_point_plugins=False, retry=no_sleep,
                   sessions={"clinic": http}) as publisher:
        outcome = publisher.publish(POST)["clinic"]
    assert outcome.state == State.PUBLISHED
    assert outcome.receipt.reconciled
    assert pds.nsids().count("com.atproto.repo.createRecord") == 1
    assert pds.nsids()[-1] == "com.atproto.repo.getRecord"
    assert len(pds.records) == 1


# -- update_profile (brand sync) ----------------------------------------------------------------
# com.atproto.repo.getRecord / putRecord on app.bsky.actor.profile ``self`` (lexicons
# com.atproto.repo.putRecord: ``swapRecord`` is the CID the write expects to replace).


def put_records(pds: FakePDS) -> list[dict[str, Any]]:
    written: list[dict[str, Any]] = []

    def put(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        held = pds.records.get(body["rkey"])
        if body.get("swapRecord") and (held is None or held["cid"] != body["swapRecord"]):
            return error(400, "InvalidSwap", "Record was at another cid")
        written.append(body)
        uri = f"at://{body['repo']}/{body['collection']}/{body['rkey']}"
        pds.records[body["rkey"]] = {"uri": uri, "cid": "bafyprofile2", "value": body["record"]}
        return httpx.Response(200, json={"uri": uri, "cid": "bafyprofile2"})

    pds.com_atproto_repo_putRecord = put  # type: ignore[attr-defined]
    return written


def test_update_profile_rewrites_the_record_keeping_its_fields(sky: BlueskyChannel,
                                                               pds: FakePDS) -> None:
    from carecast.post import ProfileChanges

    pinned = {"uri": f"at://{DID}/app.bsky.feed.post/3lbq1", "cid": "bafypinned"}
    pds.records["self"] = {
        "uri": f"at://{DID}/app.bsky.actor.profile/self", "cid": "bafyprofile1",
        "value": {"$type": "app.bsky.actor.profile", "displayName": "Riverside Gen.",
                  "description": "Old bio.", "pinnedPost": pinned,
                  "avatar": {"$type": "blob", "ref": {"$link": "bafkreiold"},
                             "mimeType": "image/png", "size": 10}}}
    written = put_records(pds)
    sky.update_profile(ProfileChanges(display_name="Riverside Health",
                                      description="Care close to home.",
                                      website="https://riverside.example"))
    (body,) = written
    assert body["swapRecord"] == "bafyprofile1"
    assert (body["repo"], body["collection"], body["rkey"]) == (
        DID, "app.bsky.actor.profile", "self")
    record = body["record"]
    assert record["displayName"] == "Riverside Health"
    assert record["description"] == "Care close to home."
    assert record["website"] == "https://riverside.example"
    assert record["pinnedPost"] == pinned  # kept
    assert record["avatar"]["ref"]["$link"] == "bafkreiold"  # kept


def test_update_profile_with_no_record_yet_and_a_new_avatar(sky: BlueskyChannel, pds: FakePDS,
                                                            tmp_path: Path) -> None:
    from carecast.post import ProfileChanges

    written = put_records(pds)
    (tmp_path / "logo.png").write_bytes(png(400, 400))
    sky.update_profile(ProfileChanges(avatar=tmp_path / "logo.png"))
    (body,) = written
    assert "swapRecord" not in body
    assert body["record"]["$type"] == "app.bsky.actor.profile"
    assert body["record"]["avatar"]["ref"]["$link"] == "bafkreiblob1"
    assert pds.blobs[0][0] == "image/png"


def test_update_profile_refusals(sky: BlueskyChannel, pds: FakePDS) -> None:
    from carecast.post import ProfileChanges

    family = "\U0001F468\u200D\U0001F469\u200D\U0001F467"
    put_records(pds)
    sky.update_profile(ProfileChanges(description=family * 256))  # 256 graphemes fit
    with pytest.raises(PlatformRejected, match="257 graphemes is over Bluesky's limit of 256"):
        sky.update_profile(ProfileChanges(description=family * 257))
    with pytest.raises(PlatformRejected, match="has no location"):
        sky.update_profile(ProfileChanges(location="Springfield"))
    pds.fail["com.atproto.repo.putRecord"] = [error(400, "InvalidSwap", "Record was at cid x")]
    with pytest.raises(PlatformRejected) as info:
        sky.update_profile(ProfileChanges(description="Care."))
    assert info.value.code == "InvalidSwap"
    assert_no_secrets(pds, info.value)
    assert "update_profile" in BlueskyChannel.capabilities()


def bomb_png(width: int, height: int) -> bytes:
    """A few hundred bytes whose header claims a ``width`` x ``height`` canvas."""
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body)))

    rows = zlib.compress(b"\x00" * 1024, 9)  # far fewer rows than claimed: never decoded
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 1, 0,
                                                              0, 0, 0))
            + chunk(b"IDAT", rows) + chunk(b"IEND", b""))


@pytest.mark.parametrize("side", [8_000, 40_000], ids=["over-our-cap", "over-pillows-too"])
def test_a_decompression_bomb_is_refused_before_it_is_decoded(
        sky: BlueskyChannel, pds: FakePDS, tmp_path: Path, side: int) -> None:
    (tmp_path / "bomb.png").write_bytes(bomb_png(side, side))
    assert (tmp_path / "bomb.png").stat().st_size < 2000
    with pytest.raises(PlatformRejected, match=r"media\[0\]: the image is over the cap of "
                                               r"50000000 pixels.*\[media\] max_pixels"):
        sky.publish(sky.render(Post(id="bomb", text="x", media=[
            Media(source="bomb.png", alt_text="x")])), "k")
    assert pds.blobs == []
    assert "com.atproto.repo.createRecord" not in pds.nsids()


def test_max_pixels_comes_from_the_media_rules(sky: BlueskyChannel, pds: FakePDS,
                                               tmp_path: Path) -> None:
    import dataclasses

    (tmp_path / "small.png").write_bytes(png(40, 30))
    post = Post(id="s", text="x", media=[Media(source="small.png", alt_text="x")])
    sky.media_rules = dataclasses.replace(sky.media_rules, max_pixels=1000)
    with pytest.raises(PlatformRejected, match="over the cap of 1000 pixels"):
        sky.publish(sky.render(post), "k")
    sky.media_rules = dataclasses.replace(sky.media_rules, max_pixels=1200)
    sky.publish(sky.render(post), "k")
    assert len(pds.blobs) == 1
