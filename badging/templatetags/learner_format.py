"""Formatting for the learner pages: points as Canvas shows them (12, 9.6, 0.25), with the decimal
separator of the page's language (9,6 in Spanish and French). The learner page's selector makes its
point texts with these functions (badging.selectors.learner.cards); templates use the `ago` filter."""

from decimal import Decimal, InvalidOperation
from functools import lru_cache

from django import template
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils import formats, timezone
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.timesince import timesince
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from badging.evaluation import points_text

register = template.Library()


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
    return _localized(points_text(value), get_language())


# A page shows few distinct point values, many times each (every rubric rating): number_format
# reads the language's formats on each call. The language is part of the key: it changes the result.
@lru_cache(maxsize=4096)
def _localized(text: str, language: str | None) -> str:
    return formats.number_format(Decimal(text))


def points_pts(value) -> SafeString:
    """ "12 pts", "9,6 pts": what {% blocktranslate %}{{ points }} pts{% endblocktranslate %} renders for
    `value|points`, the same message, kept per value and language (a rubric shows it per rating)."""
    return _points_pts(points(value), get_language())


@lru_cache(maxsize=4096)
def _points_pts(text: str, language: str | None) -> SafeString:
    return mark_safe(_("%(points)s pts") % {"points": escape(text)})  # noqa: S308 (the message, and the value escaped, as blocktranslate does)


_FORMAT_SETTINGS = frozenset(
    {"USE_THOUSAND_SEPARATOR", "THOUSAND_SEPARATOR", "DECIMAL_SEPARATOR", "NUMBER_GROUPING", "FORMAT_MODULE_PATH"}
    | {"LANGUAGES", "LANGUAGE_CODE", "LOCALE_PATHS"}
)


@receiver(setting_changed)
def _forget_points_texts(*, setting: str, **kwargs) -> None:
    """A test that changes how numbers or messages read gets fresh texts (as Django's format cache does)."""
    if setting in _FORMAT_SETTINGS:
        _localized.cache_clear()
        _points_pts.cache_clear()


@register.filter
def ago(value) -> str:
    """ "just now", "12 minutes ago", "2 hours ago": how old synced data is, in words."""
    if not value:
        return ""
    if (timezone.now() - value).total_seconds() < 60:
        return _("just now")
    return _("%(time)s ago") % {"time": timesince(value)}


def plural_count(value) -> int:
    """A whole number that picks the right plural form for `value` points: the number itself when it
    is whole; for a fraction, 0 below 1 (“0.5 points”, French “0,5 point”) and 2 above it (“1.5 points”)."""
    if value is None or value == "":
        return 0
    number = Decimal(str(value))
    if number == number.to_integral_value():
        return int(number)
    return 2 if number > 1 else 0
