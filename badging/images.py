"""Badge images: accept only real PNGs and safe SVGs, with a clear reason otherwise.

Badge images are shown on public pages, baked into award files and fetched by backpacks, so an
SVG must not carry scripts, event handlers, foreign HTML or references to other servers.
Unsafe SVGs are refused (not silently altered), so the admin knows what to fix. SVGs are checked
against allow-lists of elements, attributes and CSS, walking the tree defusedxml parsed: an HTML
sanitiser (nh3) would parse them as HTML and rewrite them rather than say what it refused.
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
XLINK_NS = "http://www.w3.org/1999/xlink"
XML_NS = "http://www.w3.org/XML/1998/namespace"
# The XML parser drops processing instructions, so they are looked for in the bytes: an
# <?xml-stylesheet href=…?> would load a style sheet from elsewhere when the SVG is opened.
PROCESSING_INSTRUCTION = re.compile(rb"<\?\s*([^\s?>]*)")

# An allow-list: what a static badge drawing needs, and nothing that runs, loads or embeds. Anything
# else is refused by name. Left out on purpose: script, foreignObject (HTML inside), animation
# (it can change a link after the checks), feImage/cursor/font (they load other files), switch.
SVG_ELEMENTS = {
    "svg", "g", "defs", "symbol", "use", "title", "desc", "metadata", "style", "a",
    "path", "rect", "circle", "ellipse", "line", "polyline", "polygon", "image",
    "text", "tspan", "textpath",
    "lineargradient", "radialgradient", "stop", "pattern", "clippath", "mask", "marker",
    "filter", "feblend", "fecolormatrix", "fecomponenttransfer", "fecomposite", "feconvolvematrix",
    "fediffuselighting", "fedisplacementmap", "fedistantlight", "fedropshadow", "feflood",
    "fefunca", "fefuncb", "fefuncg", "fefuncr", "fegaussianblur", "femerge", "femergenode",
    "femorphology", "feoffset", "fepointlight", "fespecularlighting", "fespotlight", "fetile",
    "feturbulence",
}  # fmt: skip
ANIMATIONS = {"set", "animate", "animatemotion", "animatetransform", "animatecolor", "discard"}
SVG_ATTRIBUTES = {
    # structure, geometry, text layout
    "id", "class", "style", "transform", "x", "y", "x1", "y1", "x2", "y2", "cx", "cy", "r", "rx", "ry",
    "fx", "fy", "fr", "width", "height", "d", "points", "pathlength", "viewbox", "preserveaspectratio",
    "version", "baseprofile", "href", "dx", "dy", "rotate", "textlength", "lengthadjust", "startoffset",
    "method", "spacing", "side", "lang", "role", "focusable", "type", "media",
    # painting (the presentation attributes)
    "fill", "fill-opacity", "fill-rule", "stroke", "stroke-width", "stroke-linecap", "stroke-linejoin",
    "stroke-miterlimit", "stroke-dasharray", "stroke-dashoffset", "stroke-opacity", "opacity", "color",
    "display", "visibility", "overflow", "clip", "clip-path", "clip-rule", "mask", "filter", "paint-order",
    "vector-effect", "mix-blend-mode", "isolation", "enable-background", "shape-rendering", "text-rendering",
    "image-rendering", "color-interpolation", "color-interpolation-filters", "color-rendering",
    "font", "font-family", "font-size", "font-size-adjust", "font-weight", "font-style", "font-variant",
    "font-stretch", "font-kerning", "text-anchor", "dominant-baseline", "alignment-baseline",
    "baseline-shift", "letter-spacing", "word-spacing", "text-decoration", "writing-mode", "direction",
    "unicode-bidi", "marker-start", "marker-mid", "marker-end",
    # gradients, patterns, clipping, masks, markers
    "offset", "stop-color", "stop-opacity", "gradientunits", "gradienttransform", "spreadmethod",
    "patternunits", "patterncontentunits", "patterntransform", "clippathunits", "maskunits",
    "maskcontentunits", "markerwidth", "markerheight", "markerunits", "refx", "refy", "orient",
    # filters
    "filterunits", "primitiveunits", "in", "in2", "result", "stddeviation", "mode", "values", "operator",
    "k1", "k2", "k3", "k4", "flood-color", "flood-opacity", "lighting-color", "radius", "scale",
    "xchannelselector", "ychannelselector", "basefrequency", "numoctaves", "seed", "stitchtiles",
    "tablevalues", "slope", "intercept", "amplitude", "exponent", "surfacescale", "specularconstant",
    "specularexponent", "diffuseconstant", "azimuth", "elevation", "pointsatx", "pointsaty", "pointsatz",
    "limitingconeangle", "z", "kernelmatrix", "order", "divisor", "bias", "targetx", "targety", "edgemode",
    "preservealpha", "kernelunitlength",
}  # fmt: skip
NAMESPACED_ATTRIBUTES = {(XLINK_NS, "href"), (XLINK_NS, "title"), (XML_NS, "space"), (XML_NS, "lang")}
# Drawing programs keep their own notes in their namespaces (Inkscape's layers, RDF licence
# metadata). Browsers neither draw nor run elements of these namespaces; they are kept so that an
# exported badge does not have to be cleaned by hand. Any other namespace (XHTML, MathML…) is refused.
EDITOR_NAMESPACES = {
    "http://www.inkscape.org/namespaces/inkscape",
    "http://sodipodi.sourceforge.net/DTD/sodipodi-0.dtd",
    "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "http://creativecommons.org/ns#",
    "http://web.resource.org/cc/",
    "http://purl.org/dc/elements/1.1/",
}
# <image> may carry a raster picture inline (drawing programs embed photos so); a raster cannot
# run anything. Another SVG inside (data:image/svg+xml) would be a document of its own: refused.
RASTER_DATA_URI = re.compile(r"data:image/(png|jpeg|gif|webp);base64,[A-Za-z0-9+/=\s]*", re.I)
CSS_URL = re.compile(r"url\(\s*(['\"]?)(.*?)\1\s*\)", re.I | re.S)
CSS_LOCAL_REFERENCE = re.compile(r"#[\w.:%-]+")
CSS_COMMENT = re.compile(r"/\*.*?(\*/|$)", re.S)
# CSS functions that fetch or embed an image other than by url(); old browsers' script hooks.
CSS_LOADERS = re.compile(
    r"(-webkit-)?image-set\s*\(|\bimage\s*\(|cross-fade\s*\(|\belement\s*\(|\bsrc\s*\(|expression\s*\("
    r"|-moz-binding|\bbehavior\s*:",
    re.I,
)
CSS_AT_RULE = re.compile(r"@(-?[A-Za-z-]+)")
CSS_AT_RULES_ALLOWED = {"media", "supports", "keyframes"}
# Characters a browser ignores inside a URL scheme ("java\tscript:").
URL_IGNORED = re.compile(r"[\x00-\x20]+")


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


def _namespace(name: str) -> str:
    return name[1:].split("}", 1)[0] if name.startswith("{") else ""


def _shown(name: str) -> str:
    """An element or attribute name as the author wrote it, without the expanded namespace."""
    return name.rsplit("}", 1)[-1]


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
    if _local(root.tag) != "svg" or _namespace(root.tag) != SVG_NS:
        raise ValidationError("the file is XML but not an SVG image (the root element must be <svg>)")
    for element in root.iter():
        _svg_element_check(element)
    return data


def _svg_element_check(element) -> None:
    """Refuses (ValidationError naming it) anything in one element that is not on the allow-lists."""
    namespace, name, shown = _namespace(element.tag), _local(element.tag), _shown(element.tag)
    if namespace in EDITOR_NAMESPACES:
        for attribute in element.attrib:
            if _local(attribute).startswith("on"):
                raise ValidationError(
                    f"the SVG has an event handler attribute ({_shown(attribute)}), which is not allowed"
                )
        return
    if namespace != SVG_NS:
        raise ValidationError(
            f"the SVG contains a <{shown}> element from another language ({namespace or 'no namespace'}), "
            "which is not allowed in a badge image"
        )
    if name in ANIMATIONS:
        raise ValidationError(f"the SVG animates something (<{shown}>), which is not allowed in a badge image")
    if name not in SVG_ELEMENTS:
        raise ValidationError(f"the SVG contains a <{shown}> element, which is not allowed in a badge image")
    if name == "style":
        if len(element):
            raise ValidationError(
                f"the SVG's <style> contains a <{_shown(element[0].tag)}> element; a style may only hold CSS text"
            )
        _css_check(element.text or "", where="<style>")
    for attribute, value in element.attrib.items():
        _svg_attribute_check(element_name=name, attribute=attribute, value=value)


def _svg_attribute_check(*, element_name: str, attribute: str, value: str) -> None:
    namespace, attr, shown = _namespace(attribute), _local(attribute), _shown(attribute)
    if attr.startswith("on"):
        raise ValidationError(f"the SVG has an event handler attribute ({shown}), which is not allowed")
    allowed = (
        (namespace, attr) in NAMESPACED_ATTRIBUTES
        or namespace in EDITOR_NAMESPACES
        or (not namespace and (attr in SVG_ATTRIBUTES or attr.startswith(("data-", "aria-"))))
    )
    if not allowed:
        raise ValidationError(
            f"the SVG has an attribute {shown!r} on <{element_name}>, which is not allowed in a badge image"
        )
    if attr == "href":
        _href_check(element_name=element_name, value=value)
        return
    if attr == "style":
        _css_check(value, where=f"style attribute on <{element_name}>")
        return
    if URL_IGNORED.sub("", value).lower().startswith(("javascript:", "data:")):
        raise ValidationError(f"the SVG attribute {shown} refers to something outside the file")
    if namespace or attr.startswith(("data-", "aria-")):
        return  # editor notes and accessibility text are never read as CSS
    # Presentation attributes (fill, mask, filter…) are parsed as CSS values: the same rules apply.
    if "\\" in value:
        raise ValidationError(f"the SVG attribute {shown} contains a CSS escape (\\), which is not allowed")
    loader = CSS_LOADERS.search(value)
    if loader:
        raise ValidationError(
            f"the SVG attribute {shown} uses {loader.group(0).strip()!r}, which loads something from outside the file"
        )
    _css_urls_check(value, where=f"the SVG attribute {shown}")


def _href_check(*, element_name: str, value: str) -> None:
    text = value.strip()
    if text.startswith("#"):
        return
    bare = URL_IGNORED.sub("", text).lower()
    if element_name == "image" and RASTER_DATA_URI.fullmatch(text):
        return
    if bare.startswith("data:image/svg+xml"):
        raise ValidationError("the SVG embeds another SVG (data:image/svg+xml), which is not allowed in a badge image")
    raise ValidationError(f"the SVG links to {value[:80]!r}; a badge image may only refer to parts of itself")


def _css_check(css: str, *, where: str) -> None:
    """CSS in a badge may select and paint; it may not load, embed or hide anything (escapes)."""
    if "\\" in css:
        raise ValidationError(f"the SVG's {where} contains a CSS escape (\\), which is not allowed in a badge image")
    text = CSS_COMMENT.sub(" ", css)
    for match in CSS_AT_RULE.finditer(text):
        rule = match.group(1).lower()
        if rule == "import":
            raise ValidationError(
                f"the SVG's {where} uses @import, which loads something from outside the file; not allowed"
            )
        if rule not in CSS_AT_RULES_ALLOWED:
            raise ValidationError(f"the SVG's {where} uses @{match.group(1)}, which is not allowed in a badge image")
    loader = CSS_LOADERS.search(text)
    if loader:
        raise ValidationError(
            f"the SVG's {where} uses {loader.group(0).strip()!r}, which loads something from outside the file"
        )
    if "javascript:" in URL_IGNORED.sub("", text).lower():
        raise ValidationError(f"the SVG's {where} refers to javascript:, which is not allowed")
    _css_urls_check(text, where=f"the SVG's {where}")


def _css_urls_check(text: str, *, where: str) -> None:
    """Every url(…) must point at a part of this file (url(#id)): anything else is loaded from outside."""
    found = 0
    for match in CSS_URL.finditer(text):
        found += 1
        if not CSS_LOCAL_REFERENCE.fullmatch(match.group(2).strip()):
            raise ValidationError(
                f"{where} refers to {match.group(0)[:80]!r}, outside the file; only url(#id) is allowed"
            )
    # An url( the pattern above could not read (unclosed, odd quoting) is refused rather than guessed.
    if len(re.findall(r"url\s*\(", text, re.I)) != found:
        raise ValidationError(f"{where} has a url( that refers outside the file; only url(#id) is allowed")


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
