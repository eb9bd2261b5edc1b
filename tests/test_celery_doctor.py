"""``carecast doctor``: the store (missing, created; SQLite and PostgreSQL), the broker (a real
Redis up, a port nobody listens on) and an account whose credentials the platform refuses."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest
import responses
from typer.testing import CliRunner

from carecast.cli import app
from carecast.store import Ledger
from redis_server import RedisServer

pytest.importorskip("celery")

MASTODON = "https://health.example.social"
TOKEN = "doctor-token-abcdef0123456789"  # must never be printed
runner = CliRunner()


def _config(tmp_path: Path, store: str) -> Path:
    path = tmp_path / "carecast.toml"
    path.write_text(
        f'[store]\nurl = "{store}"\n\n[brands.clinic]\nname = "Riverside Clinic"\n\n'
        '[accounts.intranet]\nchannel = "webhook"\nbrand = "clinic"\n'
        'url = "https://hooks.example/carecast"\nname = "Staff news"\n\n'
        f'[accounts.social]\nchannel = "mastodon"\nbrand = "clinic"\n'
        f'api_base_url = "{MASTODON}"\naccess_token = "{TOKEN}"\n', encoding="utf-8")
    return path


def _doctor(config: Path, *args: str, code: int) -> list[dict[str, Any]]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mocked:
        mocked.get(f"{MASTODON}/api/v2/instance", json={"version": "4.3.2"})
        mocked.get(f"{MASTODON}/api/v2/instance/", json={"version": "4.3.2"})
        mocked.get(f"{MASTODON}/api/v1/accounts/verify_credentials", status=401,
                   json={"error": "The access token is invalid"})
        result = runner.invoke(app, ["--config", str(config), "doctor", *args, "--json"])
    assert result.exit_code == code, result.output
    assert TOKEN not in result.output
    checks = json.loads(result.output)
    for check in checks:  # the --json shape
        assert set(check) == {"check", "ok", "detail", "metrics"}
        assert check["ok"] in (True, False, None)
        assert isinstance(check["detail"], str)
        assert check["detail"]
        assert isinstance(check["metrics"], dict)
    return checks


def _by_name(checks: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {c["check"]: c for c in checks}


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_doctor_on_sqlite_no_store_yet_then_a_store_and_a_live_broker(
        tmp_path: Path, redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CARECAST_CELERY_BROKER_URL", redis_server.url)
    store = tmp_path / "state" / "carecast.db"
    config = _config(tmp_path, f"sqlite:///{store}")
    # The account check fails (the platform refused the token): exit code 1.
    checks = _doctor(config, code=1)
    assert [c["check"] for c in checks] == ["store", "broker", "account intranet",
                                            "account social"]
    found = _by_name(checks)
    assert found["store"]["ok"] is None
    assert found["store"]["detail"].startswith("no store yet")
    assert not store.exists()  # doctor never creates it
    assert found["broker"]["ok"] is True
    assert found["broker"]["metrics"] == {"tasks_queued": 0}
    assert found["account intranet"]["ok"] is True
    assert "configuration only" in found["account intranet"]["detail"]
    social = found["account social"]
    assert social["ok"] is False
    assert social["detail"].startswith("AuthenticationError")
    assert "renew" in social["detail"]  # says how to fix it

    Ledger(f"sqlite:///{store}").close()
    found = _by_name(_doctor(config, "--no-broker", code=1))
    assert "broker" not in found
    assert found["store"]["ok"] is True
    assert found["store"]["detail"] == "reachable; audit chain sound"
    assert found["store"]["metrics"] == {"targets_due": 0, "audit_problems": 0}


def test_doctor_says_the_broker_is_down_and_a_new_database_has_no_store_yet(
        tmp_path: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    port = _closed_port()
    monkeypatch.setenv("CARECAST_CELERY_BROKER_URL", f"redis://:broker-pass@127.0.0.1:{port}/0")
    config = _config(tmp_path, postgres_url)
    result = runner.invoke(app, ["--config", str(config), "doctor"])
    assert "broker-pass" not in result.output
    found = _by_name(_doctor(config, code=1))
    assert found["store"]["ok"] is None
    assert found["store"]["detail"].startswith("no store yet")
    broker = found["broker"]
    assert broker["ok"] is False
    assert f"not reachable at 127.0.0.1:{port}" in broker["detail"]
    assert "CARECAST_CELERY_BROKER_URL" in broker["detail"]

    Ledger(postgres_url).close()
    found = _by_name(_doctor(config, code=1))
    assert found["store"]["ok"] is True
    assert found["store"]["metrics"]["targets_due"] == 0


def test_doctor_fails_on_a_database_it_cannot_reach(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CARECAST_AUDIT_KEY", "a5" * 32)
    url = f"postgresql+psycopg://carecast:db-pass@127.0.0.1:{_closed_port()}/carecast"
    found = _by_name(_doctor(_config(tmp_path, url), "--no-broker", code=1))
    assert found["store"]["ok"] is False
    assert "db-pass" not in found["store"]["detail"]
