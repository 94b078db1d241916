"""The top of the instructor dashboard: the course's badges, the awards needing review and the
instructors' recent actions."""

from __future__ import annotations

from django.utils.translation import gettext_lazy

from badging.models import AuditEvent, Award, CourseBadge
from lti.models import Course


def course_badges_for_dashboard(*, course: Course) -> list[CourseBadge]:
    return list(
        CourseBadge.objects.filter(course=course)
        .select_related("badge_class", "badge_class__issuer")
        .defer("badge_class__image", "badge_class__issuer__image")
        .order_by("-active", "badge_class__name", "id")
    )


def awards_needing_review_count(*, course_badge: CourseBadge) -> int:
    """Live awards whose learner no longer meets the rule (a grade changed after issue)."""
    return Award.objects.filter(course_badge=course_badge, revoked=False, needs_review=True).count()


ACTION_LABELS = {
    "instructor.sync_requested": gettext_lazy("asked for a sync"),
    "instructor.issuance_retried": gettext_lazy("retried failed issuing"),
    "award_revoked": gettext_lazy("revoked a badge"),
    "instructor.notification_resent": gettext_lazy("re-sent a badge email"),
    "instructor.learners_exported": gettext_lazy("exported the learner table"),
}


def recent_actions(*, course: Course, limit: int = 5) -> list[AuditEvent]:
    events = list(
        AuditEvent.objects.filter(course=course, action__in=list(ACTION_LABELS)).order_by("-at", "-id")[:limit]
    )
    for event in events:
        event.label = ACTION_LABELS.get(event.action, event.action)  # type: ignore[attr-defined]
    return events
