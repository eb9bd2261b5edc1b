"""Secrets never appear in logs, reprs, exceptions, reports or the ledger.

Two webhook accounts get their URLs and HMAC keys the ways a deployment does: ``intranet`` from
``CARECAST_ACCOUNTS__INTRANET__*`` environment variables, ``partner`` from the secrets file
(``CARECAST_SECRETS_FILE``); ``carecast.toml`` holds none. Each scenario drives failures and
successes through the publisher and the channels with every logger at DEBUG, then searches
everything a person or a log shipper could see for the secret strings.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import sqlite3
import threading
import traceback
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
import responses
from urllib3.exceptions import (
    ConnectTimeoutError,
    MaxRetryError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
)

from carecast import CarecastError, ConfigurationError, Post, PublishError, State
from carecast.config import Config, load_config
from carecast.publish import Publisher
from carecast.publish.publisher import idempotency_key
from carecast.settings import Settings

HOOK_TOKEN = "T0KEN-env-3b9f61d2"
HOOK_URL = f"https://hooks.example.org/services/{HOOK_TOKEN}/deliver"
LOOKUP_TOKEN = "LOOKUP-env-c0ffee42"
LOOKUP_URL = f"https://hooks.example.org/lookup/{LOOKUP_TOKEN}"
HMAC_ENV = "hmac-env-5e1d2b77aa" + "c3a9f1e07b2d48e6" * 4
FILE_TOKEN = "FILETOKEN-91bc0a5e"
FILE_URL = f"https://partner.example.net/in/{FILE_TOKEN}"
HMAC_FILE = "hmac-file-a8c4f03e19" + "7d1e9b3c5a0f2864" * 4
SECRETS = (HOOK_URL, HOOK_TOKEN, LOOKUP_URL, LOOKUP_TOKEN, HMAC_ENV, FILE_URL, FILE_TOKEN,
           HMAC_FILE)

CONFIG = """
[store]
url = "sqlite:///ledger.db"

[publish]
max_attempts = 3

[brands.stmarys]
name = "St Mary's Hospital"

[accounts.intranet]
channel = "webhook"
brand = "stmarys"
name = "Intranet news"

