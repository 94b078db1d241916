"""Which language a page or an email is in (README "Languages").

A launch's pages: the LTI locale claim of that launch (the user's Canvas language), else the
browser's Accept-Language (Django's LocaleMiddleware), else the default (settings.LANGUAGE_CODE).
An email to a learner: the locale of their latest launch, else the course's Canvas language, else
the default. Public badge pages: the viewer's browser (Accept-Language).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.utils import translation

if TYPE_CHECKING:
    from lti.models import Course, Person


def language_for(locale: str | None) -> str | None:
    """The supported language for a Canvas locale ("fr-CA" -> "fr", "es-419" -> "es"), or None."""
    if not locale:
        return None
    try:
        return translation.get_supported_language_variant(locale.strip().lower())
    except LookupError:
        return None


def language_for_person(person: Person, course: Course | None = None) -> str:
    """The language of what is sent to a person outside a page: emails."""
    return (
        language_for(person.locale)
        or (language_for(course.locale) if course is not None else None)
        or language_for(settings.LANGUAGE_CODE)
        or "en"
    )
