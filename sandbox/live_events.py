"""Canvas Live Events over HTTPS, "Sign Payload" style: an RS256 JWT whose claims are the event.

The message is Canvas's: `{"metadata": {...}, "body": {...}}` with the metadata Canvas adds to an
event caused by a web request (the actor, the request, the course) or by a background job
(job_id, job_tag), and each event's body as canvas-lms lib/canvas/live_events.rb builds it (ids
stringified; global ids, shard * 10**13 + local id, where Canvas sends global ones). See
doc/api/data_services/md/dynamic/data_service_canvas_*.md for the documented examples.

Like Canvas, delivery is best effort: one attempt after commit, no retry, failures only logged.
The JWT is signed with the sandbox's Live Events key, not an instance's LTI key, as Canvas does:
the receiver verifies it with the Live Events key set (set LIVE_EVENTS_JWKS_URL to keyset_url()).
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import logging
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import jwt
import requests
from django.db import transaction

log = logging.getLogger(__name__)

SHARD = 1
SHARD_FACTOR = 10**13


def global_id(local: object) -> str | None:
    """Canvas's global id of a local id on the sandbox's shard ('123' → '10000000000123')."""
    if local is None or local == "":
        return None
    return str(SHARD * SHARD_FACTOR + int(str(local)))


def timestamp(moment: datetime | None) -> str | None:
    """Canvas's JSON time (ISO 8601, UTC, seconds)."""
    if moment is None:
        return None
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def root_account_uuid(instance) -> str:
    """A stable 40-character uuid for the instance's root account, as Canvas's look."""
    return hashlib.sha256(f"sandbox-root-account:{instance.slug}".encode()).hexdigest()[:40]


@dataclass
class _Request:
    """The web request events are emitted in: Canvas gives them all its request_id."""

    actor: object
    url: str
    referrer: str | None
    role: str
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    session_id: str = field(default_factory=lambda: uuid.uuid4().hex)


_current: contextvars.ContextVar[_Request | None] = contextvars.ContextVar("sandbox_live_events_request", default=None)


@contextlib.contextmanager
def request(*, actor, url: str, referrer: str | None = None, role: str = "TeacherEnrollment") -> Iterator[None]:
    """Events emitted inside are caused by `actor`'s web request to `url` (one request_id)."""
    token = _current.set(_Request(actor=actor, url=url, referrer=referrer, role=role))
    try:
        yield
    finally:
        _current.reset(token)


def event_message(*, instance, event_name: str, body: dict, course=None, job_tag: str = "") -> dict:
    """The event as Canvas sends it. `course` is the event's course context (Canvas's
    amended_context, or the request's context); outside a `request()` the event is a job's."""
    metadata: dict = {
        "root_account_uuid": root_account_uuid(instance),
        "root_account_id": global_id(1),
        # As Canvas: the root account's lti_guid, the same value as the launch's tool_platform.guid.
        "root_account_lti_guid": instance.lti_guid,
    }
    current = _current.get()
    if current is not None:
        actor = current.actor
        metadata.update(
            {
                "user_login": getattr(actor, "login_id", None),
                "user_account_id": global_id(1),
                "user_sis_id": getattr(actor, "sis_user_id", None) or None,
                "user_id": global_id(getattr(actor, "id", None)),
                "time_zone": "UTC",
            }
        )
    if course is not None:
        metadata.update(
            {
                "context_type": "Course",
                "context_id": global_id(course.id),
                "context_sis_source_id": course.sis_course_id or None,
                "context_account_id": global_id(1),
            }
        )
    if current is not None:
        host = instance.base_url.split("://", 1)[-1].rstrip("/")
        if course is not None:
            metadata["context_role"] = current.role
        metadata.update(
            {
                "request_id": current.request_id,
                "session_id": current.session_id,
                "hostname": host,
                "http_method": "POST",
                "user_agent": "Mozilla/5.0 (X11; Linux x86_64) Canvas sandbox",
                "client_ip": "127.0.0.1",
                "url": current.url,
                "referrer": current.referrer,
            }
        )
    else:
        metadata.update({"job_id": str(uuid.uuid4().int % 10**16), "job_tag": job_tag or "Sandbox#job"})
    metadata.update(
        {
            "producer": "canvas",
            "event_name": event_name,
            "event_time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
        }
    )
    return {"metadata": metadata, "body": body}


def emit_on_commit(*, instance, event_name: str, body: dict, course=None, job_tag: str = "") -> None:
    if not instance.live_events_url:
        return
    message = event_message(instance=instance, event_name=event_name, body=body, course=course, job_tag=job_tag)
    transaction.on_commit(lambda: deliver(instance=instance, message=message))


def sign(*, instance, message: dict) -> str:
    """With "Sign Payload" the event is the JWT's claims, RS256, signed with the current Live Events
    key (one for every instance, as Instructure's for every hosted customer) named by `kid`."""
    from sandbox.services.keys import live_events_key_current

    key = live_events_key_current()
    return jwt.encode(message, key.private_key_pem, algorithm="RS256", headers={"kid": key.kid})


def keyset_url(base_url: str) -> str:
    """Where the sandbox publishes its Live Events keys (the tool's LIVE_EVENTS_JWKS_URL)."""
    return f"{base_url.rstrip('/')}/sandbox/live-events/jwks"


