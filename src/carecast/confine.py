"""Refusing hostile input: every file carecast reads and every media URL it fetches.

- ``read_capped`` / ``open_regular``: a file is opened without blocking (``O_NONBLOCK``, so a
  FIFO never hangs), the *opened* descriptor is checked to be a regular file (not a FIFO, a
  device such as ``/dev/zero``, a socket or a folder), and at most the cap is read.
- ``confine``: a media path must resolve (symlinks and ``..`` followed) inside one of the
  configured media roots, and a file with other hard links is refused unless allowed.
- ``open_confined`` (``MediaRules.open`` / ``MediaRules.read``): confine, then open once and
  check that the *opened* file is the one checked (same device and inode, and on Linux its
  ``/proc/self/fd`` path still inside a root), so a folder swapped for a symlink between the
  check and the open is refused; every byte is read from that descriptor.
- ``guard_session``: a ``requests`` session whose connections check the address actually
  connected (after DNS, on every redirect, so DNS rebinding cannot slip past) and refuse
  loopback, link-local, private and reserved addresses unless the host is allowed.

Every refusal is an ``InputRefused`` that names the cap or rule and the setting that changes it.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import stat
import urllib.parse
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from carecast.errors import InputRefused

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_PIXELS",
    "MediaRules",
    "confine",
    "guard_session",
    "is_loopback_url",
    "open_confined",
    "open_regular",
    "public_address",
    "read_capped",
]

_KINDS = {stat.S_IFIFO: "a FIFO", stat.S_IFCHR: "a character device",
          stat.S_IFBLK: "a block device", stat.S_IFSOCK: "a socket", stat.S_IFDIR: "a folder"}


def _kind_of(mode: int) -> str:
    return _KINDS.get(stat.S_IFMT(mode), "not a regular file")


def open_regular(path: str | Path, *, cap: int, setting: str, what: str = "file",
                 nofollow: bool = False) -> tuple[BinaryIO, int]:
    """The opened regular file (the caller closes it) and its size; refuses special files
    and files over ``cap``.

    ``setting`` names what raises the cap (it is quoted in the error). ``OSError`` passes
    through for a file that cannot be opened.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    if nofollow:
        flags |= getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(path, flags)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise InputRefused(f"{what} {Path(path).name!r} is {_kind_of(info.st_mode)}; "
                               "carecast reads regular files only")
        if info.st_size > cap:
            raise InputRefused(f"{what} {Path(path).name!r} is {info.st_size} bytes, over the "
                               f"cap of {cap} bytes (raise it with {setting})")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb"), info.st_size
    except BaseException:
        os.close(fd)
        raise


def read_capped(path: str | Path, *, cap: int, setting: str, what: str = "file") -> bytes:
    """The bytes of a regular file of at most ``cap`` bytes (see ``open_regular``)."""
    handle, _ = open_regular(path, cap=cap, setting=setting, what=what)
    return _read_all(handle, path, cap=cap, setting=setting, what=what)


def _read_all(handle: BinaryIO, path: str | Path, *, cap: int, setting: str, what: str
              ) -> bytes:
    """Read and close ``handle``: at most ``cap`` bytes, refused if the file grew past it."""
    with handle:
        data = handle.read(cap + 1)
    if len(data) > cap:  # it grew while read
        raise InputRefused(f"{what} {Path(path).name!r} is over the cap of {cap} bytes "
                           f"(raise it with {setting})")
    return data


_MB = 1 << 20
#: The ``[media] max_bytes`` caps by kind, in bytes.
DEFAULT_MAX_BYTES = {"image": 50 * _MB, "gif": 50 * _MB, "video": 4096 * _MB, "audio": 1024 * _MB}
#: The ``[media] max_pixels`` cap: the largest image (width times height) decoded.
DEFAULT_MAX_PIXELS = 50_000_000


