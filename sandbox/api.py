"""The Canvas REST subset the tool reads, under /sandbox/<instance>/api/v1 (reference §B2-B3).

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
from typing import Any

from django.db import transaction
from django.db.models import F, Prefetch, QuerySet
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_GET

from sandbox.models import (
    GRADER_TYPES,
    STUDENT_TYPES,
    ApiToken,
    AssignmentGroup,
    CommunicationChannel,
    SandboxAssignment,
    SandboxCourse,
    SandboxEnrollment,
    SandboxInstance,
    SandboxUser,
    Submission,
    token_digest,
)
from sandbox.services.grades import letter_grade

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


# --- serializers ----------------------------------------------------------------------------------


def course_json(course: SandboxCourse) -> dict:
    instance = course.instance
    return {
        "id": course.id,
        "name": course.name,
        "course_code": course.course_code,
        "sis_course_id": course.sis_course_id or None,
        "integration_id": None,
        "uuid": course.lti_context_id,
        "account_id": instance.id,
        "root_account_id": instance.id,
        "enrollment_term_id": 1,
        "workflow_state": course.workflow_state,
        "created_at": iso(course.created_at),
        "start_at": None,
        "end_at": None,
        "locale": None,  # the account's default applies
        "default_view": "modules",
        "is_public": False,
        "public_syllabus": False,
        "apply_assignment_group_weights": False,
        "hide_final_grades": False,
        "time_zone": "UTC",
        "blueprint": False,
        "template": False,
        "restrict_enrollments_to_course_dates": False,
        "html_url": f"{instance.root_url}/courses/{course.id}",
        "calendar": {"ics": f"{instance.root_url}/feeds/calendars/course_{course.lti_context_id}.ics"},
    }


def rubric_settings_json(rubric) -> dict:
    return {
        "id": rubric.id,
        "title": rubric.title,
        "points_possible": rubric.points_possible,
        "free_form_criterion_comments": rubric.free_form_criterion_comments,
        "hide_score_total": rubric.hide_score_total,
        "hide_points": False,
    }


def rubric_criteria_json(rubric) -> list[dict]:
    return [
        {
            "id": c["id"],
            "points": float(c["points"]),
            "description": c["description"],
            "long_description": c.get("long_description", ""),
            "criterion_use_range": c.get("criterion_use_range", False),
            # Canvas sends it only on criteria that have it (lib/api/v1/assignment.rb slices the keys).
            **({"ignore_for_scoring": True} if c.get("ignore_for_scoring") else {}),
            "ratings": [
                {
                    "id": r["id"],
                    "points": float(r["points"]),
                    "description": r["description"],
                    "long_description": r.get("long_description", ""),
                }
                for r in c["ratings"]
            ],
        }
        for c in rubric.data
    ]


def assignment_json(a: SandboxAssignment, root_url: str) -> dict:
    data = {
        "id": a.id,
        "name": a.name,
        "description": a.description,
        "created_at": iso(a.created_at),
        "updated_at": iso(a.updated_at),
        "due_at": iso(a.due_at),
        "lock_at": None,
        "unlock_at": None,
        "has_overrides": False,
        "course_id": a.course_id,
        "html_url": f"{root_url}/courses/{a.course_id}/assignments/{a.id}",
        "assignment_group_id": a.group_id,
        "points_possible": float(a.points_possible),
        "grading_type": a.grading_type,
        "grading_standard_id": None,
        "submission_types": ["online_upload"],
        "position": a.position,
        "published": a.published,
        "unpublishable": True,
        "workflow_state": "published" if a.published else "unpublished",
        "only_visible_to_overrides": False,
        "omit_from_final_grade": False,
        "moderated_grading": False,
        "anonymous_grading": False,
        "post_manually": False,
        "muted": False,
        "locked_for_user": False,
    }
    if a.rubric_id and a.rubric is not None:
        data["use_rubric_for_grading"] = a.use_rubric_for_grading
        data["free_form_criterion_comments"] = a.rubric.free_form_criterion_comments
        data["rubric_settings"] = rubric_settings_json(a.rubric)
        data["rubric"] = rubric_criteria_json(a.rubric)
    return data


def rubric_assessment_json(submission: Submission) -> dict:
    return {
        criterion_id: {
            "rating_id": item.get("rating_id"),
            "comments": item.get("comments", ""),
            "points": item.get("points"),
        }
        for criterion_id, item in submission.rubric_assessment.items()
    }


def submission_json(s: Submission, *, root_url: str, show_grade: bool, include: set[str]) -> dict:
    """lib/api/v1/submission.rb: `score`/`grade` are after the late/missing policy's deduction,
    `entered_score`/`entered_grade` what the grader entered, `points_deducted` the difference."""
    graded = s.workflow_state == "graded"
    deducted = s.points_deducted if s.points_deducted else None
    final_score = s.score - deducted if s.score is not None and deducted is not None else s.score
    data: dict[str, Any] = {
        "id": s.id,
        "assignment_id": s.assignment_id,
        "user_id": s.user_id,
        "body": None,
        "url": None,
        "submission_type": "online_upload" if s.submitted_at else None,
        "workflow_state": s.workflow_state if (show_grade or not graded) else "submitted",
        "grade": s.grade or None if show_grade else None,
        "score": num(final_score) if show_grade else None,
        "entered_grade": (_points(s.score) if s.score is not None else None) if show_grade else None,
        "entered_score": num(s.score) if show_grade else None,
        "grade_matches_current_submission": True,
        "attempt": s.attempt,
        "submitted_at": iso(s.submitted_at),
        "graded_at": iso(s.graded_at) if show_grade else None,
        "grader_id": s.grader_id if show_grade else None,
        "posted_at": iso(s.posted_at),
        "excused": s.excused,
        "late": deducted is not None,
        "missing": False,
        "late_policy_status": "late" if deducted is not None else None,
        "points_deducted": num(deducted) if show_grade else None,
        "seconds_late": 0,
        "extra_attempts": None,
        "grading_period_id": None,
        "redo_request": False,
        "custom_grade_status_id": None,
        "preview_url": f"{root_url}/courses/{s.assignment.course_id}/assignments/{s.assignment_id}"
        f"/submissions/{s.user_id}?preview=1",
    }
    if "rubric_assessment" in include and s.rubric_assessment and show_grade:
        data["rubric_assessment"] = rubric_assessment_json(s)
    return data


def _points(value) -> str:
    return format(value.normalize(), "f") if value == value.to_integral() else str(value)


def user_json(user: SandboxUser, *, include_email: bool) -> dict:
    data: dict[str, Any] = {
        "id": user.id,
        "name": user.name,
        "created_at": iso(user.created_at),
        "sortable_name": user.sortable_name,
        "short_name": user.short_name,
        "sis_user_id": user.sis_user_id or None,
        "integration_id": None,
        "login_id": user.login_id,
    }
    if include_email:
        data["email"] = user.primary_email or None
    return data


def grades_json(e: SandboxEnrollment, *, root_url: str, grader: bool) -> dict:
    data: dict[str, Any] = {"html_url": f"{root_url}/courses/{e.course_id}/grades/{e.user_id}"}
    if grader:
        data.update(
            current_score=num(e.current_score),
            current_grade=letter_grade(e.current_score),
            final_score=num(e.final_score),
            final_grade=letter_grade(e.final_score),
            unposted_current_score=num(e.unposted_current_score),
            unposted_current_grade=letter_grade(e.unposted_current_score),
            unposted_final_score=num(e.unposted_final_score),
            unposted_final_grade=letter_grade(e.unposted_final_score),
        )
        if e.override_score is not None and e.course.allow_final_grade_override:
            data.update(override_score=num(e.override_score), override_grade=letter_grade(e.override_score))
    else:
        # Students see only the effective values: the override, when set, replaces the computed grade.
        override = e.override_score if e.course.allow_final_grade_override else None
        current = override if override is not None else e.current_score
        final = override if override is not None else e.final_score
        data.update(
            current_score=num(current),
            current_grade=letter_grade(current),
            final_score=num(final),
            final_grade=letter_grade(final),
        )
    return data


def enrollment_json(e: SandboxEnrollment, *, root_url: str, grader: bool, include_email: bool) -> dict:
    data = {
        "id": e.id,
        "user_id": e.user_id,
        "course_id": e.course_id,
        "type": e.type,
        "created_at": iso(e.updated_at),
        "updated_at": iso(e.updated_at),
        "associated_user_id": None,
        "start_at": None,
        "end_at": None,
        "course_section_id": e.section_id,
        "root_account_id": e.course.instance_id,
        "limit_privileges_to_course_section": False,
        "enrollment_state": e.workflow_state,
        "role": e.type,
        "role_id": SandboxEnrollment.TYPES.index(e.type) + 1,
        "last_activity_at": None,
        "last_attended_at": None,
        "total_activity_time": 0,
        "sis_account_id": None,
        "sis_course_id": e.course.sis_course_id or None,
        "sis_section_id": None,
        "sis_user_id": e.user.sis_user_id or None,
        "html_url": f"{root_url}/courses/{e.course_id}/users/{e.user_id}",
        "user": user_json(e.user, include_email=include_email),
    }
    if e.type in STUDENT_TYPES:
        data["grades"] = grades_json(e, root_url=root_url, grader=grader)
    return data


def _email_prefetch(prefix: str = "") -> Prefetch:
    return Prefetch(
        f"{prefix}channels",
        queryset=CommunicationChannel.objects.filter(channel_type="email")
        .exclude(workflow_state="retired")
        .order_by("position", "id"),
        to_attr="email_channels",
    )


def _ids(request: HttpRequest, name: str) -> list[int]:
    try:
        return [int(v) for v in request.GET.getlist(name) if v != ""]
    except ValueError:
        raise ApiError(400, {"errors": [{"message": f"{name} must be ids"}]})


# --- endpoints --------------------------------------------------------------------------------------


@canvas_api
def course_detail(request, caller: Caller, course_id: int):
    course = caller.course(course_id)
    caller.require_member(course)
    return course_json(course)


@canvas_api
def course_settings(request, caller: Caller, course_id: int):
    """`GET /courses/:id/settings` (courses_controller.rb#api_settings): needs :read_as_admin, i.e. a
    teacher, TA, designer or admin; a student gets 401 unauthorized. Only the keys the tool reads and
    a few neighbours are answered."""
    course = caller.course(course_id)
    caller.require_grader(course)
    return {
        "allow_final_grade_override": course.allow_final_grade_override,
        "allow_student_discussion_topics": True,
        "allow_student_forum_attachments": True,
        "hide_final_grades": False,
        "hide_distribution_graphs": False,
        "restrict_student_future_view": False,
        "restrict_student_past_view": False,
        "usage_rights_required": False,
    }


def _assignments(caller: Caller, course: SandboxCourse) -> QuerySet:
    qs = SandboxAssignment.objects.filter(course=course).select_related("rubric")
    return qs if caller.is_grader(course) else qs.filter(published=True)


@canvas_api
def assignment_list(request, caller: Caller, course_id: int):
    course = caller.course(course_id)
    caller.require_member(course)
    root = caller.instance.root_url
    return paginate(request, _assignments(caller, course), lambda rows: [assignment_json(a, root) for a in rows])


@canvas_api
def assignment_detail(request, caller: Caller, course_id: int, assignment_id: int):
    course = caller.course(course_id)
    caller.require_member(course)
    assignment = _assignments(caller, course).filter(id=assignment_id).first()
    if assignment is None:
        raise not_found()
    return assignment_json(assignment, caller.instance.root_url)


@canvas_api
def assignment_group_list(request, caller: Caller, course_id: int):
    course = caller.course(course_id)
    caller.require_member(course)
    include = set(request.GET.getlist("include[]"))
    root = caller.instance.root_url
    assignments: dict[int, list] = {}
    if "assignments" in include:
        for a in _assignments(caller, course).order_by("position", "id"):
            assignments.setdefault(a.group_id, []).append(assignment_json(a, root))

    def serialize(groups):
        out = []
        for g in groups:
            item = {
                "id": g.id,
                "name": g.name,
                "position": g.position,
                "group_weight": g.group_weight,
                "sis_source_id": None,
                "integration_data": {},
                "rules": {},
            }
            if "assignments" in include:
                item["assignments"] = assignments.get(g.id, [])
            out.append(item)
        return out

    return paginate(request, AssignmentGroup.objects.filter(course=course), serialize)


@canvas_api
def rubric_detail(request, caller: Caller, course_id: int, rubric_id: int):
    course = caller.course(course_id)
    caller.require_grader(course)
    rubric = course.rubrics.filter(id=rubric_id).first()
    if rubric is None:
        raise ApiError(404, {"message": "Rubric not found"})
    include = set(request.GET.getlist("include[]"))
    data = {
        "id": rubric.id,
        "title": rubric.title,
        "context_id": course.id,
        "context_type": "Course",
        "points_possible": rubric.points_possible,
        "reusable": False,
        "read_only": False,
        "free_form_criterion_comments": rubric.free_form_criterion_comments,
        "hide_score_total": rubric.hide_score_total,
        "data": [
            {**c, "ratings": [{**r, "criterion_id": c["id"]} for r in c["ratings"]]}
            for c in rubric_criteria_json(rubric)
        ],
    }
    assignments = list(rubric.assignments.all())
    if include & {"assessments", "graded_assessments"}:
        subs = (
            Submission.objects.filter(assignment__in=assignments, workflow_state="graded")
            .exclude(rubric_assessment={})
            .order_by("id")
        )
        data["assessments"] = [
            {
                "id": s.rubric_assessment_id or s.id,
                "rubric_id": rubric.id,
                "rubric_association_id": s.assignment_id,
                "score": num(s.score),
                "artifact_type": "Submission",
                "artifact_id": s.id,
                "artifact_attempt": s.attempt or 1,
                "assessment_type": "grading",
                "assessor_id": s.grader_id,
                "data": [
                    {
                        "criterion_id": criterion_id,
                        "points": item.get("points"),
                        "id": item.get("rating_id"),
                        "comments": item.get("comments", ""),
                    }
                    for criterion_id, item in s.rubric_assessment.items()
                ],
            }
            for s in subs
        ]
    if "associations" in include:
        data["associations"] = [
            {
                "id": a.id,
                "rubric_id": rubric.id,
                "association_id": a.id,
                "association_type": "Assignment",
                "use_for_grading": a.use_rubric_for_grading,
                "purpose": "grading",
                "hide_score_total": rubric.hide_score_total,
                "hide_points": False,
                "hide_outcome_results": False,
            }
            for a in assignments
        ]
    return data


@canvas_api
def submission_list(request, caller: Caller, course_id: int):
    course = caller.course(course_id)
    caller.require_member(course)
    grader = caller.is_grader(course)
    include = set(request.GET.getlist("include[]"))
    student_ids = request.GET.getlist("student_ids[]")
    enrollments = SandboxEnrollment.objects.filter(course=course, type__in=STUDENT_TYPES).exclude(
        workflow_state="deleted"
    )
    if "all" in student_ids:
        if not grader:
            raise unauthorized()
    else:
        wanted = _ids(request, "student_ids[]") or [caller.user.id]
        if not grader and set(wanted) != {caller.user.id}:
            raise unauthorized()
        # submissions_api_controller.rb#for_students: a grader naming a student the course does not
        # list (no enrollment, or only a deleted one) is refused as a whole (render_unauthorized_action);
        # more than Api::MAX_PER_PAGE named students is a 400.
        if grader and set(wanted) - set(enrollments.filter(user_id__in=wanted).values_list("user_id", flat=True)):
            raise unauthorized()
        if len(wanted) > MAX_PER_PAGE:
            raise ApiError(400, {"error": "too many students"})
        enrollments = enrollments.filter(user_id__in=wanted)
    enrollment_state = request.GET.get("enrollment_state")
    if enrollment_state == "active":
        enrollments = enrollments.filter(workflow_state__in=["active", "invited"])
    elif enrollment_state == "concluded":
        enrollments = enrollments.filter(workflow_state="completed")
    qs = Submission.objects.filter(
        assignment__course=course,
        assignment__published=True,
        user_id__in=enrollments.values("user_id"),
    ).select_related("assignment")
    assignment_ids = _ids(request, "assignment_ids[]")
    if assignment_ids:
        # submissions_api_controller.rb#for_students looks the ids up among the course's *published*
        # assignments and refuses the whole request when any is missing (unpublished or deleted).
        published = set(
            SandboxAssignment.objects.filter(course=course, published=True, id__in=assignment_ids).values_list(
                "id", flat=True
            )
        )
        if set(assignment_ids) - published:
            raise ApiError(403, {"error": "invalid assignment ids requested"})
        qs = qs.filter(assignment_id__in=assignment_ids)
    workflow_state = request.GET.get("workflow_state")
    if workflow_state:
        qs = qs.filter(workflow_state=workflow_state)
    for param, column in (("graded_since", "graded_at"), ("submitted_since", "submitted_at")):
        if request.GET.get(param):
            since = parse_datetime(request.GET[param])
            if since is None:
                raise ApiError(400, {"errors": [{"message": f"{param} must be an ISO 8601 timestamp"}]})
            qs = qs.filter(**{f"{column}__gte": since})
    root = caller.instance.root_url

    def serialize(rows):
        return [
            submission_json(s, root_url=root, show_grade=grader or s.posted_at is not None, include=include)
            for s in rows
        ]

    if request.GET.get("grouped") not in (None, "", "false", "0"):
        # `grouped`: one entry per student, the page is 100 students (ordered by id) with every
        # submission of theirs the filters keep (submissions_api_controller.rb#for_students).
        students = SandboxUser.objects.filter(id__in=enrollments.values("user_id"))

        def serialize_grouped(users):
            ids = [u.id for u in users]
            sections = dict(enrollments.filter(user_id__in=ids).order_by("-id").values_list("user_id", "section_id"))
            by_user: dict[int, list] = {i: [] for i in ids}
            for submission in qs.filter(user_id__in=ids).order_by("id"):
                by_user[submission.user_id].append(submission)
            return [{"user_id": i, "section_id": sections.get(i), "submissions": serialize(by_user[i])} for i in ids]

        return paginate(request, students, serialize_grouped)
    return paginate(request, qs, serialize)


ENROLLMENT_TYPE_ALIASES = {
    "student": "StudentEnrollment",
    "teacher": "TeacherEnrollment",
    "ta": "TaEnrollment",
    "designer": "DesignerEnrollment",
    "student_view": "StudentViewEnrollment",
}


@canvas_api
def enrollment_list(request, caller: Caller, course_id: int):
    course = caller.course(course_id)
    caller.require_member(course)
    grader = caller.is_grader(course)
    qs = SandboxEnrollment.objects.filter(course=course).select_related("user", "course")
    types = [ENROLLMENT_TYPE_ALIASES.get(t, t) for t in request.GET.getlist("type[]") + request.GET.getlist("role[]")]
    if types:
        qs = qs.filter(type__in=types)
    states = request.GET.getlist("state[]") or ["active", "invited"]
    qs = qs.filter(workflow_state__in=states)
    if request.GET.get("user_id"):
        qs = qs.filter(user_id=_ids(request, "user_id")[0])
    include_email = "email" in request.GET.getlist("include[]") and grader
    if include_email:
        qs = qs.prefetch_related(_email_prefetch("user__"))
    root = caller.instance.root_url

    def serialize(rows):
        out = []
        for e in rows:
            own = e.user_id == caller.user.id
            data = enrollment_json(e, root_url=root, grader=grader, include_email=include_email)
            if not grader and not own:
                data.pop("grades", None)  # students never see classmates' grades
            out.append(data)
        return out

    return paginate(request, qs, serialize)


@canvas_api
def course_user_list(request, caller: Caller, course_id: int):
    course = caller.course(course_id)
    caller.require_member(course)
    grader = caller.is_grader(course)
    enrollments = SandboxEnrollment.objects.filter(course=course).exclude(type="StudentViewEnrollment")
    types = [ENROLLMENT_TYPE_ALIASES.get(t, t) for t in request.GET.getlist("enrollment_type[]")]
    if types:
        enrollments = enrollments.filter(type__in=types)
    states = request.GET.getlist("enrollment_state[]") or ["active", "invited"]
    enrollments = enrollments.filter(workflow_state__in=states)
    qs = SandboxUser.objects.filter(id__in=enrollments.values("user_id"), is_test_user=False)
    user_ids = _ids(request, "user_ids[]")
    if user_ids:
        qs = qs.filter(id__in=user_ids)
    include_email = "email" in request.GET.getlist("include[]") and (grader or caller.user.is_account_admin)
    if include_email:
        qs = qs.prefetch_related(_email_prefetch())
    return paginate(request, qs, lambda rows: [user_json(u, include_email=include_email) for u in rows])


def _user_for(caller: Caller, user_id: int, *, teachers_may_read: bool) -> SandboxUser:
    user = SandboxUser.objects.filter(instance=caller.instance, id=user_id).first()
    if user is None:
        raise not_found()
    if user.id == caller.user.id or caller.user.is_account_admin:
        return user
    if teachers_may_read:
        taught = SandboxEnrollment.objects.filter(
            user=caller.user, type__in=GRADER_TYPES, workflow_state__in=["active", "completed"]
        ).values("course_id")
        if SandboxEnrollment.objects.filter(user=user, course_id__in=taught).exists():
            return user
    raise unauthorized()


@canvas_api
def communication_channel_list(request, caller: Caller, user_id: int):
    user = _user_for(caller, user_id, teachers_may_read=False)

    def serialize(rows):
        return [
            {
                "id": c.id,
                "address": c.address,
                "type": c.channel_type,
                "position": c.position,
                "user_id": c.user_id,
                "workflow_state": c.workflow_state,
                "created_at": None,
            }
            for c in sorted(rows, key=lambda c: (c.position, c.id))
        ]

    # Canvas sorts channels by position; ids follow creation, so page by id and sort each page.
    return paginate(request, CommunicationChannel.objects.filter(user=user), serialize)


@canvas_api
def user_profile(request, caller: Caller, user_id: int):
    return _profile(caller, _user_for(caller, user_id, teachers_may_read=True))


@canvas_api
def self_profile(request, caller: Caller):
    """`/users/self/profile`: the token's own user (what a connection test reads)."""
    return _profile(caller, caller.user)


def _profile(caller: Caller, user: SandboxUser) -> dict:
    instance = caller.instance
    return {
        "id": user.id,
        "name": user.name,
        "short_name": user.short_name,
        "sortable_name": user.sortable_name,
        "title": None,
        "bio": None,
        "primary_email": user.primary_email or None,
        "login_id": user.login_id,
        "sis_user_id": user.sis_user_id or None,
        "integration_id": None,
        "avatar_url": f"{instance.base_url.rstrip('/')}/static/sandbox/img/avatar-50.png",
        "calendar": {"ics": f"{instance.root_url}/feeds/calendars/user_{user.lti_sub}.ics"},
        "time_zone": "UTC",
        "locale": user.locale or None,
        "lti_user_id": user.lti_sub,
        "k5_user": False,
    }