def deliver(*, instance, message: dict) -> bool:
    token = sign(instance=instance, message=message)
    try:
        response = requests.post(
            instance.live_events_url, data=token, headers={"Content-Type": "application/jwt"}, timeout=5
        )
    except requests.RequestException as exc:
        log.warning("live event %s not delivered: %s", message["metadata"]["event_name"], exc)
        return False
    if response.status_code >= 300:
        log.warning("live event %s refused: HTTP %s", message["metadata"]["event_name"], response.status_code)
        return False
    return True


# --- Event bodies, as canvas-lms lib/canvas/live_events.rb builds them -------------------------------


def _number(value) -> float | None:
    return float(value) if value is not None else None


def submission_body(submission) -> dict:
    """submission_created / submission_updated (get_submission_data)."""
    assignment = submission.assignment
    return {
        "submission_id": global_id(submission.id),
        "assignment_id": global_id(assignment.id),
        "user_id": global_id(submission.user_id),
        "submitted_at": timestamp(submission.submitted_at),
        "lti_user_id": submission.user.lti_sub,
        "graded_at": timestamp(submission.graded_at),
        "updated_at": timestamp(submission.updated_at),
        "score": _number(submission.score),
        "grade": submission.grade or None,
        "submission_type": "online_text_entry" if submission.submitted_at else None,
        "body": None,
        "url": None,
        "attempt": submission.attempt,
        "late": False,
        "missing": False,
        "lti_assignment_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"sandbox-assignment:{assignment.id}")),
        "group_id": None,
        "posted_at": timestamp(submission.posted_at),
        "workflow_state": submission.workflow_state,
    }


def grade_change_body(submission, *, old_score, old_grade, grader) -> dict:
    """grade_change (grade_changed)."""
    assignment = submission.assignment
    student = submission.user
    return {
        "submission_id": global_id(submission.id),
        "assignment_id": global_id(assignment.id),
        "assignment_name": assignment.name,
        "grade": submission.grade or None,
        "old_grade": old_grade or None,
        "score": _number(submission.score),
        "old_score": _number(old_score),
        "points_possible": _number(assignment.points_possible),
        "old_points_possible": _number(assignment.points_possible),
        "grader_id": global_id(grader.id) if grader is not None else None,
        "student_id": global_id(student.id),
        "student_sis_id": student.sis_user_id or None,
        "user_id": global_id(student.id),
        "grading_complete": submission.workflow_state == "graded",
        "muted": submission.posted_at is None,
    }


def rubric_assessed_body(submission) -> dict:
    """rubric_assessed: the assessment is the submission's (artifact), assessed for grading."""
    return {
        "id": str(submission.rubric_assessment_id or submission.id),
        "aligned_to_outcomes": False,
        "artifact_id": str(submission.id),
        "artifact_type": "Submission",
        "assessment_type": "grading",
        "context_uuid": submission.assignment.course.lti_context_id,
        "submitted_at": timestamp(submission.submitted_at or submission.updated_at),
        "created_at": timestamp(submission.graded_at),
        "updated_at": timestamp(submission.updated_at),
        "attempt": submission.attempt,
    }


def enrollment_body(enrollment) -> dict:
    """enrollment_created / enrollment_updated (get_enrollment_data); associated_user_id is for
    observers only, as in the code (the documented example shows it on a student)."""
    return {
        "enrollment_id": global_id(enrollment.id),
        "course_id": global_id(enrollment.course_id),
        "course_uuid": enrollment.course.lti_context_id,
        "user_id": global_id(enrollment.user_id),
        "user_uuid": enrollment.user.lti_sub,
        "user_name": enrollment.user.name,
        "type": enrollment.type,
        "created_at": timestamp(enrollment.updated_at),
        "updated_at": timestamp(enrollment.updated_at),
        "limit_privileges_to_course_section": False,
        "course_section_id": global_id(enrollment.section_id),
        "workflow_state": enrollment.workflow_state,
    }


SCORE_FIELDS = ("current_score", "final_score", "unposted_current_score", "unposted_final_score")


def course_grade_change_body(enrollment, old: dict) -> dict:
    """course_grade_change (local ids, as the code sends enrollment.user_id and course_id)."""
    body: dict = {
        "user_id": str(enrollment.user_id),
        "course_id": str(enrollment.course_id),
        "workflow_state": "active",
        "created_at": timestamp(enrollment.updated_at),
        "updated_at": timestamp(enrollment.updated_at),
    }
    for name in SCORE_FIELDS:
        body[name] = _number(getattr(enrollment, name))
        body[f"old_{name}"] = _number(old.get(name))
    return body


def grade_override_body(enrollment, *, old_score) -> dict:
    """grade_override (local ids)."""
    return {
        "score_id": str(enrollment.id),
        "enrollment_id": str(enrollment.id),
        "user_id": str(enrollment.user_id),
        "course_id": str(enrollment.course_id),
        "grading_period_id": None,
        "override_score": _number(enrollment.override_score),
        "old_override_score": _number(old_score),
        "updated_at": timestamp(enrollment.updated_at),
    }
