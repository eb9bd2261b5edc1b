"""Every example runs, in a temporary copy so the repository stays clean.

The README's first command is run as written (its ``carecast ...`` part), so the quick start
cannot rot.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import carecast

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
SCRIPTS = sorted(p.name for p in EXAMPLES.glob("*.py"))
POSTS = sorted(p.name for p in (EXAMPLES / "posts").iterdir()
               if p.suffix in (".yaml", ".yml", ".json", ".toml"))


def carecast_command() -> list[str]:
    """The installed ``carecast`` script next to this Python, else ``python -m carecast``."""
    script = Path(sys.executable).parent / "carecast"
    return [str(script)] if script.exists() else [sys.executable, "-m", "carecast"]


def readme_command() -> str:
    """The ``carecast ...`` part of the README's first quick-start command."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```(?:console|bash|sh)\n(.*?)```", readme, re.DOTALL)
    assert block, "README.md has no quick-start command block"
    first = block.group(1).strip().splitlines()[0].removeprefix("$ ")
    return first.split("&&")[-1].strip()


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    shutil.copytree(EXAMPLES, tmp_path / "examples",
                    ignore=shutil.ignore_patterns("out", "__pycache__"))
    return tmp_path


def run(args: list[str], cwd: Path, code: int = 0, extra_env: dict[str, str] | None = None
        ) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARECAST_")}
    env["COLUMNS"] = "200"
    env.update(extra_env or {})
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == code, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    return done


