"""``carecast serve`` end to end: a real HTTP client against uvicorn on 127.0.0.1."""

from __future__ import annotations

import hashlib
import hmac
import json
import signal
import socket
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
import uvicorn

from carecast.config import Config
from carecast.errors import ConfigurationError
from carecast.post import Post
from carecast.publish import Publisher
from carecast.publish.worker import Worker
from carecast.server import Clients, Notifier, create_app, hash_key, new_key
from carecast.server.clients import Client
from carecast.testing import FrozenClock

MRN_TEXT = "Thank you to our patient Dana Whitlock, MRN 00482913, for sharing her story."
SECRET = "9c1e7f3a5b2d4e6f8a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f"


def _config(tmp_path: Path, *, every_post: bool = False) -> Config:
    return Config.from_dict({
        "store": {"url": f"sqlite:///{tmp_path / 'carecast.db'}"},
        "brands": {"mercy": {"name": "Mercy Hospital"}, "st-anne": {"name": "St Anne"}},
        "accounts": {"feed": {"channel": "fake", "brand": "mercy"},
                     "news": {"channel": "fake", "brand": "mercy"},
                     "anne": {"channel": "fake", "brand": "st-anne"}},
        "approvals": {"every_post": every_post},
    }, root=tmp_path, environ={})


class Receiver:
    """A CMS endpoint on 127.0.0.1 that records the callbacks it gets."""

    def __init__(self) -> None:
        self.calls: list[tuple[dict[str, str], bytes]] = []
        self.fail = 0  # answer this many calls with a 503 first
        calls, receiver = self.calls, self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if receiver.fail:
                    receiver.fail -= 1
                    self.send_response(503)
                    self.end_headers()
                    return
                calls.append((dict(self.headers), body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(body) for _, body in self.calls]


class Service:
    """The app on uvicorn in a thread, with its publisher, notifier and keys."""

    def __init__(self, publisher: Any, clients: Clients, keys: dict[str, str], *,
                 max_body: int) -> None:
        self.publisher, self.keys = publisher, keys
        self.notifier = Notifier(publisher.ledger, clients, publisher.clock)
        app = create_app(publisher, clients, max_body=max_body, notifier=self.notifier)
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.base = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]},
                                       daemon=True)
        self.thread.start()
        for _ in range(3000):  # a loaded machine may take a while to start it
            if self.server.started:
                break
            threading.Event().wait(0.02)
        assert self.server.started, "uvicorn did not start within 60 s"
        self.http = requests.Session()

    def call(self, method: str, path: str, client: str | None = "cms", **kw: Any
             ) -> requests.Response:
        headers = kw.pop("headers", {})
        if client is not None:
            headers["Authorization"] = f"Bearer {self.keys[client]}"
        return self.http.request(method, self.base + path, headers=headers, timeout=30, **kw)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()
        self.http.close()
        self.notifier.session.close()


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    made = Receiver()
    yield made
    made.server.shutdown()
    made.server.server_close()


@pytest.fixture
def serve(tmp_path, fake_publisher, clock, receiver) -> Iterator[Any]:
    started: list[Service] = []

    def start(*, every_post: bool = False, max_body: int = 64 * 1024) -> Service:
        publisher = fake_publisher(config=_config(tmp_path, every_post=every_post),
                                   clock=clock)
        keys = {name: new_key() for name in ("cms", "reader", "anne", "ops")}
        scopes = {"cms": (["mercy"], ["preview", "publish", "schedule", "status", "list",
                                      "approve", "reject", "takedown", "freeze", "thaw"]),
                  "reader": (["mercy"], ["preview", "status"]),
                  "anne": (["st-anne"], ["preview", "publish", "status"]),
                  "ops": (["*"], ["freeze", "thaw", "list"])}
        clients = Clients({name: Client(
            name=name, key_hash=hash_key(keys[name]), brands=tuple(brands),
            verbs=tuple(verbs), callback_url=receiver.url if name == "cms" else None,
            callback_secret=SECRET if name == "cms" else None)
            for name, (brands, verbs) in scopes.items()})
        service = Service(publisher, clients, keys, max_body=max_body)
        started.append(service)
        return service

    yield start
    for service in started:
        service.stop()


def _post(**fields: Any) -> dict[str, Any]:
    return {"text": "Flu shots are free this week at our Riverside clinic.", "brand": "mercy",
            **fields}


