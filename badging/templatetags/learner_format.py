"""Formatting for the learner pages: points as Canvas shows them (12, 9.6, 0.25), with the decimal
separator of the page's language (9,6 in Spanish and French)."""

from decimal import Decimal, InvalidOperation

from django import template
from django.utils import formats, timezone
from django.utils.timesince import timesince
from django.utils.translation import gettext as _

from badging.evaluation import points_text

register = template.Library()


@register.filter
def points(value) -> str:
    if value is None or value == "":
        return ""
    try:
        return localized_points(value)
    except InvalidOperation:
        return str(value)


def localized_points(value, *, missing: str = "") -> str:
    """points_text (no trailing zeros) with the active language's decimal separator."""
    if value is None or value == "":
        return missing
    return formats.number_format(Decimal(points_text(value)))


@register.filter
def ago(value) -> str:
    """ "just now", "12 minutes ago", "2 hours ago": how old synced data is, in words."""
    if not value:
        return ""
    if (timezone.now() - value).total_seconds() < 60:
        return _("just now")
    return _("%(time)s ago") % {"time": timesince(value)}


@register.filter
def plural_count(value) -> int:
    """A whole number that picks the right plural form for `value` points: the number itself when it
    is whole; for a fraction, 0 below 1 (“0.5 points”, French “0,5 point”) and 2 above it (“1.5 points”)."""
    if value is None or value == "":
        return 0
    number = Decimal(str(value))
    if number == number.to_integral_value():
        return int(number)
    return 2 if number > 1 else 0
