"""Review hooks: every implementation runs, findings are stamped, failures fail closed."""

from __future__ import annotations

import inspect

from carecast import Action, Finding, Post, hookimpl
from carecast import hookspecs as specs
from carecast.config import AccountConfig
from carecast.plugins import plugin_manager, run_hook
from carecast.post import Draft, Part

DRAFT = Draft(post_id="p", account="a", channel="fake", parts=(Part(text="x", length=1),))
ACCOUNT = AccountConfig(name="a", channel="fake")


def _finding(code: str, action: Action = Action.WARN) -> Finding:
    return Finding(action=action, code=code, message="somewhere")


class One:
    @hookimpl
    def carecast_review_post(self, post):
        return [_finding("one.a")]


class Two:
    @hookimpl
    def carecast_review_post(self, post, brand):
        yield _finding("two.a")
        yield _finding("two.b", Action.INFO)


def test_every_implementation_runs_and_is_stamped() -> None:
    pm = plugin_manager([One(), Two()], entry_points=False, defaults=False)
    findings = run_hook(pm, "carecast_review_post", post=Post(text="x"), brand=None)
    assert [f.code for f in findings] == ["one.a", "two.a", "two.b"]
    assert [f.check for f in findings] == ["One", "Two", "Two"]
    assert all(f.account is None for f in findings)


def test_draft_findings_carry_the_account() -> None:
    class Check:
        @hookimpl
        def carecast_review_draft(self, draft, account):
            return [_finding(f"acct.{account.name}")]

    pm = plugin_manager([Check()], entry_points=False, defaults=False)
    findings = run_hook(pm, "carecast_review_draft", for_account="a", post=Post(text="x"),
                        draft=DRAFT, account=ACCOUNT, brand=None)
    assert findings[0].code == "acct.a"
    assert findings[0].account == "a"


def test_raising_or_misbehaving_hooks_block() -> None:
    class Raises:
        @hookimpl
        def carecast_review_post(self, post):
            raise ValueError("SSN 123-45-6789 found")

    class WrongType:
        @hookimpl
        def carecast_review_post(self, post):
            return ["not a finding"]

    pm = plugin_manager([Raises(), WrongType(), One()], entry_points=False, defaults=False)
    findings = run_hook(pm, "carecast_review_post", post=Post(text="x"), brand=None)
    blocks = [f for f in findings if f.action is Action.BLOCK]
    assert [f.check for f in blocks] == ["Raises", "WrongType"]
    assert all(f.code == "review.error" for f in blocks)
    assert all("123-45" not in f.message for f in findings)
    assert "one.a" in [f.code for f in findings]  # the others still ran


def test_module_plugins_are_named_by_module() -> None:
    import types

    module = types.ModuleType("hospital_checks.phi")

    @hookimpl
    def carecast_review_post(post):
        return [_finding("m.x")]

    module.carecast_review_post = carecast_review_post  # type: ignore[attr-defined]
    pm = plugin_manager([module], entry_points=False, defaults=False)
    assert run_hook(pm, "carecast_review_post", post=Post(text="x"), brand=None)[0].check \
        == "hospital_checks.phi"


def test_hookspecs_are_documented_with_signatures() -> None:
    hooks = [name for name in dir(specs) if name.startswith("carecast_")]
    assert hooks == ["carecast_review_draft", "carecast_review_post", "carecast_review_reply",
                     "carecast_shorten_link"]
    for name in hooks:
        fn = getattr(specs, name)
        assert inspect.getdoc(fn), f"{name} has no docstring"
        assert fn.carecast_spec["firstresult"] is False  # every implementation runs


def test_the_short_link_hook_takes_the_first_answer() -> None:
    from carecast.config import AccountConfig
    from carecast.links import hook_shortener

    class Quiet:
        @hookimpl
        def carecast_shorten_link(self, url: str) -> str | None:
            return None

    class Short:
        @hookimpl
        def carecast_shorten_link(self, url: str, account: str) -> str | None:
            return f"https://s.example/{account}"

    pm = plugin_manager([Quiet(), Short()], entry_points=False, defaults=False)
    shorten = hook_shortener(pm)
    assert shorten is not None
    # "carecast_shorten_link": the first implementation that answers a link wins
    assert shorten("https://a.example/x", Post(text="x"),
                   AccountConfig(name="acct", channel="x")) == "https://s.example/acct"
    assert hook_shortener(plugin_manager([], entry_points=False, defaults=False)) is None


def test_every_hook_has_a_test_here() -> None:
    source = inspect.getsource(inspect.getmodule(test_every_hook_has_a_test_here))
    for name in (n for n in dir(specs) if n.startswith("carecast_")):
        assert source.count(f'"{name}"') >= 1, f"no test calls {name}"


def test_a_reply_hook_that_raises_blocks_the_reply() -> None:
    from datetime import UTC, datetime

    from carecast.post import Mention

    class Broken:
        @hookimpl
        def carecast_review_reply(self, mention, draft):
            raise RuntimeError("boom")

    mention = Mention(channel="mastodon", account="a", remote_id="1", author="@p",
                      text="hi", created_at=datetime(2026, 1, 1, tzinfo=UTC))
    draft = Draft(post_id="r", account="a", channel="mastodon",
                  parts=(Part(text="Thanks!", length=7),))
    pm = plugin_manager([Broken()], entry_points=False, defaults=False)
    findings = run_hook(pm, "carecast_review_reply", for_account="a", mention=mention,
                        draft=draft, brand=None, settings=None)
    assert [(f.action, f.code) for f in findings] == [("block", "review.error")]
