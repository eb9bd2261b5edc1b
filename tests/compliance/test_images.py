"""Image safety: metadata stripped before upload, text read by OCR, faces without consent."""

from __future__ import annotations

import importlib.util
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageCms, ImageDraw, ImageFilter, ImageFont, PngImagePlugin

from carecast import InvalidPost, Media, Post, State
from carecast.compliance import images
from carecast.compliance.images import clean_draft, metadata_of, strip_metadata

from ._helpers import codes, config, draft, review

SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
HAS_TESSERACT = (shutil.which("tesseract") is not None
                 and importlib.util.find_spec("pytesseract") is not None)
HAS_OPENCV = importlib.util.find_spec("cv2") is not None
HAS_PHI = importlib.util.find_spec("carecast.compliance.phi") is not None
needs_ocr = pytest.mark.skipif(not HAS_TESSERACT and not os.environ.get(
    "CARECAST_TEST_REQUIRE_OCR"), reason="tesseract-ocr or pytesseract is not "
                               "installed (apt-get install tesseract-ocr; carecast[ocr])")
needs_phi = pytest.mark.skipif(not HAS_PHI, reason="carecast.compliance.phi (the PHI scanner, "
                               "written by another helper) is not there yet")
needs_opencv = pytest.mark.skipif(not HAS_OPENCV, reason="OpenCV is not installed "
                                  "(carecast[vision])")


@pytest.fixture(autouse=True)
def _fresh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("CARECAST_CACHE_DIR", str(tmp_path / "cache"))
    images._MEMO.clear()
    yield
    images._MEMO.clear()


def phone_photo(path: Path, *, orientation: int = 1, size: tuple[int, int] = (64, 48)) -> Path:
    """A JPEG as a phone writes it: GPS position, owner's name, body serial, a comment."""
    im = Image.new("RGB", size)
    im.putdata([((x * 4) % 256, (y * 5) % 256, 90) for y in range(size[1])
                for x in range(size[0])])
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x013B] = "Jane Roe"
    gps = exif.get_ifd(0x8825)
    gps.update({1: "N", 2: (40.0, 44.0, 55.0), 3: "W", 4: (73.0, 59.0, 11.0)})
    exif.get_ifd(0x8769)[0xA431] = "SN-4471-2210"
    im.save(path, exif=exif, comment=b"bed 12, ward 4", icc_profile=SRGB, quality=90)
    return path


def pixels(path: Path) -> bytes:
    with Image.open(path) as im:
        return im.convert("RGB").tobytes()


# -- strip_metadata ----------------------------------------------------------------------------


def test_gps_and_names_are_stripped_and_pixels_kept(tmp_path: Path) -> None:
    original = phone_photo(tmp_path / "ward-visit.jpg")
    before = original.read_bytes()
    clean = strip_metadata(original)
    assert clean.name == "ward-visit.jpg"
    assert clean.parent.parent == tmp_path / "cache" / \
        "clean-media"
    assert original.read_bytes() == before  # the original is left alone
    with Image.open(clean) as im:
        assert dict(im.getexif()) == {}
        assert "comment" not in im.info
        assert im.info["icc_profile"] == SRGB  # colour kept
    assert pixels(clean) == pixels(original)
    for secret in (b"Jane Roe", b"SN-4471", b"bed 12"):
        assert secret not in clean.read_bytes()
    assert metadata_of(clean) == []
    assert strip_metadata(original) == clean  # keyed by content: a second call is a lookup


def test_orientation_is_applied_before_the_exif_goes(tmp_path: Path) -> None:
    original = phone_photo(tmp_path / "sideways.jpg", orientation=6)
    clean = strip_metadata(original)
    with Image.open(clean) as im, Image.open(original) as orig:
        assert im.size == (48, 64)
        assert dict(im.getexif()) == {}
        assert im.info["icc_profile"] == SRGB
        turned = orig.transpose(Image.Transpose.ROTATE_270).convert("RGB")
        diff = [abs(a - b) for a, b in zip(turned.tobytes(), im.convert("RGB").tobytes(),
                                            strict=True)]
        assert max(diff) <= 24
        assert sum(diff) / len(diff) < 3


