"""Replies end to end at the HTTP layer: templates, the gate, approval, exactly once, the
audit; and the request each channel's ``reply`` makes, checked against its platform's docs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
import responses
import yaml

from carecast import ApprovalRefused, Config, InvalidPost
from carecast.channels import get_channel_class
from carecast.compliance.reply_guard import stops
from carecast.config import AccountConfig
from carecast.post import Mention, Post
from carecast.publish import Publisher
from carecast.publish.retry import RetryPolicy
from carecast.records import State
from carecast.replies import Replies, reply_id
from carecast.testing import FrozenClock
from channels.test_mastodon import BASE, INSTANCE, STATUSES, TOKEN, instance, status
from compliance.test_reply_guard import ALLOW

NOW = datetime(2026, 11, 21, 9, 30, tzinfo=UTC)
TEMPLATE = "Thank you for reaching out; please contact our patient relations team at {contact}."
SAID = "Sat in your ER for 7 hours on 11/20 with my husband Tom. Awful."


def mention(**kw: Any) -> Mention:
    values: dict[str, Any] = {
        "channel": "mastodon", "account": "masto", "remote_id": "110000000000000042",
        "author": "pat@other.example", "text": SAID, "kind": "mention",
        "url": "https://other.example/@pat/110000000000000042", "created_at": NOW}
    return Mention(**{**values, **kw})


@pytest.fixture
def publisher(tmp_path: Path) -> Iterator[Publisher]:
    config = Config.from_dict({
        "store": {"url": f"sqlite:///{tmp_path / 'carecast.db'}"},
        "brands": {"riverside": {"name": "Riverside General", "phone": ["555-0142"],
                                 "replies": {"contact": "555-0142",
                                             "templates": {"contact_us": TEMPLATE}}}},
        "accounts": {"masto": {"channel": "mastodon", "brand": "riverside",
                               "api_base_url": BASE, "access_token": TOKEN}},
    }, root=tmp_path, environ={})
    clock = FrozenClock(NOW)
    with Publisher(config, clock=clock, entry_point_plugins=False,
                   retry=RetryPolicy(clock=clock, max_attempts=3)) as made:
        yield made


@pytest.fixture
def mastodon() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.get(INSTANCE, json=instance())
        yield mock


def sent(mock: responses.RequestsMock) -> list[dict[str, list[str]]]:
    return [parse_qs(str(c.request.body)) for c in mock.calls
            if c.request.method == "POST" and c.request.url == STATUSES]


def test_a_template_reply_is_approved_then_sent_once_in_the_thread(
        publisher: Publisher, mastodon: responses.RequestsMock) -> None:
    mastodon.post(STATUSES, json=status("110000000000000099", "<p>Thank you</p>",
                                        reply_to="110000000000000042"))
    replies = Replies(publisher)
    post = replies.compose(mention(), template="contact_us", author="Alex Kim")
    assert post.text == TEMPLATE.replace("{contact}", "555-0142")
    assert post.id == reply_id(mention(), post.text)
    first = replies.send(mention(), post)
    assert first.state == State.AWAITING_APPROVAL
    assert sent(mastodon) == []
    with pytest.raises(ApprovalRefused, match="someone else must approve"):
        publisher.approve(post.id, "Alex Kim")  # never by its author
    publisher.approve(post.id, "Dana Reyes")
    outcome = replies.send(mention(), post)
    assert outcome.state == State.PUBLISHED
    [form] = sent(mastodon)
    assert form["in_reply_to_id"] == ["110000000000000042"]
    assert form["status"] == [post.text]
    [call] = [c for c in mastodon.calls if c.request.method == "POST"]
    assert call.request.headers["Idempotency-Key"]  # the ledger's key, kept for a resend
    assert replies.send(mention(), post).already_published
    assert len(sent(mastodon)) == 1
    events = publisher.ledger.audit_events(post.id)
    assert [e.kind for e in events if e.kind in ("reply", "approval", "published")] == [
        "reply", "approval", "reply", "published"]
    assert all(SAID not in json.dumps(e.data) and "Tom" not in json.dumps(e.data)
               for e in publisher.ledger.audit_events())


def test_an_unsafe_reply_is_stopped_and_its_words_are_not_kept(
        publisher: Publisher, mastodon: responses.RequestsMock) -> None:
    replies = Replies(publisher)
    post = replies.compose(mention(), text="Tom, we are sorry you waited 7 hours in our ER "
                                           "on 11/20.")
    outcome = replies.send(mention(), post)
    assert outcome.state == State.BLOCKED
    assert {"reply.apology", "reply.echo", "reply.name_care"} <= {f.code for f in
                                                                  outcome.findings}
    assert sent(mastodon) == []
    stored = publisher.ledger.get_post(post.id)
    assert stored is not None
    assert stored.text == "[withheld]"
    assert publisher.ledger.attempt(post.id, "masto").draft is None  # type: ignore[union-attr]
    preview = replies.preview(mention(), post)
    assert preview.blocked
    assert preview.to_dict()["text"] is None


def test_approval_can_be_switched_off_per_brand_and_a_rate_limit_is_waited_out(
        tmp_path: Path, mastodon: responses.RequestsMock) -> None:
    config = Config.from_dict({
        "store": {"url": f"sqlite:///{tmp_path / 'c.db'}"},
        "brands": {"riverside": {"name": "Riverside General", "phone": ["555-0142"],
                                 "replies": {"approval": False, "contact": "555-0142",
                                             "templates": {"contact_us": TEMPLATE}}}},
        "accounts": {"masto": {"channel": "mastodon", "brand": "riverside",
                               "api_base_url": BASE, "access_token": TOKEN}},
    }, root=tmp_path, environ={})
    clock = FrozenClock(NOW)
    # the first try is rate limited: waited out on the clock, sent again with the same key
    mastodon.post(STATUSES, status=429, json={"error": "Too many requests"},
                  headers={"Retry-After": "30"})
    mastodon.post(STATUSES, json=status("110000000000000099", "<p>Thank you</p>",
                                        reply_to="110000000000000042"))
    with Publisher(config, clock=clock, entry_point_plugins=False,
                   retry=RetryPolicy(clock=clock, max_attempts=3)) as publisher:
        replies = Replies(publisher)
        post = replies.compose(mention(), template="contact_us")
        outcome = replies.send(mention(), post)
        assert outcome.state == State.PUBLISHED, [(f.code, f.message) for f in outcome.findings]
        keys = {c.request.headers["Idempotency-Key"] for c in mastodon.calls
                if c.request.method == "POST"}
        assert len(keys) == 1
        assert len(sent(mastodon)) == 2
        assert max(clock.sleeps, default=0) >= 30


@pytest.mark.parametrize(("given", "field"), [
    ({"template": "nope"}, "template"),
    ({"template": "contact_us", "text": "Hi"}, "template"),
    ({}, "template"),
    ({"text": "   "}, "text"),
])
def test_bad_input_names_the_field(publisher: Publisher, given: dict[str, Any],
                                   field: str) -> None:
    with pytest.raises(InvalidPost) as info:
        Replies(publisher).compose(mention(), **given)
    assert info.value.problems[0][0] == field


def test_a_mention_of_another_account_or_channel_is_refused(publisher: Publisher) -> None:
    with pytest.raises(InvalidPost, match="no account"):
        Replies(publisher).compose(mention(account="nobody"), text="Thanks!")
    with pytest.raises(InvalidPost, match="is a mastodon account"):
        Replies(publisher).compose(mention(channel="x"), text="Thanks!")


# -- each channel's request, as its platform's docs give it ----------------------------------

def build(name: str, root: Path, session: Any = None, **options: Any) -> Any:
    account = AccountConfig(name="acct", channel=name, options=options)
    return get_channel_class(name).from_config(account, root=root, session=session,
                                               clock=FrozenClock(NOW))


def draft_of(channel: Any, text: str = "Thank you for reaching out.") -> Any:
    return channel.render_reply(Post(id="r-1", text=text))


def test_facebook_replies_to_the_comment(tmp_path: Path) -> None:
    fb = build("facebook", tmp_path, page_id="1122334455", access_token="fb-token-contract")
    with responses.RequestsMock() as mock:
        mock.post("https://graph.facebook.com/v27.0/1122334455_99/comments",
                  json={"id": "1122334455_99_77"})
        receipt = fb.reply(mention(channel="facebook", remote_id="1122334455_99"),
                           draft_of(fb))
        assert parse_qs(str(mock.calls[0].request.body))["message"] == [
            "Thank you for reaching out."]
    assert (receipt.remote_id, receipt.extra["parent"]) == ("1122334455_99_77", "1122334455_99")


def test_instagram_replies_to_a_comment_only(tmp_path: Path) -> None:
    ig = build("instagram", tmp_path, ig_user_id="17841400008460056",
               access_token="ig-token-contract", media_host_path="m",
               media_host_url="https://media.example.org/")
    with responses.RequestsMock() as mock:
        mock.post("https://graph.facebook.com/v27.0/17870913679156914/replies",
                  json={"id": "17873440459141021"})
        receipt = ig.reply(mention(channel="instagram", remote_id="17870913679156914",
                                   kind="comment"), draft_of(ig))
        assert parse_qs(str(mock.calls[0].request.body))["message"] == [
            "Thank you for reaching out."]
    assert receipt.remote_id == "17873440459141021"
    with pytest.raises(Exception, match="comments only"):
        ig.reply(mention(channel="instagram", kind="mention"), draft_of(ig))


def test_wordpress_replies_with_parent_on_the_comments_post(tmp_path: Path) -> None:
    wp = build("wordpress", tmp_path, site_url="https://blog.example.org", user="editor",
               application_password="abcd efgh ijkl mnop")
    with responses.RequestsMock() as mock:
        mock.get("https://blog.example.org/wp-json/wp/v2/comments/42",
                 json={"id": 42, "post": 7})
        mock.post("https://blog.example.org/wp-json/wp/v2/comments",
                  json={"id": 43, "link": "https://blog.example.org/?p=7#comment-43",
                        "date_gmt": "2026-11-21T09:31:00"})
        receipt = wp.reply(mention(channel="wordpress", remote_id="42"), draft_of(wp))
        body = json.loads(mock.calls[1].request.body)
    assert body == {"post": 7, "parent": 42, "content": "Thank you for reaching out."}
    assert receipt.remote_id == "43"
    with pytest.raises(Exception, match="remote_id"):
        wp.reply(mention(channel="wordpress", remote_id="abc"), draft_of(wp))


def test_linkedin_replies_under_the_comment_as_the_page(tmp_path: Path) -> None:
    li = build("linkedin", tmp_path, organization_id=5515715,
               access_token="li-token-contract")
    comment = "urn:li:comment:(urn:li:activity:7100000000000000001,7100000000000000777)"
    with responses.RequestsMock() as mock:
        mock.post(responses.matchers.re.compile(r"https://api\.linkedin\.com/rest/"
                                                r"socialActions/.*/comments"),
                  json={"commentUrn": "urn:li:comment:(urn:li:activity:7100000000000000001,"
                                      "7100000000000000888)"}, status=201)
        receipt = li.reply(mention(channel="linkedin", remote_id=comment), draft_of(li))
        body = json.loads(mock.calls[0].request.body)
    assert body == {"actor": "urn:li:organization:5515715",
                    "object": "urn:li:activity:7100000000000000001",
                    "message": {"text": "Thank you for reaching out."},
                    "parentComment": comment}
    assert receipt.remote_id.endswith("7100000000000000888)")


def test_x_replies_with_in_reply_to_tweet_id(tmp_path: Path) -> None:
    x = build("x", tmp_path, consumer_key="k", consumer_secret="ks", access_token="t",
              access_token_secret="ts")
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.post("https://api.twitter.com/2/tweets",
                  json={"data": {"id": "1780000000000000099", "text": "Thank you"}},
                  status=201)
        receipt = x.reply(mention(channel="x", remote_id="1780000000000000001"), draft_of(x))
        [call] = [c for c in mock.calls if c.request.url.endswith("/2/tweets")]
        body = json.loads(call.request.body)
    assert body["reply"] == {"in_reply_to_tweet_id": "1780000000000000001"}
    assert receipt.remote_id == "1780000000000000099"


def test_a_reply_over_the_comment_limit_names_the_field(tmp_path: Path) -> None:
    li = build("linkedin", tmp_path, organization_id=5515715,
               access_token="li-token-contract")
    with pytest.raises(Exception, match="text: a linkedin reply takes 1 to 1250"):
        draft_of(li, "x" * 1251)


# -- the command line -------------------------------------------------------------------------

CONFIG = f'''
[store]
url = "sqlite:///carecast.db"

[brands.riverside]
name = "Riverside General"
phone = ["555-0142"]

[brands.riverside.replies]
contact = "555-0142"
templates.contact_us = "{TEMPLATE}"

[accounts.masto]
channel = "mastodon"
brand = "riverside"
api_base_url = "{BASE}"
access_token = "{TOKEN}"
'''


def test_the_reply_command_previews_records_and_sends(
        tmp_path: Path, mastodon: responses.RequestsMock, monkeypatch: pytest.MonkeyPatch
        ) -> None:
    from typer.testing import CliRunner

    from carecast.cli import commands, load

    monkeypatch.chdir(tmp_path)
    clock = FrozenClock(NOW)  # the command's publisher runs on the test's clock
    monkeypatch.setattr(commands, "open_publisher", lambda config: Publisher(
        config, clock=clock, entry_point_plugins=False,
        retry=RetryPolicy(clock=clock, max_attempts=3)))
    (tmp_path / "carecast.toml").write_text(CONFIG, encoding="utf-8")
    (tmp_path / "mention.json").write_text(mention().model_dump_json(), encoding="utf-8")
    mastodon.post(STATUSES, json=status("110000000000000099", "<p>Thank you</p>",
                                        reply_to="110000000000000042"))
    app = load()
    runner = CliRunner()

    def run(*args: str) -> Any:
        return runner.invoke(app, ["--config", str(tmp_path / "carecast.toml"), *args],
                             catch_exceptions=False)

    unsafe = run("reply", "mention.json", "--text", "So sorry about your wait, Tom.")
    assert unsafe.exit_code == 1
    assert "blocked" in unsafe.output
    assert "Tom" not in unsafe.output.split("\n", 2)[-1]  # findings say where, not what
    preview = run("reply", "mention.json", "--template", "contact_us", "--json")
    assert preview.exit_code == 0, preview.output
    data = json.loads(preview.output)
    assert (data["state"], data["text"]) == ("awaiting_approval", TEMPLATE.replace(
        "{contact}", "555-0142"))
    recorded = run("reply", "mention.json", "--template", "contact_us", "--send")
    assert "carecast approve" in recorded.output
    assert sent(mastodon) == []
    assert run("approve", data["post_id"], "--as", "Dana Reyes").exit_code == 0
    done = run("reply", "mention.json", "--template", "contact_us", "--send")
    assert done.exit_code == 0, done.output
    assert "sent:" in done.output
    assert len(sent(mastodon)) == 1
    by_url = run("reply", "https://health.example.social/@pat/110000000000000042",
                 "--account", "masto", "--template", "contact_us", "--json")
    assert by_url.exit_code == 2
    assert "--said" in by_url.output


def test_youtube_replies_with_the_threads_top_level_comment_as_parent(tmp_path: Path) -> None:
    from channels.test_youtube import Mock, make, ok

    answer = {"kind": "youtube#comment", "id": "UgzReply.8xYz",
              "snippet": {"parentId": "UgzTop", "textOriginal": "Thank you for reaching out.",
                          "publishedAt": "2026-03-02T20:01:00Z"}}
    http = Mock([ok(answer)])
    tube = make(tmp_path, http)
    receipt = tube.reply(mention(channel="youtube", remote_id="UgzTop", kind="comment",
                                 url="https://www.youtube.com/watch?v=D-lhorsDlUQ&lc=UgzTop"),
                         draft_of(tube))
    uri, method, body, _ = http.request_sequence[0]
    assert (method, uri.split("?")[0]) == ("POST", "https://youtube.googleapis.com/youtube/v3/"
                                                   "comments")
    assert "part=snippet" in uri
    assert json.loads(body) == {"snippet": {"parentId": "UgzTop",
                                            "textOriginal": "Thank you for reaching out."}}
    assert (receipt.remote_id, receipt.extra["parent"]) == ("UgzReply.8xYz", "UgzTop")


# -- the gate on the second held-out set and the probe (written before / after the rules of
# gate16, scored only: their floors are the figures measured, never rules tuned to them)
def _scored(name: str) -> dict[str, int]:
    cases = yaml.safe_load((Path(__file__).parent / "data" / name).read_text(encoding="utf-8"))
    out = {"stop_stopped": 0, "stop_passed": 0, "pass_passed": 0, "pass_stopped": 0}
    for case in cases:
        stopped = bool(stops(case["reply"], case["mention"], allow=ALLOW))
        out[f"{case['label']}_{'stopped' if stopped else 'passed'}"] += 1
    return out


@pytest.mark.parametrize(("name", "size", "stopped", "passed"), [
    ("replies_heldout2.yaml", 60, 32, 32), ("replies_probe.yaml", 30, 15, 15)])
def test_the_later_sets_keep_their_figures(name: str, size: int, stopped: int, passed: int,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    got = _scored(name)
    assert sum(got.values()) >= size
    assert got["stop_stopped"] + got["stop_passed"] >= size // 2 - 2  # about half unsafe
    with capsys.disabled():
        print(f"\nreply gate, {name}: {got['stop_stopped']} of "
              f"{got['stop_stopped'] + got['stop_passed']} unsafe stopped, "
              f"{got['pass_passed']} of {got['pass_passed'] + got['pass_stopped']} safe passed")
    assert got["stop_stopped"] >= stopped
    assert got["pass_passed"] >= passed


@pytest.mark.parametrize(("reply", "said", "rule"), [
    ("Our nurses enjoyed looking after your dad.", "Thanks for helping Dad.", "relative_care"),
    ("It was a joy having you with us on the unit.", "", "we_enjoyed"),
    ("Relieved to hear the wrist operation went smoothly!", "", "outcome"),
    ("So great that you're feeling stronger since the fall.", "", "you_state"),
    ("Welcome back, we saved your favourite chair!", "", "encounter"),
    ("We're sorry our front desk was short with you on Monday.", "", "apology_encounter"),
    ("We reversed the late fee on your account.", "", "case_handled"),
    ("With sympathy from all of us in the ICU.", "", "condolence_care"),
    ("Give your grandma a hug from 3 North!", "", "unit_with_you"),
    ("We'll pass your note to Nurse Okafor.", "The nurse was kind.", "clinician"),
    ("Thank you. Your asthma action plan is a great idea.", "My asthma is bad.", "echo_care"),
    ("So glad to hear it! Our asthma classes start in May.", "My asthma is bad.", "echo_care"),
])
def test_each_family_of_phrasing_stops_a_paraphrase(reply: str, said: str, rule: str) -> None:
    assert rule in {s.rule for s in stops(reply, said)}


@pytest.mark.parametrize(("reply", "said"), [
    ("Our asthma classes are free and open to everyone; sign up online.", "My asthma is bad."),
    ("Free flu shots every Saturday in October at both campuses.", "Do you give flu shots?"),
    ("We'd love to see you at the health fair on Saturday!", "Any events coming up?"),
    ("Dr. Kim will present at our sleep talk; you can register online.", "Sleep tips?"),
])
def test_a_service_offered_to_everyone_is_not_the_readers_care(reply: str, said: str) -> None:
    assert {s.rule for s in stops(reply, said)} <= {"name_care"}
