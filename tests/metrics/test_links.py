"""UTM tagging at render time, the portal rule, length counting and the short-link hook."""

from __future__ import annotations

from pathlib import Path

import pytest

from carecast import hookimpl
from carecast.config import Config
from carecast.links import LinkTagger, tag_url
from carecast.post import Post
from carecast.publish import Publisher
from carecast.testing import FrozenClock

from ._helpers import START

LINK = "https://riverside-general.org/flu"


def test_tag_url_adds_after_the_query_and_before_the_fragment() -> None:
    params = {"utm_source": "x", "utm_medium": "social", "utm_campaign": "flu shots"}
    assert tag_url("https://a.example/p?id=3#top", params) == (
        "https://a.example/p?id=3&utm_source=x&utm_medium=social&utm_campaign=flu%20shots#top")
    assert tag_url("https://a.example/p", {}) == "https://a.example/p"
    # a link the author tracked already is left as it is: nothing replaced, nothing added
    mine = "https://a.example/p?UTM_Source=newsletter&x=1"
    assert tag_url(mine, params) == mine


def config(tmp_path: Path, **utm: object) -> Config:
    return Config.from_dict({
        "store": {"url": f"sqlite:///{tmp_path}/c.db"},
        "brands": {"riverside": {"name": "Riverside General",
                                 "website": "https://www.riverside-general.org"}},
        "accounts": {
            "rx": {"channel": "x", "brand": "riverside", "consumer_key": "ck",
                   "consumer_secret": "cs", "access_token": "1-at", "access_token_secret": "as"},
            "rli": {"channel": "linkedin", "brand": "riverside", "access_token": "AQV",
                    "organization_id": 2414183}},
        "metrics": {"portal_hosts": ["mychart.riverside-general.org"],
                    "utm": {"enabled": True, **utm}},
    }, root=tmp_path, environ={})


def drafts(publisher: Publisher, post: Post) -> dict[str, str]:
    preview = publisher.preview(post)
    assert all(t.error is None for t in preview.targets), [t.error for t in preview.targets]
    return {t.account: " ".join(p.text for p in t.draft.parts) for t in preview.targets
            if t.draft}


@pytest.fixture
def publisher(tmp_path: Path):
    with Publisher(config(tmp_path), entry_point_plugins=False,
                   clock=FrozenClock(START)) as publisher:
        yield publisher


def test_each_channel_gets_its_own_source_and_portals_stay_untagged(publisher) -> None:
    post = Post(id="flu-1", campaign="flu-2027", link=LINK, text=(
        "Flu shots this week. Book in MyChart: https://mychart.riverside-general.org/book, "
        "more at https://www.riverside-general.org/clinics. CDC: https://www.cdc.gov/flu."))
    texts = drafts(publisher, post)
    for account, channel in (("rx", "x"), ("rli", "linkedin")):
        tagged = f"{LINK}?utm_source={channel}&utm_medium=social&utm_campaign=flu-2027"
        assert tagged in texts[account]
        assert ("https://www.riverside-general.org/clinics?utm_source="
                f"{channel}&utm_medium=social&utm_campaign=flu-2027.") in texts[account]
        assert "https://mychart.riverside-general.org/book," in texts[account]  # a portal link
        assert "https://www.cdc.gov/flu." in texts[account]  # another site's link


def test_the_tagged_link_is_what_the_length_rules_count(publisher) -> None:
    post = Post(id="flu-2", campaign="a-long-campaign-name-for-the-winter-season", link=LINK,
                text="Flu shots this week.")
    preview = publisher.preview(post)
    by = {t.account: t for t in preview.targets}
    x_part, li_part = by["rx"].draft.parts[0], by["rli"].draft.parts[0]
    assert "utm_campaign=a-long-campaign" in x_part.text
    # X counts any link as 23; LinkedIn counts the tagged link's every character
    assert x_part.length == len("Flu shots this week.\n\n") + 23
    assert li_part.length == len(li_part.text)
    assert li_part.length > len(f"Flu shots this week.\n\n{LINK}") + 40


