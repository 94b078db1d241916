from urllib.parse import urlsplit

from lti.models import Platform


def platform_origins() -> set[str]:
    """Scheme://host[:port] of every active platform's Canvas, for CSP frame-ancestors."""
    origins: set[str] = set()
    for row in Platform.objects.filter(active=True).values("issuer", "auth_login_url", "api_base_url"):
        for url in row.values():
            parts = urlsplit(url or "")
            if parts.scheme in ("http", "https") and parts.netloc:
                origins.add(f"{parts.scheme}://{parts.netloc}")
    return origins
