from functools import lru_cache

from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.messages.storage import default_storage
from django.core.cache import cache
from django.urls import NoReverseMatch, get_script_prefix, get_urlconf, reverse
from django.utils.functional import SimpleLazyObject, empty

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
    # Worked out once per URLconf and script prefix, not on every response.
    return _admin_prefix_of(get_urlconf(), get_script_prefix())


@lru_cache(maxsize=16)
def _admin_prefix_of(urlconf: str | None, script_prefix: str) -> str | None:
    try:
        return reverse("admin:index", urlconf=urlconf)
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


class LazyMessageMiddleware(MessageMiddleware):
    """Django's MessageMiddleware with the message storage made when a request first reads or adds a
    message. A learner page view served from the cache (most requests) never does, and making the
    storage (its cookie signer) on every request was a measurable part of such a view."""

    def process_request(self, request):
        request._messages = SimpleLazyObject(lambda: default_storage(request))

    def process_response(self, request, response):
        messages = getattr(request, "_messages", None)
        if isinstance(messages, SimpleLazyObject) and messages._wrapped is empty:
            return response  # never read nor added to: nothing to store or clear
        return super().process_response(request, response)
