"""What Canvas does around every REST endpoint, and the helpers the endpoints share.

Each endpoint goes through `canvas_api`, which does what Canvas's middleware does: Bearer
token auth (401 JSON), the per-token leaky bucket (403 "Rate Limit Exceeded", X-Request-Cost,
X-Rate-Limit-Remaining), and the sandbox's injected latency and 5xx faults. Collections are
paginated like Canvas: per_page (default 10, max 100), opaque bookmark page tokens, and a Link
header with rel=current, next and first.
"""

import base64
import json
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from functools import wraps

from django.db import transaction
from django.db.models import F, QuerySet
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET

from sandbox.models import (
    GRADER_TYPES,
    ApiToken,
    SandboxCourse,
    SandboxEnrollment,
    SandboxInstance,
    SandboxUser,
    token_digest,
)

DEFAULT_PER_PAGE = 10
MAX_PER_PAGE = 100
THROTTLED_BODY = "403 Forbidden (Rate Limit Exceeded)\n"


class ApiError(Exception):
    def __init__(self, status: int, body: dict):
        self.status = status
        self.body = body


def not_found() -> ApiError:
    return ApiError(404, {"errors": [{"message": "The specified resource does not exist."}]})


def unauthorized() -> ApiError:
    return ApiError(
        401, {"status": "unauthorized", "errors": [{"message": "user not authorized to perform that action"}]}
    )


def iso(value: datetime | None) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


def num(value) -> float | None:
    return float(value) if value is not None else None


@dataclass
class Caller:
    """Who the token belongs to, and what they may see in the course being read."""

    instance: SandboxInstance
    user: SandboxUser
    token: ApiToken
    _types: dict[int, set[str]] = field(default_factory=dict)

    def course(self, course_id: int) -> SandboxCourse:
        course = SandboxCourse.objects.filter(instance=self.instance, id=course_id).first()
        if course is None:
            raise not_found()
        return course

    def enrollment_types(self, course: SandboxCourse) -> set[str]:
        if course.id not in self._types:
            self._types[course.id] = set(
                SandboxEnrollment.objects.filter(course=course, user=self.user)
                .exclude(workflow_state__in=["deleted", "inactive"])
                .values_list("type", flat=True)
            )
        return self._types[course.id]

    def is_grader(self, course: SandboxCourse) -> bool:
        return self.user.is_account_admin or bool(self.enrollment_types(course) & set(GRADER_TYPES))

    def require_member(self, course: SandboxCourse) -> None:
        if not (self.user.is_account_admin or self.enrollment_types(course)):
            raise unauthorized()

    def require_grader(self, course: SandboxCourse) -> None:
        if not self.is_grader(course):
            raise unauthorized()


@dataclass
class Page:
    items: list
    next_token: str | None


def _bookmark(last_id: int) -> str:
    return "bookmark:" + base64.urlsafe_b64encode(json.dumps([last_id]).encode()).decode().rstrip("=")


def _read_bookmark(token: str | None) -> int | None:
    if not token or token == "first":
        return None
    if not token.startswith("bookmark:"):
        raise ApiError(400, {"errors": [{"message": "invalid page"}]})
    raw = token[len("bookmark:") :]
    try:
        return int(json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))[0])
    except (ValueError, IndexError, TypeError):
        raise ApiError(400, {"errors": [{"message": "invalid page"}]})


def per_page(request: HttpRequest) -> int:
    try:
        value = int(request.GET.get("per_page", DEFAULT_PER_PAGE))
    except ValueError:
        return DEFAULT_PER_PAGE
    return DEFAULT_PER_PAGE if value < 1 else min(value, MAX_PER_PAGE)


def paginate(request: HttpRequest, queryset: QuerySet, serialize: Callable[[Iterable], list]) -> Page:
    """Keyset pagination on id: each page is one indexed range query however deep it is."""
    size = per_page(request)
    after = _read_bookmark(request.GET.get("page"))
    if after is not None:
        queryset = queryset.filter(id__gt=after)
    rows = list(queryset.order_by("id")[: size + 1])
    more = len(rows) > size
    rows = rows[:size]
    return Page(items=serialize(rows), next_token=_bookmark(rows[-1].id) if more and rows else None)


def _page_url(request: HttpRequest, token: str) -> str:
    query = request.GET.copy()
    query["page"] = token
    query["per_page"] = str(per_page(request))
    return request.build_absolute_uri(request.path) + "?" + query.urlencode(safe="[]:")


def link_header(request: HttpRequest, page: Page) -> str:
    links = [(_page_url(request, request.GET.get("page", "first")), "current")]
    if page.next_token:
        links.append((_page_url(request, page.next_token), "next"))
    links.append((_page_url(request, "first"), "first"))
    return ",".join(f'<{url}>; rel="{rel}"' for url, rel in links)


