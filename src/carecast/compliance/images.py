"""Image safety: metadata stripped before upload, text in images, people without consent.

``strip_metadata(path)`` writes a copy of an image without its metadata (EXIF with GPS and
serial numbers, XMP, IPTC, comments, PNG text chunks; the ICC colour profile is kept) into a
cache folder keyed by the file's content, with the pixels unchanged: JPEG, PNG, WebP and GIF
files are cut at the segment level, not re-encoded. Only an image whose EXIF orientation is
not upright is turned (so it looks the same without its EXIF) and re-saved: a JPEG then with
its own quantisation tables. ``clean_draft(draft)`` swaps every local image of a draft for
its cleaned copy: the publisher calls it on each draft just before ``Channel.publish``.

The ``images`` check reviews each local image of a draft:

- ``metadata`` (INFO): what the file carries that would have leaked (it is stripped anyway);
- ``unsupported`` (BLOCK): a file that cannot be stripped (TIFF, HEIC, a broken file);
- ``ocr_phi`` (BLOCK): text read in the image by Tesseract holds PHI
  (``carecast.compliance.phi.scan``): a wristband, a whiteboard, a screenshot of a record;
- ``person`` (REVIEW): a face is seen and the media item has no ``consent`` reference;
- ``ocr_unavailable`` / ``people_unavailable`` (WARN): Tesseract (``carecast[ocr]`` and the
  ``tesseract-ocr`` system package) or OpenCV (``carecast[vision]``) is missing;
- ``remote`` (WARN): a linked image, which carecast can neither read nor strip.
"""

from __future__ import annotations

import hashlib
import importlib
import io
import os
import re
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from PIL import Image, ImageOps, JpegImagePlugin
from pydantic import Field

from carecast.compliance._settings import CheckConfig
from carecast.confine import DEFAULT_MAX_BYTES, MediaRules, read_capped
from carecast.errors import InputRefused, InvalidPost
from carecast.files import file_sha256
from carecast.findings import Action, Finding
from carecast.hookspecs import hookimpl
from carecast.post import MediaKind

if TYPE_CHECKING:
    from carecast.config import BrandConfig, CheckSettings
    from carecast.post import Draft, Media

__all__ = [
    "ImageSettings",
    "carecast_review_draft",
    "clean_draft",
    "default_cache_dir",
    "find_faces",
    "metadata_of",
    "read_text",
    "strip_metadata",
]


_EXIF_NAMES = {  # tag -> what a reader is told it holds
    0x013B: "a person's name (Artist)", 0x9C9D: "a person's name (XPAuthor)",
    0xA430: "a person's name (camera owner)", 0xA431: "the camera's serial number",
    0xA435: "the lens's serial number", 0x927C: "maker notes (may hold the camera's serial)",
    0x010E: "a description", 0x9C9C: "a comment", 0x9C9B: "a title", 0x9286: "a user comment",
    0x9003: "the date and time taken",
}
_ICC_APP2 = b"ICC_PROFILE\x00"
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_KEEP = {b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS", b"gAMA", b"cHRM", b"sRGB", b"iCCP",
             b"sBIT", b"pHYs", b"bKGD", b"hIST", b"acTL", b"fcTL", b"fdAT", b"cICP", b"mDCv",
             b"cLLi"}
_PNG_NAMES = {b"tEXt": "PNG text", b"zTXt": "PNG text", b"iTXt": "PNG text (may be XMP)",
              b"eXIf": "EXIF", b"tIME": "a modification time"}
_GIF_APPS_KEPT = (b"NETSCAPE2.0", b"ANIMEXTS1.0", b"ICCRGBG1012")


