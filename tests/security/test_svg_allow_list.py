"""SVG badge images pass an allow-list of elements, attributes and CSS: what a drawing needs is kept,
everything that runs, loads, embeds or hides something is refused with a message naming it."""

import base64

import pytest
from django.core.exceptions import ValidationError

from badging.images import badge_image_validate
from tests.badging.test_issuance_support import make_png

HEAD = (
    '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
    'width="200" height="200" viewBox="0 0 200 200">'
)
PHOTO = base64.b64encode(make_png()).decode()

# Shaped like a badge exported from Inkscape: editor metadata, gradients (one inheriting another's
# stops through xlink:href), a clip path, a drop-shadow filter, a reused ribbon (<use href>),
# text on a path, plain CSS rules with url(#id), and an embedded raster photo.
REALISTIC_BADGE = f"""<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<!-- Created with Inkscape (http://www.inkscape.org/) -->
<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"
     xmlns:inkscape="http://www.inkscape.org/namespaces/inkscape"
     xmlns:sodipodi="http://sodipodi.sourceforge.net/DTD/sodipodi-0.dtd"
     xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:cc="http://creativecommons.org/ns#"
     xmlns:dc="http://purl.org/dc/elements/1.1/"
     width="200" height="200" viewBox="0 0 200 200" version="1.1" id="svg8"
     inkscape:version="1.2 (dc2aedaf03, 2022-05-15)" sodipodi:docname="data-analysis.svg" xml:space="preserve"
     role="img" aria-labelledby="title">
  <title id="title">Data Analysis Fundamentals</title>
  <desc>Awarded for mastering every credentialing assessment</desc>
  <sodipodi:namedview id="base" pagecolor="#ffffff" inkscape:zoom="2.8" inkscape:current-layer="layer1"/>
  <metadata id="metadata5">
    <rdf:RDF><cc:Work rdf:about=""><dc:format>image/svg+xml</dc:format>
      <dc:type rdf:resource="http://purl.org/dc/dcmitype/StillImage"/></cc:Work></rdf:RDF>
  </metadata>
  <style type="text/css"><![CDATA[
    /* brand colours */
    .ring {{ fill: url(#gold); stroke: #7a5c00; stroke-width: 4px; }}
    .label {{ font-family: "Open Sans", Arial, sans-serif; font-weight: 700; fill: #fff; }}
    @media (prefers-color-scheme: dark) {{ .ring {{ stroke: #ffd966; }} }}
  ]]></style>
  <defs>
    <linearGradient id="goldStops">
      <stop offset="0" stop-color="#ffe08a"/><stop offset="1" stop-color="#c99400"/>
    </linearGradient>
    <radialGradient id="gold" xlink:href="#goldStops" cx="100" cy="80" r="110" gradientUnits="userSpaceOnUse"/>
    <linearGradient id="ribbonFill" x1="0" y1="0" x2="0" y2="1">
      <stop offset="0%" style="stop-color:#1d4e89;stop-opacity:1"/><stop offset="100%" stop-color="#0b2545"/>
    </linearGradient>
    <clipPath id="photoClip"><circle cx="100" cy="88" r="34"/></clipPath>
    <filter id="shadow" x="-20%" y="-20%" width="140%" height="140%">
      <feDropShadow dx="0" dy="2" stdDeviation="2" flood-color="#000" flood-opacity="0.35"/>
      <feGaussianBlur in="SourceAlpha" stdDeviation="1" result="blur"/>
      <feMerge><feMergeNode in="blur"/><feMergeNode in="SourceGraphic"/></feMerge>
    </filter>
    <path id="ribbon" d="M40 150 L100 170 L160 150 L160 180 L100 196 L40 180 Z" fill="url(#ribbonFill)"/>
    <path id="arc" d="M30 100 A70 70 0 0 1 170 100"/>
  </defs>
  <g id="layer1" inkscape:label="Badge" inkscape:groupmode="layer" filter="url(#shadow)">
    <circle class="ring" cx="100" cy="90" r="80"/>
    <image x="66" y="54" width="68" height="68" clip-path="url('#photoClip')"
           preserveAspectRatio="xMidYMid slice" href="data:image/png;base64,{PHOTO}"/>
    <use href="#ribbon"/>
    <use xlink:href="#ribbon" transform="translate(0 4)" opacity="0.3"/>
    <text class="label" x="100" y="186" text-anchor="middle" font-size="14">DATA SKILLS</text>
    <text font-size="11" fill="#5a4300" letter-spacing="1.5"><textPath href="#arc" startOffset="50%"
      text-anchor="middle">SKILLS FORWARD <tspan font-weight="bold">UNIVERSITY</tspan></textPath></text>
  </g>
</svg>
""".encode()


