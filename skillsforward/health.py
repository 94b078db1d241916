"""/health/: database, cache and broker, for load balancers and container probes.

Probes address the process by its IP or container name, not by the public host name, so the probe
is answered by a middleware placed before anything that validates the Host header (and before
the pages' own middleware, which needs the cache this probe may report as down).
"""

import logging
import time

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache

logger = logging.getLogger(__name__)


def _check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _check_cache() -> None:
    key = "health:probe"
    cache.set(key, "ok", 10)
    if cache.get(key) != "ok":
        raise RuntimeError("cache did not return what was written")


def _check_broker() -> None:
    from skillsforward.celery import app

    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)


@never_cache
def health(request: HttpRequest) -> JsonResponse:
    results: dict[str, dict[str, object]] = {}
    for name, check in (("database", _check_database), ("cache", _check_cache), ("broker", _check_broker)):
        started = time.perf_counter()
        try:
            check()
            results[name] = {"ok": True}
        except Exception as exc:  # a probe reports every failure, whatever it is
            # Probes may come from anywhere: the body names the failure, the log has the details.
            logger.warning("health: %s failed: %s: %s", name, type(exc).__name__, exc)
            results[name] = {"ok": False, "error": type(exc).__name__}
        results[name]["ms"] = round((time.perf_counter() - started) * 1000, 1)
    ok = all(r["ok"] for r in results.values())
    body = {"status": "ok" if ok else "fail", "checks": results, "broker": settings.CELERY_BROKER_URL.split("://")[0]}
    return JsonResponse(body, status=200 if ok else 503)


class HealthProbeMiddleware:
    """Answers GET/HEAD /health/ whatever the Host header; every other request passes through."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path_info == "/health/" and request.method in ("GET", "HEAD"):
            return health(request)
        return self.get_response(request)
