"""Instructor actions from the dashboard. Each is allowed only to an instructor of the launch's
course, acts only on that course's rows, and leaves an AuditEvent: who, when, what.

The work itself belongs to other services (sync, issuance, notifications): these functions check
who may act, record the action and hand over, enqueuing Celery work only after the commit.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from celery import current_app
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from badging.models import AuditEvent, Award, CourseBadge, Delivery
from badging.services.issuance.policy import queued_stale_after
from badging.services.issuance.queueing import awards_retry_failed_now
from badging.services.issuance.review import award_review_keep, award_revoke
from badging.services.sync.coordination import course_sync_request
from lti.models import LaunchContext

logger = logging.getLogger(__name__)

ACTION_SYNC = "instructor.sync_requested"
ACTION_RETRY = "instructor.issuance_retried"
ACTION_REVOKE = "award_revoked"  # written by badging.services.issuance.review.award_revoke
ACTION_RESEND = "instructor.notification_resent"
ACTION_EXPORT = "instructor.learners_exported"


class ActionUnavailable(Exception):
    """The service this action hands over to cannot do it now; the message says why, plainly."""


def instructor_actor(*, launch: LaunchContext) -> str:
    """How the audit trail names the person: readable, and unique within a Canvas instance."""
    role = "teaching assistant" if launch.is_teaching_assistant else launch.get_role_display().lower()
    name = launch.person.name or "Unnamed user"
    return f"{name} (Canvas user {launch.person.canvas_user_id}, {role})"


def _require_instructor(launch: LaunchContext) -> None:
    if not launch.is_instructor:
        raise PermissionDenied("Only instructors of this course can do this.")


def _require_course_badge(launch: LaunchContext, course_badge: CourseBadge) -> None:
    _require_instructor(launch)
    if course_badge.course_id != launch.course_id:
        raise PermissionDenied("This badge belongs to another course.")


def _require_award(launch: LaunchContext, award: Award) -> None:
    _require_instructor(launch)
    if award.course_pk != launch.course_id:
        raise PermissionDenied("This award belongs to another course.")


def audit_event_record(
    *, launch: LaunchContext, action: str, award: Award | None = None, detail: dict[str, Any] | None = None
) -> AuditEvent:
    """Records one instructor action in the audit trail, in the caller's transaction (so it is kept
    exactly when the action is): who (name, Canvas user, role), which course, what."""
    return AuditEvent.objects.create(
        actor=instructor_actor(launch=launch),
        actor_person=launch.person,
        action=action,
        course=launch.course,
        award=award,
        detail={"launch_role": launch.role, "teaching_assistant": launch.is_teaching_assistant, **(detail or {})},
    )


def course_sync_now(*, launch: LaunchContext) -> bool:
    """Records the request and enqueues a sync of the launch's course after the commit (new grades;
    the roster when its interval is due, like any sync). Returns False when a sync is already
    queued: this request is then covered by it."""
    _require_instructor(launch)
    with transaction.atomic():
        enqueued = course_sync_request(course_id=launch.course_id_required, trigger="instructor")
        audit_event_record(launch=launch, action=ACTION_SYNC, detail={"enqueued": enqueued})
    return enqueued


def issuance_failures_retry(*, launch: LaunchContext, course_badge: CourseBadge) -> int:
    """Hands every learner whose issuing failed back to issuance now; returns how many were failed."""
    _require_course_badge(launch, course_badge)
    with transaction.atomic():
        failed_count, enqueued = awards_retry_failed_now(course_badge_id=course_badge.pk)
        audit_event_record(
            launch=launch,
            action=ACTION_RETRY,
            detail={"course_badge": course_badge.key, "failed": failed_count, "enqueued": enqueued},
        )
    return failed_count


def award_revoke_as_instructor(*, launch: LaunchContext, award: Award, reason: str) -> Award:
    """Revokes one award of this course with the instructor's reason. The issuance service refuses
    an empty reason (ValueError) and records the AuditEvent (actor, award, reason), so neither is
    repeated here."""
    _require_award(launch, award)
    return award_revoke(award_id=award.pk, reason=reason, actor=instructor_actor(launch=launch))


def award_keep_as_instructor(*, launch: LaunchContext, award: Award) -> Award:
    """The instructor reviewed an award flagged after a grade change and keeps it (audited by the
    issuance service); the same situation is not flagged again, a further change is."""
    _require_award(launch, award)
    if award.revoked or not award.needs_review:
        raise ActionUnavailable(_("This badge does not need review."))
    return award_review_keep(award_id=award.pk, actor=instructor_actor(launch=launch))


RESEND_WINDOW = timedelta(hours=24)


def award_resend_refusal(*, award: Award) -> str:
    """Why the award's email cannot be sent again now, in the instructor's words, or "".

    Resends are bounded per learner (over all their badges) in 24 hours, counted from the audit
    trail in the database: a mail box is not flooded from the tool, whoever clicks and whatever
    the cache holds."""
    if award.revoked:
        return _("This badge was revoked: its email is not sent again.")
    if not award.recipient_email:
        return _("The learner's personal data was removed on request: the badge email cannot be sent.")
    limit = settings.BADGING_RESENDS_PER_LEARNER_PER_DAY
    if limit < 1:
        return _("Sending the badge email again is turned off on this Badges server.")
    since = timezone.now() - RESEND_WINDOW
    recent = list(
        AuditEvent.objects.filter(action=ACTION_RESEND, award__learner_id=award.learner_id, at__gte=since)
        .order_by("at")
        .values_list("at", flat=True)
    )
    if len(recent) < limit:
        return ""
    again = timezone.localtime(recent[len(recent) - limit] + RESEND_WINDOW)
    return ngettext(
        "The badge email has already been sent again once to this learner in the last 24 hours, which is the "
        "limit. It can be sent again after %(when)s. The learner can also open their badges from the Badges "
        "page in Canvas.",
        "The badge email has already been sent again %(count)s times to this learner in the last 24 hours, "
        "which is the limit. It can be sent again after %(when)s. The learner can also open their badges from "
        "the Badges page in Canvas.",
        limit,
    ) % {"count": limit, "when": date_format(again, "DATETIME_FORMAT")}


def award_notification_resend(*, launch: LaunchContext, award: Award) -> Delivery:
    """Re-opens the award's email delivery and hands it to the notification task after commit.

    The notification service sends a delivery only while it is not marked sent, so a resend is:
    mark it pending again, then enqueue it. If that message is lost, the reconciler picks the
    delivery up once its next-attempt time has passed. Refused (ActionUnavailable) for a revoked
    award and once the learner's resends in 24 hours reach the limit (award_resend_refusal).
    """
    _require_award(launch, award)
    with transaction.atomic():
        # Locks the learner's awards: two resends at once cannot both pass the count below.
        list(Award.objects.select_for_update().filter(learner_id=award.learner_id).values_list("pk", flat=True))
        refusal = award_resend_refusal(award=award)
        if refusal:
            raise ActionUnavailable(refusal)
        delivery, _ = Delivery.objects.select_for_update().get_or_create(award=award, kind=Delivery.KIND_EMAIL)
        if delivery.status != Delivery.SENDING:  # a send under way keeps its mark (an extra email is counted)
            delivery.status = Delivery.PENDING
        delivery.next_attempt_at = timezone.now() + queued_stale_after()
        delivery.save(update_fields=["status", "next_attempt_at", "updated_at"])
        audit_event_record(
            launch=launch,
            action=ACTION_RESEND,
            award=award,
            detail={"recipient_email": award.recipient_email, "previous_attempts": delivery.attempts},
        )
        delivery_id = delivery.pk
        transaction.on_commit(lambda: current_app.send_task("badging.deliveries_send", args=[[delivery_id]]))
    return delivery


def learner_export_record(*, launch: LaunchContext, course_badge: CourseBadge, filters: dict[str, str]) -> AuditEvent:
    """An export hands learners' personal data out of the tool: who took it, and which part."""
    _require_course_badge(launch, course_badge)
    return audit_event_record(
        launch=launch, action=ACTION_EXPORT, detail={"course_badge": course_badge.key, "filters": filters}
    )
