"""A small fixed-window rate limit kept in the shared cache (Redis in production)."""

from django.conf import settings
from django.core.cache import cache


def client_address(request) -> str:
    """The client's address, for every rate limit and log line.

    X-Forwarded-For is anyone's to write: only with TRUSTED_PROXY_COUNT = N proxies in front of the
    server (each appends the address it saw) is the N-th entry from the end the client as the
    outermost trusted proxy saw it; entries before it are whatever the client claimed. Without
    trusted proxies the header is ignored and the peer address counts.
    """
    trusted = settings.TRUSTED_PROXY_COUNT
    if trusted > 0:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
        if len(forwarded) >= trusted:
            return forwarded[-trusted][:64]
    return request.META.get("REMOTE_ADDR", "")[:64]


def rate_limit_exceeded(*, key: str, limit: int, window_seconds: int) -> bool:
    """Counts one more hit against `key`; True once more than `limit` hits fell in this window."""
    cache_key = f"ratelimit:{key}"
    if cache.add(cache_key, 1, window_seconds):
        return limit < 1
    try:
        count = cache.incr(cache_key)
    except ValueError:  # expired between add and incr: this hit opens a new window
        cache.add(cache_key, 1, window_seconds)
        return limit < 1
    return count > limit
