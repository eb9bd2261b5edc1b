"""A media item's bytes, for channels that upload them: a local file, or one given by URL.

Nothing has reached the platform when these fail, so every failure is "not sent": a file that
cannot be read, a download the media host refuses, or one over the platform's size limit is
``PlatformRejected`` (fix the post); a download that cannot connect or breaks off is a
retryable ``ChannelConnectionError``. Messages name the field and the file, never its URL
(a signed media URL carries a token).

Every read goes through ``carecast.confine``: a local file must lie inside the media roots and
be a regular file under the ``[media]`` cap; a download connects only to public addresses
(checked on every connection, redirects included) unless its host is in ``allow_hosts``.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from carecast.channels.http import new_session, send
from carecast.clock import SYSTEM_CLOCK
from carecast.confine import MediaRules, guard_session, open_regular
from carecast.errors import ChannelConnectionError, ChannelError, InputRefused, PlatformRejected
from carecast.post import Media

if TYPE_CHECKING:
    from carecast.channels.base import Channel

__all__ = ["avatar_bytes", "download", "media_bytes", "media_file"]

_CHUNK = 1024 * 1024


def download(item: Media, *, channel: str, account: str, field: str = "media",
             cap: int | None = None, timeout: float = 300.0,
             rules: MediaRules | None = None) -> Path:
    """Fetch a media item given by URL into a temporary file; the caller deletes it."""
    where: dict[str, Any] = {"channel": channel, "account": account}
    rules = rules or MediaRules(roots=())
    kind_cap = rules.cap(item.kind.value if item.kind else None)
    cap = kind_cap if cap is None else min(cap, kind_cap)
    session = guard_session(new_session(), rules.allow_hosts, env_proxy=rules.env_proxy)
    fd, name = tempfile.mkstemp(prefix="carecast-", suffix=Path(item.filename).suffix)
    try:
        failure: ChannelError | None = None
        try:
            # A failed download is "not sent", never retried after a wait: no clock needed.
            response = send(session, "GET", item.source, timeout=(10.0, timeout), stream=True,
                            allow_redirects=True, now=SYSTEM_CLOCK.time, **where)
        except ChannelError as exc:
            cls = ChannelConnectionError if exc.retryable or exc.status is None \
                else PlatformRejected
            failure = cls(f"{field}: could not download {item.filename!r} from its URL; "
                          "nothing was sent", status=exc.status, **where)
        except InputRefused as exc:
            failure = PlatformRejected(f"{field}: {exc}; nothing was sent", **where)
        if failure is not None:
            raise failure
        size = 0
        with response, os.fdopen(fd, "wb") as out:
            try:
                for chunk in response.iter_content(_CHUNK):
                    size += len(chunk)
                    if cap is not None and size > cap:
                        raise PlatformRejected(
                            f"{field}: the file at its URL is over the {channel} limit of {cap} "
                            "bytes; nothing was sent", **where)
                    out.write(chunk)
            except OSError as exc:  # a broken download (requests' errors are OSErrors too)
                raise ChannelConnectionError(
                    f"{field}: the download of {item.filename!r} broke off "
                    f"({type(exc).__name__}); nothing was sent", **where) from None
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    finally:
        session.close()
    return Path(name)


@contextmanager
def media_file(item: Media, *, root: Path, channel: str, account: str, field: str = "media",
               cap: int | None = None, timeout: float = 300.0,
               rules: MediaRules | None = None) -> Iterator[tuple[BinaryIO, int]]:
    """The item's bytes as an open binary file, and their size.

    A local file is confined to ``rules``' roots (default: ``root``) and opened where it is; a
    URL is downloaded first into a temporary file that is deleted afterwards.
    """
    rules = rules or MediaRules(roots=(root,))
    where: dict[str, Any] = {"channel": channel, "account": account}
    temporary = download(item, channel=channel, account=account, field=field, cap=cap,
                         timeout=timeout, rules=rules) if item.is_url else None
    try:
        failure: ChannelError | None = None
        try:
            kind = item.kind.value if item.kind else "image"
            if temporary is not None:
                handle, size = open_regular(temporary, cap=rules.cap(kind), what=f"{field}: "
                                            "media", setting=f"[media] max_bytes.{kind}")
            else:  # checked and opened at once: what was checked is what is read
                handle, size = rules.open(item.path(root), kind=kind, field=field)
        except InputRefused as exc:
            failure = PlatformRejected(f"{exc}; nothing was sent", **where)
        except OSError as exc:
            failure = PlatformRejected(
                f"{field}: cannot read {item.filename!r} ({type(exc).__name__}); check the "
                "path (relative paths start at the post file's folder); nothing was sent",
                **where)
        if failure is not None:
            raise failure
        with handle:
            if cap is not None and size > cap:
                raise PlatformRejected(
                    f"{field}: {item.filename!r} is {size} bytes, over the {channel} limit of "
                    f"{cap}; nothing was sent", **where)
            yield handle, size
    finally:
        if temporary is not None:
            temporary.unlink(missing_ok=True)


def media_bytes(item: Media, *, root: Path, channel: str, account: str, field: str = "media",
                cap: int | None = None, timeout: float = 300.0,
                rules: MediaRules | None = None) -> bytes:
    """The item's bytes (see ``media_file``); for images and other small files."""
    with media_file(item, root=root, channel=channel, account=account, field=field, cap=cap,
                    timeout=timeout, rules=rules) as (handle, size):
        return handle.read(size)


def avatar_bytes(channel: Channel, path: Path) -> bytes:
    """A profile avatar's bytes for ``channel``'s brand sync, read under its media rules
    (inside the media roots, a regular file, under the image cap); else ``PlatformRejected``."""
    where: dict[str, Any] = {"channel": channel.name, "account": channel.account}
    full = path if path.is_absolute() else channel.root / path
    failure: ChannelError | None = None
    try:
        return channel.media_rules.read(full, kind="image", field="profile avatar")
    except InputRefused as exc:
        failure = PlatformRejected(f"{exc}; nothing was changed", **where)
    except OSError:
        failure = PlatformRejected(f"profile avatar: no readable file {path.name!r}", **where)
    raise failure