class ImageSettings(CheckConfig):
    """``[checks.images]``."""

    NAME: ClassVar[str] = "images"
    DEFAULTS: ClassVar[dict[str, Action]] = {
        "metadata": Action.INFO, "unsupported": Action.BLOCK, "ocr_phi": Action.BLOCK,
        "person": Action.REVIEW, "ocr_unavailable": Action.WARN,
        "people_unavailable": Action.WARN, "remote": Action.WARN,
    }

    ocr: bool = True
    ocr_languages: str = Field(default="eng", pattern=r"^[A-Za-z_]+(\+[A-Za-z_]+)*$")
    ocr_timeout: float = Field(default=30.0, gt=0)
    ocr_min_confidence: float = Field(default=0.6, ge=0, le=1, description="PHI the scanner is "
                                      "less sure of than this is not reported.")
    allow: list[str] = Field(default_factory=list, description="Terms text in images may "
                             "hold, besides the brand's name, phones, addresses and staff.")
    people: bool = True
    min_face: float = Field(default=0.04, gt=0, lt=1,
                            description="Smallest face found, as a share of the image's "
                                        "shorter side.")


# -- metadata stripping ------------------------------------------------------------------------


def default_cache_dir() -> Path:
    """``$CARECAST_CACHE_DIR``, else ``$XDG_CACHE_HOME/carecast/clean-media`` (``~/.cache``)."""
    if os.environ.get("CARECAST_CACHE_DIR"):
        return Path(os.environ["CARECAST_CACHE_DIR"]) / "clean-media"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "carecast" / "clean-media"


def strip_metadata(path: str | Path, cache_dir: str | Path | None = None,
                   rules: MediaRules | None = None) -> Path:
    """A copy of the image at ``path`` without metadata, in ``cache_dir`` (see module doc).

    The copy keeps the file's name, in a folder named by the SHA-256 of its content, so a
    second call is a lookup. With ``rules`` the file is read once under them (confined, and
    what was checked is what is cleaned). Raises ``InvalidPost`` for a file that cannot be
    stripped.
    """
    source = Path(path)
    data: bytes | None = None
    try:
        if rules is not None:
            data = rules.read(source, kind="image")
            digest: str | None = hashlib.sha256(data).hexdigest()
        else:
            digest = file_sha256(source)
    except InputRefused as exc:
        raise InvalidPost(f"media: {exc}", [("media", "refused")]) from None
    except (OSError, ValueError):  # ValueError: a NUL in the path
        digest = None
    target = Path(cache_dir or default_cache_dir()) / (digest or "")[:32] / source.name
    if digest and target.is_file():
        return target  # this version of the file was cleaned before
    data = data if data is not None else _read(source)
    if digest is None:
        digest = hashlib.sha256(data).hexdigest()
        target = Path(cache_dir or default_cache_dir()) / digest[:32] / source.name
    clean, _ = _strip(data, source.suffix)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
    with os.fdopen(fd, "wb") as out:
        out.write(clean)
    os.replace(tmp, target)
    return target


def clean_draft(draft: Draft, root: Path | None = None,
                cache_dir: str | Path | None = None, rules: MediaRules | None = None) -> Draft:
    """``draft`` with each local image and GIF replaced by its stripped copy.

    ``root`` is the folder relative media paths start at (the channel's ``root``); ``rules``
    its media rules, under which each image is read.
    """
    parts = []
    for part in draft.parts:
        media = tuple(
            m.model_copy(update={"source": str(strip_metadata(m.path(root), cache_dir, rules))})
            if _local_image(m) else m
            for m in part.media)
        parts.append(part.model_copy(update={"media": media}))
    return draft.model_copy(update={"parts": tuple(parts)})


def metadata_of(path: str | Path) -> list[str]:
    """What the image at ``path`` carries that stripping removes, in words (no values)."""
    _, dropped = _strip(_read(Path(path)), Path(path).suffix)
    return dropped


def _read(path: Path, cap: int = DEFAULT_MAX_BYTES["image"]) -> bytes:
    try:
        return read_capped(path, cap=cap, setting="[media] max_bytes.image", what="image")
    except (OSError, ValueError, InputRefused):  # ValueError: a NUL in the path
        raise InvalidPost("an image file cannot be read; check the media source",
                          [("media", "unreadable image")]) from None


def _local_image(media: Media) -> bool:
    return not media.is_url and media.kind in (MediaKind.IMAGE, MediaKind.GIF)


def _unsupported(what: str) -> InvalidPost:
    return InvalidPost(
        f"an image ({what}) cannot be stripped of its metadata; convert it to JPEG, PNG, WebP "
        "or GIF", [("media", "unsupported image")])


