from urllib.parse import urlsplit

from django.db.models import Q, QuerySet
from django.urls import reverse
from django.utils import timezone

from lti.models import Platform, ToolKey


def platforms_trusted() -> QuerySet[Platform]:
    """The platforms the tool trusts: active and approved by an admin. Every place that accepts
    something from a platform (launch, login, CSP frame-ancestors, Live Events, Canvas calls)
    starts from this one queryset, so a pending registration is trusted nowhere."""
    return Platform.objects.filter(active=True, status=Platform.STATUS_APPROVED)


def _origin(url: str) -> str:
    parts = urlsplit(str(url or ""))
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme in ("http", "https") and parts.netloc else ""


def platform_frame_origins(platform: Platform) -> set[str]:
    """Scheme://host[:port] of this platform's Canvas pages (issuer, login and API hosts)."""
    return {o for o in map(_origin, (platform.issuer, platform.auth_login_url, platform.api_base_url)) if o}


def platform_origins() -> set[str]:
    """Scheme://host[:port] of every trusted platform's Canvas, for CSP frame-ancestors."""
    origins: set[str] = set()
    for platform in platforms_trusted().only("issuer", "auth_login_url", "api_base_url"):
        origins |= platform_frame_origins(platform)
    return origins


def platform_pending_exists(*, issuer: str, client_id: str | None) -> bool:
    """Whether a registration for this issuer (and client id) waits for an admin's approval."""
    pending = Platform.objects.filter(issuer=issuer.rstrip("/"), status=Platform.STATUS_PENDING)
    return (pending.filter(client_id=client_id) if client_id else pending).exists()


def platform_for_live_events(*, key: str) -> Platform | None:
    """The trusted platform whose Live Events URL carries this key."""
    return platforms_trusted().filter(live_events_key=key).first()


def platform_live_events_url(*, platform: Platform, base_url: str) -> str:
    """The URL this platform's Canvas Data Services posts Live Events to (absolute under base_url)."""
    path = reverse("badging:canvas_live_event", kwargs={"key": platform.live_events_key})
    return base_url.rstrip("/") + path


def platform_for_launch(*, issuer: str, client_id: str | None) -> Platform | None:
    """The trusted registration for iss + client_id. Without a client_id (optional in an OIDC login
    request) only an issuer with exactly one trusted registration is unambiguous."""
    platforms = platforms_trusted().filter(issuer=issuer.rstrip("/"))
    if client_id:
        return platforms.filter(client_id=client_id).first()
    found = list(platforms[:2])
    return found[0] if len(found) == 1 else None


def tool_jwks() -> dict:
    """Our public keys as a JWK Set ({"keys": [...]}): the signing key and keys still in their grace period."""
    now = timezone.now()
    keys = ToolKey.objects.filter(Q(retire_after__isnull=True) | Q(retire_after__gt=now)).order_by("-created_at", "-id")
    return {"keys": [key.public_jwk for key in keys]}