[accounts.partner]
channel = "webhook"
brand = "stmarys"
timeout = 5
"""

POST = Post(id="flu-2026", text="Our flu clinic opens Monday at 9.", hashtags=["flu"])


def _pool_error(path: str, reason: Exception) -> MaxRetryError:
    """What urllib3 raises: its message quotes the URL path (here: with the token)."""
    return MaxRetryError(None, path, reason)  # type: ignore[arg-type]


def _transport(kind: str, url: str) -> Exception:
    path = url.split("/", 3)[3]
    if kind == "connect-timeout":
        return requests.ConnectTimeout(_pool_error(path, ConnectTimeoutError(
            f"Connection to host timed out. (connect timeout=5) {url}")))
    if kind == "read-timeout":
        return requests.ReadTimeout(_pool_error(path, ReadTimeoutError(
            None, url, "Read timed out. (read timeout=10)")))  # type: ignore[arg-type]
    if kind == "refused":
        return requests.ConnectionError(_pool_error(path, NewConnectionError(
            None, f"Failed to establish a new connection to {url}")))  # type: ignore[arg-type]
    return requests.ConnectionError(ProtocolError(
        f"Connection aborted while posting to {url}", ConnectionResetError(104, "reset")))


SCENARIOS = ["ok", "401", "500", "429", "connect-timeout", "read-timeout", "refused", "reset"]


def _mock(rsps: responses.RequestsMock, scenario: str) -> None:
    for url in (HOOK_URL, FILE_URL):
        if scenario == "ok":
            rsps.add(responses.POST, url, json={"id": "remote-1"}, status=201)
        elif scenario.isdigit():
            rsps.add(responses.POST, url, status=int(scenario), json={
                "error": "refused"}, headers={"X-Request-Id": "req-77", "Retry-After": "1"})
        else:
            rsps.add(responses.POST, url, body=_transport(scenario, url))
    rsps.add(responses.GET, LOOKUP_URL, status=404)


@pytest.fixture
def deployment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """carecast.toml without secrets; the secrets in the environment and a secrets file."""
    for name in ("CARECAST_CONFIG", "CARECAST_STORE_URL"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "carecast.toml").write_text(CONFIG, encoding="utf-8")
    secrets = tmp_path / "secrets.toml"
    secrets.write_text(f'[accounts.partner]\nurl = "{FILE_URL}"\nsecret = "{HMAC_FILE}"\n',
                       encoding="utf-8")
    monkeypatch.setenv("CARECAST_SECRETS_FILE", str(secrets))
    monkeypatch.setenv("CARECAST_ACCOUNTS__INTRANET__URL", HOOK_URL)
    monkeypatch.setenv("CARECAST_ACCOUNTS__INTRANET__SECRET", HMAC_ENV)
    monkeypatch.setenv("CARECAST_ACCOUNTS__INTRANET__LOOKUP_URL", LOOKUP_URL)
    return tmp_path / "carecast.toml"


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)  # every logger, through the root
    caplog.set_level(logging.DEBUG, logger="carecast")
    for name in ("urllib3", "requests", "sqlalchemy.engine"):
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


def exception_texts(exc: BaseException) -> list[str]:
    """str and repr of the error and every error chained to it, and the printed traceback."""
    texts = ["".join(traceback.format_exception(exc))]
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        item = todo.pop()
        if item is None or id(item) in seen:
            continue
        seen.add(id(item))
        texts += [str(item), repr(item), repr(item.args)]
        todo.append(item.__cause__)
        if not item.__suppress_context__:
            todo.append(item.__context__)
        if isinstance(item, PublishError):
            texts.append(json.dumps(item.report.to_dict()))
    return texts


def ledger_dump(path: Path) -> list[str]:
    """Every row of every table, read with sqlite3 rather than through the Ledger."""
    db = sqlite3.connect(path)
    try:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        assert {"carecast_attempts", "carecast_audit", "carecast_posts"} <= set(tables)
        return [repr(row) for table in tables for row in db.execute(f'SELECT * FROM "{table}"')]
    finally:
        db.close()


def assert_no_secret(texts: Iterable[str], where: str) -> None:
    for text in texts:
        for secret in SECRETS:
            assert secret not in text, f"a secret appears in {where}"


def _verify_signature(request: Any, key: str) -> None:
    header = request.headers["Carecast-Signature"]
    stamp, mac = (part.split("=", 1)[1] for part in header.split(","))
    body = request.body if isinstance(request.body, bytes) else request.body.encode()
    expected = hmac.new(key.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(mac, expected)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_secrets_never_leak(deployment: Path, debug_logs: pytest.LogCaptureFixture,
                            no_sleep: Any, scenario: str) -> None:
    config = load_config(deployment, settings=Settings())
    assert config.accounts["intranet"].options["url"] == HOOK_URL  # they did arrive
    assert config.accounts["partner"].options["secret"] == HMAC_FILE
    raised: list[BaseException] = []
    texts: list[str] = []
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        _mock(rsps, scenario)
        publisher = Publisher(config, entry_point_plugins=False, retry=no_sleep)
        try:
            report = publisher.publish(POST)
            retried = publisher.retry(POST.id)
            for rep in (report, retried):
                texts.append(json.dumps(rep.to_dict()))
                texts += [o.summary for o in rep.outcomes]
                texts += [repr(o) for o in rep.outcomes]
                try:
                    rep.raise_for_failures()
                except PublishError as exc:
                    raised.append(exc)
            for name in ("intranet", "partner"):  # the channels' own calls raise to callers
                channel = publisher.channel(name)
                draft = channel.render(POST)
                texts += [repr(channel), str(channel), repr(channel.options),
                          str(channel.options), channel.options.model_dump_json()]
                for call in (lambda c=channel, d=draft: c.publish(d, "cc-direct"),
                             lambda c=channel, d=draft: c.lookup("cc-direct", d)):
                    try:
                        call()
                    except (CarecastError, NotImplementedError) as exc:
                        raised.append(exc)
            texts += [repr(publisher), str(publisher), repr(publisher.ledger),
                      repr(config), str(config), repr(config.accounts)]
            texts += [repr(a) for a in config.accounts.values()]
            texts += [repr(a) for a in publisher.status(POST.id)]
            texts += [repr(e) for e in publisher.ledger.audit_events()]
            assert publisher.ledger.verify_audit() == []
        finally:
            publisher.close()
        posted = [c.request for c in rsps.calls if c.request.method == "POST"]
        assert any(r.url == HOOK_URL for r in posted)  # the secret URL was really used
        for request in posted:
            _verify_signature(request, HMAC_ENV if request.url == HOOK_URL else HMAC_FILE)
            assert request.headers["Idempotency-Key"].startswith("cc-")

    if scenario == "ok":
        assert report.counts == {"published": 2}
    else:
        assert report.counts.get("published", 0) == 0
        assert raised, "the failures raise to callers"
        assert {o.state for o in report.outcomes} <= {State.FAILED, State.UNKNOWN}
    for exc in raised:
        assert_no_secret(exception_texts(exc), f"an exception ({type(exc).__name__})")
    assert_no_secret(texts, "a repr, report or summary")
    assert_no_secret([debug_logs.text], "the logs")
    assert_no_secret([repr(r.args) + str(r.msg) for r in debug_logs.records], "log records")
    assert_no_secret(ledger_dump(deployment.parent / "ledger.db"), "the ledger's tables")


def test_the_idempotency_key_is_sent_not_the_secret(deployment: Path, no_sleep: Any) -> None:
    config = load_config(deployment, settings=Settings())
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        _mock(rsps, "ok")
        with Publisher(config, entry_point_plugins=False, retry=no_sleep) as publisher:
            publisher.publish(POST)
        bodies = [json.loads(c.request.body) for c in rsps.calls]
    assert sorted(b["key"] for b in bodies) == sorted(
        idempotency_key(POST.id, n) for n in ("intranet", "partner"))
    assert_no_secret([json.dumps(b) for b in bodies], "the posted body")


@pytest.mark.parametrize("content", [
    f'[accounts.partner]\nsecret = "{HMAC_FILE}\n'.encode(),             # unterminated string
    f'[accounts.partner]\nsecret = {HMAC_FILE}\n'.encode(),              # bare word
    f'[accounts.partner]\nsecret = "{HMAC_FILE}"\nsecret = "x"\n'.encode(),  # duplicate key
    f'[accounts.partner]\nsecret = "{HMAC_FILE}"\n'.encode() + b"\xff\xfe",  # not UTF-8
    f'{HMAC_FILE}'.encode(),
], ids=["unterminated", "bare", "duplicate", "not-utf8", "garbage"])
def test_a_bad_secrets_file_is_not_echoed(deployment: Path, content: bytes) -> None:
    Path(Settings().secrets_file or "").write_bytes(content)
    with pytest.raises(ConfigurationError) as info:
        load_config(deployment, settings=Settings())
    assert "secrets file" in str(info.value)
    assert_no_secret(exception_texts(info.value), "the ConfigurationError")


def test_a_secrets_file_that_is_a_folder_is_a_configuration_error(
        deployment: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CARECAST_SECRETS_FILE", str(tmp_path))
    with pytest.raises(ConfigurationError, match="secrets file"):
        load_config(deployment, settings=Settings())


@pytest.mark.parametrize(("source", "option", "value"), [
    ("env", "URL", f"ftp://hooks.example.org/{HOOK_TOKEN}"),
    ("env", "TIMEOUT", HMAC_ENV),
    ("env", "SECRETT", HMAC_ENV),
    ("file", "secret", 98765),
    ("file", "lookup_url", f"gopher://{FILE_TOKEN}"),
], ids=["bad-url", "wrong-type", "misspelt", "not-a-string", "bad-lookup-url"])
def test_invalid_secret_values_are_not_echoed(deployment: Path, monkeypatch: pytest.MonkeyPatch,
                                              source: str, option: str, value: Any) -> None:
    if source == "env":
        monkeypatch.setenv(f"CARECAST_ACCOUNTS__INTRANET__{option}", value)
        account = "intranet"
    else:
        table = {"url": FILE_URL, "secret": HMAC_FILE, option: value}
        Path(Settings().secrets_file or "").write_text("[accounts.partner]\n" + "".join(
            f"{k} = {json.dumps(v)}\n" for k, v in table.items()), encoding="utf-8")
        account = "partner"
    config = load_config(deployment, settings=Settings())
    with pytest.raises(ConfigurationError) as info:
        Publisher(config, entry_point_plugins=False).channel(account)
    assert f"accounts.{account}." in str(info.value)
    assert_no_secret(exception_texts(info.value), "the ConfigurationError")
    assert str(value) not in "".join(exception_texts(info.value))


def test_an_env_var_for_no_account_names_the_variable_not_the_value(
        deployment: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CARECAST_ACCOUNTS__NOBODY__TOKEN", HMAC_ENV)
    with pytest.raises(ConfigurationError, match="CARECAST_ACCOUNTS__NOBODY__TOKEN") as info:
        load_config(deployment, settings=Settings())
    assert_no_secret(exception_texts(info.value), "the ConfigurationError")


def test_from_dict_reprs_hide_options() -> None:
    config = Config.from_dict({"accounts": {"intranet": {"channel": "webhook"}}},
                              environ={"CARECAST_ACCOUNTS__INTRANET__URL": HOOK_URL},
                              secrets={"accounts": {"intranet": {"secret": HMAC_FILE}}})
    assert config.accounts["intranet"].options == {"url": HOOK_URL, "secret": HMAC_FILE}
    assert_no_secret([repr(config), str(config), repr(config.accounts["intranet"])], "a repr")


# -- leaks found here once -------------------------------------------------------------------


class _Failing(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(500)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def test_debug_logs_of_a_real_request_hide_the_url(
        debug_logs: pytest.LogCaptureFixture, no_sleep: Any, tmp_path: Path) -> None:
    """urllib3 logs each request line at DEBUG ('"POST /services/<token>/deliver HTTP/1.1"')."""
    server = HTTPServer(("127.0.0.1", 0), _Failing)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}/services/{HOOK_TOKEN}/deliver"
    config = Config.from_dict({"accounts": {"intranet": {"channel": "webhook"}},
                               "store": {"url": "sqlite:///ledger.db"}}, root=tmp_path,
                              environ={"CARECAST_ACCOUNTS__INTRANET__URL": url})
    try:
        with Publisher(config, entry_point_plugins=False, retry=no_sleep) as publisher:
            report = publisher.publish(POST)
    finally:
        server.shutdown()
        server.server_close()
    assert report["intranet"].state == State.UNKNOWN
    assert HOOK_TOKEN not in debug_logs.text


def test_no_link_of_the_exception_chain_holds_a_secret(deployment: Path) -> None:
    """Not even a suppressed ``__context__`` (``raise ... from None`` in an except block)."""
    config = load_config(deployment, settings=Settings())
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        _mock(rsps, "refused")
        with Publisher(config, entry_point_plugins=False) as publisher:
            channel = publisher.channel("intranet")
            with pytest.raises(CarecastError) as info:
                channel.publish(channel.render(POST), "cc-direct")
    chain: list[str] = []
    item: BaseException | None = info.value
    while item is not None:
        chain += [str(item), repr(item)]
        item = item.__cause__ or item.__context__
    assert_no_secret(chain, "the exception chain")


# -- open bugs ------------------------------------------------------------------------------


def test_sql_logging_never_shows_post_text(fake_publisher: Any,
                                           caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="sqlalchemy.engine")
    publisher = fake_publisher(["one"])
    publisher.publish(Post(id="phi-1", text="Jane Roe, MRN 4417-22, was discharged today."))
    assert "sqlalchemy.engine" in {r.name.rsplit(".", 1)[0] for r in caplog.records}
    assert "Jane Roe" not in caplog.text


def test_two_accounts_sharing_an_env_prefix_is_a_configuration_error() -> None:
    result: Any
    try:
        result = Config.from_dict(
            {"accounts": {"a-b": {"channel": "webhook"}, "a_b": {"channel": "webhook"}}},
            environ={"CARECAST_ACCOUNTS__A_B__URL": HOOK_URL})
    except ConfigurationError as exc:
        result = exc
    assert isinstance(result, ConfigurationError)


def test_an_account_name_with_double_underscore_is_refused() -> None:
    # '__' separates the parts of CARECAST_ACCOUNTS__<NAME>__<OPTION>: such a name could never
    # take its secrets from the environment, so it is refused when the config loads.
    with pytest.raises(ConfigurationError, match="holds '__'") as info:
        Config.from_dict({"accounts": {"a__b": {"channel": "webhook"}}},
                         environ={"CARECAST_ACCOUNTS__A__B__URL": HOOK_URL})
    assert HOOK_URL not in str(info.value)


def test_a_secrets_entry_that_is_not_a_table_is_a_configuration_error() -> None:
    result: Any
    try:
        result = Config.from_dict({"accounts": {"partner": {"channel": "webhook"}}},
                                  environ={}, secrets={"accounts": {"partner": HMAC_FILE}})
    except ConfigurationError as exc:
        result = exc
    assert isinstance(result, ConfigurationError)
    assert_no_secret(exception_texts(result), "the ConfigurationError")


def test_a_store_error_never_carries_the_post_text(tmp_path: Path) -> None:
    from carecast.errors import StoreError
    from carecast.store import Ledger

    path = tmp_path / "ledger.db"
    with Ledger(f"sqlite:///{path}"):
        pass
    db = sqlite3.connect(path)
    with db:  # the database refuses new posts (a full disk, a policy trigger, ...)
        db.execute("CREATE TRIGGER refuse BEFORE INSERT ON carecast_posts "
                   "BEGIN SELECT RAISE(ABORT, 'refused'); END")
    db.close()
    # built apart, so the traceback's own source lines (the call below) quote no PHI
    post = Post(id="phi-2", text="Jane Roe, MRN 4417-22, was discharged.")
    with Ledger(f"sqlite:///{path}") as ledger, pytest.raises(StoreError) as info:
        ledger.record(post, [])
    texts = ["".join(traceback.format_exception(info.value))]
    item: BaseException | None = info.value
    while item is not None:
        texts += [str(item), repr(item)]
        item = item.__cause__ or item.__context__
    assert not any("Jane Roe" in text for text in texts)
