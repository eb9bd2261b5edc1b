"""Bad input of every kind gives a carecast error (or pydantic's), never another exception.

Property tests (hypothesis) over posts, configs and files, and over publishing whatever
validates: the ledger is never left half-written. The regressions at the end pin the bugs
these properties found.
"""

from __future__ import annotations

import json
import string
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from carecast import (
    AuthenticationError,
    CarecastError,
    ChannelServerError,
    ConfigurationError,
    DuplicatePost,
    InvalidPost,
    OutcomeUnknown,
    Post,
    RateLimited,
    State,
    load_config,
    load_post,
    post_from_dict,
)
from carecast.config import Config
from carecast.post import parse_document
from carecast.settings import Settings

ALLOWED = (CarecastError, ValidationError)
SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])
FEW = settings(SETTINGS, max_examples=100)


def only_allowed(fn: Callable[[], Any]) -> Any:
    """Run ``fn``; a carecast or pydantic error is an answer, anything else fails the test."""
    try:
        return fn()
    except ALLOWED as exc:
        return exc


# -- strategies ------------------------------------------------------------------------------

#: Any code point, with NUL and lone surrogates (``Cs``) made likely.
any_text = st.text(st.characters(), max_size=60) | st.sampled_from(
    ["", " ", "\x00", "a\x00b", "\ud800", "x\udfff", "\n", "#", "é", "\u202e", "🙂" * 3])
#: Text a JSON/YAML file or a database can hold: no lone surrogates.
storable_text = st.text(st.characters(exclude_categories=["Cs"]), max_size=80)
huge_text = st.builds(lambda piece, n: piece * n,
                      st.sampled_from(["a", "word ", "Flu shots. ", "🙂", "https://x.org/a "]),
                      st.integers(2_000, 200_000))
naive = st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2100, 1, 1))
aware = st.builds(lambda d, h: d.replace(tzinfo=timezone(timedelta(hours=h))), naive,
                  st.integers(-12, 14))
scalars = (st.none() | st.booleans() | st.integers() | st.floats() | any_text
           | st.binary(max_size=20) | naive | st.dates() | aware)
anything = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                        | st.dictionaries(any_text, inner, max_size=4)
                        | st.tuples(inner, inner), max_leaves=12)
#: ``anything`` whose nested dict keys hold no lone surrogate; such keys are refused at
#: validation, which test_a_surrogate_in_an_option_key_is_refused_up_front covers.
anything_storable_keys = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(st.characters(exclude_categories=["Cs"]), max_size=20), inner,
                      max_size=4) | st.tuples(inner, inner), max_leaves=12)
json_like = st.recursive(st.none() | st.booleans() | st.integers(-2**53, 2**53)
                         | st.floats(allow_nan=False, allow_infinity=False) | storable_text,
                         lambda inner: st.lists(inner, max_size=3)
                         | st.dictionaries(storable_text, inner, max_size=3), max_leaves=8)

POST_FIELDS = sorted(Post.model_fields)


def bad_values(huge: st.SearchStrategy[str]) -> dict[str, st.SearchStrategy[Any]]:
    """Per field, values that are wrong (or odd but right); ``huge`` for the long texts."""
    return {
        "id": st.sampled_from(["", " x", "a" * 129, "a/b", "é", "-x", "x y", "x\x00"]) | anything,
        "text": any_text | huge | anything,
        "title": any_text | huge | anything,
        "link": st.sampled_from(["ftp://x.org", "http://", "example.org", "http://[", "//x.org/a",
                                 "javascript:alert(1)", "https://exa mple.org", "http://\x00"])
        | anything,
        "media": st.lists(st.fixed_dictionaries({"source": any_text}, optional={
            "kind": any_text, "alt_text": any_text | huge, "consent": anything}), max_size=3)
        | st.sampled_from([[{"source": ""}], [{"source": "a.xyz"}], [{"source": "a.png",
                           "kind": "pdf"}], "a.png", [5], [{"source": "x.png", "extra": 1}]])
        | anything,
        "hashtags": st.lists(any_text, max_size=4) | st.sampled_from(
            [["with space"], ["#"], [""], ["a" * 101], "flu", ["flu-shot"]]) | anything,
        "thread": st.lists(any_text | huge, max_size=3) | anything,
        "overrides": st.dictionaries(any_text, anything | st.fixed_dictionaries({}, optional={
            "text": any_text, "title": any_text, "media": anything, "hashtags": anything,
            "options": anything, "bogus": anything}), max_size=3) | anything,
        "targets": st.lists(any_text, max_size=3) | st.sampled_from(
            [["Bad Name"], ["-x"], "one", [""], ["x" * 65]]) | anything,
        "brand": anything,
        "schedule": naive | naive.map(datetime.isoformat) | st.dates() | st.sampled_from(
            ["tomorrow", "2026-13-01T00:00:00Z", "", "2026-01-01"]) | anything,
        "not_after": naive.map(datetime.isoformat) | st.sampled_from(
            ["next week", "2026-02-30T00:00:00Z", ""]) | anything,
        "repeat": st.sampled_from([{}, {"every": 0, "count": 2}, {"count": 0},
                                   {"weekdays": ["someday"], "count": 2}, {"until": "soon"},
                                   {"every": 2, "count": 2, "extra": 1}]) | anything,
        "series": anything,
        "campaign": anything,
        "author": anything,
        "language": st.sampled_from(["english", "e", "en_US", "", "en-"]) | anything,
    }


