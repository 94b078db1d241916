"""A course's configuration state, for an admin or instructor launching the tool (course_setup,
course_has_badge).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from badging.models import (
    Assignment,
    CourseBadge,
    CourseSync,
    Enrollment,
)
from lti.models import Course


@dataclass(frozen=True)
class CourseSetup:
    """A course's configuration state, for an admin launching the tool."""

    course: Course
    course_badges: list[CourseBadge]
    api_token_set: bool
    api_base_url: str
    last_synced_at: datetime | None
    last_status: str
    last_error: str
    assignment_count: int
    enrollment_count: int


def course_setup(*, course: Course) -> CourseSetup:
    course_badges = list(
        CourseBadge.objects.filter(course=course)
        .select_related("badge_class__issuer")
        .defer("badge_class__image", "badge_class__issuer__image")
        .order_by("-active", "badge_class__name")
    )
    sync = CourseSync.objects.filter(course=course).first()
    return CourseSetup(
        course=course,
        course_badges=course_badges,
        api_token_set=not course.platform.needs_api_token,
        api_base_url=course.platform.api_base_url,
        last_synced_at=sync.last_synced_at if sync else None,
        last_status=sync.last_status if sync else "",
        last_error=sync.last_error if sync else "",
        assignment_count=Assignment.objects.filter(course=course, deleted_in_canvas=False).count(),
        enrollment_count=Enrollment.objects.filter(course=course).values("learner").distinct().count(),
    )


def course_has_badge(*, course: Course) -> bool:
    return CourseBadge.objects.filter(course=course, active=True).exists()
