"""A blocked post keeps no flagged text in clear in the store, in any place the guard scans."""

from __future__ import annotations

from pathlib import Path

from carecast import Media, Post, State
from carecast.compliance import phi_places
from carecast.config import Config
from carecast.publish import Publisher
from carecast.testing import FakeChannel, FrozenClock

from ._helpers import BRAND

# Each place holds its own PHI; the SSN in the text blocks the post.
PHI = {
    "text": "078-05-1120",
    "title": "Harriet Quimbleton",
    "thread": "Bartholomew Fenwright",
    "alt": "Cordelia Ashbury",
    "override text": "Octavia Pennywhistle",
    "override title": "Leopold Grisewood",
    "hashtag": "Wilhelmina",
    "file name": "evangeline_thornbury",
    "link": "jane.roe@gmail.com",
    "override alt": "Peregrine Whitlock",
}


def blocked_post() -> Post:
    return Post(
        id="withheld-1",
        text=f"Our patient's SSN {PHI['text']} was on the card.",
        title=f"A card from {PHI['title']} after her surgery",
        thread=(f"Get well soon, {PHI['thread']}, from the ICU team.",),
        link="https://riverside-general.example/thanks?email=jane.roe%40gmail.com",
        hashtags=("PrayFor" + PHI["hashtag"] + "Bramblecote",),
        media=(Media(source=f"https://cdn.example/cards/{PHI['file name']}_discharge.jpg",
                     alt_text=f"{PHI['alt']} in her hospital bed"),),
        overrides={"web": {"text": f"{PHI['override text']} went home after chemo.",
                           "title": f"Welcome home, {PHI['override title']}",
                           "media": [{"source": "https://cdn.example/card.jpg",
                                      "alt_text": f"{PHI['override alt']} after surgery"}]}},
    )


def test_a_blocked_post_keeps_no_flagged_text_in_the_store_file(tmp_path: Path) -> None:
    db = tmp_path / "store.db"
    config = Config.from_dict({
        "store": {"url": f"sqlite:///{db}"},
        "brands": {"riverside": BRAND},
        "accounts": {"web": {"channel": "fake", "brand": "riverside"}},
    }, environ={})
    with Publisher(config, entry_point_plugins=False, channel_classes={"fake": FakeChannel},
                   clock=FrozenClock()) as publisher:
        report = publisher.publish(blocked_post())
        assert report["web"].state == State.BLOCKED
    stored = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.is_file())
    assert b"withheld" in stored
    for where, secret in PHI.items():
        for form in (secret, secret.replace("_", " "), secret.replace("@", "%40")):
            assert form.encode() not in stored, where


def test_every_place_is_listed_once_for_both_the_guard_and_the_store() -> None:
    wheres = [p.where for p in phi_places.places(blocked_post())]
    assert wheres == ["text", "title", "thread[0]", "link", "media[0].alt_text",
                      "media[0] file name", "hashtags[0]", "overrides.web.text",
                      "overrides.web.title", "overrides.web.media[0].alt_text",
                      "overrides.web.media[0] file name"]


def test_masking_fails_closed_on_spans_that_do_not_fit() -> None:
    from carecast import Action, Finding, Span

    post = Post(text="short")
    bad = Finding(action=Action.BLOCK, code="phi.name", field="text", message="text at 3-99",
                  spans=(Span(start=3, end=99),))
    assert phi_places.withheld(post, [bad], lambda place: False).text == phi_places.MASK