BAD_VALUES = bad_values(huge_text)
#: For files: YAML is parsed in pure Python, so file-sized texts stay under ~20 kB.
FILE_BAD_VALUES = bad_values(st.builds(lambda n: "Flu shots. " * n, st.integers(100, 2000)))
BASE = {"id": "flu-1", "text": "Our flu clinic opens Monday at 9.", "hashtags": ["flu"]}


@st.composite
def near_valid_posts(draw: st.DrawFn, values: dict[str, Any] | None = None) -> dict[str, Any]:
    """A valid post with one field broken, sometimes plus an unknown key."""
    data = dict(BASE)
    field = draw(st.sampled_from(POST_FIELDS))
    data[field] = draw((values or BAD_VALUES)[field])
    if draw(st.booleans()) and draw(st.booleans()):
        data[draw(any_text)] = draw(anything)
    return data


@st.composite
def broken_posts(draw: st.DrawFn) -> tuple[dict[str, Any], set[str]]:
    """A valid post with one field broken, and the names a problem may start with."""
    data = dict(BASE)
    field = draw(st.sampled_from(POST_FIELDS))
    data[field] = draw(BAD_VALUES[field])
    names = {field, ""}  # "": the post as a whole (the model validator)
    if draw(st.booleans()):
        extra = draw(any_text.filter(lambda k: k not in Post.model_fields))
        data[extra] = draw(anything)
        names.add(extra)
    return data, names


def _yaml(data: dict[str, Any]) -> bytes:
    try:
        text = yaml.safe_dump(json.loads(json.dumps(data, default=str)), allow_unicode=True)
    except (yaml.YAMLError, ValueError):
        return b"text: ["
    return text.encode("utf-8", "surrogatepass")


random_dicts = st.dictionaries(st.sampled_from(POST_FIELDS) | any_text, anything, max_size=6)


# -- posts -----------------------------------------------------------------------------------


@SETTINGS
@given(data=random_dicts | near_valid_posts() | anything)
def test_post_from_dict_gives_a_post_or_invalid_post(data: Any) -> None:
    result = only_allowed(lambda: post_from_dict(data))
    if isinstance(result, CarecastError):
        assert isinstance(result, InvalidPost)
        assert result.problems, "InvalidPost names each problem"
        assert all(isinstance(f, str) and isinstance(m, str) for f, m in result.problems)
    else:
        assert isinstance(result, Post)
        assert result.id
    only_allowed(lambda: Post.model_validate(data))


@SETTINGS
@given(case=broken_posts())
def test_a_broken_field_is_named(case: tuple[dict[str, Any], set[str]]) -> None:
    data, names = case
    result = only_allowed(lambda: post_from_dict(data))
    if isinstance(result, InvalidPost):
        assert str(result).startswith("post is not a valid post:")
        for field, message in result.problems:
            assert field == "" or any(field.startswith(n) for n in names if n), field
            assert message.strip()


@SETTINGS
@given(text=any_text | huge_text, schedule=naive)
def test_naive_schedules_and_odd_text(text: str, schedule: datetime) -> None:
    # A schedule without an offset is a local time of the brand: kept as written.
    result = only_allowed(lambda: post_from_dict({"text": text or "x", "schedule": schedule}))
    if isinstance(result, InvalidPost):
        assert all(field != "schedule" for field, _ in result.problems)


