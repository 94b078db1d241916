"""The last sync panel: when the course last synced, whether one is running, and a failed sync's
Canvas error in instructors' words."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext_lazy

from badging.models import CourseSync, SyncRun
from lti.models import Course


@dataclass
class SyncStatus:
    last_synced_at: Any
    last_run: SyncRun | None
    running: bool
    running_since: Any
    failed: bool
    error_plain: str
    requested_at: Any
    api_token_missing: bool


# A failed sync's Canvas error (SyncRun.stats["error_kind"], canvas.errors) in instructors' words:
# the run keeps the admin's message (what to change where); the instructor learns whom to ask.
INSTRUCTOR_SYNC_ERRORS = {
    "token": gettext_lazy(
        "The badge tool's access to Canvas has stopped working (its API token was revoked or has "
        "expired). Ask your Canvas admin to give the badge tool a new token; badges update again after that."
    ),
    "permission": gettext_lazy(
        "The badge tool's Canvas account is not allowed to read something this course needs "
        "(Canvas said: user not authorized to perform that action). Ask your Canvas admin to give that account "
        "the permissions listed in the badge tool's documentation."
    ),
    "throttled": gettext_lazy(
        "Canvas asked the badge tool to slow down (rate limit) because many courses were syncing. "
        "Nothing is lost: the next sync continues where this one stopped."
    ),
    "invalid_assignments": gettext_lazy(
        "Canvas refused to report grades because a credentialing assessment was "
        "unpublished or deleted while the badge tool was reading it. Sync again; if it keeps happening, "
        "check the rule panel below."
    ),
    "bad_request": gettext_lazy(
        "Canvas refused one of the badge tool's requests as invalid. This is not a permission "
        "problem: your admin can find the details in the sync runs."
    ),
    "configuration": gettext_lazy(
        "The badge tool is not fully connected to this Canvas yet (no API address or token). "
        "Ask your Canvas admin to finish the setup."
    ),
    "unavailable": gettext_lazy("Canvas did not answer in time. The tool will try again at the next sync."),
    "not_found": gettext_lazy(
        "Canvas could not find this course: it may have been deleted, or the token belongs to another Canvas."
    ),
    "incomplete": gettext_lazy(
        "Canvas sent incomplete answers (pages cut short or not readable). Nothing was read from them; "
        "the tool will try again at the next sync."
    ),
}


def sync_error_explained(error: str, *, kind: str = "") -> str:
    """A failed sync's error for instructors: the words for its Canvas error kind (canvas.errors,
    recorded by the sync), else the sync's own message as written (never guessed from its text)."""
    text = (error or "").strip()
    if not text:
        return ""
    if kind in INSTRUCTOR_SYNC_ERRORS:
        return str(INSTRUCTOR_SYNC_ERRORS[kind])
    return text


def sync_status(*, course: Course) -> SyncStatus:
    state = CourseSync.objects.filter(course=course).first()
    run = SyncRun.objects.filter(course=course).order_by("-started_at", "-id").first()
    finished = (
        run
        if run is None or run.status != SyncRun.STATUS_RUNNING
        else SyncRun.objects.filter(course=course)
        .exclude(status=SyncRun.STATUS_RUNNING)
        .order_by("-started_at", "-id")
        .first()
    )
    failed = bool(finished and finished.status == SyncRun.STATUS_FAILED) or bool(
        finished is None and state and state.last_status == SyncRun.STATUS_FAILED
    )
    error = (finished.error if finished else "") or (state.last_error if state and failed else "")
    return SyncStatus(
        last_synced_at=state.last_synced_at if state else (finished.finished_at if finished else None),
        last_run=finished,
        running=bool(run and run.status == SyncRun.STATUS_RUNNING),
        running_since=run.started_at if run and run.status == SyncRun.STATUS_RUNNING else None,
        failed=failed,
        error_plain=sync_error_explained(
            error, kind=str(((finished.stats or {}) if finished else {}).get("error_kind", ""))
        )
        if failed
        else "",
        requested_at=state.requested_at if state else None,
        api_token_missing=course.platform.needs_api_token,
    )