def _strip(data: bytes, suffix: str = "") -> tuple[bytes, list[str]]:
    """The cleaned bytes and what was removed, in words."""
    clean, dropped = _cut(data, suffix)
    if "EXIF" in dropped:
        dropped = [d for d in dropped if d != "EXIF"] + _exif_details(data)
        if _orientation(data) not in (0, 1):
            clean, _ = _cut(_upright(data), suffix)  # cut again: Pillow may copy XMP over
    return clean, sorted(set(dropped))


def _cut(data: bytes, suffix: str) -> tuple[bytes, list[str]]:
    if data[:3] == b"\xff\xd8\xff":
        return _strip_jpeg(data)
    if data[:8] == _PNG_SIGNATURE:
        return _strip_png(data)
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return _strip_webp(data)
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return _strip_gif(data)
    if data[:2] == b"BM":
        return data, []  # BMP holds no metadata
    known = suffix.lower() in (".tif", ".tiff", ".heic", ".heif", ".avif", ".jxl")
    raise _unsupported(suffix.lstrip(".").upper() if known else "an unknown format")


def _strip_jpeg(data: bytes) -> tuple[bytes, list[str]]:
    out, dropped, i = bytearray(b"\xff\xd8"), [], 2
    try:
        while i < len(data):
            if data[i] != 0xFF:
                raise ValueError("not a marker")
            marker = data[i + 1]
            if marker == 0xFF:  # fill byte
                i += 1
                continue
            if marker == 0xD9:  # end of image: whatever follows (trailers) is dropped
                out += b"\xff\xd9"
                if data[i + 2:].strip(b"\x00"):
                    dropped.append("data after the image")
                return bytes(out), dropped
            if 0xD0 <= marker <= 0xD7 or marker == 0x01:
                out += data[i:i + 2]
                i += 2
                continue
            end = i + 2 + int.from_bytes(data[i + 2:i + 4], "big")
            body = data[i + 4:end]
            if marker == 0xDA:  # start of scan: copy the entropy-coded data to the next marker
                end = _scan_end(data, end)
                out += data[i:end]
            elif marker == 0xE1:
                dropped.append("XMP" if body.startswith(b"http://ns.adobe.com/") else "EXIF")
            elif marker == 0xED:
                dropped.append("IPTC")
            elif marker == 0xFE:
                dropped.append("a comment")
            elif (marker == 0xE2 and body.startswith(_ICC_APP2)) or marker == 0xE0 or (
                    marker == 0xEE and body.startswith(b"Adobe")):
                out += data[i:end]
            elif 0xE2 <= marker <= 0xEF:
                dropped.append(f"APP{marker - 0xE0} data")
            else:
                out += data[i:end]
            i = end
    except (IndexError, ValueError):
        pass
    raise _unsupported("a damaged JPEG")


def _scan_end(data: bytes, at: int) -> int:
    while True:
        k = data.index(b"\xff", at)
        nxt = data[k + 1]
        if nxt == 0x00 or 0xD0 <= nxt <= 0xD7:
            at = k + 2
        elif nxt == 0xFF:
            at = k + 1
        else:
            return k


def _strip_png(data: bytes) -> tuple[bytes, list[str]]:
    out, dropped, i = bytearray(_PNG_SIGNATURE), [], 8
    while i + 8 <= len(data):
        length = int.from_bytes(data[i:i + 4], "big")
        kind = data[i + 4:i + 8]
        end = i + 12 + length
        if end > len(data):
            break
        if kind in _PNG_KEEP:
            out += data[i:end]
        else:
            dropped.append(_PNG_NAMES.get(kind, "private PNG chunks"))
        if kind == b"IEND":
            return bytes(out), dropped
        i = end
    raise _unsupported("a damaged PNG")