def test_a_realistic_badge_svg_is_accepted_unchanged():
    assert badge_image_validate(REALISTIC_BADGE, "data-analysis.svg") == (REALISTIC_BADGE, "image/svg+xml")


def refused(body: str) -> bytes:
    return (HEAD + body + "</svg>").encode()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        # CSS: escapes hide anything from a check that reads the text; loaders fetch from elsewhere.
        (refused(r"<style>.a{fill:u\72l(https://evil.example/p)}</style>"), r"CSS escape"),
        (refused(r"""<circle r="4" style="fill:\75rl(https://evil.example/p)"/>"""), r"CSS escape"),
        (refused('<style>@import "https://evil.example/x.css";</style>'), "@import"),
        (refused("<style>@IMPORT url(https://evil.example/x.css);</style>"), "@import"),
        (refused("<style>@font-face{font-family:x;src:local(x)}</style>"), "@font-face"),
        (refused('<style>.a{fill:image-set("https://evil.example/p.png" 1x)}</style>'), "image-set"),
        (refused('<circle r="4" style="fill:-webkit-image-set(url(#a) 1x)"/>'), "image-set"),
        (refused("<style>.a{fill:URL(https://evil.example/p)}</style>"), "outside the file"),
        (refused("<style>.a{fill:url(data:image/svg+xml;base64,PHN2Zz4=)}</style>"), "outside the file"),
        (refused('<rect width="4" height="4" fill="url(&quot;//evil.example/p&quot;)"/>'), "outside the file"),
        (refused('<rect width="4" height="4" fill="url(#a) red, url(x.svg#b)"/>'), "outside the file"),
        (refused("<style>.a{width:expression(alert(1))}</style>"), "expression"),
        # Presentation attributes are CSS values too.
        (refused(r"""<rect width="4" height="4" fill="u\72l(https://evil.example/p)"/>"""), "CSS escape"),
        (refused("""<rect width="4" height="4" mask="image-set('https://evil.example/m.png' 1x)"/>"""), "image-set"),
        # Text after a child element of <style> is not what a check of style.text sees.
        (refused('<style>.a{fill:red}<g/>@import "https://evil.example/x.css";</style>'), "<g> element"),
        # Elements that run, embed or load.
        (refused("<foreignObject><div xmlns='http://www.w3.org/1999/xhtml'/></foreignObject>"), "<foreignObject>"),
        (refused("<script>alert(1)</script>"), "<script>"),
        (refused("<h:script xmlns:h='http://www.w3.org/1999/xhtml'>alert(1)</h:script>"), "another language"),
        (refused("<iframe src='https://evil.example/'/>"), "<iframe>"),
        (refused("<filter id='f'><feImage href='#a'/></filter>"), "<feImage>"),
        (refused("<animate attributeName='fill' to='red'/>"), "animates"),
        (refused("<x:widget xmlns:x='urn:example:unknown'/>"), "another language"),
        # Attributes: event handlers, and whatever is not on the list.
        (refused("<circle r='4' onclick='alert(1)'/>"), "event handler attribute \\(onclick\\)"),
        (refused("<g xml:base='https://evil.example/'><use href='#a'/></g>"), "'base'"),
        (refused("<a xlink:href='#a' xlink:actuate='onLoad'/>"), "'actuate'"),
        # Links: only a part of this file, or a raster photo on <image>.
        (refused("<a href='java&#x09;script:alert(1)'><circle r='4'/></a>"), "links to"),
        (refused("<a href='data:text/html,&lt;script&gt;alert(1)&lt;/script&gt;'/>"), "links to"),
        (refused("<image width='9' height='9' href='data:image/svg+xml;base64,PHN2Zz4='/>"), "data:image/svg\\+xml"),
        (refused("<image width='9' height='9' xlink:href=' DATA:image/svg+xml,&lt;svg/&gt;'/>"), "data:image/svg"),
        (refused(f"<use href='data:image/png;base64,{PHOTO}'/>"), "links to"),
        (refused("<use href='https://evil.example/sprite.svg#icon'/>"), "links to"),
        (refused("<image width='9' height='9' xlink:href='//evil.example/t.png'/>"), "links to"),
    ],
    ids=lambda value: value if isinstance(value, str) and len(value) < 40 else None,
)
def test_what_is_not_on_the_allow_list_is_refused_by_name(data, message):
    with pytest.raises(ValidationError, match=message):
        badge_image_validate(data, "badge.svg")