def _audit(service: Service, kind: str) -> list[Any]:
    return [e for e in service.publisher.ledger.audit_events() if e.kind == kind]


# -- auth and scope ---------------------------------------------------------------------------

def test_a_call_without_a_valid_key_is_refused(serve) -> None:
    service = serve()
    for headers in ({}, {"Authorization": "Bearer " + new_key()},
                    {"Authorization": "Basic dXNlcjpwYXNz"}):
        answer = service.call("POST", "/v1/posts", client=None, headers=headers,
                              json={"action": "publish", "post": _post()})
        assert answer.status_code == 401, answer.text
        assert answer.headers["WWW-Authenticate"] == "Bearer"
        assert answer.json()["error"]["problems"][0]["field"] == "authorization"
    assert service.publisher.platform.sends == []


def test_a_verb_or_brand_outside_the_clients_scope_is_refused_and_audited(serve) -> None:
    service = serve()
    answer = service.call("POST", "/v1/posts", client="reader",
                          json={"action": "publish", "post": _post()})
    assert answer.status_code == 403
    assert "reader may not publish posts of mercy" in answer.json()["error"]["message"]
    # A post of brand mercy that names a St Anne account is outside mercy's scope too.
    answer = service.call("POST", "/v1/posts", json={
        "action": "publish", "post": _post(targets=["feed", "anne"])})
    assert answer.status_code == 403
    assert "st-anne" in answer.json()["error"]["message"]
    assert service.publisher.platform.sends == []
    refused = _audit(service, "api.refused")
    assert [(e.data["client"], e.data["verb"]) for e in refused] == [
        ("reader", "publish"), ("cms", "publish")]
    # Stored posts: a client of another brand cannot read or take them down.
    post_id = service.call("POST", "/v1/posts", json={"post": _post()}).json()["post_id"]
    assert service.call("GET", f"/v1/posts/{post_id}", client="anne").status_code == 403
    assert service.call("GET", f"/v1/posts/{post_id}", client="reader").status_code == 200
    # A listing leaves out posts that reach a brand outside the client's scope.
    service.publisher.publish(Post(id="mixed", text="Flu shots this week.", brand="mercy",
                                   targets=("feed", "anne")))
    listed = {p["post_id"] for p in service.call("GET", "/v1/posts").json()}
    assert post_id in listed
    assert "mixed" not in listed
    assert "mixed" in {p["post_id"] for p in service.call("GET", "/v1/posts", client="ops").json()}
    assert service.call("GET", "/v1/posts/mixed").status_code == 403
    # A freeze of every brand needs a client of every brand.
    body = {"reason": "incident", "by": "Comms lead"}
    assert service.call("POST", "/v1/freeze", json=body).status_code == 403
    assert service.call("POST", "/v1/freeze", client="ops", json=body).status_code == 200


# -- bodies -----------------------------------------------------------------------------------

def test_an_oversized_body_is_refused_before_it_is_read(serve) -> None:
    service = serve(max_body=8 * 1024)
    big = {"action": "preview", "post": _post(text="word " * 4000)}
    answer = service.call("POST", "/v1/posts", json=big)
    assert answer.status_code == 413
    assert "over 8,192 bytes" in answer.json()["error"]["message"]
    # Without a Content-Length (chunked), the count is kept while reading.
    data = json.dumps(big).encode()
    chunks = (data[i:i + 1024] for i in range(0, len(data), 1024))
    answer = service.call("POST", "/v1/posts", data=chunks,
                          headers={"Content-Type": "application/json"})
    assert answer.status_code == 413
    assert service.call("POST", "/v1/posts", json={"action": "preview", "post": _post()}
                        ).status_code == 200