def _strip_webp(data: bytes) -> tuple[bytes, list[str]]:
    chunks, dropped, i = bytearray(), [], 12
    while i + 8 <= len(data):
        kind = data[i:i + 4]
        size = int.from_bytes(data[i + 4:i + 8], "little")
        if i + 8 + size > len(data):
            raise _unsupported("a damaged WebP")
        end = i + 8 + size + (size & 1)
        chunk = bytearray(data[i:end])
        if kind in (b"EXIF", b"XMP "):
            dropped.append("EXIF" if kind == b"EXIF" else "XMP")
        else:
            if kind == b"VP8X":
                chunk[8] &= ~0x0C & 0xFF  # clear the EXIF and XMP flags
            chunks += chunk
        i = end
    return b"RIFF" + (len(chunks) + 4).to_bytes(4, "little") + b"WEBP" + bytes(chunks), dropped


def _strip_gif(data: bytes) -> tuple[bytes, list[str]]:
    dropped: list[str] = []
    try:
        packed = data[10]
        i = 13 + (3 * 2 ** ((packed & 7) + 1) if packed & 0x80 else 0)
        out = bytearray(data[:i])
        while True:
            block = data[i]
            if block == 0x3B:
                out.append(0x3B)
                return bytes(out), dropped
            if block == 0x21:
                label = data[i + 1]
                end = _sub_blocks(data, i + 2)
                app = data[i + 3:i + 14] if label == 0xFF else b""
                if label == 0xFE:
                    dropped.append("a comment")
                elif label == 0xFF and app not in _GIF_APPS_KEPT:
                    dropped.append("XMP" if app.startswith(b"XMP") else "application data")
                else:
                    out += data[i:end]
            elif block == 0x2C:
                flags = data[i + 9]
                start = i + 10 + (3 * 2 ** ((flags & 7) + 1) if flags & 0x80 else 0)
                end = _sub_blocks(data, start + 1)
                out += data[i:end]
            else:
                break
            i = end
    except IndexError:
        pass
    raise _unsupported("a damaged GIF")


def _sub_blocks(data: bytes, at: int) -> int:
    while data[at]:
        at += data[at] + 1
    return at + 1


def _exif(data: bytes) -> Image.Exif | None:
    try:
        with Image.open(io.BytesIO(data)) as im:
            return im.getexif()
    except (OSError, ValueError, SyntaxError):
        return None


def _exif_details(data: bytes) -> list[str]:
    exif = _exif(data)
    if exif is None:
        return []
    details = ["GPS location"] if exif.get_ifd(0x8825) else []
    tags = {**dict(exif), **dict(exif.get_ifd(0x8769))}
    details += [name for tag, name in _EXIF_NAMES.items() if tags.get(tag) not in (None, "", b"")]
    return details or ["EXIF"]


def _orientation(data: bytes) -> int:
    exif = _exif(data)
    value = exif.get(0x0112, 1) if exif is not None else 1
    return value if isinstance(value, int) else 1


def _upright(original: bytes) -> bytes:
    """Turn the pixels as the EXIF orientation says and save without metadata."""
    with Image.open(io.BytesIO(original)) as im:
        turned = ImageOps.exif_transpose(im)
        fmt = im.format or "PNG"
        out = io.BytesIO()
        options: dict[str, Any] = {}
        if im.info.get("icc_profile"):
            options["icc_profile"] = im.info["icc_profile"]
        if fmt == "JPEG":
            options |= {"qtables": getattr(im, "quantization", None) or "keep",
                        "subsampling": JpegImagePlugin.get_sampling(im)}
        elif fmt == "WEBP":
            options |= {"lossless": True}
        turned.save(out, format=fmt, **options)
    return out.getvalue()


# -- reading images ----------------------------------------------------------------------------


def read_text(path: str | Path, *, languages: str = "eng", timeout: float = 30.0) -> str:
    """The text Tesseract reads in the image; raises ``RuntimeError`` when OCR is missing."""
    try:
        tesseract = importlib.import_module("pytesseract")
    except ImportError:
        raise RuntimeError("pytesseract is not installed: pip install 'carecast[ocr]'") from None
    with Image.open(path) as im:
        gray = ImageOps.exif_transpose(im).convert("L")
    if min(gray.size) < 1000:  # Tesseract reads text best at about 30 px a line
        scale = min(3.0, 1000 / max(1, min(gray.size)))
        gray = gray.resize((round(gray.width * scale), round(gray.height * scale)))
    texts = []
    try:
        for psm in (3, 11):  # a page of text, then sparse text (signs, wristbands)
            texts.append(tesseract.image_to_string(gray, lang=languages, timeout=timeout,
                                                   config=f"--psm {psm}"))
    except tesseract.TesseractNotFoundError:
        raise RuntimeError("the tesseract program is not installed (Debian: apt-get install "
                           "tesseract-ocr)") from None
    except (tesseract.TesseractError, RuntimeError) as exc:  # RuntimeError: the timeout
        raise RuntimeError(f"tesseract failed ({type(exc).__name__})") from None
    return "\n".join(texts)


