"""Showing Open Badges narratives (criteria, evidence) on pages.

OB 2.0 and 3.0 narratives are Markdown; ours use paragraphs and "- " lists. This renders just
those two, from escaped text, so a narrative never injects markup."""

from django import template
from django.utils.html import escape
from django.utils.safestring import mark_safe

register = template.Library()

BULLETS = ("- ", "* ")


def _block(lines: list[str]) -> str:
    if all(line.lstrip().startswith(BULLETS) for line in lines):
        items = "".join(f"<li>{escape(line.lstrip()[2:].strip())}</li>" for line in lines)
        return f"<ul>{items}</ul>"
    return "<p>" + "<br>".join(escape(line.strip()) for line in lines) + "</p>"


@register.filter
def narrative(value) -> str:
    """Paragraphs (blank-line separated) and "- " bullet lists; everything else as plain text."""
    blocks: list[list[str]] = [[]]
    for line in str(value or "").replace("\r\n", "\n").split("\n"):
        if line.strip():
            blocks[-1].append(line)
        elif blocks[-1]:
            blocks.append([])
    return mark_safe("".join(_block(b) for b in blocks if b))  # noqa: S308 (every piece escaped above)
