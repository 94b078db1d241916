from django.core.cache import cache
from django.urls import NoReverseMatch, reverse

from lti import selectors as lti_selectors

FRAME_ANCESTORS_CACHE_KEY = "csp:frame-ancestors"


def frame_ancestors() -> list[str]:
    """Origins allowed to frame our pages: 'self' and every registered Canvas platform."""
    origins = cache.get(FRAME_ANCESTORS_CACHE_KEY)
    if origins is None:
        origins = sorted(lti_selectors.platform_origins())
        cache.set(FRAME_ANCESTORS_CACHE_KEY, origins, 60)
    return ["'self'", *origins]


def content_security_policy(*, frame_ancestors: list[str], form_action: str = "'self' https: http:") -> str:
    """The one policy of every page: no inline scripts or styles; only frame-ancestors and form-action vary."""
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: https:; "
        "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; "
        f"form-action {form_action}; frame-ancestors {' '.join(frame_ancestors)}"
    )


def _admin_prefix() -> str | None:
    try:
        return reverse("admin:index")
    except NoReverseMatch:  # a URLconf without the admin (the demo's sandbox process)
        return None


class ContentSecurityPolicyMiddleware:
    """No inline scripts anywhere; framing only by the registered Canvas hosts.

    CSP frame-ancestors supersedes X-Frame-Options, so pages that carry it are exempted
    from the DENY header the clickjacking middleware would otherwise add.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if "Content-Security-Policy" in response:
            return response
        admin_prefix = _admin_prefix()
        if admin_prefix and request.path.startswith(admin_prefix):
            # The operators' admin opens in its own tab, never inside Canvas: a Canvas page (whose
            # rich content may embed iframes) must not frame it, so clicks cannot be hijacked.
            response["Content-Security-Policy"] = content_security_policy(frame_ancestors=["'none'"])
            return response
        response["Content-Security-Policy"] = content_security_policy(frame_ancestors=frame_ancestors())
        response.xframe_options_exempt = True
        return response
