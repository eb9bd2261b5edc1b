"""Link tracking: UTM parameters added to a post's links at render time, and short links.

Each account's draft carries its own ``utm_source`` (the channel), so a report can tell what
each channel brought. Links are tagged before the channel renders the post, so the tagged
link is what each channel's length rule counts (X counts any link as 23 characters, the others
its whole length), what the checks review and what an approval is bound to.

Never tagged: a link of a patient-facing portal (``[metrics] portal_hosts``: a portal URL
is opened by patients, not counted by campaigns), a link to another site than the post's and
the brand's own (or ``[metrics.utm] hosts``), and a link that already has a ``utm_*``
parameter (the author tracked it already: nothing of it is replaced or added to).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from urllib.parse import parse_qsl, quote, urlsplit, urlunsplit

import pluggy

from carecast.config import AccountConfig, Config, UtmConfig
from carecast.errors import ConfigurationError
from carecast.post import Post

__all__ = ["LinkTagger", "Shortener", "hook_shortener", "tag_url"]

_URL = re.compile(r"https?://[^\s<>\"']+", re.IGNORECASE)
_TRAILING = ".,;:!?)]}'\""  # punctuation after a link in a sentence is not part of it
#: Longest link a shortener may give back.
MAX_LINK = 2048

#: The short-link hook as the tagger calls it: ``shorten(url, post, account)``.
Shortener = Callable[[str, Post, AccountConfig], "str | None"]


def tag_url(url: str, params: Mapping[str, str]) -> str:
    """``url`` with the ``utm_*`` ``params`` added after its own query, before its fragment;
    unchanged when it already has any ``utm_*`` parameter or ``params`` is empty."""
    parts = urlsplit(url)
    if not params or any(k.lower().startswith("utm_")
                         for k, _ in parse_qsl(parts.query, keep_blank_values=True)):
        return url
    added = "&".join(f"{k}={quote(v, safe='')}" for k, v in params.items())
    query = f"{parts.query}&{added}" if parts.query else added
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def _host(url: str) -> str:
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


def _within(host: str, hosts: frozenset[str]) -> bool:
    """Whether ``host`` is one of ``hosts`` or a subdomain of one."""
    return any(host == h or host.endswith("." + h) for h in hosts)


class LinkTagger:
    """Tags the links of posts for one configuration; ``shorten`` is the short-link hook."""

    def __init__(self, config: Config, shorten: Shortener | None = None) -> None:
        self.config = config
        self.shorten = shorten
        self._portals = frozenset(h.lower().lstrip(".") for h in config.metrics.portal_hosts)

    def utm_of(self, post: Post, account: AccountConfig) -> dict[str, str]:
        """The UTM parameters of ``post``'s links for ``account`` (empty when switched off)."""
        brand = account.brand or post.brand or ""
        utm: UtmConfig = self.config.metrics.brands.get(brand, self.config.metrics.utm)
        if not utm.enabled:
            return {}
        names = {"brand": brand, "campaign": post.campaign or "", "channel": account.channel,
                 "account": account.name}
        found: dict[str, str] = {}
        for key in ("source", "medium", "campaign", "content"):
            template = getattr(utm, key)
            try:
                value = template.format_map(names).strip()
            except (KeyError, ValueError, IndexError) as exc:
                raise ConfigurationError(
                    f"metrics.utm.{key}: {template!r} names an unknown field ({exc}); use "
                    "{brand}, {campaign}, {channel} or {account}") from None
            if value:
                found[f"utm_{key}"] = value
        return found

    def hosts_of(self, post: Post, account: AccountConfig) -> frozenset[str]:
        """The hosts whose links are tagged for ``post`` on ``account``."""
        brand_name = account.brand or post.brand or ""
        utm = self.config.metrics.brands.get(brand_name, self.config.metrics.utm)
        if utm.hosts:
            return frozenset(h.lower() for h in utm.hosts)
        brand = self.config.brands.get(brand_name)
        return frozenset(h for h in (_host(post.link or ""), _host(brand.website or "")
                                     if brand else "") if h)

    def tag_post(self, post: Post, account: AccountConfig) -> Post:
        """``post`` with its link and the links in its text, thread and this account's
        override tagged (and shortened by the hook); ``post`` itself when nothing changes."""
        params = self.utm_of(post, account)
        if not params and self.shorten is None:
            return post
        hosts = self.hosts_of(post, account)
        done: dict[str, str] = {}

        def one(url: str) -> str:
            if url not in done:
                done[url] = self._link(url, params, hosts, post, account)
            return done[url]

        def text(value: str) -> str:
            return _URL.sub(lambda m: _retag(m.group(0), one), value)

        update: dict[str, object] = {}
        if post.link:
            update["link"] = one(post.link)
        if _URL.search(post.text):
            update["text"] = text(post.text)
        if any(_URL.search(t) for t in post.thread):
            update["thread"] = tuple(text(t) for t in post.thread)
        overrides = dict(post.overrides)
        for name in (account.name, account.channel):
            given = overrides.get(name)
            if given is not None and given.text and _URL.search(given.text):
                overrides[name] = given.model_copy(update={"text": text(given.text)})
                update["overrides"] = overrides
        changed = {k: v for k, v in update.items() if v != getattr(post, k)}
        return post.model_copy(update=changed) if changed else post

    def _link(self, url: str, params: Mapping[str, str], hosts: frozenset[str], post: Post,
              account: AccountConfig) -> str:
        host = _host(url)
        if not host or _within(host, self._portals):
            return url
        tagged = tag_url(url, params) if _within(host, hosts) else url
        if self.shorten is None:
            return tagged
        short = self.shorten(tagged, post, account)
        if short is None:
            return tagged
        if (not isinstance(short, str) or len(short) > MAX_LINK
                or urlsplit(short).scheme not in ("http", "https") or not _host(short)
                or any(c.isspace() for c in short)):
            raise ConfigurationError(
                "the carecast_shorten_link hook gave back something that is not an http(s) "
                f"link of at most {MAX_LINK} characters; fix the short-link plugin")
        return short


def _retag(found: str, one: Callable[[str], str]) -> str:
    """A link found in text, tagged, with the sentence's punctuation after it kept."""
    url = found.rstrip(_TRAILING)
    if url.count("(") > url.count(")") and found[len(url):].startswith(")"):
        url += ")"  # a link with parentheses of its own (Wikipedia's)
    return one(url) + found[len(url):]


def hook_shortener(pm: pluggy.PluginManager) -> Shortener | None:
    """The ``carecast_shorten_link`` implementations of ``pm`` as one shortener (None
    without any): the first, in registration order, that answers a link wins. One that
    raises stops the render with ``ConfigurationError`` naming it (never the link)."""
    impls = pm.hook.carecast_shorten_link.get_hookimpls()
    if not impls:
        return None

    def shorten(url: str, post: Post, account: AccountConfig) -> str | None:
        given = {"url": url, "brand": account.brand or post.brand, "campaign": post.campaign,
                 "channel": account.channel, "account": account.name}
        for impl in impls:
            failed: str | None = None
            try:
                short = impl.function(*[given[arg] for arg in impl.argnames])
            except Exception as exc:  # a plugin's bug: name it, keep its message out
                failed = type(exc).__name__
            if failed is not None:
                raise ConfigurationError(
                    f"the short-link plugin {impl.plugin_name} failed ({failed}); fix it or "
                    "uninstall it")
            if short is not None:
                return short if isinstance(short, str) else repr(type(short))
        return None

    return shorten