def test_png_text_chunks_webp_and_gif_metadata(tmp_path: Path) -> None:
    im = Image.new("RGBA", (20, 10), (10, 200, 30, 128))
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "John Smith")
    info.add_itxt("XML:com.adobe.xmp", "<x:xmpmeta>MRN 48213377</x:xmpmeta>")
    im.save(tmp_path / "a.png", pnginfo=info, icc_profile=SRGB)
    assert metadata_of(tmp_path / "a.png") == ["PNG text", "PNG text (may be XMP)"]
    clean = strip_metadata(tmp_path / "a.png")
    assert b"John" not in clean.read_bytes()
    assert b"48213377" not in clean.read_bytes()
    assert pixels(clean) == pixels(tmp_path / "a.png")
    with Image.open(clean) as out:
        assert out.info.get("icc_profile") == SRGB

    exif = Image.Exif()
    exif[0x013B] = "John Smith"
    im.save(tmp_path / "b.webp", exif=exif, xmp=b"<x>John Smith</x>", lossless=True)
    assert metadata_of(tmp_path / "b.webp") == ["XMP", "a person's name (Artist)"]
    clean = strip_metadata(tmp_path / "b.webp")
    assert b"John" not in clean.read_bytes()
    assert pixels(clean) == pixels(tmp_path / "b.webp")

    Image.new("P", (8, 8), 3).save(tmp_path / "c.gif", comment=b"John Smith, room 4")
    assert metadata_of(tmp_path / "c.gif") == ["a comment"]
    clean = strip_metadata(tmp_path / "c.gif")
    assert b"John" not in clean.read_bytes()
    assert pixels(clean) == pixels(tmp_path / "c.gif")


@pytest.mark.parametrize(("name", "content"), [
    ("scan.tiff", None),
    ("broken.jpg", b"\xff\xd8\xff\xe0\x00\x10JFIF"),
    ("broken.png", b"\x89PNG\r\n\x1a\n"),
    ("broken.webp", b"RIFF\x20\x00\x00\x00WEBPVP8L\xff\x00\x00\x00"),
    ("broken.gif", b"GIF89a\x01\x00\x01\x00\x80"),
    ("notes.jpg", b"Patient notes, not an image"),
])
def test_files_that_cannot_be_stripped_are_refused(tmp_path: Path, name: str,
                                                   content: bytes | None) -> None:
    path = tmp_path / name
    if content is None:
        Image.new("RGB", (4, 4)).save(path)
    else:
        path.write_bytes(content)
    with pytest.raises(InvalidPost, match="cannot be stripped") as info:
        strip_metadata(path)
    assert name not in str(info.value)  # a file name may itself be PHI
    found = review(images, draft("x", media=[Media(source=str(path), alt_text="A scan")]),
                   config({"images": {"ocr": False, "people": False}}))
    assert codes(found) == ["images.unsupported:block"]


def test_clean_draft_swaps_local_images_only(tmp_path: Path) -> None:
    phone_photo(tmp_path / "visit.jpg")
    (tmp_path / "clip.mp4").write_bytes(bytes(16))
    item = draft("Visit", media=[Media(source="visit.jpg", alt_text="A visit"),
                                 Media(source="clip.mp4"),
                                 Media(source="https://cdn.example.org/x.jpg")])
    clean = clean_draft(item, root=tmp_path)
    sources = [m.source for m in clean.parts[0].media]
    assert sources[0] == str(strip_metadata(tmp_path / "visit.jpg"))
    assert sources[1:] == ["clip.mp4", "https://cdn.example.org/x.jpg"]
    assert clean.parts[0].media[0].alt_text == "A visit"
    assert metadata_of(sources[0]) == []


def test_the_publisher_uploads_the_stripped_copy(fake_publisher: Any, tmp_path: Path) -> None:
    phone_photo(tmp_path / "visit.jpg")
    publisher = fake_publisher(["web"], config=config(root=tmp_path))
    report = publisher.publish(Post(text="Our new garden.",
                                    media=[Media(source="visit.jpg", alt_text="A garden")]))
    assert report["web"].state == State.PUBLISHED
    sent = next(iter(publisher.platform.posts.values()))["draft"]
    assert metadata_of(sent.media[0].path(tmp_path)) == []
    assert metadata_of(tmp_path / "visit.jpg") != []  # the original is left as it was
    stored = publisher.ledger.attempt(report.post_id, "web").draft
    assert stored.media[0].source == "visit.jpg"  # the ledger keeps what the author gave


# -- the check ---------------------------------------------------------------------------------

NO_TOOLS = {"images": {"ocr": False, "people": False}}


def test_leaking_metadata_is_reported_as_info(tmp_path: Path) -> None:
    phone_photo(tmp_path / "visit.jpg")
    media = [Media(source=str(tmp_path / "visit.jpg"), alt_text="A visit")]
    found = review(images, draft("Visit", media=media), config(NO_TOOLS))
    assert codes(found) == ["images.metadata:info"]
    assert found[0].field == "parts[0].media[0].source"
    for words in ("GPS location", "the camera's serial number", "a person's name"):
        assert words in found[0].message
    assert "Jane" not in found[0].message


def test_linked_images_cannot_be_checked() -> None:
    media = [Media(source="https://cdn.example.org/ward.jpg", alt_text="A ward")]
    assert codes(review(images, draft("x", media=media))) == ["images.remote:warn"]


