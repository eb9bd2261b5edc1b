"""Logos drawn with Pillow: the brand's, its resized and re-compressed copies, another one."""

from __future__ import annotations

import io

from PIL import Image, ImageDraw


def logo(size: int = 400) -> Image.Image:
    """The brand's logo: a blue disc with a white cross over a green river band."""
    image = Image.new("RGB", (size, size), "white")
    draw = ImageDraw.Draw(image)
    s = size / 400
    draw.ellipse([40 * s, 40 * s, 360 * s, 360 * s], fill=(11, 79, 108))
    draw.rectangle([170 * s, 90 * s, 230 * s, 310 * s], fill="white")
    draw.rectangle([90 * s, 170 * s, 310 * s, 230 * s], fill="white")
    draw.rectangle([0, 330 * s, 400 * s, 370 * s], fill=(42, 157, 87))
    return image


def other_logo(size: int = 400) -> Image.Image:
    """A retired logo: an orange square with a dark diagonal stripe and a dot."""
    image = Image.new("RGB", (size, size), (250, 240, 225))
    draw = ImageDraw.Draw(image)
    s = size / 400
    draw.rectangle([20 * s, 20 * s, 260 * s, 260 * s], fill=(230, 120, 20))
    draw.polygon([(0, 400 * s), (400 * s, 0), (400 * s, 90 * s), (90 * s, 400 * s)],
                 fill=(40, 40, 60))
    draw.ellipse([290 * s, 290 * s, 380 * s, 380 * s], fill=(200, 30, 60))
    return image


def encode(image: Image.Image, fmt: str = "PNG", **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def brand_png() -> bytes:
    return encode(logo())


def resized_png(size: int = 128) -> bytes:
    """What a platform serves: the logo scaled down."""
    return encode(logo().resize((size, size), Image.Resampling.LANCZOS))


def recompressed_jpeg(quality: int = 35) -> bytes:
    """The logo saved again as a low-quality JPEG at another size."""
    return encode(logo().resize((200, 200)), "JPEG", quality=quality)


def other_png() -> bytes:
    return encode(other_logo())