def test_the_draft_hash_binds_the_approval_to_the_tagged_link(tmp_path) -> None:
    post = Post(id="flu-3", campaign="flu", link=LINK, text="Flu shots this week.")
    with Publisher(config(tmp_path), entry_point_plugins=False,
                   clock=FrozenClock(START)) as one, \
            Publisher(config(tmp_path, medium="email"), entry_point_plugins=False,
                      clock=FrozenClock(START)) as other:
        first = {t.account: t.draft for t in one.preview(post).targets}
        second = {t.account: t.draft for t in other.preview(post).targets}
    assert first["rx"].text != second["rx"].text  # an approval is bound to this hash
    assert first["rx"].content_hash() != second["rx"].content_hash()


def test_tagging_is_off_by_default_and_per_brand(tmp_path) -> None:
    plain = Config.from_dict({"brands": {"r": {"name": "R"}}}, root=tmp_path, environ={})
    tagger = LinkTagger(plain)
    from carecast.config import AccountConfig

    acct = AccountConfig(name="a", channel="x", brand="r")
    post = Post(id="p", text="see", link=LINK)
    assert tagger.tag_post(post, acct) is post
    brand_cfg = Config.from_dict({"brands": {"r": {"name": "R"}}, "metrics": {
        "brands": {"r": {"enabled": True, "source": "{account}", "medium": "organic",
                         "campaign": "{brand}-{campaign}", "content": "{channel}"}}}},
        root=tmp_path, environ={})
    tagged = LinkTagger(brand_cfg).tag_post(post.model_copy(update={"campaign": "flu"}), acct)
    assert tagged.link == (f"{LINK}?utm_source=a&utm_medium=organic&utm_campaign=r-flu"
                           "&utm_content=x")


def test_a_bad_template_names_the_field(tmp_path) -> None:
    from carecast.config import AccountConfig
    from carecast.errors import ConfigurationError

    cfg = Config.from_dict({"metrics": {"utm": {"enabled": True, "source": "{nope}"}}},
                           root=tmp_path, environ={})
    with pytest.raises(ConfigurationError, match=r"metrics.utm.source: .*\{brand\}"):
        LinkTagger(cfg).tag_post(Post(id="p", text="x", link=LINK),
                                 AccountConfig(name="a", channel="x"))


class Shortener:
    def __init__(self) -> None:
        self.asked: list[tuple[str, str, str | None]] = []

    @hookimpl
    def carecast_shorten_link(self, url: str, channel: str, campaign: str | None) -> str | None:
        self.asked.append((url, channel, campaign))
        return f"https://rgh.link/{len(self.asked)}" if "riverside-general.org" in url else None


def test_the_short_link_hook_shortens_tagged_links_but_not_portals(tmp_path) -> None:
    short = Shortener()
    with Publisher(config(tmp_path), plugins=[short], entry_point_plugins=False,
                   clock=FrozenClock(START)) as publisher:
        texts = drafts(publisher, Post(id="flu-4", campaign="flu", link=LINK, text=(
            "Book: https://mychart.riverside-general.org/book")))
    assert "https://mychart.riverside-general.org/book" in texts["rx"]
    assert any(t.startswith("https://rgh.link/") for t in texts["rx"].split())
    assert all("utm_source=" in url for url, _c, _k in short.asked)
    assert {(c, k) for _u, c, k in short.asked} == {("x", "flu"), ("linkedin", "flu")}
    assert not any("mychart" in url for url, _c, _k in short.asked)


def test_a_failing_or_bad_short_link_plugin_fails_the_target_naming_it(tmp_path) -> None:
    class Broken:
        @hookimpl
        def carecast_shorten_link(self, url: str) -> str | None:
            raise RuntimeError(f"cannot shorten {url}")

    class Bad:
        @hookimpl
        def carecast_shorten_link(self, url: str) -> str | None:
            return "javascript:alert(1)"

    for plugin, words in ((Broken(), "failed (RuntimeError)"), (Bad(), "not an http(s) link")):
        with Publisher(config(tmp_path), plugins=[plugin], entry_point_plugins=False,
                       clock=FrozenClock(START)) as publisher:
            preview = publisher.preview(Post(id="flu-5", link=LINK, text="Flu shots."))
        for target in preview.targets:
            assert target.error is not None
            assert words in target.error.message
            assert LINK not in target.error.message
