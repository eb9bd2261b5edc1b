"""The SHA-256 of a local file, computed once per version of the file.

A post fanned out to many accounts hands the same image to several steps for every account
(the consent check, metadata stripping, the image check). The digest is remembered by the
file's identity and version (device, inode, size, modification time in nanoseconds), so each
version of a file is read and hashed once per process.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from pathlib import Path

from carecast.confine import open_regular
from carecast.errors import InputRefused

__all__ = ["file_sha256"]

_MEMO: OrderedDict[tuple[str, int, int, int, int], str] = OrderedDict()
_MEMO_SIZE = 1024
_LOCK = threading.Lock()


def file_sha256(path: Path) -> str:
    """The hex SHA-256 of the file's content; raises ``OSError`` when it cannot be read or
    is not a regular file."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns)
    with _LOCK:
        if key in _MEMO:
            _MEMO.move_to_end(key)
            return _MEMO[key]
    sha = hashlib.sha256()
    try:  # a FIFO or a device (/dev/zero) would block or never end
        fh, _ = open_regular(path, cap=1 << 62, setting="", what="media")
    except InputRefused as exc:
        raise OSError(str(exc)) from None
    with fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            sha.update(block)
    digest = sha.hexdigest()
    with _LOCK:
        _MEMO[key] = digest
        while len(_MEMO) > _MEMO_SIZE:
            _MEMO.popitem(last=False)
    return digest