def find_faces(path: str | Path, *, min_face: float = 0.04) -> int:
    """How many faces OpenCV's Haar cascades see; raises ``RuntimeError`` without OpenCV."""
    try:
        cv2 = importlib.import_module("cv2")
    except ImportError:
        raise RuntimeError("OpenCV is not installed: pip install 'carecast[vision]'") from None
    with Image.open(path) as im:
        gray = ImageOps.exif_transpose(im).convert("L")
    gray.thumbnail((1280, 1280))
    numpy = importlib.import_module("numpy")
    pixels = numpy.asarray(gray)
    side = max(24, round(min(gray.size) * min_face))
    faces = 0
    for name in ("haarcascade_frontalface_default.xml", "haarcascade_profileface.xml"):
        cascade = cv2.CascadeClassifier(str(Path(cv2.data.haarcascades) / name))
        for image in (pixels, cv2.flip(pixels, 1)) if "profile" in name else (pixels,):
            found = cascade.detectMultiScale(image, scaleFactor=1.1, minNeighbors=5,
                                             minSize=(side, side))
            faces += len(found)
        if faces:
            break
    return faces


# -- the check ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Facts:
    """What one image holds; PHI itself is never kept, only its categories."""

    leaks: tuple[str, ...] = ()
    unsupported: str | None = None
    phi: tuple[str, ...] | None = None
    ocr_error: str | None = None
    faces: int | None = None
    people_error: str | None = None


_MEMO: OrderedDict[tuple[str, str], _Facts] = OrderedDict()
_MEMO_LOCK = threading.Lock()
_MEMO_SIZE = 256


@hookimpl
def carecast_review_draft(draft: Draft, brand: BrandConfig | None, settings: CheckSettings
                          ) -> list[Finding]:
    """Metadata, text and people in the images one account would receive."""
    cfg = ImageSettings.read(settings)
    if not isinstance(cfg, ImageSettings):
        return cfg
    if not any(part.media for part in draft.parts):
        return []
    root = settings.config.root if hasattr(settings, "config") else None
    rules = settings.config.media_rules() if hasattr(settings, "config") \
        else MediaRules(roots=())
    allow = tuple(cfg.allow) + (_brand_terms(brand) if brand else ())
    found: list[Finding | None] = []
    for i, part in enumerate(draft.parts):
        for j, item in enumerate(part.media):
            if item.kind not in (MediaKind.IMAGE, MediaKind.GIF):
                continue
            found += _review(cfg, item, f"parts[{i}].media[{j}]", root, allow, rules)
    return _once([f for f in found if f is not None])


def _brand_terms(brand: BrandConfig) -> tuple[str, ...]:
    """What a brand may show in its own images: its name, numbers, addresses and staff."""
    return (brand.name, *([brand.website] if brand.website else []), *brand.phone,
            *brand.email, *brand.address, *brand.staff)


