"""Avatars: fetched images kept by content hash, compared by perceptual hash.

A resized or re-compressed copy of the logo is within ``MATCH_DISTANCE`` bits of its
perceptual hash (``imagehash.phash``, 64 bits); another logo is far from it. The cache keeps
each image once, under ``<folder>/<sha256>``, with its perceptual hash beside it
(``<sha256>.phash``), so a second audit hashes nothing it has seen.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import tempfile
from pathlib import Path

from carecast.errors import ConfigurationError

__all__ = ["MATCH_DISTANCE", "AvatarCache", "distance", "perceptual_hash"]

#: Most differing bits of two perceptual hashes of the same image.
MATCH_DISTANCE = 10
_SNIFF = {b"\x89PNG": "image/png", b"\xff\xd8\xff": "image/jpeg", b"GIF8": "image/gif",
          b"RIFF": "image/webp"}


def distance(a: str, b: str) -> int:
    """Differing bits between two perceptual hashes written as hex."""
    return (int(a, 16) ^ int(b, 16)).bit_count()


def mime_of(data: bytes) -> str:
    """The image type of ``data`` by its first bytes (``image/png`` when unknown)."""
    return next((m for magic, m in _SNIFF.items() if data.startswith(magic)), "image/png")


class AvatarCache:
    """Images by content hash under ``folder``; ``put`` stores, ``phash`` hashes once."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)

    def put(self, data: bytes) -> str:
        """Store ``data`` (once) and return its SHA-256."""
        digest = hashlib.sha256(data).hexdigest()
        path = self.folder / digest
        if not path.exists():
            self._write(path, data)
        return digest

    def get(self, digest: str) -> bytes | None:
        """The stored image, or None."""
        try:
            return (self.folder / digest).read_bytes()
        except OSError:
            return None

    def phash(self, digest: str) -> str | None:
        """The perceptual hash (hex) of a stored image; None when it is not an image."""
        known = self.folder / f"{digest}.phash"
        try:
            return known.read_text(encoding="ascii").strip() or None
        except OSError:
            pass
        data = self.get(digest)
        value = perceptual_hash(data) if data is not None else None
        if value is not None:
            self._write(known, value.encode("ascii"))
        return value

    def data_uri(self, digest: str) -> str | None:
        """The image as a ``data:`` URI, for a page that needs no other file."""
        data = self.get(digest)
        if data is None:
            return None
        return f"data:{mime_of(data)};base64,{base64.b64encode(data).decode('ascii')}"

    def _write(self, path: Path, data: bytes) -> None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            handle, tmp = tempfile.mkstemp(dir=self.folder, prefix=".part-")
            with os.fdopen(handle, "wb") as out:
                out.write(data)
            os.replace(tmp, path)
        except OSError as exc:
            raise ConfigurationError(
                f"avatar cache {self.folder}: cannot write to it ({type(exc).__name__}); "
                "choose another folder with --cache-dir") from None


def perceptual_hash(data: bytes) -> str | None:
    """``imagehash.phash`` of an image as hex; None when the bytes are not an image."""
    try:
        import imagehash
    except ImportError:
        raise ConfigurationError(
            "comparing avatars needs the imagehash package: pip install 'carecast[brand]'"
        ) from None
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            image.draft("L", (64, 64))  # JPEG: decode at a small size, much faster
            return str(imagehash.phash(image.convert("L")))
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        return None
