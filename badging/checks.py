"""System checks for badging misconfiguration that would only show up as broken badges later."""

from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import Error, Tags, register


@register(Tags.security, deploy=True)
def public_base_url_check(app_configs, **kwargs):
    """Issued assertions, credentials and emails carry absolute URLs that must stay valid for years:
    in production they cannot be taken from whatever host a request happened to use."""
    url = settings.PUBLIC_BASE_URL
    if not url:
        return [
            Error(
                "PUBLIC_BASE_URL is not set.",
                hint="Set it to the tool's stable public address, e.g. https://badges.example.edu: "
                "every issued badge links to it for ever.",
                id="badging.E001",
            )
        ]
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.netloc or parts.path not in ("", "/"):
        return [
            Error(
                f"PUBLIC_BASE_URL must be an https origin without a path, not {url!r}.",
                hint="Badge verifiers and backpacks expect https URLs on the issuer's own origin.",
                id="badging.E002",
            )
        ]
    return []
