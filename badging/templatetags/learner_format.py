"""Formatting for the learner pages: points as Canvas shows them (12, 9.6, 0.25)."""

from decimal import InvalidOperation

from django import template
from django.utils import timezone
from django.utils.timesince import timesince

from badging.evaluation import points_text

register = template.Library()


@register.filter
def points(value) -> str:
    if value is None or value == "":
        return ""
    try:
        return points_text(value)
    except InvalidOperation:
        return str(value)


@register.filter
def ago(value) -> str:
    """ "just now", "12 minutes ago", "2 hours ago": how old synced data is, in words."""
    if not value:
        return ""
    if (timezone.now() - value).total_seconds() < 60:
        return "just now"
    return f"{timesince(value)} ago"
