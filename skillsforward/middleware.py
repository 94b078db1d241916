from django.core.cache import cache

from lti import selectors as lti_selectors

FRAME_ANCESTORS_CACHE_KEY = "csp:frame-ancestors"


def frame_ancestors() -> list[str]:
    """Origins allowed to frame our pages: 'self' and every registered Canvas platform."""
    origins = cache.get(FRAME_ANCESTORS_CACHE_KEY)
    if origins is None:
        origins = sorted(lti_selectors.platform_origins())
        cache.set(FRAME_ANCESTORS_CACHE_KEY, origins, 60)
    return ["'self'", *origins]


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
        ancestors = " ".join(frame_ancestors())
        response["Content-Security-Policy"] = (
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: https:; "
            "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; "
            f"form-action 'self' https: http:; frame-ancestors {ancestors}"
        )
        response.xframe_options_exempt = True
        return response
