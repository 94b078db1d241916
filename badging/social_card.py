"""The preview card social sites show for a shared badge or collection (Open Graph og:image).

Facebook, LinkedIn and X crop a link preview to about 1.91:1 and do not accept SVG, so a square
or SVG badge image makes a poor or missing card (Badgr padded images to 1.91:1 for this reason).
The card is a 1200×630 PNG: the badge image (PNG badges; SVG ones get a coloured disc, since no SVG
renderer is installed) beside the badge and issuer names.
"""

import io
import textwrap

from PIL import Image, ImageDraw, ImageFont

CARD_SIZE = (1200, 630)
BACKGROUND = (245, 247, 250)
BAND = (3, 87, 127)
INK = (26, 32, 44)
MUTED = (74, 85, 104)


def badge_card_png(*, name: str, issuer_name: str, image: bytes, content_type: str) -> bytes:
    card = Image.new("RGB", CARD_SIZE, BACKGROUND)
    draw = ImageDraw.Draw(card)
    draw.rectangle((0, 0, CARD_SIZE[0], 18), fill=BAND)
    box = (60, 105, 480, 525)  # 420 px square, vertically centred
    picture = None
    if not content_type.startswith("image/svg"):
        try:
            with Image.open(io.BytesIO(image)) as original:
                picture = original.convert("RGBA")
                picture.thumbnail((box[2] - box[0], box[3] - box[1]))
        except Exception:
            picture = None
    if picture is not None:
        left = box[0] + (box[2] - box[0] - picture.width) // 2
        top = box[1] + (box[3] - box[1] - picture.height) // 2
        card.paste(picture, (left, top), picture)
    else:
        draw.ellipse(box, fill=BAND)
        initials = "".join(word[0] for word in name.split()[:2]).upper() or "★"
        draw.text(
            ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2),
            initials,
            fill=(255, 255, 255),
            font=ImageFont.load_default(size=140),
            anchor="mm",
        )
    title_font = ImageFont.load_default(size=56)
    small_font = ImageFont.load_default(size=34)
    lines = textwrap.wrap(name, width=22)[:4]
    y = 315 - (len(lines) * 68 + 60) // 2
    for line in lines:
        draw.text((540, y), line, fill=INK, font=title_font)
        y += 68
    draw.text((540, y + 14), textwrap.shorten(issuer_name, width=34, placeholder="…"), fill=MUTED, font=small_font)
    out = io.BytesIO()
    card.save(out, format="PNG", optimize=True)
    return out.getvalue()
