"""JSON admin API for tests, benchmarks and scripts: teacher/admin actions on the fake Canvas.

POST /sandbox/<instance>/admin_api/v1/<action> with a JSON body and an account admin's REST token
(`Authorization: Bearer …`). Answers {"ok": true, ...} or 400 {"error": "..."}.
"""

import json
from decimal import Decimal, InvalidOperation
from functools import wraps

from django.db import transaction
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from sandbox import selectors
from sandbox.api.pipeline import bearer_token
from sandbox.models import (
    ApiToken,
    SandboxAssignment,
    SandboxCourse,
    SandboxEnrollment,
    SandboxInstance,
    SandboxUser,
    token_digest,
)
from sandbox.services.base import SandboxError
from sandbox.services.courses import (
    assessment_add,
    assignment_published_set,
    course_conclude,
    course_final_grade_override_set,
)
from sandbox.services.grades import GradeInput, assignment_grades_post, grade_override_set, submission_grade
from sandbox.services.instance import faults_set
from sandbox.services.keys import platform_key_rotate
from sandbox.services.people import enrollment_create, enrollment_state_set, primary_email_set, user_create


def admin_json(view):
    @csrf_exempt
    @require_POST
    @wraps(view)
    def wrapper(request: HttpRequest, instance: str, *args, **kwargs):
        sandbox = SandboxInstance.objects.filter(slug=instance).first()
        if sandbox is None:
            return JsonResponse({"error": "no such sandbox instance"}, status=404)
        token = bearer_token(request)
        row = (
            ApiToken.objects.select_related("user")
            .filter(token_hash=token_digest(token), user__instance=sandbox, user__is_account_admin=True)
            .first()
            if token
            else None
        )
        if row is None:
            return JsonResponse({"error": "an account admin's token is required"}, status=401)
        try:
            body = json.loads(request.body or b"{}")
            if not isinstance(body, dict):
                raise ValueError
        except ValueError:
            return JsonResponse({"error": "the body must be a JSON object"}, status=400)
        try:
            with transaction.atomic():
                result = view(request, sandbox, row.user, body, *args, **kwargs)
        except SandboxError as exc:
            return JsonResponse({"error": str(exc)}, status=400)
        except (SandboxCourse.DoesNotExist, SandboxUser.DoesNotExist, SandboxAssignment.DoesNotExist):
            return JsonResponse({"error": "not found"}, status=404)
        except SandboxEnrollment.DoesNotExist:
            return JsonResponse({"error": "not found"}, status=404)
        return JsonResponse({"ok": True, **result})

    return wrapper


def _decimal(value, label: str) -> Decimal | None:
    if value is None:
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise SandboxError(f"{label} must be a number")


