"""WebP pictures made from a decoded image: thumbnails, previews, responsive widths.

A rendition is what a feed shows without fetching the original: upright (the
EXIF orientation applied), in sRGB (an embedded ICC profile converted, CMYK
included), 8 bits a channel, at most a given number of pixels on its long
side, with the dominant colour as ``#rrggbb`` for a placeholder.

``ladder`` makes all of an image's pictures in one pass over one decode: the
responsive widths (``WIDTHS``, never enlarged), the thumbnail and its BlurHash,
and, for formats browsers cannot show (HEIC), a full-size JPEG. The decoded
image is reduced once to the largest of them and put upright and in sRGB
there; every smaller one is then resized from the one before it, so the
decode is read once and each step works on a picture about half the size of
the last.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from functools import lru_cache
from typing import cast

from PIL import Image, ImageCms

from chunkup.media.blurhash import blurhash

log = logging.getLogger(__name__)

THUMBNAIL_SIDE = 400
PREVIEW_SIDE = 1024
WEBP_QUALITY = 80
# libwebp's effort, 0-6: 2 encodes a page preview in half the time of the default
# 4, for files a few per cent larger (measured on a 1024 px PDF page)
WEBP_EFFORT = 2
# the responsive widths (px, as displayed) a feed picks from with srcset
WIDTHS = (320, 640, 1280, 1920)
# libwebp's fastest effort above this width: at 1920 px effort 2 took 3x as long as 0
# (180 vs 64 ms) and alone would spend the completion budget of a photo
FAST_WEBP_ABOVE = 640
FULL_JPEG_QUALITY = 90

_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_ALPHA_MODES = {"RGBA", "LA", "PA", "La", "RGBa"}


@dataclass(frozen=True, slots=True)
class Rendition:
    """An encoded WebP picture and what the Media says about it."""

    data: bytes
    width: int
    height: int
    color: str

    mimetype = "image/webp"


@dataclass(frozen=True, slots=True)
class Picture:
    """An encoded responsive picture: its bytes, size as displayed and type."""

    data: bytes
    width: int
    height: int
    mimetype: str


@dataclass(frozen=True, slots=True)
class Ladder:
    """What ``ladder`` made of one image."""

    thumbnail: Rendition
    blurhash: str
    # the responsive widths below the image's own, WebP, narrowest first; with
    # ``full`` asked for, a full-size JPEG last
    pictures: tuple[Picture, ...]


def fit(width: int, height: int, longest: int) -> tuple[int, int]:
    """``width`` x ``height`` scaled down (never up) to at most ``longest`` on the long side."""
    scale = min(1.0, longest / max(width, height, 1))
    return max(1, round(width * scale)), max(1, round(height * scale))


def swaps_sides(orientation: int | None) -> bool:
    return orientation in (5, 6, 7, 8)


def rendition(
    image: Image.Image,
    *,
    longest: int,
    orientation: int | None = None,
    icc_profile: bytes | None = None,
) -> Rendition:
    """``image`` upright, in sRGB, at most ``longest`` px on its long side, as WebP."""
    picture = _eight_bit(image)
    size = fit(*picture.size, longest)
    if size != picture.size:
        picture = picture.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
    picture = _srgb(picture, icc_profile)
    if orientation in _TRANSPOSE:
        picture = picture.transpose(_TRANSPOSE[orientation])
    buffer = io.BytesIO()
    picture.save(buffer, "WEBP", quality=WEBP_QUALITY, method=WEBP_EFFORT)
    return Rendition(buffer.getvalue(), *picture.size, dominant_color(picture))


def ladder(
    image: Image.Image,
    *,
    orientation: int | None = None,
    icc_profile: bytes | None = None,
    widths: tuple[int, ...] = WIDTHS,
    full: bool = False,
    release: bool = False,
) -> Ladder:
    """The thumbnail, its BlurHash and the responsive pictures of ``image``, in one pass.

    ``widths`` are displayed widths; those not below the image's own are left
    out (never enlarged). ``full`` adds the whole image as a JPEG. ``release``
    closes ``image`` as soon as the largest picture is made from it, so the
    decoded pixels are freed before anything is encoded: the peak stays that of
    the decode (plus the first, smaller, picture while it is being made).
    """
    picture = _eight_bit(image)
    displayed = picture.size[::-1] if swaps_sides(orientation) else picture.size
    steps: list[tuple[tuple[int, int], str]] = [
        (_at_width(displayed, width), "image/webp") for width in widths if width < displayed[0]
    ]
    if full:
        steps.append((displayed, "image/jpeg"))
    steps.append((fit(*displayed, THUMBNAIL_SIDE), "thumbnail"))
    steps.sort(key=lambda step: step[0][0], reverse=True)  # largest first, each from the last
    first = steps[0][0]
    stored = first[::-1] if swaps_sides(orientation) else first
    if stored != picture.size:
        picture = _resize(picture, stored)
    picture = _srgb(picture, icc_profile)
    if orientation in _TRANSPOSE:
        picture = picture.transpose(_TRANSPOSE[orientation])
    if release and picture is not image:
        image.close()
    pictures: list[Picture] = []
    thumbnail: Rendition | None = None
    hashed = ""
    for size, kind in steps:
        if size != picture.size:
            picture = _resize(picture, size)
        if kind == "thumbnail":
            thumbnail = Rendition(_webp(picture, WEBP_EFFORT), *size, dominant_color(picture))
            hashed = blurhash(picture)
        else:
            pictures.append(_picture(picture, kind))
    assert thumbnail is not None  # always one of the steps
    pictures.sort(key=lambda made: (made.width, made.mimetype))
    return Ladder(thumbnail, hashed, tuple(pictures))


def _picture(picture: Image.Image, mimetype: str) -> Picture:
    if mimetype == "image/jpeg":
        return Picture(_jpeg(picture), *picture.size, mimetype)
    effort = 0 if picture.width > FAST_WEBP_ABOVE else WEBP_EFFORT
    return Picture(_webp(picture, effort), *picture.size, mimetype)


def _at_width(size: tuple[int, int], width: int) -> tuple[int, int]:
    return width, max(1, round(size[1] * width / size[0]))


def _resize(picture: Image.Image, size: tuple[int, int]) -> Image.Image:
    """Lanczos for large reductions (after a box pre-reduction), bicubic for small.

    Below a factor of 2 the two are indistinguishable, and bicubic costs half.
    """
    if picture.size[0] >= 2 * size[0]:
        return picture.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
    return picture.resize(size, Image.Resampling.BICUBIC)


def _webp(picture: Image.Image, effort: int) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, "WEBP", quality=WEBP_QUALITY, method=effort)
    return buffer.getvalue()


def _jpeg(picture: Image.Image) -> bytes:
    """``picture`` as a JPEG; transparent parts on white (JPEG has no alpha)."""
    rgb = picture
    if picture.mode == "RGBA":
        rgb = Image.new("RGB", picture.size, (255, 255, 255))
        rgb.paste(picture, mask=picture.getchannel("A"))
    elif picture.mode != "RGB":
        rgb = picture.convert("RGB")
    buffer = io.BytesIO()
    rgb.save(buffer, "JPEG", quality=FULL_JPEG_QUALITY)
    return buffer.getvalue()


def dominant_color(image: Image.Image) -> str:
    """The most common colour of ``image`` after a median-cut to a few colours."""
    sample = image.convert("RGBA").resize((48, 48), Image.Resampling.BOX)
    raw = sample.tobytes()
    opaque = b"".join(raw[i : i + 3] for i in range(0, len(raw), 4) if raw[i + 3] >= 128)
    pixels = opaque or b"".join(raw[i : i + 3] for i in range(0, len(raw), 4))
    strip = Image.frombytes("RGB", (len(pixels) // 3, 1), pixels)
    quantized = strip.quantize(colors=6, method=Image.Quantize.MEDIANCUT)
    palette = quantized.getpalette() or []
    colors = cast("list[tuple[int, int]]", quantized.getcolors())  # (count, palette index)
    _count, index = max(colors or [(1, 0)])
    red, green, blue = palette[index * 3 : index * 3 + 3] or (0, 0, 0)
    return f"#{red:02x}{green:02x}{blue:02x}"


def _eight_bit(image: Image.Image) -> Image.Image:
    """``image`` in a mode that resizes and converts well: L, RGB, RGBA or CMYK."""
    mode = image.mode
    if mode in ("L", "RGB", "RGBA", "CMYK"):
        return image
    if mode.startswith("I"):  # 16-bit grey: scale to 8 bits, do not clip
        _low, high = cast("tuple[float, float]", image.getextrema())  # one band: (min, max)
        scale = 1 / 256 if mode.startswith("I;16") or high > 255 else 1.0
        return image.convert("I").point(lambda value: value * scale).convert("L")
    if mode == "P":
        return image.convert("RGBA" if "transparency" in image.info else "RGB")
    return image.convert("RGBA" if mode in _ALPHA_MODES else "RGB")


def _srgb(image: Image.Image, icc_profile: bytes | None) -> Image.Image:
    """``image`` as 8-bit RGB(A) in sRGB, through its ICC profile where it has one."""
    if icc_profile and image.mode in ("RGB", "RGBA", "CMYK"):
        try:
            transform = _transform(icc_profile, image.mode)
            return ImageCms.applyTransform(image, transform) or image
        except (ImageCms.PyCMSError, OSError, ValueError, TypeError) as exc:
            log.info("ICC profile not applied to a rendition: %s", exc)
    if image.mode in ("RGB", "RGBA"):
        return image
    return image.convert("RGBA" if image.mode == "LA" else "RGB")


def _transform(icc_profile: bytes, mode: str) -> ImageCms.ImageCmsTransform:
    # built for each picture: a transform's pixel cache is not safe to share across threads
    source = ImageCms.ImageCmsProfile(io.BytesIO(icc_profile))
    output = "RGBA" if mode == "RGBA" else "RGB"
    return ImageCms.buildTransform(source, _srgb_profile(), mode, output)


@lru_cache(maxsize=1)
def _srgb_profile() -> ImageCms.ImageCmsProfile:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
