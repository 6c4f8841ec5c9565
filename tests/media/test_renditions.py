"""Thumbnails and previews: upright, sRGB, bounded, WebP, with a dominant colour."""

from __future__ import annotations

import pytest
from PIL import Image, ImageCms

from chunkup.media.renditions import dominant_color, fit, rendition
from tests.media.samples import cmyk_jpeg, opened, png16


@pytest.mark.parametrize(
    ("size", "longest", "expected"),
    [
        ((4000, 3000), 400, (400, 300)),
        ((3000, 4000), 400, (300, 400)),
        ((200, 100), 400, (200, 100)),  # never enlarged
        ((10000, 3), 400, (400, 1)),  # never below one pixel
    ],
)
def test_fit_bounds_the_long_side(size, longest, expected):
    assert fit(*size, longest) == expected


def test_a_rendition_is_a_webp_within_its_bound():
    made = rendition(Image.new("RGB", (1200, 900), (0, 128, 255)), longest=400)
    image = opened(made.data)
    assert image.format == "WEBP"
    assert image.size == (made.width, made.height) == (400, 300)


@pytest.mark.parametrize(
    ("orientation", "size"), [(1, (200, 100)), (6, (100, 200)), (8, (100, 200))]
)
def test_a_rendition_applies_the_orientation(orientation: int, size: tuple[int, int]):
    made = rendition(Image.new("RGB", (200, 100)), longest=400, orientation=orientation)
    assert (made.width, made.height) == size


def test_orientation_6_turns_the_picture_clockwise():
    stored = Image.new("RGB", (200, 100), (0, 0, 255))
    stored.paste((255, 0, 0), (0, 0, 100, 100))  # red on the stored left half
    made = opened(rendition(stored, longest=400, orientation=6).data).convert("RGB")
    red, green, blue = made.getpixel((50, 20))  # the displayed top half
    assert red > 200 and blue < 60


def test_the_dominant_colour_of_solid_red_is_ff0000():
    assert dominant_color(Image.new("RGB", (300, 200), (255, 0, 0))) == "#ff0000"


def test_the_dominant_colour_is_the_largest_area():
    image = Image.new("RGB", (300, 300), (0, 0, 255))
    image.paste((255, 255, 0), (0, 0, 100, 100))
    assert dominant_color(image) == "#0000ff"


def test_the_dominant_colour_ignores_transparent_pixels():
    image = Image.new("RGBA", (300, 300), (0, 0, 0, 0))
    image.paste((0, 200, 0, 255), (0, 0, 100, 100))
    assert dominant_color(image) == "#00c800"


def test_a_16_bit_grey_is_scaled_not_clipped():
    made = rendition(opened(png16(value=32768)), longest=400)
    assert made.color in ("#7f7f7f", "#808080")


def test_cmyk_comes_out_as_rgb():
    made = rendition(opened(cmyk_jpeg((255, 0, 0, 0))), longest=400)
    red, green, blue = opened(made.data).convert("RGB").getpixel((10, 10))
    assert red < 40 and green > 200 and blue > 200  # cyan


def test_an_srgb_icc_profile_keeps_the_colours():
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    made = rendition(Image.new("RGB", (50, 50), (10, 200, 30)), longest=400, icc_profile=icc)
    red, green, blue = opened(made.data).convert("RGB").getpixel((5, 5))
    assert abs(red - 10) < 8 and abs(green - 200) < 8 and abs(blue - 30) < 8


def test_a_broken_icc_profile_is_ignored():
    made = rendition(Image.new("RGB", (50, 50), (10, 200, 30)), longest=400, icc_profile=b"junk")
    assert made.color == "#0ac81e"


def test_a_palette_image_with_transparency_keeps_its_alpha():
    image = Image.new("P", (40, 40), 0)
    image.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    image.info["transparency"] = 0
    made = opened(rendition(image, longest=400).data)
    assert made.mode == "RGBA"
    assert made.getpixel((1, 1))[3] == 0
