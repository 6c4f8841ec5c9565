"""BlurHash (https://blurha.sh): a placeholder a client paints before any byte of a picture.

A BlurHash is a few DCT components of the picture in linear light, quantised
into a short base-83 string (28 characters for 4 x 3 components). The encoder
is the reference algorithm, written out here rather than taken from a package:
the published ones either walk every pixel in Python or copy the image into a
Python list and close the caller's image. The input is first reduced to at
most ``SAMPLE_SIDE`` px (the components are the picture's lowest frequencies,
which a box reduction keeps), so encoding costs well under a millisecond of
arithmetic whatever the picture's size. ``tests/media/test_blurhash.py``
checks it against the ``blurhash`` package on the same pixels.
"""

from __future__ import annotations

import math

from PIL import Image

COMPONENTS_X, COMPONENTS_Y = 4, 3
SAMPLE_SIDE = 32
_BASE83 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz#$%*+,-.:;=?@[]^_{|}~"
_TO_LINEAR = [
    value / 12.92 if value <= 0.04045 else ((value + 0.055) / 1.055) ** 2.4
    for value in (byte / 255 for byte in range(256))
]


def blurhash(image: Image.Image) -> str:
    """The 4 x 3 BlurHash of ``image`` (any mode; transparency is ignored)."""
    width, height = image.size
    scale = min(1.0, SAMPLE_SIDE / max(width, height, 1))
    size = max(1, round(width * scale)), max(1, round(height * scale))
    sample = image.convert("RGB")
    if size != sample.size:
        sample = sample.resize(size, Image.Resampling.BOX)
    return encode(sample.tobytes(), *sample.size)


def encode(rgb: bytes, width: int, height: int) -> str:
    """The BlurHash of ``width`` x ``height`` packed 8-bit sRGB pixels (the reference algorithm)."""
    linear = [_TO_LINEAR[byte] for byte in rgb]
    cos_x = [[math.cos(math.pi * i * x / width) for x in range(width)] for i in range(COMPONENTS_X)]
    cos_y = [
        [math.cos(math.pi * j * y / height) for y in range(height)] for j in range(COMPONENTS_Y)
    ]
    components: list[tuple[float, float, float]] = []
    for j in range(COMPONENTS_Y):
        for i in range(COMPONENTS_X):
            red = green = blue = 0.0
            row_x = cos_x[i]
            for y in range(height):
                along_y = cos_y[j][y]
                offset = y * width * 3
                for x in range(width):
                    basis = row_x[x] * along_y
                    pixel = offset + 3 * x
                    red += basis * linear[pixel]
                    green += basis * linear[pixel + 1]
                    blue += basis * linear[pixel + 2]
            norm = (1.0 if i == j == 0 else 2.0) / (width * height)
            components.append((red * norm, green * norm, blue * norm))
    dc, ac = components[0], components[1:]
    peak = max((abs(value) for component in ac for value in component), default=0.0)
    quantised_peak = int(max(0, min(82, math.floor(peak * 166 - 0.5))))
    ac_scale = (quantised_peak + 1) / 166
    parts = [
        _base83((COMPONENTS_X - 1) + (COMPONENTS_Y - 1) * 9, 1),
        _base83(quantised_peak, 1),
        _base83((_to_srgb(dc[0]) << 16) + (_to_srgb(dc[1]) << 8) + _to_srgb(dc[2]), 4),
    ]
    for red, green, blue in ac:
        parts.append(
            _base83(
                _quantise(red / ac_scale) * 361
                + _quantise(green / ac_scale) * 19
                + _quantise(blue / ac_scale),
                2,
            )
        )
    return "".join(parts)


def _quantise(value: float) -> int:
    signed = math.copysign(abs(value) ** 0.5, value)
    return int(max(0.0, min(18.0, math.floor(signed * 9 + 9.5))))


def _to_srgb(value: float) -> int:
    value = max(0.0, min(1.0, value))
    if value <= 0.0031308:
        return int(value * 12.92 * 255 + 0.5)
    return int((1.055 * value ** (1 / 2.4) - 0.055) * 255 + 0.5)


def _base83(value: int, length: int) -> str:
    return "".join(_BASE83[(value // 83 ** (length - i - 1)) % 83] for i in range(length))