def test_a_malformed_body_gets_a_422_naming_the_field_without_quoting_it(serve) -> None:
    service = serve()
    answer = service.call("POST", "/v1/posts", data=b'{"post": {"text": ',
                          headers={"Content-Type": "application/json"})
    assert answer.status_code == 422
    assert answer.json()["error"]["type"] == "InvalidRequest"
    answer = service.call("POST", "/v1/posts", json={"post": {"text": MRN_TEXT,
                                                              "hashtags": ["not a tag!"],
                                                              "colour": "blue"}})
    assert answer.status_code == 422
    fields = {p["field"] for p in answer.json()["error"]["problems"]}
    assert {"post.hashtags", "post.colour"} <= fields
    assert "00482913" not in answer.text
    assert "Whitlock" not in answer.text
    answer = service.call("POST", "/v1/posts", json={"action": "launch", "post": _post()})
    assert answer.status_code == 422
    assert answer.json()["error"]["problems"][0]["field"] == "action"
    answer = service.call("POST", "/v1/posts", json={"action": "schedule", "post": _post()})
    assert answer.status_code == 422
    assert answer.json()["error"]["problems"][0]["field"] == "post.schedule"
    deep = "[" * 100_000 + "]" * 100_000
    answer = service.call("POST", "/v1/posts", data=deep.encode(),
                          headers={"Content-Type": "application/json"})
    assert 400 <= answer.status_code < 500
    assert service.call("GET", "/v1/posts/no-such-post").status_code == 404


def test_phi_a_check_flagged_is_never_echoed(serve) -> None:
    service = serve()
    for action in ("preview", "publish"):
        answer = service.call("POST", "/v1/posts", json={"action": action,
                                                         "post": _post(text=MRN_TEXT)})
        assert answer.status_code == 200, answer.text
        states = {o["state"] for o in answer.json()["outcomes"]}
        assert states <= {"blocked", "awaiting_approval"}
        assert "00482913" not in answer.text
        assert "Whitlock" not in answer.text
    post_id = answer.json()["post_id"]
    for path in (f"/v1/posts/{post_id}", "/v1/posts"):
        answer = service.call("GET", path)
        assert answer.status_code == 200
        assert "00482913" not in answer.text
        assert "Whitlock" not in answer.text
    assert service.publisher.platform.sends == []
    assert not any("00482913" in json.dumps(e.data) for e in _audit(service, "api.submit"))


# -- the verbs --------------------------------------------------------------------------------

def _verify(headers: dict[str, str], body: bytes) -> None:
    fields = dict(part.split("=", 1) for part in headers["Carecast-Signature"].split(","))
    mac = hmac.new(SECRET.encode(), f"{fields['t']}.".encode() + body, hashlib.sha256)
    assert hmac.compare_digest(mac.hexdigest(), fields["v1"])


def test_publish_now_status_list_and_signed_callbacks(serve, receiver) -> None:
    service = serve()
    answer = service.call("POST", "/v1/posts", json={"action": "publish", "post": _post()})
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert {o["account"]: o["state"] for o in report["outcomes"]} == {
        "feed": "published", "news": "published"}
    assert len(service.publisher.platform.sends) == 2
    status = service.call("GET", f"/v1/posts/{report['post_id']}").json()
    assert {t["account"]: t["state"] for t in status["targets"]} == {
        "feed": "published", "news": "published"}
    assert all("draft" not in t for t in status["targets"])
    listed = service.call("GET", "/v1/posts").json()
    assert [p["post_id"] for p in listed] == [report["post_id"]]
    assert service.call("GET", "/v1/posts", params={"state": "sending"}).json() == []
    assert service.call("GET", "/v1/posts", client="anne").status_code == 403
    # Callbacks: one per target, signed with the webhook channel's scheme, delivered once.
    assert service.notifier.run_once() == 2
    assert service.notifier.run_once() == 0
    assert sorted(e["event"] for e in receiver.events()) == ["target.published"] * 2
    for headers, body in receiver.calls:
        _verify(headers, body)
    # Every call is in the audit chain with the client's name, and the chain holds.
    assert [e.data["client"] for e in _audit(service, "api.submit")] == ["cms"]
    assert {e.data["client"] for e in _audit(service, "api.status")} == {"cms"}
    assert len(_audit(service, "api.callback")) == 2
    assert service.publisher.ledger.verify_audit() == []
    events = json.dumps([e.data for e in service.publisher.ledger.audit_events()])
    assert service.keys["cms"] not in events
    assert SECRET not in events


