"""Canvas text escaped for Badgr's Markdown fields, which refuse "![" and strip HTML-like text."""

from __future__ import annotations

import re

_INLINE = re.compile(r"([\\`*_\[\]{}#|~!])")
_BLOCK_START = re.compile(r"^(\s*)([-+>]|\d+[.)])(?=\s|$)")


def _escape_text(text: str) -> str:
    """Plain text as Markdown that Badgr keeps: entities for &, < and > (Badgr strips anything
    tag-like), backslashes before Markdown punctuation (so "![" never reaches Badgr, which refuses
    it), and a leading list/quote/number marker made literal."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _INLINE.sub(r"\\\1", text)
    return _BLOCK_START.sub(lambda m: m.group(1) + re.sub(r"([-+.)])", r"\\\1", m.group(2)), text)


def badgr_markdown(narrative: str) -> str:
    """The product's evidence narrative (paragraphs and "- " list items of Canvas course and
    assignment names) as Markdown for Badgr: the list structure kept, all text escaped."""
    lines = []
    for line in narrative.split("\n"):
        if line.startswith("- "):
            lines.append("- " + _escape_text(line[2:]))
        else:
            lines.append(_escape_text(line))
    return "\n".join(lines)