def _json(status: int, body) -> JsonResponse:
    return JsonResponse(body, status=status, safe=False, json_dumps_params={"ensure_ascii": False})


def bearer_token(request: HttpRequest) -> str:
    """The token of an `Authorization: Bearer …` header, or ""."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def _authenticate(request: HttpRequest, instance: SandboxInstance) -> ApiToken:
    # Canvas also accepts the token as an access_token query parameter (documented, discouraged).
    token = bearer_token(request) or request.GET.get("access_token", "")
    if not token:
        raise ApiError(401, {"status": "unauthenticated", "errors": [{"message": "user authorization required"}]})
    row = (
        ApiToken.objects.select_related("user", "user__instance")
        .filter(token_hash=token_digest(token), user__instance=instance)
        .first()
    )
    if row is None:
        raise ApiError(401, {"errors": [{"message": "Invalid access token."}]})
    return row


def _bucket_reserve(instance: SandboxInstance, token: ApiToken) -> tuple[bool, float]:
    """Leaks the bucket, then reserves the up-front cost. Returns (allowed, level after leaking)."""
    now = time.time()
    with transaction.atomic():
        row = ApiToken.objects.select_for_update().get(pk=token.pk)
        level = max(0.0, row.bucket_level - instance.throttle_leak_per_second * (now - row.bucket_updated_at))
        allowed = level + instance.throttle_upfront_cost <= instance.throttle_bucket_size
        reserved = level + instance.throttle_upfront_cost if allowed else level
        ApiToken.objects.filter(pk=row.pk).update(bucket_level=reserved, bucket_updated_at=now)
        return allowed, level


def canvas_api(view):
    """Canvas's request pipeline around a REST endpoint that returns a dict, a list or a Page."""

    @require_GET
    @wraps(view)
    def wrapper(request: HttpRequest, instance: str, *args, **kwargs):
        started = time.perf_counter()
        sandbox = SandboxInstance.objects.filter(slug=instance).first()
        if sandbox is None:
            missing = not_found()
            return _json(missing.status, missing.body)
        if sandbox.latency_ms:
            time.sleep(sandbox.latency_ms / 1000)
        response: HttpResponse
        if sandbox.error_rate and random.random() < sandbox.error_rate:
            return _json(503, {"errors": [{"message": "Service Unavailable (injected fault)"}]})
        try:
            token = _authenticate(request, sandbox)
        except ApiError as exc:
            response = _json(exc.status, exc.body)
            response["WWW-Authenticate"] = 'Bearer realm="canvas-lms"'
            return response
        allowed, level = _bucket_reserve(sandbox, token)
        if not allowed:
            response = HttpResponse(THROTTLED_BODY, status=403, content_type="text/plain; charset=utf-8")
            response["X-Request-Cost"] = "0"
            response["X-Rate-Limit-Remaining"] = repr(round(max(0.0, sandbox.throttle_bucket_size - level), 6))
            return response
        caller = Caller(instance=sandbox, user=token.user, token=token)
        try:
            result = view(request, caller, *args, **kwargs)
            if isinstance(result, Page):
                response = _json(200, result.items)
                response["Link"] = link_header(request, result)
            else:
                response = _json(200, result)
        except ApiError as exc:
            response = _json(exc.status, exc.body)
        cost = sandbox.request_cost if sandbox.request_cost is not None else time.perf_counter() - started
        # The up-front reservation is refunded and the real cost charged.
        ApiToken.objects.filter(pk=token.pk).update(
            bucket_level=F("bucket_level") + (cost - sandbox.throttle_upfront_cost)
        )
        if response.status_code == 200:
            response = _body_fault(sandbox, response)
        response["X-Request-Cost"] = repr(round(cost, 6))
        response["X-Rate-Limit-Remaining"] = repr(round(max(0.0, sandbox.throttle_bucket_size - level - cost), 6))
        return response

    return wrapper


# What a client sees when something between Canvas and it fails mid-answer: a load balancer's error
# page sent as a 200, or a page cut short (a well-framed HTTP answer whose JSON stops half-way).
MALFORMED_BODY = b"<!DOCTYPE html><html><body><h1>Canvas is temporarily unavailable</h1></body></html>"


def _body_fault(sandbox: SandboxInstance, response: HttpResponse) -> HttpResponse:
    if sandbox.malformed_rate and random.random() < sandbox.malformed_rate:
        response.content = MALFORMED_BODY
    elif sandbox.truncated_rate and random.random() < sandbox.truncated_rate:
        response.content = response.content[: len(response.content) // 2]
    return response


def _ids(request: HttpRequest, name: str) -> list[int]:
    try:
        return [int(v) for v in request.GET.getlist(name) if v != ""]
    except ValueError:
        raise ApiError(400, {"errors": [{"message": f"{name} must be ids"}]})
