from urllib.parse import urlsplit

from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from lti.models import Platform, ToolKey


def platform_origins() -> set[str]:
    """Scheme://host[:port] of every active platform's Canvas, for CSP frame-ancestors."""
    origins: set[str] = set()
    for row in Platform.objects.filter(active=True).values("issuer", "auth_login_url", "api_base_url"):
        for url in row.values():
            parts = urlsplit(str(url or ""))
            if parts.scheme in ("http", "https") and parts.netloc:
                origins.add(f"{parts.scheme}://{parts.netloc}")
    return origins


def platform_live_events_url(*, platform: Platform, base_url: str) -> str:
    """The URL this platform's Canvas Data Services posts Live Events to (absolute under base_url)."""
    path = reverse("badging:canvas_live_event", kwargs={"key": platform.live_events_key})
    return base_url.rstrip("/") + path


def platform_for_launch(*, issuer: str, client_id: str | None) -> Platform | None:
    """The active registration for iss + client_id. Without a client_id (optional in an OIDC login
    request) only an issuer with exactly one active registration is unambiguous."""
    platforms = Platform.objects.filter(issuer=issuer.rstrip("/"), active=True)
    if client_id:
        return platforms.filter(client_id=client_id).first()
    found = list(platforms[:2])
    return found[0] if len(found) == 1 else None


def tool_jwks() -> dict:
    """Our public keys as a JWK Set ({"keys": [...]}): the signing key and keys still in their grace period."""
    now = timezone.now()
    keys = ToolKey.objects.filter(Q(retire_after__isnull=True) | Q(retire_after__gt=now)).order_by("-created_at", "-id")
    return {"keys": [key.public_jwk for key in keys]}