def test_a_post_scheduled_through_the_api_is_published_by_the_worker(
        serve, receiver, tmp_path, clock) -> None:
    service = serve()
    at = clock.now() + timedelta(hours=2)
    answer = service.call("POST", "/v1/posts", json={
        "action": "schedule", "post": _post(schedule=at.isoformat())})
    assert answer.status_code == 200, answer.text
    post_id = answer.json()["post_id"]
    assert {o["state"] for o in answer.json()["outcomes"]} == {"pending"}
    assert service.notifier.run_once() == 0  # waiting is nothing to report
    clock.advance(hours=2, minutes=1)
    # The worker is another publisher on the same store and platform, as `carecast worker`.
    fake = type(service.publisher.channel("feed"))
    with Publisher(_config(tmp_path), clock=clock, entry_point_plugins=False,
                   channel_classes={"fake": fake}) as worker_side, \
            Worker(worker_side) as worker:
        assert worker.run(once=True) == 2
    status = service.call("GET", f"/v1/posts/{post_id}").json()
    assert {t["state"] for t in status["targets"]} == {"published"}
    assert len(service.publisher.platform.sends) == 2
    assert service.notifier.run_once() == 2
    assert {(e["post_id"], e["event"]) for e in receiver.events()} == {
        (post_id, "target.published")}


def test_a_failed_callback_is_tried_again_and_a_delivered_one_never(serve, receiver) -> None:
    service = serve()
    receiver.fail = 1
    assert service.call("POST", "/v1/posts", json={"post": _post()}).status_code == 200
    assert service.notifier.run_once() == 1  # the first delivery got a 503
    assert service.notifier.run_once() == 1
    assert len(receiver.calls) == 2
    # A restarted service reads what was delivered from the audit chain: nothing is resent.
    again = Notifier(service.publisher.ledger, service.notifier.clients, service.publisher.clock)
    assert again.run_once() == 0
    again.session.close()


def test_approve_reject_reschedule_takedown_freeze_and_thaw(serve, clock) -> None:
    service = serve(every_post=True)
    post_id = service.call("POST", "/v1/posts", json={"post": _post()}).json()["post_id"]
    states = service.call("GET", f"/v1/posts/{post_id}").json()["targets"]
    assert {t["state"] for t in states} == {"awaiting_approval"}
    answer = service.call("POST", f"/v1/posts/{post_id}/approve",
                          json={"approver": "Dr Rivera", "accounts": ["feed"]})
    assert answer.status_code == 200
    assert answer.json()["signed"] == ["feed"]
    answer = service.call("POST", f"/v1/posts/{post_id}/reject", json={"approver": "Dr Rivera"})
    assert answer.status_code == 422
    assert answer.json()["error"]["problems"][0]["field"] == "note"
    answer = service.call("POST", f"/v1/posts/{post_id}/reject",
                          json={"approver": "Dr Rivera", "note": "Wrong clinic hours."})
    assert answer.json()["rejected"] == ["news"]
    service.publisher.resume(post_id)
    assert {t["account"]: t["state"] for t in
            service.call("GET", f"/v1/posts/{post_id}").json()["targets"]} == {
        "feed": "published", "news": "blocked"}
    answer = service.call("POST", f"/v1/posts/{post_id}/takedown",
                          json={"reason": "Outdated hours", "by": "Comms lead"})
    assert answer.status_code == 200
    assert [t["account"] for t in answer.json()["targets"] if t["removed_at"]] == ["feed"]
    assert service.publisher.platform.posts == {}
    answer = service.call("POST", f"/v1/posts/{post_id}/schedule",
                          json={"at": (clock.now() - timedelta(hours=1)).isoformat()})
    assert answer.status_code == 422
    assert "future" in answer.json()["error"]["message"]
    frozen = service.call("POST", "/v1/freeze", json={"reason": "incident", "by": "Comms lead",
                                                      "brand": "mercy"})
    assert frozen.status_code == 200
    assert frozen.json()["brand"] == "mercy"
    thawed = service.call("POST", "/v1/thaw", json={"by": "Comms lead", "brand": "mercy"})
    assert [f["brand"] for f in thawed.json()] == ["mercy"]
    kinds = [e.kind for e in service.publisher.ledger.audit_events()
             if e.kind.startswith("api.")]
    assert {"api.approve", "api.reject", "api.takedown", "api.schedule", "api.freeze",
            "api.thaw"} <= set(kinds)
    assert service.publisher.ledger.verify_audit() == []


def test_the_openapi_schema_lists_every_endpoint_and_the_post_model(serve) -> None:
    schema = serve().call("GET", "/v1/openapi.json", client=None).json()
    assert set(schema["paths"]) == {
        "/v1/posts", "/v1/posts/{post_id}", "/v1/posts/{post_id}/schedule",
        "/v1/posts/{post_id}/approve", "/v1/posts/{post_id}/reject",
        "/v1/posts/{post_id}/takedown", "/v1/freeze", "/v1/thaw", "/v1/preview.html",
        "/v1/posts/{post_id}/preview.html"}
    assert "Post" in schema["components"]["schemas"]
    assert "HTTPBearer" in schema["components"]["securitySchemes"]