# -- configs ---------------------------------------------------------------------------------

config_keys = st.sampled_from(["store", "publish", "brands", "accounts"])
account_tables = st.dictionaries(
    st.sampled_from(["channel", "brand", "enabled", "concurrency", "url", "secret", "name"])
    | st.text(string.ascii_lowercase + "_-", min_size=1, max_size=12), anything, max_size=5)
configs = st.fixed_dictionaries({}, optional={
    "store": st.fixed_dictionaries({}, optional={"url": anything}) | anything,
    "publish": st.dictionaries(st.sampled_from(
        ["concurrency", "max_attempts", "max_wait", "max_retry_after", "stale_sending_after",
         "bogus"]), anything, max_size=4) | anything,
    "brands": st.dictionaries(any_text, st.fixed_dictionaries({}, optional={
        "name": anything, "website": anything}) | anything, max_size=3) | anything,
    "accounts": st.dictionaries(st.from_regex(r"[a-z0-9][a-z0-9_-]{0,8}", fullmatch=True)
                                | any_text, account_tables | anything, max_size=3) | anything,
}) | st.dictionaries(config_keys | any_text, anything, max_size=4) | anything
env_names = st.builds(lambda a, o: f"CARECAST_ACCOUNTS__{a}__{o}",
                      st.from_regex(r"[A-Z0-9_]{1,10}", fullmatch=True),
                      st.from_regex(r"[A-Z0-9_]{1,10}", fullmatch=True))
environs = st.dictionaries(env_names | st.text(max_size=20), st.text(max_size=30), max_size=4)
secrets_docs = st.fixed_dictionaries({}, optional={
    "accounts": st.dictionaries(st.text(string.ascii_lowercase, max_size=6),
                                account_tables | anything, max_size=3) | anything})


@SETTINGS
@given(data=configs, environ=environs, secrets=secrets_docs)
def test_config_from_dict_gives_a_config_or_configuration_error(
        data: Any, environ: dict[str, str], secrets: dict[str, Any]) -> None:
    result = only_allowed(lambda: Config.from_dict(data, environ=environ, secrets=secrets,
                                                   root=Path("/srv/carecast")))
    if isinstance(result, Config):
        for name, account in result.accounts.items():
            assert account.name == name
            assert account.brand is None or account.brand in result.brands
    else:
        assert isinstance(result, ConfigurationError)


# -- files -----------------------------------------------------------------------------------

SUFFIXES = [".yaml", ".yml", ".json", ".toml", ".txt", ".JSON", ""]
documents = (st.binary(max_size=300)
             | any_text.map(lambda t: t.encode("utf-8", "surrogatepass"))
             | random_dicts.map(lambda d: json.dumps(d, default=str).encode())
             | near_valid_posts(FILE_BAD_VALUES).map(lambda d: json.dumps(d, default=str).encode())
             | near_valid_posts(FILE_BAD_VALUES).map(_yaml)
             | st.sampled_from([b"\xef\xbb\xbf{\"text\": \"hi\"}", b"[" * 5000, b"{" * 5000,
                                b"a: &a [*a]", b"!!python/object:os.system {}", b"\xff\xfe",
                                b"text = 'hi'\n[[overrides]]\n", b"- a\n- b", b"null",
                                b"text: !!binary aGk=", b"text: 2026-01-01"]))


@SETTINGS
@given(content=documents, suffix=st.sampled_from(SUFFIXES))
def test_load_post_gives_a_post_or_invalid_post(tmp_path: Path, content: bytes,
                                                suffix: str) -> None:
    path = tmp_path / f"post{suffix}"
    path.write_bytes(content)
    result = only_allowed(lambda: load_post(path))
    assert isinstance(result, Post | InvalidPost)
    if isinstance(result, InvalidPost):
        assert str(path) in str(result)
    text = content.decode("utf-8", "replace")
    only_allowed(lambda: parse_document(text, suffix.lower(), source="cms"))


config_documents = (st.binary(max_size=300) | any_text.map(
    lambda t: t.encode("utf-8", "surrogatepass")) | st.sampled_from([
        b"[accounts.a]\nchannel = 5\n", b"[accounts]\na = 1\n", b"[store]\nurl = []\n",
        b"[[accounts]]\n", b"accounts = []\n", b"[brands.x]\n", b"[publish]\nbogus = 1\n",
        b"[accounts.A]\nchannel = 'blog'\n", b"[accounts.a]\nbrand = 'none'\nchannel='x'\n",
        b"\xef\xbb\xbf[store]\n"]))


