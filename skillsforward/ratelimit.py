"""A small fixed-window rate limit kept in the shared cache (Redis in production)."""

from django.conf import settings
from django.core.cache import cache


def client_address(request) -> str:
    """The client's address. Behind the TLS proxy (SECURE_PROXY_SSL_HEADER set) that proxy appends
    the real address last to X-Forwarded-For; earlier entries are whatever the client claimed."""
    if getattr(settings, "SECURE_PROXY_SSL_HEADER", None):
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
        if forwarded:
            return forwarded[-1][:64]
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
