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
from operator import attrgetter
from typing import Any
from urllib.parse import quote

from django.db import connection, transaction
from django.db.models import CharField, F, Func, QuerySet
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
    if not value:
        return None
    # isoformat() is the same text as strftime("%Y-%m-%dT%H:%M:%SZ") up to the seconds (and cheaper);
    # strftime does not pad years before 1000.
    return value.isoformat()[:19] + "Z" if value.year >= 1000 else value.strftime("%Y-%m-%dT%H:%M:%SZ")


class CanvasTime(Func):
    """iso() done by PostgreSQL, for columns read by the hundred: no datetime is made and formatted
    per value. The same text (UTC, whole seconds truncated) for years 1000 to 9999."""

    template = "to_char(%(expressions)s AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
    output_field = CharField()

    def as_sqlite(self, compiler, connection, **extra_context):
        # SQLite keeps datetimes as UTC text (USE_TZ): strftime writes the same string.
        return self.as_sql(compiler, connection, template="strftime('%%Y-%%m-%%dT%%H:%%M:%%SZ', %(expressions)s)")


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


def paginate(
    request: HttpRequest,
    queryset: QuerySet,
    serialize: Callable[[Iterable], list],
    row_id: Callable[[Any], int] = attrgetter("id"),
) -> Page:
    """Keyset pagination on id: each page is one indexed range query however deep it is.
    `row_id` reads the id of a row (a model instance by default; values() rows need another)."""
    size = per_page(request)
    after = _read_bookmark(request.GET.get("page"))
    if after is not None:
        queryset = queryset.filter(id__gt=after)
    rows = list(queryset.order_by("id")[: size + 1])
    more = len(rows) > size
    rows = rows[:size]
    return Page(items=serialize(rows), next_token=_bookmark(row_id(rows[-1])) if more and rows else None)


LINK_SAFE = "[]:"


def _encoded(key: str, value: str) -> str:
    return f"{quote(key, LINK_SAFE)}={quote(value, LINK_SAFE)}"


def link_header(request: HttpRequest, page: Page) -> str:
    """Each URL is the request's query with `page` and `per_page` set (in their places, or added at
    the end), as QueryDict.urlencode(safe="[]:") writes it; the other parameters, up to 100 ids
    per request, are encoded once for the three URLs."""
    parts: dict[str, str | None] = {
        key: "&".join(_encoded(key, value) for value in values) for key, values in request.GET.lists()
    }
    parts["page"] = None
    parts["per_page"] = _encoded("per_page", str(per_page(request)))
    base = request.build_absolute_uri(request.path) + "?"

    def url(token: str) -> str:
        return base + "&".join(
            _encoded("page", token) if part is None else part for part in parts.values() if part != ""
        )

    links = [(url(request.GET.get("page", "first")), "current")]
    if page.next_token:
        links.append((url(page.next_token), "next"))
    links.append((url("first"), "first"))
    return ",".join(f'<{url}>; rel="{rel}"' for url, rel in links)


def _json(status: int, body) -> JsonResponse:
    return JsonResponse(body, status=status, safe=False, json_dumps_params={"ensure_ascii": False})


