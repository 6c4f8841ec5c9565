"""Thumbnails and previews: upright, sRGB, bounded, WebP, with a dominant colour."""

from __future__ import annotations

import pytest
from PIL import Image, ImageCms

from chunkup.media.renditions import dominant_color, fit, ladder, rendition
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


# -- the responsive ladder -------------------------------------------------------------------


def test_the_ladder_makes_each_standard_width_below_the_images_own():
    made = ladder(Image.new("RGB", (2000, 1000), (0, 128, 255)))
    assert [(p.width, p.height, p.mimetype) for p in made.pictures] == [
        (320, 160, "image/webp"),
        (640, 320, "image/webp"),
        (1280, 640, "image/webp"),
        (1920, 960, "image/webp"),
    ]
    for picture in made.pictures:
        assert opened(picture.data).size == (picture.width, picture.height)
    assert (made.thumbnail.width, made.thumbnail.height) == (400, 200)


def test_the_ladder_adds_a_full_size_jpeg_when_asked():
    made = ladder(Image.new("RGB", (500, 300), (0, 128, 255)), full=True)
    assert [(p.width, p.mimetype) for p in made.pictures] == [
        (320, "image/webp"),
        (500, "image/jpeg"),
    ]
    assert opened(made.pictures[-1].data).format == "JPEG"


def test_the_ladder_turns_and_converts_every_picture():
    stored = Image.new("CMYK", (1000, 700), (0, 255, 255, 0))  # red, sideways
    made = ladder(stored, orientation=8, full=True)
    assert [(p.width, p.height) for p in made.pictures] == [(320, 457), (640, 914), (700, 1000)]
    for picture in made.pictures:
        red, green, blue = opened(picture.data).convert("RGB").getpixel((100, 100))
        assert red > 200 and green < 60 and blue < 60


def test_the_ladder_reads_the_decoded_image_once(monkeypatch):
    """Every picture is resized from the one before: the source is resized exactly once."""
    source = Image.new("RGB", (2400, 1600), (9, 9, 9))
    calls: list[tuple[int, int]] = []
    original = Image.Image.resize

    def counting(self, size, *args, **kwargs):
        if self is source:
            calls.append(size)
        return original(self, size, *args, **kwargs)

    monkeypatch.setattr(Image.Image, "resize", counting)
    ladder(source)
    assert calls == [(1920, 1280)]


def test_the_full_size_jpeg_puts_transparency_on_white():
    image = Image.new("RGBA", (500, 300), (0, 0, 0, 0))
    image.paste((0, 0, 255, 255), (0, 0, 100, 300))
    made = ladder(image, full=True)
    jpeg = opened(made.pictures[-1].data).convert("RGB")
    assert min(jpeg.getpixel((400, 150))) > 245  # was transparent: white, not black
    red, green, blue = jpeg.getpixel((50, 150))
    assert blue > 200 and red < 40
