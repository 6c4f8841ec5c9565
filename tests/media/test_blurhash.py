"""chunkup's BlurHash encoder against the ``blurhash`` package, on the same pixels."""

from __future__ import annotations

import random

import blurhash as reference
import pytest
from PIL import Image

from chunkup.media.blurhash import SAMPLE_SIDE, blurhash, encode


def rows(image: Image.Image) -> list[list[list[int]]]:
    width, height = image.size
    return [[list(image.getpixel((x, y))) for x in range(width)] for y in range(height)]


def sample(seed: int) -> Image.Image:
    """Random sizes and contents: noise, flat colours, hard edges, extremes."""
    chooser = random.Random(seed)
    width, height = chooser.randint(1, SAMPLE_SIDE), chooser.randint(1, SAMPLE_SIDE)
    palette = [chooser.choice([0, 1, 40, 128, 254, 255]) for _ in range(3)]
    kind = seed % 3
    pixels = bytearray()
    for _ in range(width * height):
        if kind == 0:
            pixels += bytes(chooser.randrange(256) for _ in range(3))
        elif kind == 1:
            pixels += bytes(palette if chooser.random() < 0.5 else (255 - v for v in palette))
        else:
            pixels += bytes(palette)
    return Image.frombytes("RGB", (width, height), bytes(pixels))


@pytest.mark.parametrize("seed", range(60))
def test_the_encoder_matches_the_library(seed: int):
    image = sample(seed)
    expected = reference.encode(rows(image), components_x=4, components_y=3)
    assert encode(image.tobytes(), *image.size) == expected


def test_a_large_picture_is_reduced_before_encoding():
    image = Image.effect_mandelbrot((400, 300), (-2, -1.2, 1, 1.2), 40).convert("RGB")
    small = image.resize((SAMPLE_SIDE, 24), Image.Resampling.BOX)
    assert blurhash(image) == reference.encode(rows(small), components_x=4, components_y=3)


def test_transparency_and_grey_are_encoded_as_rgb():
    grey = Image.new("L", (20, 10), 128)
    assert blurhash(grey) == blurhash(Image.new("RGB", (20, 10), (128, 128, 128)))
    assert blurhash(Image.new("RGBA", (20, 10), (10, 200, 30, 0))) == blurhash(
        Image.new("RGB", (20, 10), (10, 200, 30))
    )