def bearer_token(request: HttpRequest) -> str:
    """The token of an `Authorization: Bearer …` header, or ""."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def _instance_and_token(request: HttpRequest, slug: str) -> tuple[SandboxInstance | None, ApiToken | None]:
    """The instance and the request's token in it, in one query when the token is good (the
    instance alone otherwise, for the 404 or the 401)."""
    # Canvas also accepts the token as an access_token query parameter (documented, discouraged).
    token = bearer_token(request) or request.GET.get("access_token", "")
    if token:
        row = (
            ApiToken.objects.select_related("user__instance")
            .filter(token_hash=token_digest(token), user__instance__slug=slug)
            .first()
        )
        if row is not None:
            return row.user.instance, row
    return SandboxInstance.objects.filter(slug=slug).first(), None


def _unauthenticated(request: HttpRequest) -> ApiError:
    if not (bearer_token(request) or request.GET.get("access_token", "")):
        return ApiError(401, {"status": "unauthenticated", "errors": [{"message": "user authorization required"}]})
    return ApiError(401, {"errors": [{"message": "Invalid access token."}]})


# Leaks the bucket and reserves the up-front cost in one statement: the row is locked (FOR UPDATE)
# while it is read, so concurrent requests of a token queue up as they did with SELECT FOR UPDATE
# then UPDATE in a transaction. The arithmetic is the same float8 (IEEE double) arithmetic Python
# does. Returns the level after leaking.
_BUCKET_RESERVE_SQL = """
UPDATE {table} AS t
SET bucket_level = CASE WHEN s.level + %(upfront)s::float8 <= %(size)s::float8
                        THEN s.level + %(upfront)s::float8 ELSE s.level END,
    bucket_updated_at = %(now)s::float8
FROM (
    SELECT id, GREATEST(0::float8, bucket_level - %(leak)s::float8 * (%(now)s::float8 - bucket_updated_at)) AS level
    FROM {table} WHERE id = %(id)s FOR UPDATE
) AS s
WHERE t.id = s.id
RETURNING s.level
"""
_BUCKET_REFUND_SQL = "UPDATE {table} SET bucket_level = bucket_level + %s::float8 WHERE id = %s"


def _bucket_reserve(instance: SandboxInstance, token: ApiToken) -> tuple[bool, float]:
    """Leaks the bucket, then reserves the up-front cost. Returns (allowed, level after leaking).
    PostgreSQL: one statement; elsewhere (the SQLite demo) the same arithmetic in a transaction."""
    now = time.time()
    if connection.vendor != "postgresql":
        with transaction.atomic():
            row = ApiToken.objects.select_for_update().get(pk=token.pk)
            level = max(0.0, row.bucket_level - instance.throttle_leak_per_second * (now - row.bucket_updated_at))
            allowed = level + instance.throttle_upfront_cost <= instance.throttle_bucket_size
            reserved = level + instance.throttle_upfront_cost if allowed else level
            ApiToken.objects.filter(pk=row.pk).update(bucket_level=reserved, bucket_updated_at=now)
            return allowed, level
    with connection.cursor() as cursor:
        cursor.execute(
            _BUCKET_RESERVE_SQL.format(table=ApiToken._meta.db_table),
            {
                "id": token.pk,
                "now": now,
                "leak": float(instance.throttle_leak_per_second),
                "upfront": float(instance.throttle_upfront_cost),
                "size": float(instance.throttle_bucket_size),
            },
        )
        (level,) = cursor.fetchone()
    return level + instance.throttle_upfront_cost <= instance.throttle_bucket_size, level


def _bucket_refund(token: ApiToken, amount: float) -> None:
    if connection.vendor != "postgresql":
        ApiToken.objects.filter(pk=token.pk).update(bucket_level=F("bucket_level") + float(amount))
        return
    with connection.cursor() as cursor:
        cursor.execute(_BUCKET_REFUND_SQL.format(table=ApiToken._meta.db_table), [float(amount), token.pk])


def canvas_api(view):
    """Canvas's request pipeline around a REST endpoint that returns a dict, a list or a Page."""

    @require_GET
    @wraps(view)
    def wrapper(request: HttpRequest, instance: str, *args, **kwargs):
        started = time.perf_counter()
        sandbox, token = _instance_and_token(request, instance)
        if sandbox is None:
            missing = not_found()
            return _json(missing.status, missing.body)
        if sandbox.latency_ms:
            time.sleep(sandbox.latency_ms / 1000)
        response: HttpResponse
        if sandbox.error_rate and random.random() < sandbox.error_rate:
            return _json(503, {"errors": [{"message": "Service Unavailable (injected fault)"}]})
        if token is None:
            refused = _unauthenticated(request)
            response = _json(refused.status, refused.body)
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
        _bucket_refund(token, cost - sandbox.throttle_upfront_cost)
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