def _review(cfg: ImageSettings, item: Media, where: str, root: Path | None,
            allow: tuple[str, ...], rules: MediaRules) -> Iterator[Finding | None]:
    field = f"{where}.source"
    if item.is_url:
        yield cfg.finding("remote", field, f"{where}: a linked image; carecast cannot strip its "
                          "metadata or read it; attach the file itself")
        return
    facts = _facts(item.path(root), cfg, allow, rules)
    if facts.unsupported:
        yield cfg.finding("unsupported", field, f"{where}: {facts.unsupported}")
        return
    if facts.leaks:
        yield cfg.finding("metadata", field, f"{where}: the file carries "
                          f"{', '.join(facts.leaks)}; carecast uploads a copy without it")
    if facts.ocr_error:
        yield cfg.finding("ocr_unavailable", "*", f"text in images is not read: "
                          f"{facts.ocr_error}")
    elif facts.phi:
        yield cfg.finding("ocr_phi", field, f"{where}: text in the image holds "
                          f"{', '.join(facts.phi)}; crop or blur it (a wristband, a screen, a "
                          "whiteboard, a document)")
    if facts.people_error:
        yield cfg.finding("people_unavailable", "*", f"people in images are not looked for: "
                          f"{facts.people_error}")
    elif facts.faces and not (item.consent or "").strip():
        yield cfg.finding("person", field, f"{where}: shows a person's face and has no consent "
                          "reference; add consent: <record id> to the media item once consent "
                          "is on file", confidence=0.7)


def _once(findings: Sequence[Finding]) -> list[Finding]:
    """Each ``*`` finding (a missing tool) once per draft."""
    seen: set[str] = set()
    out = []
    for f in findings:
        if f.field == "*":
            if f.code in seen:
                continue
            seen.add(f.code)
        out.append(f)
    return out


def _facts(path: Path, cfg: ImageSettings, allow: tuple[str, ...], rules: MediaRules
           ) -> _Facts:
    try:
        digest = file_sha256(path)
    except (OSError, ValueError):
        return _Facts(unsupported="the file cannot be read; check the path")
    key = (digest, repr((cfg.ocr, cfg.ocr_languages, cfg.people, cfg.min_face,
                         cfg.ocr_min_confidence, allow)))
    with _MEMO_LOCK:
        if key in _MEMO:
            _MEMO.move_to_end(key)
            return _MEMO[key]
    try:
        data = read_capped(path, cap=rules.cap("image"), setting="[media] max_bytes.image",
                           what="image")
    except InputRefused as exc:
        return _Facts(unsupported=str(exc))
    except (OSError, ValueError):
        return _Facts(unsupported="the file cannot be read; check the path")
    facts = _examine(path, data, cfg, allow, rules.max_pixels)
    with _MEMO_LOCK:
        _MEMO[key] = facts
        while len(_MEMO) > _MEMO_SIZE:
            _MEMO.popitem(last=False)
    return facts


def _examine(path: Path, data: bytes, cfg: ImageSettings, allow: tuple[str, ...],
             max_pixels: int) -> _Facts:
    try:
        with Image.open(io.BytesIO(data)) as im:  # reads the header only
            if im.width * im.height > max_pixels:
                return _Facts(unsupported=f"the image is {im.width}x{im.height}, over the cap of "
                              f"{max_pixels} pixels (raise it with [media] max_pixels)")
        _, leaks = _strip(data, path.suffix)
        with Image.open(io.BytesIO(data)) as im:
            im.load()
    except InvalidPost as exc:
        return _Facts(unsupported=str(exc))
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return _Facts(unsupported="the file is not an image Pillow can read")
    phi: tuple[str, ...] | None = None
    ocr_error = people_error = None
    faces = None
    if cfg.ocr:
        try:
            text = read_text(path, languages=cfg.ocr_languages, timeout=cfg.ocr_timeout)
            phi = _phi_categories(text, allow, cfg.ocr_min_confidence)
        except RuntimeError as exc:
            ocr_error = str(exc)
    if cfg.people:
        try:
            faces = find_faces(path, min_face=cfg.min_face)
        except RuntimeError as exc:
            people_error = str(exc)
    return _Facts(tuple(leaks), None, phi, ocr_error, faces, people_error)


def _phi_categories(text: str, allow: tuple[str, ...], minimum: float) -> tuple[str, ...]:
    """The Safe Harbor categories ``carecast.compliance.phi.scan`` finds in ``text``."""
    if not text.strip():
        return ()
    try:
        scan = importlib.import_module("carecast.compliance.phi").scan
    except (ImportError, AttributeError):
        raise RuntimeError("the PHI scanner (carecast.compliance.phi) is not installed") from None
    return tuple(sorted({re.sub(r"[^A-Z_]", "", str(span.category))[:30]
                         for span in scan(text, allow) if span.confidence >= minimum}))