@dataclass(frozen=True)
class MediaRules:
    """Where local media may come from, which hosts may be private, and the caps by kind."""

    roots: tuple[Path, ...]
    allow_hosts: frozenset[str] = frozenset()
    max_bytes: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_MAX_BYTES))
    max_pixels: int = DEFAULT_MAX_PIXELS
    hard_links: bool = False
    #: Fetch media through ``HTTPS_PROXY`` / ``HTTP_PROXY`` (``NO_PROXY`` respected).
    env_proxy: bool = False

    def cap(self, kind: str | None) -> int:
        """The byte cap of a media kind (``image`` when unknown)."""
        return self.max_bytes.get(kind or "image", DEFAULT_MAX_BYTES["image"])

    def confine(self, path: str | Path, *, field: str = "media") -> Path:
        """``confine`` with these rules."""
        return confine(path, self.roots, hard_links=self.hard_links, field=field)

    def open(self, path: str | Path, *, kind: str | None = "image", field: str = "media"
             ) -> tuple[BinaryIO, int]:
        """``open_confined`` with these rules and the cap of ``kind``."""
        kind = kind or "image"
        return open_confined(path, self.roots, cap=self.cap(kind), hard_links=self.hard_links,
                             setting=f"[media] max_bytes.{kind}", field=field)

    def read(self, path: str | Path, *, kind: str | None = "image", field: str = "media"
             ) -> bytes:
        """The bytes of a confined file (see ``open``)."""
        handle, _ = self.open(path, kind=kind, field=field)
        return _read_all(handle, path, cap=self.cap(kind), what=f"{field}: media",
                         setting=f"[media] max_bytes.{kind or 'image'}")


def confine(path: str | Path, roots: Sequence[Path], *, hard_links: bool = False,
            field: str = "media") -> Path:
    """The real path of a media file inside one of ``roots``; raises ``InputRefused``.

    Symlinks and ``..`` are resolved and the file they lead to must be inside a root; it must
    be a regular file, with no other hard link unless ``hard_links``.
    """
    raw = Path(path)
    name = raw.name
    try:
        real = raw.resolve(strict=True)
        info = real.stat()
    except (OSError, RuntimeError, ValueError):
        raise InputRefused(f"{field}: no readable file {name!r}; check the path (relative "
                           "paths start at the post file's folder)") from None
    real_roots = [r.resolve() for r in roots]
    if not any(real.is_relative_to(r) for r in real_roots):
        raise InputRefused(
            f"{field}: {name!r} is outside the media roots; add its folder to [media] roots")
    if not stat.S_ISREG(info.st_mode):
        raise InputRefused(f"{field}: {name!r} is {_kind_of(info.st_mode)}; media must be a "
                           "regular file")
    if info.st_nlink > 1 and not hard_links:
        raise InputRefused(f"{field}: {name!r} has other hard links, which may lie outside "
                           "the media roots; copy it, or set [media] hard_links = true")
    return real


def _checked(path: str | Path, roots: Sequence[Path], hard_links: bool, field: str
             ) -> tuple[Path, os.stat_result]:
    """``confine``'s checks: the real path and what ``stat`` said of it."""
    real = confine(path, roots, hard_links=hard_links, field=field)
    try:
        return real, real.stat()
    except OSError:
        raise InputRefused(f"{field}: no readable file {Path(path).name!r}") from None


def open_confined(path: str | Path, roots: Sequence[Path], *, cap: int, setting: str,
                  hard_links: bool = False, field: str = "media") -> tuple[BinaryIO, int]:
    """The opened media file (the caller closes it) and its size, confined to ``roots``.

    The checks of ``confine`` run, then the file is opened once (never following a symlink
    at its last step) and the open descriptor must be the very file checked: a path swapped
    between the check and the open (a folder replaced by a symlink out of the roots) is
    refused, and nothing is read but from this descriptor.
    """
    real, seen = _checked(path, roots, hard_links, field)
    handle, size = open_regular(real, cap=cap, setting=setting, what=f"{field}: media",
                                nofollow=True)
    try:
        opened = os.fstat(handle.fileno())
        moved = (opened.st_dev, opened.st_ino) != (seen.st_dev, seen.st_ino)
        fd_path = Path(f"/proc/self/fd/{handle.fileno()}")
        if not moved and fd_path.parent.is_dir():  # Linux: where the descriptor really is
            where = Path(os.readlink(fd_path))
            moved = not any(where.is_relative_to(r.resolve()) for r in roots)
        if moved:
            raise InputRefused(f"{field}: {Path(path).name!r} changed between its check and "
                               "its read (a folder swapped for a link?); refused")
    except BaseException:
        handle.close()
        raise
    return handle, size


