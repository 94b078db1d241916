"""Badge images: accept only real PNGs and safe SVGs, with a clear reason otherwise.

Badge images are shown on public pages, baked into award files and fetched by backpacks, so an
SVG must not carry scripts, event handlers, foreign HTML or references to other servers.
Unsafe SVGs are refused (not silently altered), so the admin knows what to fix.
"""

from __future__ import annotations

import base64
import io
import re

from defusedxml import ElementTree as SafeET
from defusedxml.common import DefusedXmlException
from django.core.exceptions import ValidationError
from PIL import Image, ImageDraw, ImageFont, ImageOps, UnidentifiedImageError

MAX_BYTES = 256 * 1024
MIN_SIDE = 90
MAX_SIDE = 2048
# Badges are displayed in a circle or square: allow a little slack, not a banner.
MAX_ASPECT = 1.25
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SVG_NS = "http://www.w3.org/2000/svg"
FORBIDDEN_SVG_ELEMENTS = {"script", "foreignobject", "iframe", "embed", "object", "handler", "listener"}
EXTERNAL_URL = re.compile(r"url\(\s*['\"]?\s*(?!#|data:image/)", re.I)
# The XML parser drops processing instructions, so they are looked for in the bytes: an
# <?xml-stylesheet href=…?> would load a style sheet from elsewhere when the SVG is opened.
PROCESSING_INSTRUCTION = re.compile(rb"<\?\s*([^\s?>]*)")
ANIMATIONS = {"set", "animate"}


def badge_image_validate(data: bytes, filename: str = "", *, max_bytes: int = MAX_BYTES) -> tuple[bytes, str]:
    """Return (bytes, content type) for a valid badge image, or raise ValidationError saying why."""
    if not data:
        raise ValidationError("the image file is empty")
    if len(data) > max_bytes:
        raise ValidationError(f"the image is {len(data) // 1024} KB; at most {max_bytes // 1024} KB is allowed")
    if data.startswith(PNG_SIGNATURE):
        return _png(data), "image/png"
    head = data[:1024].lstrip().lower()
    if filename.lower().endswith(".svg") or head.startswith((b"<?xml", b"<svg", b"<!--")) or b"<svg" in head:
        return _svg(data), "image/svg+xml"
    raise ValidationError("the image must be a PNG or an SVG file")


def _png(data: bytes) -> bytes:
    try:
        with Image.open(io.BytesIO(data)) as image:
            # The header's size is checked before any pixel is decoded: a small file can declare
            # a huge image (a decompression bomb) that would take the process's memory.
            _check_size(*image.size)
            image.verify()
        with Image.open(io.BytesIO(data)) as image:
            image.load()  # verify() does not decode the pixels; a truncated file fails here
    except Image.DecompressionBombError:
        raise ValidationError(f"the PNG declares an enormous image; each side must be at most {MAX_SIDE} pixels")
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ValidationError(f"the PNG file is damaged or not really a PNG ({exc})")
    return data


def _check_size(width: float, height: float) -> None:
    if min(width, height) < MIN_SIDE or max(width, height) > MAX_SIDE:
        raise ValidationError(
            f"the image is {width:g}×{height:g} pixels; each side must be between {MIN_SIDE} and {MAX_SIDE}"
        )
    if max(width, height) / min(width, height) > MAX_ASPECT:
        raise ValidationError(f"the image is {width:g}×{height:g} pixels; a badge image must be (nearly) square")


def _local(name: str) -> str:
    return name.rsplit("}", 1)[-1].lower()


def _svg(data: bytes) -> bytes:
    try:
        root = SafeET.fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException:
        raise ValidationError("the SVG file declares a DTD or entities, which are not allowed")
    except SafeET.ParseError as exc:
        raise ValidationError(f"the SVG file is not well-formed XML ({exc})")
    for number, match in enumerate(PROCESSING_INSTRUCTION.finditer(data)):
        if not (number == 0 and match.group(1) == b"xml" and not data[: match.start()].strip(b"\xef\xbb\xbf \t\r\n")):
            target = match.group(1).decode("utf-8", "replace")[:40]
            raise ValidationError(f"the SVG contains a processing instruction (<?{target}), which is not allowed")
    if _local(root.tag) != "svg" or not root.tag.startswith("{" + SVG_NS):
        raise ValidationError("the file is XML but not an SVG image (the root element must be <svg>)")
    for element in root.iter():
        name = _local(element.tag)
        if name in FORBIDDEN_SVG_ELEMENTS:
            raise ValidationError(f"the SVG contains a <{name}> element, which is not allowed in a badge image")
        css = (element.text or "") if name == "style" else ""
        if EXTERNAL_URL.search(css) or "@import" in css:
            raise ValidationError("the SVG's <style> loads something from outside the file, which is not allowed")
        if name in ANIMATIONS and element.get("attributeName", "").rsplit(":", 1)[-1].strip().lower() == "href":
            raise ValidationError("the SVG animates a link (href), which is not allowed in a badge image")
        for attribute, value in element.attrib.items():
            attr = _local(attribute)
            if attr.startswith("on"):
                raise ValidationError(f"the SVG has an event handler attribute ({attr}), which is not allowed")
            text = value.strip().lower()
            if attr == "href" and not (text.startswith("#") or text.startswith("data:image/")):
                raise ValidationError(
                    f"the SVG links to {value[:80]!r}; a badge image may only refer to parts of itself"
                )
            if "javascript:" in text or EXTERNAL_URL.search(text):
                raise ValidationError(f"the SVG attribute {attr} refers to something outside the file")
    return data


REVOKED_RED = (180, 35, 24)


def revoked_marked(data: bytes, content_type: str) -> tuple[bytes, str]:
    """The badge image marked as revoked (greyed, a red band reading REVOKED), unbaked: what a
    revoked award's image URL answers, so that a wallet shows a revoked badge, not a broken picture.

    PNG: redrawn with Pillow. SVG: a new SVG showing the original as an image (an <img>-context
    SVG runs no script and loads nothing) under the band, so the original markup is never edited."""
    if content_type.startswith("image/svg"):
        encoded = base64.b64encode(data).decode("ascii")
        svg = (
            '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 400 400" width="400" height="400">'
            '<filter id="grey"><feColorMatrix type="saturate" values="0"/></filter>'
            f'<image href="data:image/svg+xml;base64,{encoded}" width="400" height="400" filter="url(#grey)" '
            'opacity="0.6"/>'
            '<rect x="0" y="170" width="400" height="60" fill="rgb(%d,%d,%d)"/>'
            % REVOKED_RED
            + '<text x="200" y="212" font-family="sans-serif" font-size="36" font-weight="bold" fill="#fff" '
            'text-anchor="middle">REVOKED</text></svg>'
        )
        return svg.encode("utf-8"), "image/svg+xml"
    with Image.open(io.BytesIO(data)) as original:
        image = ImageOps.grayscale(original.convert("RGB")).convert("RGBA")
    width, height = image.size
    band = max(height // 6, 12)
    draw = ImageDraw.Draw(image)
    top = (height - band) // 2
    draw.rectangle((0, top, width, top + band), fill=(*REVOKED_RED, 255))
    font = ImageFont.load_default(size=max(band * 2 // 3, 8))
    draw.text((width / 2, top + band / 2), "REVOKED", fill=(255, 255, 255, 255), font=font, anchor="mm")
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue(), "image/png"