@SETTINGS
@given(content=config_documents, secrets=st.none() | config_documents)
def test_load_config_gives_a_config_or_configuration_error(
        tmp_path: Path, content: bytes, secrets: bytes | None) -> None:
    path = tmp_path / "carecast.toml"
    path.write_bytes(content)
    secrets_file = None
    if secrets is not None:
        secrets_file = tmp_path / "secrets.toml"
        secrets_file.write_bytes(secrets)
    settings_ = Settings.model_construct(config=path, store_url=None, secrets_file=secrets_file)
    result = only_allowed(lambda: load_config(path, settings=settings_))
    assert isinstance(result, Config | ConfigurationError)


@pytest.mark.parametrize("loader", [load_post, load_config])
def test_missing_folder_and_unreadable_paths(tmp_path: Path, loader: Callable[..., Any]) -> None:
    for path in (tmp_path / "nope.json", tmp_path, tmp_path / ("x" * 300 + ".toml")):
        assert isinstance(only_allowed(lambda p=path: loader(p)), CarecastError)


# -- publishing whatever validates ------------------------------------------------------------

FAILURES = st.sampled_from([
    None, None, None,
    AuthenticationError("token expired; renew it", status=401),
    ChannelServerError("boom", status=500),
    ("after", ChannelServerError("stored, then boom", status=502)),
    ("after", OutcomeUnknown("stored, no answer")),
    RateLimited("slow down", status=429, retry_after=1.0),
    DuplicatePost("already there", status=409),
    RuntimeError("a bug in the channel"),
])
media_items = st.sampled_from([
    {"source": "https://cdn.example.org/a.png", "alt_text": "Entrance"},
    {"source": "https://cdn.example.org/v.mp4"},
    {"source": "https://cdn.example.org/ep.mp3"},             # the fake takes no audio
    {"source": "https://cdn.example.org/g.gif"},
    {"source": "missing.png"},                                # no such local file
    {"source": "photo.png", "alt_text": "Our team", "consent": "c-1"},
])
storable_values = {
    "text": storable_text | huge_text | any_text,
    "title": st.none() | storable_text | st.just("T" * 500) | any_text,
    "link": st.none() | st.sampled_from(["https://example.org/flu", "http://x.org/a?b=c#d"]),
    "media": st.lists(media_items, max_size=6),
    "hashtags": st.lists(st.from_regex(r"#?[A-Za-z0-9_]{1,12}", fullmatch=True), max_size=4),
    "thread": st.lists(storable_text | st.just("x" * 300), max_size=3),
    "targets": st.lists(st.sampled_from(["one", "two", "three", "ghost"]), max_size=3),
    "brand": st.none() | st.sampled_from(["test", "other"]),
    "schedule": st.none() | st.sampled_from([datetime.now(UTC) - timedelta(days=1),
                                             datetime.now(UTC) + timedelta(days=3)]),
    "language": st.none() | st.sampled_from(["en", "es-US"]),
    "overrides": st.dictionaries(st.sampled_from(["fake", "one", "two"]), st.fixed_dictionaries(
        {}, optional={"text": storable_text | st.just("y" * 400), "title": storable_text,
                      "media": st.lists(media_items, max_size=2),
                      "hashtags": st.lists(st.from_regex(r"[a-z]{1,8}", fullmatch=True),
                                           max_size=2),
                      "options": st.dictionaries(storable_text,
                                                 json_like | anything_storable_keys,
                                                 max_size=2)}),
        max_size=2),
}


@st.composite
def publishable(draw: st.DrawFn) -> dict[str, Any]:
    """Mostly valid posts that often break a channel limit, now and then unstorable."""
    data: dict[str, Any] = {"text": "Flu clinic opens Monday."}
    if draw(st.booleans()):
        data["id"] = draw(st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,20}", fullmatch=True))
    for field in draw(st.sets(st.sampled_from(sorted(storable_values)), max_size=5)):
        data[field] = draw(storable_values[field])
    return data