# -- addresses --------------------------------------------------------------------------------

def public_address(address: str) -> bool:
    """Whether an IP address is public: not loopback, link-local, private or reserved."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not (ip.is_multicast or ip.is_reserved)


def is_loopback_url(host: str | None) -> bool:
    """Whether a URL's host is this machine (``localhost``, 127.0.0.0/8, ``::1``)."""
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _checked_socket(sock: socket.socket, host: str, allow: Collection[str]) -> socket.socket:
    peer = sock.getpeername()[0]
    if host.lower().strip("[]") not in allow and not public_address(peer):
        sock.close()
        raise InputRefused(
            f"media URL host {host!r} is a loopback, link-local, private or reserved "
            "address; allow it with [media] allow_hosts")
    return sock


def _resolves_public(host: str, port: int, allow: Collection[str]) -> None:
    """Refuse a host any of whose addresses is not public (unless allowed)."""
    name = host.lower().strip("[]")
    if name in allow:
        return
    try:
        infos = socket.getaddrinfo(name, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return  # the proxy cannot resolve it either: the request fails as a download error
    if not infos or not all(public_address(str(info[4][0])) for info in infos):
        raise InputRefused(
            f"media URL host {host!r} is a loopback, link-local, private or reserved "
            "address; allow it with [media] allow_hosts")


def guard_session(session: Any, allow_hosts: Iterable[str] = (), *,
                  env_proxy: bool = False) -> Any:
    """Mount adapters on ``session`` whose every connection (redirects too) checks its peer.

    The check runs on the connected socket before a byte is sent, so a name that resolves to
    a public address when looked up and a private one when connected is still refused.
    Without ``env_proxy`` the session talks to hosts directly, so the peer is the host itself.
    With it, a request the environment sends through a proxy (``HTTPS_PROXY``,
    ``NO_PROXY``) has its host resolved here first, on every redirect, and refused unless
    every address is public; the proxy's own address is the operator's choice and not
    checked. A host ``NO_PROXY`` exempts is connected to directly and checked as above.
    """
    import requests.adapters
    from urllib3.connection import HTTPConnection, HTTPSConnection
    from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

    allow = frozenset(h.lower().strip("[]") for h in allow_hosts)

    class _Conn(HTTPConnection):
        def _new_conn(self) -> socket.socket:
            return _checked_socket(super()._new_conn(), self.host, allow)

    class _TLSConn(HTTPSConnection):
        def _new_conn(self) -> socket.socket:
            return _checked_socket(super()._new_conn(), self.host, allow)

    class _Pool(HTTPConnectionPool):
        ConnectionCls = _Conn

    class _TLSPool(HTTPSConnectionPool):
        ConnectionCls = _TLSConn

    class _Adapter(requests.adapters.HTTPAdapter):
        def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
            super().init_poolmanager(*args, **kwargs)
            self.poolmanager.pool_classes_by_scheme = {"http": _Pool, "https": _TLSPool}

        def send(self, request: Any, *args: Any, **kwargs: Any) -> Any:
            proxies = kwargs.get("proxies") or {}
            if proxies and requests.utils.select_proxy(request.url, proxies):
                url = urllib.parse.urlsplit(request.url)
                _resolves_public(url.hostname or "", url.port or (
                    443 if url.scheme == "https" else 80), allow)
            return super().send(request, *args, **kwargs)

    adapter = _Adapter()
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.proxies = {}
    session.trust_env = env_proxy
    return session