def test_readme_first_command(workdir: Path) -> None:
    command = readme_command()
    assert command == ("carecast --config examples/carecast.toml publish "
                       "examples/posts/flu-clinic.yaml")
    args = [*carecast_command(), *command.split()[1:]]
    first = run(args, workdir)
    assert re.search(r"newsroom\s+blog\s+published", first.stdout), first.stdout
    assert re.search(r"outbox\s+outbox\s+published", first.stdout), first.stdout
    out = workdir / "examples" / "out"
    assert (out / "carecast.db").is_file()
    assert any((out / "site").rglob("*.html"))
    lines = (out / "outbox.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1
    assert json.loads(lines[0])

    second = run(args, workdir)
    assert second.stdout.count("already published") == 2
    assert len((out / "outbox.jsonl").read_text(encoding="utf-8").splitlines()) == 1
    assert "findings" not in first.stdout  # the example runs clean, with nothing to install

    # The output the README and the docs show is the output a user gets.
    post_id = re.search(r"^post (p-[0-9a-f]{24}) ", first.stdout, re.MULTILINE)
    key = re.search(r"published (cc-[0-9a-f]{32})", first.stdout)
    assert post_id, first.stdout
    assert key, first.stdout
    for page in ("README.md", "docs/quickstart.md", "docs/cli.md"):
        text = (ROOT / page).read_text(encoding="utf-8")
        assert f"post {post_id.group(1)} (examples/posts/flu-clinic.yaml)" in text, page
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"published {key.group(1)}" in readme


@pytest.mark.parametrize("name", POSTS)
def test_every_example_post_is_valid(name: str) -> None:
    post = carecast.load_post(EXAMPLES / "posts" / name)
    assert post.text or post.title
    for item in post.media:
        assert item.alt_text, f"{name}: media without alt text"
        assert item.is_url or Path(item.source).is_file()


def test_the_social_preview_shows_each_platforms_thread(workdir: Path) -> None:
    """examples/social.toml: a preview needs tokens to build the channels, never a network."""
    tokens = {f"CARECAST_ACCOUNTS__{name}__{option}": "preview-only" for name, option in (
        ("X_MAIN", "ACCESS_TOKEN"), ("MASTODON", "ACCESS_TOKEN"), ("BLUESKY", "APP_PASSWORD"),
        ("FACEBOOK", "ACCESS_TOKEN"), ("LINKEDIN", "ACCESS_TOKEN"))}
    done = run([*carecast_command(), "--config", "examples/social.toml", "preview",
                "examples/posts/stroke-signs.yaml", "--json"], workdir, extra_env=tokens)
    targets = {t["account"]: t for t in json.loads(done.stdout)["targets"]}
    assert set(targets) == {"x-main", "mastodon", "bluesky", "facebook", "linkedin"}
    assert {t["state"] for t in targets.values()} == {"pending"}
    for account, parts in (("x-main", 2), ("bluesky", 2), ("mastodon", 1), ("linkedin", 1)):
        sent = targets[account]["parts"]
        assert len(sent) == parts, account
        assert all(p["length"] <= p["limit"] for p in sent)
    x_parts = [p["text"] for p in targets["x-main"]["parts"]]
    assert x_parts[0].endswith(" 1/2")
    assert "https://www.riverside-general.example/stroke" in x_parts[1]  # a link never splits
    assert not (workdir / "examples" / "out" / "social.db").exists()  # a preview stores nothing


def test_every_example_post_previews_and_publishes(workdir: Path) -> None:
    config = "examples/carecast.toml"
    for name in POSTS:
        run([*carecast_command(), "--config", config, "preview", f"examples/posts/{name}"],
            workdir)
    files = [f"examples/posts/{name}" for name in POSTS]
    done = run([*carecast_command(), "--config", config, "publish", *files, "--json"], workdir)
    reports = json.loads(done.stdout)
    assert [Path(r["file"]).name for r in reports] == POSTS
    for report in reports:
        for outcome in report["outcomes"]:
            assert outcome["state"] == "published" or outcome["held_until"], outcome


@pytest.mark.parametrize("script", SCRIPTS)
def test_example_script_runs(workdir: Path, script: str) -> None:
    first = run([sys.executable, f"examples/{script}"], workdir)
    if script == "publish_script.py":
        assert "published" in first.stdout
        second = run([sys.executable, f"examples/{script}"], workdir)
        assert second.stdout.count("already published") == 2
    if script == "custom_check.py":
        assert "riverside.external_link" in first.stdout
        assert "awaiting_approval" in first.stdout
        assert "ready" in first.stdout  # the flu post links to the hospital's own site
    if script == "compliance_plugin.py":
        assert "embargo.study" in first.stdout
        assert "passes review" in first.stdout


def test_examples_are_lint_clean() -> None:
    ruff = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")
    if not Path(ruff).exists():
        pytest.skip("ruff is not installed")
    done = subprocess.run([ruff, "check", str(EXAMPLES)], cwd=ROOT, capture_output=True,
                          text=True, check=False)
    assert done.returncode == 0, done.stdout


def test_readme_python_snippet(workdir: Path) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    snippet = re.search(r"```python\n(.*?)```", readme, re.DOTALL)
    assert snippet
    run([sys.executable, "-c", snippet.group(1)], workdir)


def test_the_example_plan_checks_applies_once_and_shows_on_the_calendar(workdir: Path) -> None:
    """examples/plan.yaml: whatever today's date, a second apply changes nothing."""
    base = [*carecast_command(), "--config", "examples/carecast.toml"]
    checked = json.loads(run([*base, "plan", "check", "examples/plan.yaml", "--json"],
                             workdir).stdout)
    assert not [i for i in checked if i["severity"] == "error"]
    assert "national-wear-red-day" in {i["where"] for i in checked}  # no campaign for it
    dry = json.loads(run([*base, "plan", "apply", "examples/plan.yaml", "--dry-run", "--json"],
                         workdir).stdout)
    assert len(dry) == 4
    assert not (workdir / "examples" / "out" / "carecast.db").exists()
    first = json.loads(run([*base, "plan", "apply", "examples/plan.yaml", "--json"],
                           workdir).stdout)
    assert {s["action"] for s in first} <= {"schedule", "skipped"}  # skipped: its day passed
    again = json.loads(run([*base, "plan", "apply", "examples/plan.yaml", "--json"],
                           workdir).stdout)
    assert [s["post_id"] for s in again] == [s["post_id"] for s in first]
    assert {s["action"] for s in again} <= {"unchanged", "skipped"}
    out = workdir / "examples" / "out"
    run([*base, "calendar", "--brand", "riverside", "--from", "2027-02-01", "--to",
         "2027-05-01", "--plan", "examples/plan.yaml", "--html", str(out / "calendar.html"),
         "--ics", str(out / "calendar.ics")], workdir)
    page = (out / "calendar.html").read_text(encoding="utf-8")
    assert "Wear red on Friday" in page
    assert "American Heart Month" in page
    assert (out / "calendar.ics").read_bytes().startswith(b"BEGIN:VCALENDAR")
