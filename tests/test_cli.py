"""The ``carecast`` command: each command, each exit code, JSON output, errors without secrets.

Webhook accounts post to a local HTTP server on 127.0.0.1; where a channel must fail in a way
HTTP cannot script, the CLI's ``open_publisher`` is replaced with a publisher over
``carecast.testing.FakeChannel``.
"""

from __future__ import annotations

import csv
import json
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit

import pytest
from PIL import Image
from typer.main import get_command
from typer.testing import CliRunner, Result

from carecast import Action, Finding, Ledger, Publisher, hookimpl
from carecast.cli import app, commands
from carecast.errors import AuthenticationError
from carecast.testing import FakeChannel, FakePlatform

SECRET = "tok-S3CRET-5511" + "e4b7c19a3f0d6258" * 4
TEXT = "Our flu clinic opens Saturday at 9 in the Main Lobby."
runner = CliRunner()


# -- a local webhook receiver -----------------------------------------------------------------


class Receiver:
    """What the local server received, and the status it answers per path."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self.status: dict[str, int] = {}
        self.url = ""

    def paths(self) -> list[str]:
        return [path for path, _ in self.requests]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    got = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            path = urlsplit(self.path).path
            got.requests.append((path, body))
            status = got.status.get(path, 200)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            n = len(got.requests)
            self.wfile.write(json.dumps({"id": f"r{n}", "url": f"https://intranet.example/{n}"})
                             .encode())

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    got.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield got
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for key in list(os.environ):
        if key.startswith("CARECAST_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("COLUMNS", "200")  # rich wraps tables at the terminal width


def write_config(tmp_path: Path, accounts: dict[str, dict[str, Any]], **publish: Any) -> Path:
    lines = ['[store]', 'url = "sqlite:///state/carecast.db"', '[publish]',
             *(f"{k} = {json.dumps(v)}" for k, v in {"max_attempts": 1, **publish}.items()),
             '[brands.rg]', 'name = "Riverside General"']
    for name, options in accounts.items():
        lines.append(f"[accounts.{name}]")
        lines.append('brand = "rg"')
        lines.extend(f"{k} = {json.dumps(v)}" for k, v in options.items())
    path = tmp_path / "carecast.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def write_post(tmp_path: Path, name: str = "post.yaml", body: str | None = None) -> Path:
    path = tmp_path / name
    path.write_text(body if body is not None else
                    f"id: flu-1\ntitle: Flu shots\ntext: {TEXT}\nhashtags: [FluShot]\n")
    return path


def run(*args: Any, code: int = 0, env: dict[str, str] | None = None) -> Result:
    result = runner.invoke(app, [str(a) for a in args], env=env)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    return result


def ledger_of(tmp_path: Path) -> Ledger:
    return Ledger(f"sqlite:///{tmp_path / 'state' / 'carecast.db'}")


@pytest.fixture
def hooks(tmp_path: Path, receiver: Receiver) -> Path:
    """A config with two webhook accounts, ``a`` and ``b``."""
    return write_config(tmp_path, {
        "a": {"channel": "webhook", "url": f"{receiver.url}/a"},
        "b": {"channel": "webhook", "url": f"{receiver.url}/b"},
    })


# -- a publisher over fake channels, for failures HTTP cannot script ---------------------------


class Review:
    """A plugin with a configurable action on every draft."""

    def __init__(self, action: Action | None) -> None:
        self.action = action

    @hookimpl
    def carecast_review_draft(self, draft: Any) -> list[Finding]:
        if self.action is None:
            return []
        return [Finding(action=self.action, code="test.rule", field="parts[0].text",
                        message="parts[0].text matched the test rule")]


class StrictFake(FakeChannel):
    """A fake channel without threads: long text is refused instead of split."""

    name: ClassVar[str] = "strict"
    supports_threads = False


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch, no_sleep: Any) -> Callable[..., FakePlatform]:
    """Make the CLI publish through fake channels; returns the platform they publish to."""

    def use(review: Action | None = None) -> FakePlatform:
        platform = FakePlatform()
        channel = type("FakeChannel", (FakeChannel,), {"platform": platform})
        strict = type("StrictFake", (StrictFake,), {"platform": platform})
        plugin = Review(review)

        def open_publisher(config: Any) -> Publisher:
            return Publisher(config, plugins=[plugin], entry_point_plugins=False,
                             retry=no_sleep,
                             channel_classes={"fake": channel, "strict": strict})

        monkeypatch.setattr(commands, "open_publisher", open_publisher)
        return platform

    return use


@pytest.fixture
def fakes(tmp_path: Path) -> Path:
    return write_config(tmp_path, {"one": {"channel": "fake"}, "two": {"channel": "fake"}})


# -- help and version -------------------------------------------------------------------------

COMMANDS = sorted(get_command(app).commands)  # type: ignore[attr-defined]


def test_help_lists_every_command() -> None:
    assert COMMANDS == ["approve", "audit", "brand", "calendar", "channels", "consent",
                        "doctor", "freeze", "inbox", "init", "listen", "metrics", "pending",
                        "plan", "posts", "preview", "publish", "reject", "reply", "report",
                        "resume", "retry",
                        "schedule", "serve", "status",
                        "takedown",
                        "thaw", "worker"]
    result = run("--help")
    for name in COMMANDS:
        assert name in result.output
        assert run(name, "--help").exit_code == 0


def test_version_and_python_dash_m() -> None:
    assert "carecast 0.1.0" in run("--version").output
    done = subprocess.run([sys.executable, "-m", "carecast", "--version"],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "carecast 0.1.0"


def test_no_arguments_shows_help() -> None:
    result = runner.invoke(app, [])
    assert "Usage" in result.output
    assert "publish" in result.output


# -- publish ----------------------------------------------------------------------------------


def test_publish_then_already_published(tmp_path: Path, hooks: Path, receiver: Receiver) -> None:
    post = write_post(tmp_path)
    first = run("--config", hooks, "publish", post)
    assert "published" in first.stdout
    assert "https://intranet.example/" in first.stdout
    assert sorted(receiver.paths()) == ["/a", "/b"]
    second = run("--config", hooks, "publish", post)
    assert second.stdout.count("already published") == 2
    assert len(receiver.requests) == 2  # nothing was sent twice


def test_publish_json(tmp_path: Path, hooks: Path) -> None:
    result = run("--config", hooks, "publish", write_post(tmp_path), "--json")
    data = json.loads(result.stdout)  # stdout holds only the JSON
    assert len(data) == 1
    report = data[0]
    assert report["post_id"] == "flu-1"
    assert report["file"].endswith("post.yaml")
    assert report["counts"] == {"published": 2}
    assert {o["account"]: o["state"] for o in report["outcomes"]} == {
        "a": "published", "b": "published"}


def test_dry_run_stores_and_sends_nothing(tmp_path: Path, hooks: Path,
                                          receiver: Receiver) -> None:
    result = run("--config", hooks, "publish", "--dry-run", write_post(tmp_path), "--json")
    report = json.loads(result.stdout)[0]
    assert report["dry_run"] is True
    assert {o["state"] for o in report["outcomes"]} == {"pending"}
    assert receiver.requests == []
    with ledger_of(tmp_path) as ledger:
        assert ledger.post_ids() == []
        assert ledger.attempts("flu-1") == []
    assert "dry run" in run("--config", hooks, "publish", "--dry-run",
                            write_post(tmp_path)).stdout


def test_only_publishes_to_the_named_accounts(tmp_path: Path, hooks: Path,
                                              receiver: Receiver) -> None:
    post = write_post(tmp_path)
    report = json.loads(run("--config", hooks, "publish", post, "--only", "b",
                            "--json").stdout)[0]
    assert [o["account"] for o in report["outcomes"]] == ["b"]
    assert receiver.paths() == ["/b"]
    bad = run("--config", hooks, "publish", post, "--only", "nope", code=2)
    assert "only" in bad.stderr
    assert "nope" in bad.stderr


def test_failed_target_exits_1_and_retry_sends_only_it(tmp_path: Path, hooks: Path,
                                                        receiver: Receiver) -> None:
    receiver.status["/b"] = 401
    post = write_post(tmp_path)
    result = run("--config", hooks, "publish", post, code=1)
    assert "failed" in result.stdout
    assert "renew the token" in result.stdout
    assert "carecast retry flu-1" in result.stderr
    receiver.status["/b"] = 200
    retried = run("--config", hooks, "retry", "flu-1")
    assert "already published" in retried.stdout
    assert receiver.paths().count("/a") == 1
    assert receiver.paths().count("/b") == 2
    status = json.loads(run("--config", hooks, "status", "flu-1", "--json").stdout)
    assert {t["account"]: t["state"] for t in status["targets"]} == {
        "a": "published", "b": "published"}


def test_unknown_outcome_exits_1_until_resent(tmp_path: Path, receiver: Receiver) -> None:
    config = write_config(tmp_path, {"a": {"channel": "webhook", "url": f"{receiver.url}/a"}})
    receiver.status["/a"] = 500  # may have been stored: the outcome is unknown
    run("--config", config, "publish", write_post(tmp_path), code=1)
    assert json.loads(run("--config", config, "status", "flu-1", "--json", code=1).stdout
                      )["targets"][0]["state"] == "unknown"
    receiver.status["/a"] = 200
    # without lookup, the webhook cannot reconcile: retry does not send blindly
    again = run("--config", config, "retry", "flu-1", "--json", code=1)
    assert json.loads(again.stdout)["outcomes"][0]["state"] == "unknown"
    assert len(receiver.requests) == 1
    done = run("--config", config, "retry", "flu-1", "--resend-unknown", "--json")
    assert json.loads(done.stdout)["outcomes"][0]["state"] == "published"
    assert len(receiver.requests) == 2


def test_one_bad_post_of_several_does_not_stop_the_others(tmp_path: Path, hooks: Path,
                                                          receiver: Receiver) -> None:
    good = write_post(tmp_path)
    other = write_post(tmp_path, "other.json", json.dumps(
        {"id": "other", "text": "Visiting hours change on December 1.", "targets": ["zz"]}))
    result = run("--config", hooks, "publish", good, other, "--json", code=2)
    data = json.loads(result.stdout)
    assert [d.get("post_id") for d in data] == ["flu-1", "other"]
    assert data[1]["counts"] == {"failed": 1}
    assert data[1]["outcomes"][0]["error"]["type"] == "UnknownAccount"
    assert sorted(receiver.paths()) == ["/a", "/b"]


def test_invalid_file_among_several_sends_nothing(tmp_path: Path, hooks: Path,
                                                  receiver: Receiver) -> None:
    bad = write_post(tmp_path, "bad.yaml", f"text: {TEXT}\nlink: not-a-url\n")
    result = run("--config", hooks, "publish", write_post(tmp_path), bad, code=2)
    assert "link" in result.stderr
    assert receiver.requests == []


def test_scheduled_post_is_held_not_failed(tmp_path: Path, hooks: Path,
                                           receiver: Receiver) -> None:
    post = write_post(tmp_path, "later.yaml",
                      f"id: later\ntext: {TEXT}\nschedule: 2999-01-01T09:00:00-05:00\n")
    result = run("--config", hooks, "publish", post)
    assert "scheduled for 2999-01-01" in result.stdout
    assert receiver.requests == []


# -- invalid input and configuration: exit 2, one clean paragraph, no secrets ------------------


@pytest.mark.parametrize(("body", "field"), [
    (f"text: {TEXT}\nlink: not-a-url\n", "link"),
    (f"text: {TEXT}\nhashtag: [flu]\n", "hashtag"),
    (f"text: {TEXT}\nschedule: next tuesday\n", "schedule"),
    (f"text: {TEXT}\nmedia:\n  - source: photo.xyz123\n", "media[0]"),
    (f"text: [{TEXT}\n", "not valid YAML"),
])
def test_invalid_post_exits_2_naming_the_field(tmp_path: Path, hooks: Path, body: str,
                                               field: str) -> None:
    post = write_post(tmp_path, "bad.yaml", body)
    for command in ("publish", "preview"):
        result = run("--config", hooks, command, post, code=2)
        assert result.stdout == ""
        assert result.stderr.startswith("error: ")
        assert field in result.stderr
        assert TEXT not in result.output  # never the post's text in an error


def test_invalid_post_json_error(tmp_path: Path, hooks: Path) -> None:
    post = write_post(tmp_path, "bad.json", json.dumps({"text": TEXT, "link": "nope"}))
    result = run("--config", hooks, "publish", post, "--json", code=2)
    error = json.loads(result.stdout)["error"]
    assert error["type"] == "InvalidPost"
    assert error["problems"][0]["field"] == "link"


@pytest.mark.parametrize("name", ["missing.yaml", "post.txt"])
def test_missing_or_unknown_post_file_exits_2(tmp_path: Path, hooks: Path, name: str) -> None:
    (tmp_path / "post.txt").write_text(TEXT)
    result = run("--config", hooks, "publish", tmp_path / name, code=2)
    assert name in result.stderr


def test_missing_config_exits_2(tmp_path: Path) -> None:
    post = write_post(tmp_path)
    result = run("--config", tmp_path / "nope.toml", "publish", post, code=2)
    assert "nope.toml: no such file" in result.stderr
    result = run("publish", post, code=2, env={"CARECAST_CONFIG": str(tmp_path / "x.toml")})
    assert "x.toml" in result.stderr


def test_config_from_the_environment(tmp_path: Path, hooks: Path) -> None:
    result = run("status", "flu-1", code=2, env={"CARECAST_CONFIG": str(hooks)})
    assert "no post 'flu-1'" in result.stderr


def test_invalid_config_exits_2(tmp_path: Path) -> None:
    config = tmp_path / "carecast.toml"
    config.write_text("[stores]\nurl = 'sqlite://'\n")
    result = run("--config", config, "status", "x", code=2)
    assert "unknown section 'stores'" in result.stderr


def test_account_missing_an_option_exits_2_naming_the_env_var(tmp_path: Path) -> None:
    config = write_config(tmp_path, {"hook": {"channel": "webhook"}})
    result = run("--config", config, "publish", write_post(tmp_path), code=2)
    assert "accounts.hook.url" in result.stdout
    assert "CARECAST_ACCOUNTS__HOOK__URL" in result.stdout


def test_secrets_from_the_environment_are_never_printed(tmp_path: Path,
                                                        receiver: Receiver) -> None:
    config = write_config(tmp_path, {"hook": {"channel": "webhook"}})
    env = {"CARECAST_ACCOUNTS__HOOK__URL": f"{receiver.url}/hook?token={SECRET}",
           "CARECAST_ACCOUNTS__HOOK__SECRET": SECRET}
    post = write_post(tmp_path)
    outputs = [
        run("--config", config, "preview", post, env=env),
        run("--config", config, "preview", post, "--json", env=env),
        run("--config", config, "publish", post, env=env),
        run("--config", config, "publish", post, "--json", env=env),
        run("--config", config, "status", "flu-1", "--json", env=env),
    ]
    assert receiver.requests  # the secret URL was used
    receiver.status["/hook"] = 500
    failing = write_post(tmp_path, "two.yaml", f"id: flu-2\ntext: {TEXT}\n")
    outputs.append(run("--config", config, "publish", failing, env=env, code=1))
    outputs.append(run("--config", config, "retry", "flu-2", "--json", env=env, code=1))
    bad_env = {"CARECAST_ACCOUNTS__HOOK__URL": f"ftp://host/{SECRET}"}
    outputs.append(run("--config", config, "publish", failing, env=bad_env, code=2))
    unreachable = {"CARECAST_ACCOUNTS__HOOK__URL": f"http://127.0.0.1:9/{SECRET}"}
    outputs.append(run("--config", config, "publish", write_post(
        tmp_path, "three.yaml", f"id: flu-3\ntext: {TEXT}\n"), env=unreachable, code=1))
    for result in outputs:
        assert SECRET not in result.output


# -- review: blocked, awaiting approval, approve ----------------------------------------------


def test_blocked_post_exits_2(tmp_path: Path, fakes: Path, fake: Callable[..., Any]) -> None:
    platform = fake(Action.BLOCK)
    result = run("--config", fakes, "publish", write_post(tmp_path), code=2)
    assert result.stdout.count("blocked") >= 2
    assert "test.rule in parts[0].text" in result.stdout
    assert platform.sends == []


def test_limit_exceeded_exits_2_naming_the_field(tmp_path: Path, fake: Callable[..., Any]
                                                  ) -> None:
    fake()
    config = write_config(tmp_path, {"short": {"channel": "strict"}})
    post = write_post(tmp_path, "long.yaml", "text: " + "word " * 80 + "\n")
    result = run("--config", config, "publish", post, "--json", code=2)
    error = json.loads(result.stdout)[0]["outcomes"][0]["error"]
    assert error["type"] == "LimitExceeded"
    assert error["message"].startswith("text: ")


def test_awaiting_approval_then_approve_then_publish(tmp_path: Path, fakes: Path,
                                                     fake: Callable[..., Any]) -> None:
    platform = fake(Action.REVIEW)
    post = write_post(tmp_path)
    held = run("--config", fakes, "publish", post, code=1)
    assert held.stdout.count("awaiting_approval") >= 2
    assert "carecast approve flu-1 --as NAME" in held.stderr
    assert platform.sends == []

    run("--config", fakes, "approve", "nope", "--as", "Dana Lee", code=2)
    bad = run("--config", fakes, "approve", "flu-1", "--as", "Dana Lee", "--account", "zz",
              code=2)
    assert "zz is not a target" in bad.stderr
    run("--config", fakes, "approve", "flu-1", "--as", " ", code=2)

    one = run("--config", fakes, "approve", "flu-1", "--as", "Dana Lee", "--account", "one",
              "--note", "checked with the clinic", "--json")
    assert json.loads(one.stdout) == {"post_id": "flu-1", "approver": "Dana Lee",
                                      "approved": ["one"], "next_steps": {}}
    partly = json.loads(run("--config", fakes, "publish", post, "--json", code=1).stdout)[0]
    assert {o["account"]: o["state"] for o in partly["outcomes"]} == {
        "one": "published", "two": "awaiting_approval"}

    rest = run("--config", fakes, "approve", "flu-1", "--as", "Dana Lee")
    assert "approved post flu-1 for two" in rest.stdout
    assert "carecast resume flu-1" in rest.stdout
    again = run("--config", fakes, "approve", "flu-1", "--as", "Dana Lee", code=1)
    assert "every approval step of post flu-1 is already signed for two" in again.stderr
    assert "carecast resume flu-1" in again.stderr
    resumed = json.loads(run("--config", fakes, "resume", "flu-1", "--json").stdout)
    assert {o["account"]: (o["state"], o["already_published"])
            for o in resumed["outcomes"]} == {"one": ("published", True),
                                              "two": ("published", False)}
    assert len(platform.sends) == 2
    run("--config", fakes, "resume", "nope", code=2)
    nothing = run("--config", fakes, "approve", "flu-1", "--as", "Dana Lee", code=1)
    assert "nothing of post flu-1 awaits approval" in nothing.stderr
    with ledger_of(tmp_path) as ledger:
        kinds = [e.kind for e in ledger.audit_events("flu-1")]
    assert kinds.count("approval") == 2


def test_a_failed_target_is_retried_alone(tmp_path: Path, fakes: Path,
                                            fake: Callable[..., Any]) -> None:
    platform = fake()
    platform.fail("two", AuthenticationError("the token expired; renew it"))
    report = json.loads(run("--config", fakes, "publish", write_post(tmp_path), "--json",
                            code=1).stdout)[0]
    assert report["counts"] == {"published": 1, "failed": 1}
    retried = json.loads(run("--config", fakes, "retry", "flu-1", "--json").stdout)
    assert {o["account"]: o["already_published"] for o in retried["outcomes"]} == {
        "one": True, "two": False}
    run("--config", fakes, "retry", "nope", code=2)


# -- preview ----------------------------------------------------------------------------------


def test_preview_shows_parts_lengths_media_and_findings(tmp_path: Path, fakes: Path,
                                                        fake: Callable[..., Any]) -> None:
    platform = fake(Action.WARN)
    Image.new("RGB", (64, 48), (180, 190, 200)).save(tmp_path / "photo.png")
    long_text = " ".join(f"Sentence number {i} about the flu clinic." for i in range(12))
    post = write_post(tmp_path, "thread.yaml", f"id: t-1\ntitle: Flu clinic [Saturday]\n"
                      f"text: {long_text}\nmedia:\n  - source: photo.png\n"
                      "    alt_text: A nurse [smiling] at the desk\n")
    result = run("--config", fakes, "preview", post)
    out = result.stdout
    assert "one · fake · pending" in out
    assert "part 1 of 2" in out
    assert "part 2 of 2" in out
    assert "/280 characters" in out
    assert "Flu clinic [Saturday]" in out  # brackets are text, not markup
    assert "photo.png (image)" in out
    assert "A nurse [smiling] at the desk" in out
    assert "test.rule" in out
    assert "parts[0].text" in out
    assert platform.sends == []
    with ledger_of(tmp_path) as ledger:
        assert ledger.post_ids() == []

    data = json.loads(run("--config", fakes, "preview", post, "--json").stdout)
    assert data["post_id"] == "t-1"
    assert data["ok"] is True
    target = data["targets"][0]
    assert [p["number"] for p in target["parts"]] == [1, 2]
    assert target["parts"][0]["limit"] == 280
    assert target["parts"][0]["media"][0]["alt_text"] == "A nurse [smiling] at the desk"
    assert target["findings"][0]["action"] == "warn"
    only = json.loads(run("--config", fakes, "preview", post, "--only", "two", "--json").stdout)
    assert [t["account"] for t in only["targets"]] == ["two"]


def test_preview_exit_codes(tmp_path: Path, fakes: Path, fake: Callable[..., Any]) -> None:
    post = write_post(tmp_path)
    fake(Action.REVIEW)
    run("--config", fakes, "preview", post, code=1)
    fake(Action.BLOCK)
    run("--config", fakes, "preview", post, code=2)
    fake(None)
    run("--config", fakes, "preview", post, code=0)


def test_preview_missing_alt_text(tmp_path: Path, fakes: Path, fake: Callable[..., Any]) -> None:
    fake()
    Image.new("RGB", (64, 48), (180, 190, 200)).save(tmp_path / "photo.png")
    post = write_post(tmp_path, "p.yaml", f"text: {TEXT}\nmedia:\n  - source: photo.png\n")
    # the built-in accessibility check holds it for review: exit 1
    assert "alt text: MISSING" in run("--config", fakes, "preview", post, code=1).stdout


# -- status -----------------------------------------------------------------------------------


def test_status(tmp_path: Path, hooks: Path) -> None:
    run("--config", hooks, "publish", write_post(tmp_path))
    table = run("--config", hooks, "status", "flu-1").stdout
    assert "published https://intranet.example/" in table
    data = json.loads(run("--config", hooks, "status", "flu-1", "--json").stdout)
    assert data["post_id"] == "flu-1"
    assert [t["account"] for t in data["targets"]] == ["a", "b"]
    assert all(t["tries"] == 1 and t["key"].startswith("cc-") for t in data["targets"])
    assert TEXT not in json.dumps(data)
    missing = run("--config", hooks, "status", "nope", "--json", code=2)
    assert json.loads(missing.stdout)["error"]["type"] == "InvalidPost"


# -- channels ---------------------------------------------------------------------------------


def test_channels_lists_limits_and_capabilities() -> None:
    data = json.loads(run("channels", "--json").stdout)
    webhook = next(row for row in data if row["name"] == "webhook")
    assert webhook["title"].startswith("Webhook")
    assert webhook["error"] is None
    assert webhook["limits"]["max_media"] == 20
    assert "lookup" in webhook["capabilities"]
    assert (webhook["limits"]["per_account"], webhook["limits"]["per_host"]) == (64, 64)
    assert webhook["limits"]["rate_limits_by"] == "host"
    table = run("channels", env={"COLUMNS": "300"}).stdout  # a limit on one line
    assert "Webhook (signed JSON POST)" in table
    assert "64 per account" in table


def test_channels_shows_the_limits_carecast_toml_sets(tmp_path: Path) -> None:
    config = tmp_path / "carecast.toml"
    config.write_text('[publish]\nconcurrency = 50\nper_host = 40\n\n'
                      '[publish.channels.webhook]\nper_account = 3\n')
    data = json.loads(run("--config", config, "channels", "--json").stdout)
    limits = {row["name"]: row["limits"] for row in data}
    assert (limits["webhook"]["per_account"], limits["webhook"]["per_host"]) == (3, 40)
    assert (limits["mastodon"]["per_account"], limits["mastodon"]["per_host"]) == (4, 40)
    assert limits["mastodon"]["concurrency"] == 50
    table = run("--config", config, "channels", env={"COLUMNS": "300"}).stdout
    assert "3 per account" in table
    assert "50 in all" in table
    config.write_text("[publish]\nper_host = 0\n")
    assert "publish.per_host" in run("--config", config, "channels", code=2).stderr


def test_a_package_whose_parent_is_not_installed_is_listed_as_missing(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # "google.auth" on a machine with no google package at all: find_spec raises rather
    # than answering None, and `carecast channels` must still list the channel.
    from carecast.channels.gbp import GoogleBusinessChannel

    monkeypatch.setattr(GoogleBusinessChannel, "packages", ("carecast_no_such_parent.auth", "json"))
    assert GoogleBusinessChannel.features()["missing_packages"] == ["carecast_no_such_parent.auth"]


def test_a_channel_that_fails_to_import_is_listed(monkeypatch: pytest.MonkeyPatch) -> None:
    import carecast.channels as channels

    real = channels.get_channel_class

    def get(name: str, extra: Any = None) -> Any:
        if name == "broken":
            raise ImportError("no module named 'missing_sdk'")
        return real(name, extra)

    monkeypatch.setattr(channels, "channel_names", lambda extra=None: ["broken", "webhook"])
    monkeypatch.setattr(channels, "get_channel_class", get)
    result = run("channels", code=1)
    assert "broken" in result.stdout
    assert "cannot be loaded" in result.stdout
    assert "Webhook" in result.stdout
    data = json.loads(run("channels", "--json", code=1).stdout)
    assert data[0] == {"name": "broken", "title": "", "limits": {}, "capabilities": [],
                       "error": "ImportError", "features": {}}



# -- the compliance workflow: approve, reject, pending, consent, audit ----------------------

CHAIN = """
[approvals]
every_post = true
deadline = 0
steps = [
  { name = "communications", approvers = ["Dana Reyes"] },
  { name = "privacy", approvers = ["Lee Chan"] },
]
"""


@pytest.fixture
def chain(tmp_path: Path) -> Path:
    config = write_config(tmp_path, {"one": {"channel": "fake"}, "two": {"channel": "fake"}})
    config.write_text(config.read_text() + CHAIN)
    return config


def test_two_steps_from_the_command_line(tmp_path: Path, chain: Path, fake: Any) -> None:
    platform = fake()
    post = write_post(tmp_path)
    run("--config", chain, "publish", post, code=1)
    pending = json.loads(run("--config", chain, "pending", "--json").stdout)
    assert {(p["account"], p["next_step"]) for p in pending} == {
        ("one", "communications"), ("two", "communications")}
    assert "communications" in run("--config", chain, "pending").stdout

    wrong = run("--config", chain, "approve", "flu-1", "--as", "Lee Chan", code=1)
    assert "not listed for the communications step" in wrong.stderr
    first = run("--config", chain, "approve", "flu-1", "--as", "Dana Reyes")
    assert "next step: privacy" in first.stdout
    again = run("--config", chain, "approve", "flu-1", "--as", "Dana Reyes", "--step",
                "privacy", code=1)
    assert "not listed for the privacy step" in again.stderr
    second = run("--config", chain, "approve", "flu-1", "--as", "Lee Chan")
    assert "carecast resume flu-1" in second.stdout
    assert run("--config", chain, "pending").stdout.strip() == "nothing awaits approval"
    run("--config", chain, "resume", "flu-1")
    assert len(platform.sends) == 2


def test_reject_holds_the_post_and_keeps_the_note_private(tmp_path: Path, chain: Path,
                                                          fake: Any) -> None:
    fake()
    run("--config", chain, "publish", write_post(tmp_path), code=1)
    run("--config", chain, "reject", "flu-1", "--as", "Dana Reyes", "--note", " ", code=2)
    out = run("--config", chain, "reject", "flu-1", "--as", "Dana Reyes", "--note",
              "the photo shows a wristband")
    assert "rejected post flu-1 for one, two" in out.stdout
    status = run("--config", chain, "status", "flu-1", "--json", code=2).stdout
    assert "rejected by Dana Reyes" in status
    assert "wristband" not in status


def test_consent_commands(tmp_path: Path, fakes: Path, fake: Any) -> None:
    fake()
    bad = run("--config", fakes, "consent", "add", "C-1", "--initials", "Jane Doe",
              "--expires", "2099-01-01", "--channel", "*", "--media", "*", code=2)
    assert "initials only" in bad.stderr
    assert "Jane" not in bad.stderr
    run("--config", fakes, "consent", "add", "C-1", "--initials", "JD", "--expires",
        "2099-01-01T00:00", "--channel", "*", "--media", "*", code=2)  # no timezone
    run("--config", fakes, "consent", "add", "C-1", "--initials", "J.D.", "--expires",
        "2099-01-01", "--channel", "one", "--media", "ward.jpg", "--by", "Privacy Office")
    listed = json.loads(run("--config", fakes, "consent", "list", "--json").stdout)
    assert listed[0]["initials"] == "JD"
    assert listed[0]["channels"] == ["one"]
    assert "valid" in run("--config", fakes, "consent", "list").stdout
    run("--config", fakes, "consent", "revoke", "C-1")
    assert "revoked" in run("--config", fakes, "consent", "list").stdout
    run("--config", fakes, "consent", "revoke", "C-2", code=2)


def test_audit_verify_and_export(tmp_path: Path, fakes: Path, fake: Any) -> None:
    fake(Action.WARN)
    run("--config", fakes, "publish", write_post(tmp_path))
    assert "audit trail sound" in run("--config", fakes, "audit", "verify").stdout
    out = tmp_path / "audit.jsonl"
    run("--config", fakes, "audit", "export", "-o", out)
    *lines, trailer = [json.loads(x) for x in out.read_text().splitlines()]
    assert trailer["trailer"]["count"] == len(lines)
    assert [e["kind"] for e in lines if e["account"] == "one"] == ["review", "send", "published"]
    assert run("--config", fakes, "audit", "verify", "--file", out).exit_code == 0
    table = tmp_path / "audit.csv"
    run("--config", fakes, "audit", "export", "--format", "csv", "-o", table)
    with table.open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == len(lines)
    assert json.loads(rows[0]["data"])["findings"][0]["code"] == "test.rule"

    # an exported file edited afterwards is caught, and so is the store
    edited = out.read_text().replace('"review"', '"published"', 1)
    (tmp_path / "edited.jsonl").write_text(edited)
    caught = run("--config", fakes, "audit", "verify", "--file", tmp_path / "edited.jsonl",
                 code=1)
    assert "event 1 was altered" in caught.stderr
    db = sqlite3.connect(tmp_path / "state" / "carecast.db")
    with db:
        db.execute("DELETE FROM carecast_audit WHERE seq = 2")
    db.close()
    result = json.loads(run("--config", fakes, "audit", "verify", "--json", code=1).stdout)
    assert result["sound"] is False
    assert any("event 2" in p for p in result["problems"])


@pytest.mark.parametrize(("change", "message"), [
    (lambda lines: lines[:-1], "no signed trailer"),  # truncated: the trailer is gone
    (lambda lines: [], "no signed trailer"),  # empty
    (lambda lines: [lines[0].replace('"seq": 1', '"seq": "1"'), *lines[1:]],
     "line 1: not an audit event"),  # a wrong value type (was a TypeError)
    (lambda lines: [lines[0].replace('"data": {', '"data": [{', 1), *lines[1:]],
     "line 1: not an audit event"),
    (lambda lines: [*lines[:-1], '{"trailer": {"count": "3"}}'], "not an audit event"),
])
def test_audit_verify_file_refuses_a_truncated_empty_or_mistyped_export(
        tmp_path: Path, fakes: Path, fake: Any, change: Any, message: str) -> None:
    fake(Action.WARN)
    run("--config", fakes, "publish", write_post(tmp_path))
    out = tmp_path / "audit.jsonl"
    run("--config", fakes, "audit", "export", "-o", out)
    bad = tmp_path / "bad.jsonl"
    bad.write_text("".join(f"{x}\n" for x in change(out.read_text().splitlines())))
    result = run("--config", fakes, "audit", "verify", "--file", bad, code=2)
    assert message in result.stderr


def test_audit_verify_file_catches_events_dropped_from_the_end(
        tmp_path: Path, fakes: Path, fake: Any) -> None:
    fake(Action.WARN)
    run("--config", fakes, "publish", write_post(tmp_path))
    out = tmp_path / "audit.jsonl"
    run("--config", fakes, "audit", "export", "-o", out)
    *events, trailer = out.read_text().splitlines()
    out.write_text("".join(f"{x}\n" for x in [*events[:-2], trailer]))
    result = run("--config", fakes, "audit", "verify", "--file", out, code=1)
    assert "events were removed or added" in result.stderr


def test_audit_verify_cli_catches_a_truncated_store(tmp_path: Path, fakes: Path,
                                                    fake: Any) -> None:
    fake(Action.WARN)
    run("--config", fakes, "publish", write_post(tmp_path))
    db = sqlite3.connect(tmp_path / "state" / "carecast.db")
    with db:
        seq, digest = db.execute("SELECT seq, hash FROM carecast_audit WHERE seq = 1").fetchone()
        db.execute("DELETE FROM carecast_audit WHERE seq > 1")
        db.execute("UPDATE carecast_audit_head SET seq = ?, hash = ?", (seq, digest))
    db.close()
    result = run("--config", fakes, "audit", "verify", code=1)
    assert "signed checkpoint" in result.stderr


def test_csv_export_defuses_spreadsheet_formulas() -> None:
    import io

    from carecast.store.audit import AuditEvent, write_csv

    event = AuditEvent(1, "2026-11-21T12:00:00+00:00", "p1", "acct", "review",
                       {"note": "=HYPERLINK(1)"}, "0" * 64, "f" * 64)
    out = io.StringIO()
    write_csv([event, AuditEvent(2, "-1", "=cmd", "+x", "@y", {}, "0", "1")], out)
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert rows[0]["data"] == '{"note":"=HYPERLINK(1)"}'  # starts with '{': left as it is
    assert [rows[1][k] for k in ("at", "post_id", "account", "kind")] == [
        "'-1", "'=cmd", "'+x", "'@y"]


def test_preview_marks_each_phi_finding_inside_the_post(tmp_path: Path, fakes: Path,
                                                        fake: Callable[..., Any]) -> None:
    fake(None)
    post = write_post(tmp_path, "story.yaml", "id: s-1\ntext: Mrs. Baker is back on her feet "
                      "after her hip replacement.\n")
    out = run("--config", fakes, "preview", post, code=1).stdout
    assert "Mrs. Baker«phi.name» is back on her feet" in out
    data = run("--config", fakes, "preview", post, "--json", code=1).stdout
    assert "«" not in data  # the marked view is the terminal's only


def _command_paths(command: Any, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    subs = getattr(command, "commands", {})
    return [path] + [p for name, sub in sorted(subs.items())
                     for p in _command_paths(sub, (*path, name))]


@pytest.mark.parametrize("path", _command_paths(get_command(app)), ids=" ".join)
def test_help_shows_no_type_for_a_flag(path: tuple[str, ...]) -> None:
    out = run(*path, "--help").output
    assert "--help" in out
    assert "<bool>" not in out  # typer's rich help printed it for every flag


def test_shell_completion_is_on() -> None:
    script = run("--show-completion", "bash").output
    assert "_CARECAST_COMPLETE=complete_bash" in script
    done = runner.invoke(app, [], prog_name="carecast", env={
        "_CARECAST_COMPLETE": "complete_bash", "COMP_WORDS": "carecast pre", "COMP_CWORD": "1"})
    assert done.output.split() == ["preview"]
