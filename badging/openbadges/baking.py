"""Baking: Open Badges metadata embedded in the badge image (OB Baking Specification 2.0 and
OB 3.0 §5.3).

- PNG: one uncompressed iTXt chunk, keyword "openbadges" (2.0, the assertion JSON) or
  "openbadgecredential" (3.0, the credential JSON), placed right after IHDR. The pixel data is
  copied byte for byte: baking is a chunk insertion, never a re-encode.
- SVG: xmlns:openbadges on the root element and one <openbadges:assertion verify="URL"> holding
  the JSON in CDATA (2.0), or <openbadges:credential> in the OB 3.0 namespace.
"""

import re
import struct
import zlib
from functools import lru_cache

from defusedxml import ElementTree

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
OB2_KEYWORD = "openbadges"
OB3_KEYWORD = "openbadgecredential"
OB2_SVG_NS = "http://openbadges.org"
OB3_SVG_NS = "https://purl.imsglobal.org/ob/v3p0"


class BakingError(ValueError):
    """The badge class image cannot carry a badge (not a valid PNG/SVG); the message says why."""


def _chunks(data: bytes):
    """(type, start, end) of each PNG chunk; raises BakingError on a malformed file."""
    if not data.startswith(PNG_SIGNATURE):
        raise BakingError("the badge image is not a PNG file (bad signature)")
    offset = len(PNG_SIGNATURE)
    seen_end = False
    while offset < len(data):
        if offset + 12 > len(data):
            raise BakingError("the badge image PNG is truncated")
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind = data[offset + 4 : offset + 8]
        end = offset + 12 + length
        if end > len(data):
            raise BakingError(f"the badge image PNG chunk {kind!r} is truncated")
        yield kind, offset, end
        offset = end
        if kind == b"IEND":
            seen_end = True
            break
    if not seen_end:
        raise BakingError("the badge image PNG has no IEND chunk")


def _itxt_keyword(data: bytes, start: int, end: int) -> str:
    body = data[start + 8 : end - 4]
    return body.split(b"\0", 1)[0].decode("latin-1")


@lru_cache(maxsize=64)
def _png_parts(image: bytes) -> tuple[bytes, bytes]:
    """The image split after IHDR, without existing Open Badges chunks (cached per class image)."""
    chunks = list(_chunks(image))
    if not chunks or chunks[0][0] != b"IHDR":
        raise BakingError("the badge image PNG does not start with an IHDR chunk")
    kept = [
        image[start:end]
        for kind, start, end in chunks[1:]
        if not (kind in (b"iTXt", b"tEXt") and _itxt_keyword(image, start, end) in (OB2_KEYWORD, OB3_KEYWORD))
    ]
    ihdr_end = chunks[0][2]
    return image[:ihdr_end], b"".join(kept)


def _itxt_chunk(keyword: str, text: str) -> bytes:
    # keyword NUL, compression flag 0 (uncompressed), method 0, empty language tag NUL, empty
    # translated keyword NUL, then the UTF-8 text.
    body = keyword.encode("latin-1") + b"\0\0\0\0\0" + text.encode("utf-8")
    kind = b"iTXt"
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def bake_png(image: bytes, text: str, *, keyword: str = OB2_KEYWORD) -> bytes:
    """The PNG with `text` (assertion/credential JSON or a JWS) in one iTXt chunk."""
    head, rest = _png_parts(bytes(image))
    return head + _itxt_chunk(keyword, text) + rest


def unbake_png(image: bytes, *, keyword: str = OB2_KEYWORD) -> str | None:
    """The text of the Open Badges iTXt chunk, or None when the PNG carries none."""
    for kind, start, end in _chunks(bytes(image)):
        if kind == b"iTXt" and _itxt_keyword(image, start, end) == keyword:
            # keyword NUL, compression flag, method, language NUL, translated keyword NUL, text
            rest = image[start + 8 + len(keyword) + 1 : end - 4]
            if rest[0] != 0:
                raise BakingError("compressed Open Badges iTXt chunks are not allowed")
            _language, rest = rest[2:].split(b"\0", 1)
            _translated, text = rest.split(b"\0", 1)
            return text.decode("utf-8")
    return None


_SVG_OPEN = re.compile(rb"<svg\b[^>]*>", re.IGNORECASE)


@lru_cache(maxsize=64)
def _svg_checked(image: bytes) -> tuple[bytes, int, int]:
    """(image, start, end of the root <svg ...> tag), after checking it is well-formed SVG."""
    try:
        root = ElementTree.fromstring(image)
    except Exception as exc:
        raise BakingError(f"the badge image is not well-formed SVG: {exc}") from exc
    if not root.tag.endswith("svg"):
        raise BakingError("the badge image's root element is not <svg>")
    match = _SVG_OPEN.search(image)
    if match is None:
        raise BakingError("the badge image has no <svg> start tag")
    return image, match.start(), match.end()


def _cdata(text: str) -> str:
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def _xml_attr(text: str) -> str:
    return text.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")


def bake_svg(image: bytes, text: str, *, verify_url: str, ob3: bool = False) -> bytes:
    """The SVG with one <openbadges:assertion> (or <openbadges:credential>) element after the root tag."""
    image, start, end = _svg_checked(bytes(image))
    tag = image[start:end].decode("utf-8")
    namespace = OB3_SVG_NS if ob3 else OB2_SVG_NS
    if "xmlns:openbadges=" not in tag:
        closing = "/>" if tag.endswith("/>") else ">"
        tag = tag[: -len(closing)] + f' xmlns:openbadges="{namespace}"' + closing
    element = "credential" if ob3 else "assertion"
    inner = f'<openbadges:{element} verify="{_xml_attr(verify_url)}">{_cdata(text)}</openbadges:{element}>'
    return image[:start] + tag.encode("utf-8") + inner.encode("utf-8") + image[end:]


def unbake_svg(image: bytes) -> str | None:
    """The JSON (or verify URL when there is no content) of the embedded OB 2.0 assertion."""
    root = ElementTree.fromstring(bytes(image))
    for element in root.iter(f"{{{OB2_SVG_NS}}}assertion"):
        return (element.text or "").strip() or element.get("verify")
    return None