# -- keys and the clients file ----------------------------------------------------------------

def test_keys_are_stored_hashed_and_weak_ones_refused() -> None:
    key = new_key()
    digest = hash_key(key)
    assert digest.startswith("sha256:")
    assert key not in digest
    with pytest.raises(ConfigurationError, match="too weak"):
        hash_key("hunter2")
    clients = Clients({"a": Client(name="a", key_hash=digest, brands=("*",),
                                   verbs=("list",))})
    assert clients.authenticate(key).name == "a"
    assert clients.authenticate(key + "x") is None
    assert key not in repr(clients)


def test_a_bad_clients_file_names_the_client_and_field(tmp_path) -> None:
    path = tmp_path / "clients.toml"
    path.write_text('[clients.cms]\nkey_hash = "md5:abc"\nbrands = ["mercy"]\n'
                    'verbs = ["publish", "fly"]\n')
    with pytest.raises(ConfigurationError) as caught:
        Clients.load(path, environ={})
    assert "clients.cms.key_hash" in str(caught.value)
    assert "clients.cms.verbs.1" in str(caught.value)
    with pytest.raises(ConfigurationError, match="add-client"):
        Clients.load(tmp_path / "missing.toml")


def test_add_client_and_hash_key_commands(tmp_path) -> None:
    (tmp_path / "carecast.toml").write_text('[brands.mercy]\nname = "Mercy"\n')
    run = [sys.executable, "-m", "carecast", "-c", str(tmp_path / "carecast.toml"), "serve"]
    made = subprocess.run([*run, "add-client", "cms", "--brand", "mercy", "--verb", "publish",
                           "--verb", "status"], capture_output=True, text=True, check=True)
    key = made.stdout.strip()
    path = tmp_path / "carecast-clients.toml"
    assert key not in path.read_text()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    client = Clients.load(path, environ={}).authenticate(key)
    assert client is not None
    assert client.verbs == ("publish", "status")
    hashed = subprocess.run([*run, "hash-key"], input=key + "\n", capture_output=True,
                            text=True, check=True)
    assert hashed.stdout.strip() == client.key_hash
    again = subprocess.run([*run, "add-client", "cms", "--brand", "mercy", "--verb", "list"],
                           capture_output=True, text=True)
    assert again.returncode == 2
    assert "exists" in again.stderr


def test_carecast_serve_starts_the_service_and_stops_on_sigterm(tmp_path) -> None:
    key = new_key()
    (tmp_path / "carecast.toml").write_text(
        f'[store]\nurl = "sqlite:///{tmp_path / "carecast.db"}"\n'
        '[brands.mercy]\nname = "Mercy"\n'
        '[accounts.feed]\nchannel = "outbox"\nbrand = "mercy"\npath = "out.jsonl"\n')
    (tmp_path / "carecast-clients.toml").write_text(
        f'[clients.cms]\nkey_hash = "{hash_key(key)}"\nbrands = ["mercy"]\n'
        'verbs = ["preview"]\n')
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "carecast", "-c",
                               str(tmp_path / "carecast.toml"), "serve", "--port", str(port)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        answer = None
        for _ in range(600):
            try:
                answer = requests.post(f"http://127.0.0.1:{port}/v1/posts", timeout=5,
                                       headers={"Authorization": f"Bearer {key}"},
                                       json={"action": "preview", "post": _post()})
                break
            except requests.ConnectionError:
                threading.Event().wait(0.1)
        assert answer is not None, "carecast serve did not start"
        assert answer.status_code == 200, answer.text
        assert [o["state"] for o in answer.json()["outcomes"]] == ["pending"]
    finally:
        server.terminate()
        _, err = server.communicate(timeout=30)
    # uvicorn shuts down cleanly (the callback thread stopped with the lifespan), then ends
    # the process by the signal it caught.
    assert "Application shutdown complete" in err
    assert server.returncode in (0, -signal.SIGTERM), err
    assert key not in err


def test_import_carecast_does_not_import_the_server() -> None:
    code = ("import sys, carecast, carecast.cli; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('fastapi', 'uvicorn', 'starlette') or m.startswith('carecast.server')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"
