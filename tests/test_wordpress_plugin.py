"""The WordPress plugin in ``examples/wordpress-plugin``: on the real WordPress the suite runs
(``tests/wordpress_server.py``), an editor's publish sends the post to ``carecast serve`` on
127.0.0.1, and carecast's answer comes back as an admin notice on the post."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from carecast.records import State
from channels.test_wordpress import wordpress  # noqa: F401  (the real site, started once)
from test_server import MRN_TEXT, _post, clock, receiver, serve  # noqa: F401  (the service on 127.0.0.1)

PLUGIN = Path(__file__).resolve().parents[1] / "examples" / "wordpress-plugin" / "carecast-publish"
PLUGINS = Path("/var/lib/wordpress/wp-content/plugins")
WP_LOAD = ("<?php $_SERVER['HTTP_HOST'] = '127.0.0.1'; "
           "require '/usr/share/wordpress/wp-load.php'; require_once ABSPATH . "
           "'wp-admin/includes/plugin.php';\n")


def php(site: Any, code: str) -> str:
    script = site.state_dir / "carecast-plugin-test.php"
    script.write_text(WP_LOAD + code)
    try:
        done = subprocess.run(["php", str(script)], capture_output=True, text=True, timeout=120,
                              check=False)
    finally:
        script.unlink()
    assert done.returncode == 0, done.stderr[-2000:] + done.stdout[-2000:]
    return done.stdout


@pytest.fixture
def site(wordpress: Any, serve: Any) -> Iterator[tuple[Any, Any]]:  # noqa: F811
    """The plugin installed and active, pointed at a carecast service with a client key."""
    service = serve()
    shutil.copytree(PLUGIN, PLUGINS / PLUGIN.name, dirs_exist_ok=True)
    settings = {"url": service.base, "brand": "mercy", "accounts": "",
                "api_key": service.keys["cms"], "timeout": 30}
    php(wordpress, f"""
$done = activate_plugin('carecast-publish/carecast-publish.php');
if (is_wp_error($done)) {{ fwrite(STDERR, $done->get_error_message()); exit(1); }}
update_option('carecast_publish', json_decode({json.dumps(json.dumps(settings))}, true));
echo 'ok';""")
    try:
        yield wordpress, service
    finally:
        php(wordpress, "deactivate_plugins('carecast-publish/carecast-publish.php'); "
                       "delete_option('carecast_publish'); echo 'ok';")
        shutil.rmtree(PLUGINS / PLUGIN.name, ignore_errors=True)


def editor(site: Any) -> requests.Session:
    """The administrator, logged in to wp-admin with a browser's cookies."""
    session = requests.Session()
    session.cookies.set("wordpress_test_cookie", "WP Cookie check")
    password = json.loads((site.state_dir / "state.json").read_text())["admin_password"]
    answer = session.post(f"{site.url}/wp-login.php", data={
        "log": site.user, "pwd": password, "wp-submit": "Log In", "testcookie": "1",
        "redirect_to": f"{site.url}/wp-admin/"}, timeout=60)
    assert answer.status_code == 200
    assert any(c.name.startswith("wordpress_logged_in") for c in session.cookies)
    return session


def write(site: Any, **fields: Any) -> dict[str, Any]:
    """A post made through WordPress's REST API, as the block editor does."""
    answer = requests.post(f"{site.url}/wp-json/wp/v2/posts", json=fields,
                           auth=(site.user, site.app_password), timeout=120)
    assert answer.status_code == 201, answer.text[:2000]
    return dict(answer.json())


def edit_screen(session: requests.Session, site: Any, post_id: int) -> str:
    return session.get(f"{site.url}/wp-admin/post.php", params={
        "post": post_id, "action": "edit"}, timeout=60).text


def notice(session: requests.Session, site: Any, post_id: int) -> list[str]:
    """The notice's level and lines on the post's edit screen."""
    page = edit_screen(session, site, post_id)
    found = re.search(r'<div class="notice notice-(\w+) carecast-notice"><ul>(.*?)</ul>', page,
                      re.DOTALL)
    assert found, "no carecast notice on the edit screen"
    return [found.group(1), *re.findall(r"<li>(.*?)</li>", found.group(2))]


@pytest.mark.slow
def test_publishing_in_wordpress_publishes_through_carecast(site: tuple[Any, Any]) -> None:
    wp, service = site
    made = write(wp, title="Flu shots this week", status="publish",
                 content="<p>Flu shots are free this week at our clinic.</p>",
                 excerpt="Flu shots are free this week at our clinic.")
    post_id = f"wp-1-{made['id']}"
    rows = service.publisher.ledger.attempts(post_id)
    assert [f for r in rows for f in r.findings] == []
    assert {(r.account, r.state) for r in rows} == {("feed", State.PUBLISHED),
                                                    ("news", State.PUBLISHED)}
    stored = service.publisher.ledger.get_post(post_id)
    assert stored is not None
    assert (stored.title, stored.link, stored.brand) == ("Flu shots this week", made["link"],
                                                         "mercy")
    assert len(service.publisher.platform.sends) == 2
    submitted = [e for e in service.publisher.ledger.audit_events() if e.kind == "api.submit"]
    assert [e.data["client"] for e in submitted] == ["cms"]
    session = editor(wp)
    assert notice(session, wp, made["id"]) == ["success", "carecast: published: feed, news"]
    # an update of the published post sends nothing again; a draft sends nothing
    requests.post(f"{wp.url}/wp-json/wp/v2/posts/{made['id']}", json={"title": "Flu shots!"},
                  auth=(wp.user, wp.app_password), timeout=120).raise_for_status()
    draft = write(wp, title="Next week", status="draft", content="<p>Soon.</p>")
    assert len(service.publisher.platform.sends) == 2
    assert service.publisher.ledger.get_post(f"wp-1-{draft['id']}") is None


@pytest.mark.slow
def test_what_carecast_blocks_comes_back_as_a_notice_without_the_flagged_text(
        site: tuple[Any, Any]) -> None:
    wp, service = site
    made = write(wp, title="A patient's story", status="publish",
                 content=f"<p>{MRN_TEXT}</p>", excerpt=MRN_TEXT)
    assert made["status"] == "publish"  # WordPress publishes its own page; carecast held social
    rows = service.publisher.ledger.attempts(f"wp-1-{made['id']}")
    assert {r.state for r in rows} == {State.BLOCKED}
    assert service.publisher.platform.sends == []
    session = editor(wp)
    level, summary, *findings = notice(session, wp, made["id"])
    assert (level, summary) == ("error", "carecast: blocked: feed, news")
    # the block editor gets the same notice through its notices store
    assert ('wp.data.dispatch("core/notices").createNotice("error", "carecast: blocked: feed, '
            'news\\n') in edit_screen(session, wp, made["id"])
    assert any(line.startswith("block phi.mrn (text): text at ") for line in findings)
    assert "00482913" not in " ".join(findings)
    raw = php(wp, f"echo get_post_meta({made['id']}, '_carecast_result', true);")
    assert "00482913" not in raw  # what the plugin keeps holds no flagged text either
    assert _post()["brand"] == "mercy"