def _ledger_is_whole(publisher: Any, post: Post) -> None:
    ledger = publisher.ledger
    with ledger.engine.connect() as conn:
        orphans = conn.execute(sa.text(
            "SELECT count(*) FROM carecast_attempts a LEFT JOIN carecast_posts p "
            "ON a.post_id = p.id WHERE p.id IS NULL")).scalar()
        states = {r[0] for r in conn.execute(sa.text(
            "SELECT DISTINCT state FROM carecast_attempts"))}
    assert orphans == 0, "an attempt row without its post row"
    assert states <= {s.value for s in State}
    assert State.SENDING.value not in states, "a target left 'sending' after publish returned"
    assert ledger.verify_audit() == []
    reviewed = {(e.post_id, e.account) for e in ledger.audit_events() if e.kind == "review"}
    for row in ledger.attempts(post.id):
        assert (row.post_id, row.account) in reviewed
        assert row.key.startswith("cc-")
    for key in set(publisher.platform.sends):
        assert publisher.platform.count(key) == 1, "sent twice"


@FEW
@given(data=publishable(), script=st.lists(FAILURES, max_size=4))
def test_publishing_whatever_validates_leaves_nothing_half_written(
        fake_publisher: Any, tmp_path: Path, data: dict[str, Any], script: list[Any]) -> None:
    post = only_allowed(lambda: post_from_dict(data))
    if not isinstance(post, Post):
        return
    (tmp_path / "photo.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    from carecast.testing import fake_config

    publisher = fake_publisher(config=fake_config(["one", "two"], root=tmp_path))
    try:
        for action in script:
            publisher.platform.fail("one", action)
        report = only_allowed(lambda: publisher.publish(post))
        if isinstance(report, CarecastError):  # refused before anything was stored
            assert isinstance(report, InvalidPost)
            assert publisher.ledger.attempts(post.id) == []
        else:
            stored = publisher.ledger.get_post(post.id)
            assert stored is not None
            assert stored.model_dump(mode="json") == post.model_dump(mode="json")
            rows = {r.account: r for r in publisher.ledger.attempts(post.id)}
            for outcome in report.outcomes:
                row = rows[outcome.account]
                assert row.state == outcome.state
                if outcome.state in (State.FAILED, State.UNKNOWN):
                    assert outcome.error is not None
                    assert row.error == outcome.error
                    assert outcome.error.message.strip()
                if outcome.error and outcome.error.type == "LimitExceeded":
                    assert outcome.state == State.FAILED
                    assert outcome.error.message.split(":")[0].split("[")[0].split(".")[0] in {
                        "text", "title", "media", "thread", "overrides", "parts"}
                if outcome.state == State.PUBLISHED:
                    assert row.receipt is not None
            again = only_allowed(lambda: publisher.publish(post))  # a re-run is safe
            assert not isinstance(again, ValidationError)
        _ledger_is_whole(publisher, post)
    finally:
        publisher.close()


def test_a_limit_exceeded_render_error_is_stored_as_failed(fake_publisher: Any) -> None:
    publisher = fake_publisher(["one", "two"])
    post = Post(id="long", text="Short.", thread=("x" * 300,),
                overrides={"two": {"text": "Fits.", "hashtags": []}})
    report = publisher.publish(post)
    assert report["one"].state == State.FAILED
    assert report["two"].state == State.PUBLISHED
    row = publisher.ledger.attempt("long", "one")
    assert row.state == State.FAILED
    assert row.error.type == "LimitExceeded"
    assert row.error.message.startswith("thread[0]: 300 characters is over the fake limit of 280")
    assert publisher.ledger.get_post("long") == post
    assert [e.data["error"] for e in publisher.ledger.audit_events("long")
            if e.account == "one"] == ["LimitExceeded"]
    assert publisher.ledger.verify_audit() == []


# -- regressions: bugs these properties found ------------------------------------------------------


@pytest.mark.parametrize("data", [
    {"id": "x", "text": "a\ud800"},
    {"id": "x", "text": "a", "title": "\udcff"},
    {"id": "x", "text": "a", "media": [{"source": "\ud800.png", "kind": "image"}]},
    {"id": "x", "text": "a", "overrides": {"fake": {"options": {"when": object()}}}},
    {"id": "x", "text": "a", "overrides": {"fake": {"options": {"raw": b"\xff"}}}},
], ids=["text", "title", "media-source", "object-option", "bytes-option"])
def test_unstorable_posts_are_refused_up_front(fake_publisher: Any, data: dict) -> None:
    # an explicit id once skipped content_hash() at validation: publish then crashed in the
    # ledger with UnicodeEncodeError / PydanticSerializationError
    error = only_allowed(lambda: post_from_dict(data))
    assert isinstance(error, InvalidPost)
    # a lone surrogate cannot be stored; an option that is not a JSON value is named
    assert "cannot be stored" in str(error) or "not a valid JSON value" in str(error)


@pytest.mark.parametrize(("field", "value"), [
    ("id", "flu-1\n"), ("hashtags", ["flu\n"]), ("targets", ["one\n"]), ("language", "en\n"),
])
def test_a_trailing_newline_is_not_a_valid_name(field: str, value: Any) -> None:
    # '$' also matches before a final newline: the patterns must match the whole value
    result = only_allowed(lambda: post_from_dict({"text": "hi", field: value}))
    assert isinstance(result, InvalidPost)
    assert result.problems[0][0].startswith(field if field != "id" else "")


@pytest.mark.parametrize("name", ["post\x00.json", "\ud800.json"])
@pytest.mark.parametrize("loader", [load_post, load_config])
def test_odd_path_names_are_carecast_errors(loader: Callable[..., Any], name: str) -> None:
    # a NUL ('embedded null byte', ValueError) or a lone surrogate (UnicodeEncodeError) escaped
    assert isinstance(only_allowed(lambda: loader(name)), CarecastError)


def test_a_non_string_account_key_is_a_configuration_error() -> None:
    # _merge_secrets called name.upper() on every key: AttributeError
    result = only_allowed(lambda: Config.from_dict({"accounts": {1: {"channel": "blog"}}},
                                                   environ={}))
    assert isinstance(result, ConfigurationError)


def test_a_yaml_alias_bomb_is_refused(tmp_path: Path) -> None:
    # 456 bytes once became a 1.4 MB post (seven levels: ~1.4 GB) to hash and store
    levels = ["x0: &a0 [" + ", ".join(['"xxxxxxxxxx"'] * 10) + "]"]
    levels += [f"x{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 5)]
    path = tmp_path / "bomb.yaml"
    path.write_text("text: hi\noverrides:\n  fake:\n    options:\n"
                    + "".join(f"      {line}\n" for line in levels), encoding="utf-8")
    result = only_allowed(lambda: load_post(path))
    size = path.stat().st_size
    assert isinstance(result, InvalidPost) or len(result.model_dump_json()) < 100 * size
    assert isinstance(result, InvalidPost)


@pytest.mark.parametrize("field", ["schedule", "not_after"])
@pytest.mark.parametrize("value", [datetime(2026, 12, 1, 9, 0), "2026-12-01T09:00:00"])
def test_naive_times_are_kept_as_the_brands_local_time(field: str, value: Any) -> None:
    post = only_allowed(lambda: post_from_dict({"text": "hi", field: value}))
    assert getattr(post, field) == datetime(2026, 12, 1, 9, 0)  # read in the brand's zone later


@pytest.mark.parametrize("value", ["2026-12-01T25:00:00", "next tuesday", "2026-02-30"])
def test_a_time_that_is_not_one_is_refused_naming_the_field(value: Any) -> None:
    error = only_allowed(lambda: post_from_dict({"text": "hi", "not_after": value}))
    assert isinstance(error, InvalidPost)
    assert error.problems[0][0] == "not_after"


@pytest.mark.parametrize("value", [b"raw", {"a"}, ("a", 1), datetime(2026, 1, 1, tzinfo=UTC)],
                         ids=["bytes", "set", "tuple", "datetime"])
def test_a_stored_post_is_the_post(fake_publisher: Any, value: Any) -> None:
    post = only_allowed(lambda: post_from_dict(
        {"id": "opt-1", "text": "hi", "overrides": {"fake": {"options": {"x": value}}}}))
    if isinstance(post, InvalidPost):
        return  # refused up front: fine
    publisher = fake_publisher(["one"])
    publisher.publish(post)
    assert publisher.ledger.get_post("opt-1") == post


@pytest.mark.parametrize("options", [
    pytest.param({"\ud800": 1}, id="key"),
    pytest.param({"": {"\ud800": None}}, id="nested-key"),
])
def test_a_surrogate_in_an_option_key_is_refused_up_front(fake_publisher: Any,
                                                          options: dict) -> None:
    post = only_allowed(lambda: post_from_dict(
        {"text": "Flu", "overrides": {"fake": {"options": options}}}))
    if isinstance(post, InvalidPost):
        return
    report = fake_publisher(["one"]).publish(post)
    assert report.ok
