"""``carecast reply``: answer what a person wrote, through the reply gate and approval."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated
from urllib.parse import parse_qs, urlsplit

import typer

from carecast.cli import commands
from carecast.cli.commands import JsonOption, _errors, _print_json, app
from carecast.errors import InvalidPost
from carecast.post import Mention

__all__ = ["mention_of"]

#: The largest mention file read (a mention is a few kilobytes).
MAX_MENTION_BYTES = 256 * 1024
#: A comment's address on each platform whose address names it: the id the API takes.
_URLS: dict[str, re.Pattern[str]] = {
    "bluesky": re.compile(r"^https://bsky\.app/profile/(?P<repo>[^/]+)/post/(?P<rkey>[^/?#]+)"),
    "mastodon": re.compile(r"^https://[^/]+/(?:@[^/]+|users/[^/]+/statuses)/(?P<id>\d+)"),
    "x": re.compile(r"^https://(?:www\.)?(?:x|twitter)\.com/[^/]+/status/(?P<id>\d+)"),
    "wordpress": re.compile(r"^https?://[^#]+#comment-(?P<id>\d+)$"),
}


def mention_of(given: str, *, account: str | None, said: str | None,
               channel_of: dict[str, str], now: str) -> Mention:
    """The mention a reply answers: a JSON file of one mention (as ``carecast listen``
    keeps them), or the comment's address with ``--account`` and ``--said`` (its words, which
    the gate compares the reply with)."""
    if not given.startswith(("http://", "https://")):
        from carecast.confine import read_capped

        raw = read_capped(Path(given), cap=MAX_MENTION_BYTES, setting="MAX_MENTION_BYTES",
                          what="mention file")
        try:
            return Mention.model_validate(json.loads(raw))
        except ValueError:
            raise InvalidPost(f"MENTION: {given} is not a mention in JSON (channel, account, "
                              "remote_id, author, text, created_at)",
                              [("mention", "not a mention")]) from None
    if account is None or said is None:
        raise InvalidPost("MENTION: with a comment's address give --account (the account "
                          "that answers) and --said (the comment's words, which the reply "
                          "gate compares the reply with)", [("account", "required")])
    channel = channel_of.get(account)
    if channel is None:
        raise InvalidPost(f"--account: no account {account!r} in the configuration",
                          [("account", "unknown")])
    remote_id = _remote_id(channel, given)
    return Mention(channel=channel, account=account, remote_id=remote_id, author="",
                   text=said, url=given, created_at=now, kind="comment")


def _remote_id(channel: str, url: str) -> str:
    if channel == "youtube":
        found = parse_qs(urlsplit(url).query).get("lc")
        if found:
            return found[0]
    pattern = _URLS.get(channel)
    m = pattern.match(url) if pattern else None
    if m is None:
        raise InvalidPost(f"MENTION: {url!r} is not the address of a {channel} comment that "
                          "names it; give the mention's JSON file instead",
                          [("mention", "unknown address")])
    if channel == "bluesky":
        return f"at://{m['repo']}/app.bsky.feed.post/{m['rkey']}"
    return m["id"]


@app.command()
def reply(
    ctx: typer.Context,
    mention: Annotated[str, typer.Argument(metavar="MENTION-OR-URL", show_default=False,
                                           help="A mention's JSON file, or the comment's "
                                                "address.")],
    template: Annotated[str | None, typer.Option(
        "--template", metavar="NAME", help="A reply template of the brand.")] = None,
    text: Annotated[str | None, typer.Option(
        "--text", metavar="TEXT", help="The reply's words (reviewed like any reply).")] = None,
    account: Annotated[str | None, typer.Option(
        "--account", metavar="ACCOUNT", help="The account that answers (with an address).")
    ] = None,
    said: Annotated[str | None, typer.Option(
        "--said", metavar="TEXT", help="The comment's words (with an address).")] = None,
    author: Annotated[str | None, typer.Option(
        "--as", metavar="NAME", help="Who wrote the reply (may not approve it).")] = None,
    send: Annotated[bool, typer.Option(
        "--send", help="Record and send it (after approval); without it, a preview.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Preview a reply, record it for approval, and send it once approved (--send)."""
    from carecast.replies import Replies

    with _errors(as_json), commands.open_publisher(commands._config(ctx)) as publisher:
        found = mention_of(mention, account=account, said=said,
                           channel_of={n: a.channel for n, a in publisher.config.accounts.items()},
                           now=publisher.clock.now().isoformat())
        replies = Replies(publisher)
        post = replies.compose(found, template=template, text=text, author=author)
        if not send:
            preview = replies.preview(found, post)
            if as_json:
                _print_json(preview.to_dict())
            else:
                _show(post.id, str(preview.state), preview.draft.text if preview.draft and not
                      preview.blocked else None, [f.message for f in preview.findings])
            raise typer.Exit(1 if preview.blocked else 0)
        outcome = replies.send(found, post)
        if as_json:
            _print_json({"post_id": post.id, **outcome.to_dict()})
        else:
            _show(post.id, str(outcome.state), None, [f.message for f in outcome.findings]
                  + ([outcome.error.message] if outcome.error else []))
            if outcome.state == "awaiting_approval":
                typer.echo(f"approve it with: carecast approve {post.id} --as NAME, then run "
                           "this command again with --send")
            elif outcome.receipt is not None:
                typer.echo(f"sent: {outcome.receipt.url or outcome.receipt.remote_id}")
    raise typer.Exit(0 if outcome.state in ("published", "awaiting_approval") else 1)


def _show(post_id: str, state: str, words: str | None, messages: list[str]) -> None:
    typer.echo(f"reply {post_id}: {state}")
    if words is not None:
        typer.echo(f"  {words}")
    for message in messages:
        typer.echo(f"  - {message}")
