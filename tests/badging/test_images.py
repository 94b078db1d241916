"""Badge image validation: real PNGs within limits, safe SVGs; everything else refused with a reason."""

import io

import pytest
from django.core.exceptions import ValidationError
from PIL import Image

from badging.images import badge_image_validate


def png(width=200, height=200) -> bytes:
    out = io.BytesIO()
    Image.new("RGBA", (width, height), (20, 90, 160, 255)).save(out, format="PNG")
    return out.getvalue()


SVG_OK = b"""<?xml version="1.0"?>
<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" viewBox="0 0 100 100">
  <defs><linearGradient id="g"><stop offset="0" stop-color="#fff"/></linearGradient></defs>
  <circle cx="50" cy="50" r="45" fill="url(#g)"/><use xlink:href="#g"/><text x="10" y="55">Zo&#235;</text>
</svg>"""


def test_valid_png_and_svg_are_accepted():
    data = png()
    assert badge_image_validate(data, "badge.png") == (data, "image/png")
    assert badge_image_validate(SVG_OK, "badge.svg") == (SVG_OK, "image/svg+xml")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"GIF89a....", "must be a PNG or an SVG"),
        (png()[:80], "damaged"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 50, "damaged"),
        (png(1, 1), "1×1 pixels; each side must be between 90 and 2048"),
        (png(400, 100), "square"),
        (png(3000, 3000), "between 90 and 2048"),
    ],
)
def test_bad_png_is_refused_with_reason(data, message):
    with pytest.raises(ValidationError, match=message):
        badge_image_validate(data, "badge.png")


def test_oversized_file_is_refused():
    with pytest.raises(ValidationError, match="at most 256 KB"):
        badge_image_validate(b"\x89PNG\r\n\x1a\n" + b"\x00" * (300 * 1024), "big.png")


@pytest.mark.parametrize(
    ("svg", "message"),
    [
        (b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "<script>"),
        (b'<svg xmlns="http://www.w3.org/2000/svg"><circle onload="alert(1)" r="4"/></svg>', "event handler"),
        (b'<svg xmlns="http://www.w3.org/2000/svg"><foreignObject><div/></foreignObject></svg>', "<foreignObject>"),
        (
            b'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink">'
            b'<image xlink:href="http://tracker.example/p.png"/></svg>',
            "links to",
        ),
        (b'<svg xmlns="http://www.w3.org/2000/svg"><a href="javascript:alert(1)"/></svg>', "links to"),
        (b'<svg xmlns="http://www.w3.org/2000/svg"><rect fill="url(https://x.example/p)"/></svg>', "outside"),
        (b'<svg xmlns="http://www.w3.org/2000/svg"><style>@import url(http://x/y.css);</style></svg>', "outside"),
        (b'<!DOCTYPE svg [<!ENTITY x "y">]><svg xmlns="http://www.w3.org/2000/svg">&x;</svg>', "DTD"),
        (b"<svg><circle/></svg>", "not an SVG"),
        (b'<svg xmlns="http://www.w3.org/2000/svg"><circle></svg>', "not well-formed"),
    ],
)
def test_unsafe_svg_is_refused_with_reason(svg, message):
    with pytest.raises(ValidationError, match=message):
        badge_image_validate(svg, "badge.svg")