def _int(value, label: str) -> int:
    """A whole number from the JSON body (digits as text are accepted too)."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise SandboxError(f"{label} must be a whole number")
    try:
        return int(value)
    except ValueError:
        raise SandboxError(f"{label} must be a whole number")


def _number(value, label: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise SandboxError(f"{label} must be a number")
    try:
        return float(value)
    except ValueError:
        raise SandboxError(f"{label} must be a number")


def _course(sandbox, course_id) -> SandboxCourse:
    return SandboxCourse.objects.get(instance=sandbox, id=course_id)


def _user(sandbox, user_id) -> SandboxUser:
    return SandboxUser.objects.get(instance=sandbox, id=_int(user_id, "user_id"))


@admin_json
def grade(request, sandbox, admin, body, course_id: int):
    """{"user_id", "assignment_id", "ratings": {criterion_id: rating_id} | "score": n, "post": true,
    "points_deducted"?: n (a late penalty: Canvas's score is the entered score less this)}"""
    course = _course(sandbox, course_id)
    assignment = SandboxAssignment.objects.get(course=course, id=_int(body.get("assignment_id"), "assignment_id"))
    ratings = body.get("ratings")
    if ratings is not None and not (isinstance(ratings, dict) and all(isinstance(v, str) for v in ratings.values())):
        raise SandboxError('ratings must be an object {"criterion id": "rating id"}')
    grade_input = GradeInput(
        ratings=ratings,
        score=_decimal(body.get("score"), "score"),
        points_deducted=_decimal(body.get("points_deducted"), "points_deducted"),
    )
    submission = submission_grade(
        assignment=assignment,
        user=_user(sandbox, body.get("user_id")),
        grader=selectors.course_grader(course=course, admin=admin),
        grade=grade_input,
        post=bool(body.get("post", True)),
    )
    return {
        "submission_id": submission.id,
        "score": float(submission.score or 0),
        "posted": submission.posted_at is not None,
    }


@admin_json
def post_grades(request, sandbox, admin, body, course_id: int, assignment_id: int):
    assignment = SandboxAssignment.objects.get(course=_course(sandbox, course_id), id=assignment_id)
    return {"posted": assignment_grades_post(assignment=assignment)}


@admin_json
def override(request, sandbox, admin, body, course_id: int):
    """{"user_id", "score": n | null}"""
    enrollments = grade_override_set(
        course=_course(sandbox, course_id),
        user=_user(sandbox, body.get("user_id")),
        score=_decimal(body.get("score"), "score"),
    )
    return {"enrollment_ids": [e.id for e in enrollments]}


@admin_json
def primary_email(request, sandbox, admin, body, user_id: int):
    """{"address"}"""
    channel = primary_email_set(user=_user(sandbox, user_id), address=str(body.get("address", "")))
    return {"channel_id": channel.id, "address": channel.address}


@admin_json
def enroll(request, sandbox, admin, body, course_id: int):
    """{"user_id"} or {"name", "email"}; optional "type", "state"."""
    course = _course(sandbox, course_id)
    if body.get("user_id"):
        user = _user(sandbox, body["user_id"])
    else:
        user = user_create(instance=sandbox, name=str(body.get("name", "")), email=str(body.get("email", "")))
    enrollment = enrollment_create(
        course=course,
        user=user,
        type=body.get("type", "StudentEnrollment"),
        workflow_state=body.get("state", "active"),
    )
    return {"user_id": user.id, "enrollment_id": enrollment.id}


@admin_json
def enrollment_state(request, sandbox, admin, body, course_id: int, enrollment_id: int):
    """{"state": "active" | "completed" | "inactive" | "deleted"} (re-activate, conclude, deactivate, drop)."""
    enrollment = SandboxEnrollment.objects.select_related("course__instance").get(
        course=_course(sandbox, course_id), id=enrollment_id
    )
    enrollment_state_set(enrollment=enrollment, state=str(body.get("state", "")))
    return {"enrollment_id": enrollment.id, "state": enrollment.workflow_state}


@admin_json
def conclude_course(request, sandbox, admin, body, course_id: int):
    """Concludes the course: every active enrollment becomes completed."""
    return {"concluded": course_conclude(course=_course(sandbox, course_id))}


@admin_json
def add_assessment(request, sandbox, admin, body, course_id: int):
    """{"name", "criteria": ["..."], "points_per_criterion": 4, "group_name"?, "published"?: true,
    "ignore_for_scoring"?: ["criterion title", ...]}"""
    criteria = body.get("criteria") or []
    if not isinstance(criteria, list):
        raise SandboxError("criteria must be a list of titles")
    ignored = body.get("ignore_for_scoring") or []
    if not isinstance(ignored, list):
        raise SandboxError("ignore_for_scoring must be a list of criterion titles")
    assignment = assessment_add(
        course=_course(sandbox, course_id),
        name=str(body.get("name", "")),
        criteria_titles=[str(c) for c in criteria],
        group_name=str(body.get("group_name") or "Credentialing Assessments"),
        points_per_criterion=_int(body.get("points_per_criterion", 4), "points_per_criterion"),
        published=bool(body.get("published", True)),
        ignored_for_scoring=[str(c) for c in ignored],
    )
    criteria = assignment.rubric.data if assignment.rubric else []
    return {"assignment_id": assignment.id, "rubric_id": assignment.rubric_id, "criteria": criteria}


@admin_json
def course_settings_set(request, sandbox, admin, body, course_id: int):
    """{"allow_final_grade_override": true|false}"""
    value = body.get("allow_final_grade_override")
    if not isinstance(value, bool):
        raise SandboxError("allow_final_grade_override must be true or false")
    course = course_final_grade_override_set(course=_course(sandbox, course_id), allowed=value)
    return {"allow_final_grade_override": course.allow_final_grade_override}


@admin_json
def assignment_published(request, sandbox, admin, body, course_id: int, assignment_id: int):
    """{"published": true|false}"""
    value = body.get("published")
    if not isinstance(value, bool):
        raise SandboxError("published must be true or false")
    assignment = SandboxAssignment.objects.get(course=_course(sandbox, course_id), id=assignment_id)
    assignment = assignment_published_set(assignment=assignment, published=value)
    return {"assignment_id": assignment.id, "published": assignment.published}


@admin_json
def faults(request, sandbox, admin, body):
    """{"latency_ms", "error_rate", "malformed_rate", "truncated_rate", "bucket_size", "request_cost"
    (null: measured)}; omitted keys stay."""
    faults_set(
        instance=sandbox,
        latency_ms=None if body.get("latency_ms") is None else _int(body["latency_ms"], "latency_ms"),
        error_rate=_number(body.get("error_rate"), "the error rate"),
        bucket_size=_number(body.get("bucket_size"), "the bucket size"),
        request_cost=_number(body.get("request_cost"), "the request cost"),
        clear_request_cost="request_cost" in body and body["request_cost"] is None,
        malformed_rate=_number(body.get("malformed_rate"), "the malformed share"),
        truncated_rate=_number(body.get("truncated_rate"), "the truncated share"),
    )
    return {
        "latency_ms": sandbox.latency_ms,
        "error_rate": sandbox.error_rate,
        "malformed_rate": sandbox.malformed_rate,
        "truncated_rate": sandbox.truncated_rate,
        "bucket_size": sandbox.throttle_bucket_size,
        "request_cost": sandbox.request_cost,
    }


@admin_json
def rotate_keys(request, sandbox, admin, body):
    return {"kid": platform_key_rotate(instance=sandbox).kid}


@admin_json
def lti_registration_start(request, sandbox, admin, body):
    """{"registration_url": the tool's dynamic registration URL} → {"url": what Canvas opens}:
    the tool's URL with openid_configuration (on the issuer's host) and a registration token."""
    from sandbox.dynamic_registration import registration_start

    url = str(body.get("registration_url") or "")
    if not url.startswith(("http://", "https://")):
        raise SandboxError("registration_url must be an http(s) URL")
    return {"url": registration_start(instance=sandbox, tool_registration_url=url)}
