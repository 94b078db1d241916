"""A sync's Canvas error in plain words, for pages other than the dashboard (which has its own)."""

from django import template

from badging.selectors.dashboard import sync_error_explained

register = template.Library()


@register.filter
def sync_error_plain(error: str) -> str:
    return sync_error_explained(error or "")
