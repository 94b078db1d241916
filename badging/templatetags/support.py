"""The badges team's contact (settings.BADGES_SUPPORT_CONTACT), for pages that tell people who to ask."""

from dataclasses import dataclass

from django import template
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator, URLValidator

register = template.Library()


@dataclass(frozen=True)
class SupportContact:
    href: str
    text: str

    @property
    def is_web_page(self) -> bool:
        # Inside Canvas's iframe a web page must open in its own tab, not replace the tool.
        return not self.href.startswith("mailto:")


@register.simple_tag
def support_contact() -> SupportContact | None:
    """A mailto: or https link to the configured contact; None when unset or not an address or URL
    (a typo in the setting must not produce a broken or javascript: link)."""
    value = (getattr(settings, "BADGES_SUPPORT_CONTACT", "") or "").strip()
    if not value:
        return None
    try:
        EmailValidator()(value)
        return SupportContact(href=f"mailto:{value}", text=value)
    except ValidationError:
        pass
    try:
        URLValidator(schemes=["https", "http"])(value)
        return SupportContact(href=value, text=value)
    except ValidationError:
        return None