def record_photo(path: Path, lines: list[str]) -> Path:
    """A photo of a whiteboard or a wristband: dark text on a light, slightly noisy ground."""
    im = Image.new("RGB", (1000, 110 + 80 * len(lines)), (236, 232, 220))
    pen = ImageDraw.Draw(im)
    font = ImageFont.load_default(size=44)
    for i, line in enumerate(lines):
        pen.text((50, 50 + 80 * i), line, fill=(25, 25, 40), font=font)
    im.filter(ImageFilter.GaussianBlur(0.8)).save(path, quality=92)
    return path


@needs_ocr
@needs_phi
def test_a_record_number_written_in_an_image_is_found_by_ocr(fake_publisher: Any,
                                                             tmp_path: Path) -> None:
    record_photo(tmp_path / "whiteboard.jpg", ["Bed 4", "MRN: 48213377", "NPO after midnight"])
    publisher = fake_publisher(["web"], plugins=[images], config=config(
        {"images": {"people": False}}, root=tmp_path))
    post = Post(text="Thank you to our night-shift nurses!",
                media=[Media(source="whiteboard.jpg", alt_text="The nurses' station")])
    report = publisher.publish(post)
    assert report["web"].state == State.BLOCKED
    finding = next(f for f in report["web"].findings if f.code == "images.ocr_phi")
    assert "MRN" in finding.message
    assert "48213377" not in finding.message
    assert publisher.platform.sends == []


@needs_ocr
@needs_phi
def test_the_brands_own_sign_passes_ocr(tmp_path: Path) -> None:
    record_photo(tmp_path / "sign.jpg", ["Riverside General Hospital", "Call +1 555 010 2000"])
    media = [Media(source=str(tmp_path / "sign.jpg"), alt_text="The main entrance sign")]
    found = review(images, draft("Welcome", media=media), config({"images": {"people": False}}))
    assert found == []


def test_ocr_missing_is_a_warning_not_a_crash(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    pytesseract = pytest.importorskip("pytesseract")
    monkeypatch.setattr(pytesseract.pytesseract, "tesseract_cmd", str(tmp_path / "nothing"))
    record_photo(tmp_path / "board.jpg", ["MRN: 48213377"])
    media = [Media(source=str(tmp_path / "board.jpg"), alt_text="A board")] * 2
    found = review(images, draft("x", media=media), config({"images": {"people": False}}))
    assert codes(found) == ["images.ocr_unavailable:warn"]  # once per draft
    assert "apt-get install tesseract-ocr" in found[0].message


def face_photo(path: Path) -> Path:
    """A drawn face: enough for OpenCV's frontal-face cascade, nobody's likeness."""
    im = Image.new("RGB", (400, 400), (90, 120, 160))
    pen = ImageDraw.Draw(im)
    pen.ellipse((125, 105, 275, 295), fill=(224, 182, 150))
    pen.ellipse((115, 85, 285, 155), fill=(60, 40, 30))
    for x in (165, 235):
        pen.rectangle((x - 22, 162, x + 22, 170), fill=(70, 50, 40))
        pen.ellipse((x - 16, 178, x + 16, 194), fill=(250, 250, 250))
        pen.ellipse((x - 7, 180, x + 7, 192), fill=(30, 20, 20))
    pen.polygon([(200, 195), (188, 230), (212, 230)], fill=(200, 150, 120))
    pen.ellipse((170, 248, 230, 264), fill=(170, 80, 80))
    im.filter(ImageFilter.GaussianBlur(3)).save(path)
    return path


@needs_opencv
def test_a_face_without_consent_is_held_for_review(tmp_path: Path) -> None:
    face_photo(tmp_path / "patient.png")
    cfg = config({"images": {"ocr": False}})
    without = [Media(source=str(tmp_path / "patient.png"), alt_text="A patient smiles")]
    found = review(images, draft("Meet our patient", media=without), cfg)
    assert codes(found) == ["images.person:review"]
    with_consent = [without[0].model_copy(update={"consent": "consent-2026-0142"})]
    assert review(images, draft("Meet our patient", media=with_consent), cfg) == []
    record_photo(tmp_path / "board.jpg", ["Flu shots today"])
    no_face = [Media(source=str(tmp_path / "board.jpg"), alt_text="A sign")]
    assert review(images, draft("x", media=no_face), cfg) == []


def test_opencv_missing_is_a_warning(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def missing(*_: Any, **__: Any) -> int:
        raise RuntimeError("OpenCV is not installed: pip install 'carecast[vision]'")

    monkeypatch.setattr(images, "find_faces", missing)
    face_photo(tmp_path / "p.png")
    found = review(images, draft("x", media=[Media(source=str(tmp_path / "p.png"),
                                                   alt_text="A person")]),
                   config({"images": {"ocr": False}}))
    assert codes(found) == ["images.people_unavailable:warn"]
