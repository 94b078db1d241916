"""Hostile badge images are refused with a reason (never a server error), and images are served so
that an SVG opened on its own can run or load nothing."""

import struct
import zlib

import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from badging.images import badge_image_validate
from badging.services.issuance import review
from tests import factories as f
from tests.badging.test_public import issued_award


def png_declaring(width: int, height: int) -> bytes:
    """A small, valid PNG whose header declares width × height 1-bit pixels (all zero, so it
    compresses about a thousand times): a decompression bomb."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = (b"\x00" + b"\x00" * ((width + 7) // 8)) * height
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(rows, 9))
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize("side", [20_000, 10_000])
def test_png_bomb_is_refused_from_its_header_without_decoding(side, monkeypatch):
    data = png_declaring(side, side)
    assert len(data) < 256 * 1024
    from PIL import ImageFile

    def never_decode(self):
        raise AssertionError("the pixels of an oversized PNG were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", never_decode)
    with pytest.raises(ValidationError, match="2048"):
        badge_image_validate(data, "bomb.png")


SVG_HEAD = b'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" viewBox="0 0 96 96">'


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'<?xml-stylesheet type="text/css" href="https://evil.example/x.css"?>' + SVG_HEAD + b"</svg>", "processing"),
        (
            b'<?xml version="1.0"?><?xml-stylesheet href="https://evil.example/x.css"?>' + SVG_HEAD + b"</svg>",
            "processing",
        ),
        (SVG_HEAD + b'<?php echo 1; ?><circle r="4"/></svg>', "processing"),
        (SVG_HEAD + b'<a href="#x"><set attributeName="href" to="https://evil.example/"/></a></svg>', "animates"),
        (
            SVG_HEAD
            + b'<image href="#i"><animate attributeName="xlink:href" values="https://evil.example/t.png"/></image></svg>',
            "animates",
        ),
        (b'<!DOCTYPE svg [<!ENTITY a "aaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>' + SVG_HEAD + b"&b;</svg>", "DTD"),
        (b'<!DOCTYPE svg [<!ENTITY x SYSTEM "file:///etc/passwd">]>' + SVG_HEAD + b"&x;</svg>", "DTD"),
        (SVG_HEAD + b'<circle r="4" style="fill:url(https://evil.example/p)"/></svg>', "outside"),
        (SVG_HEAD + b"<circle r='4'", "well-formed"),
    ],
    ids=[
        "stylesheet-pi",
        "stylesheet-after-declaration",
        "other-pi",
        "set-href",
        "animate-href",
        "billion-laughs",
        "xxe",
        "css-url",
        "truncated",
    ],
)
def test_hostile_svg_is_refused_with_a_reason(data, message):
    with pytest.raises(ValidationError, match=message):
        badge_image_validate(data, "badge.svg")


def test_svg_with_xml_declaration_and_bom_is_still_accepted():
    data = (
        b'\xef\xbb\xbf<?xml version="1.0" encoding="UTF-8"?>\n' + SVG_HEAD + b'<circle cx="48" cy="48" r="40"/></svg>'
    )
    assert badge_image_validate(data, "badge.svg") == (data, "image/svg+xml")


@pytest.mark.django_db
def test_svg_images_are_served_with_a_policy_that_blocks_scripts_and_loads():
    svg = b'<?xml version="1.0"?>' + SVG_HEAD + b'<circle cx="48" cy="48" r="40"/></svg>'
    badge = f.BadgeClassFactory(image=svg, image_content_type="image/svg+xml")
    award = issued_award()
    for url in (f"/public/badges/{badge.public_id}/image", f"/public/assertions/{award.public_id}/image"):
        response = Client().get(url)
        assert response.status_code == 200, url
        policy = response["Content-Security-Policy"]
        assert "default-src 'none'" in policy and "sandbox" in policy and "script-src" not in policy
        assert response["X-Content-Type-Options"] == "nosniff"
    assert Client().get(f"/public/badges/{badge.public_id}/image")["Content-Type"] == "image/svg+xml"


@pytest.mark.django_db
def test_revoked_award_answers_410_on_its_ob3_credential_and_jwt_too():
    award = issued_award()
    review.award_revoke(award_id=award.pk, reason="Issued in error", actor="admin:alice")
    for suffix in (".ob3.json", ".jwt", "", "/evidence"):
        assert Client().get(f"/public/assertions/{award.public_id}{suffix}").status_code == 410, suffix
    # Its images still answer an image (wallets show a revoked badge, not a broken picture), marked
    # revoked and no longer baked: the credential is not handed out there any more.
    for suffix in ("/image", "/image.ob3", "/image.svg"):
        response = Client().get(f"/public/assertions/{award.public_id}{suffix}")
        assert response.status_code == 200 and response["Content-Type"].startswith("image/"), suffix
        assert b"openbadge" not in response.content and award.public_id.encode() not in response.content


def test_baking_text_from_canvas_into_an_svg_cannot_add_markup():
    """Evidence names come from Canvas assignments, which instructors name: "]]>" must not end the CDATA."""
    from defusedxml import ElementTree

    from badging.openbadges.baking import bake_svg, unbake_svg

    hostile = '{"evidence": "Quiz ]]><script>alert(1)</script><![CDATA["}'
    svg = b'<?xml version="1.0"?>' + SVG_HEAD + b'<circle cx="48" cy="48" r="40"/></svg>'
    baked = bake_svg(svg, hostile, verify_url='https://badges.example/a"><script>x</script>')
    root = ElementTree.fromstring(baked)
    assert not [el for el in root.iter() if el.tag.rsplit("}", 1)[-1].lower() == "script"]
    assert unbake_svg(baked) == hostile
