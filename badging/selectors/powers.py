"""What the launching person may do on the instructor pages of a course (reads stay open to every
instructor, TA and admin of the launch's course; acting is decided here, in one place).

- A concluded enrollment ($Canvas.membership.concludedRoles) is read-only.
- A teaching assistant acts only on a course badge whose `teaching_assistants_may_act` is on.
- An instructor whose roster entry the last sync no longer lists (and the roster is newer than the
  launch) no longer teaches the course: read-only until they launch again from Canvas.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy

from badging.models import CourseBadge, CourseStaff, CourseSync
from lti.models import LaunchContext

CONCLUDED = gettext_lazy("Your enrollment in this course has concluded: this dashboard is read-only.")
TA_READ_ONLY = gettext_lazy(
    "You are a teaching assistant: you can see everything here, but actions on this badge are "
    "turned off. A Badges administrator can allow teaching assistants to act on it."
)
NOT_ON_ROSTER = gettext_lazy(
    "Canvas no longer lists you as a teacher of this course (last roster sync): actions are turned "
    "off. If that is wrong, open Badges again from the course menu in Canvas."
)
NOT_INSTRUCTOR = gettext_lazy("This page is for instructors of this course.")


@dataclass(frozen=True)
class Powers:
    may_act: bool
    why_not: str | Promise = ""

    @property
    def read_only(self) -> bool:
        return not self.may_act


def still_teaches(*, launch: LaunchContext) -> bool:
    """Whether the last roster sync (when newer than this launch) still lists the launching person
    as an active teacher or TA of the course. No roster read yet, an empty one (the API token cannot
    see teachers), or one older than the launch: the signed launch is the newest word."""
    read_at = (
        CourseSync.objects.filter(course_id=launch.course_id_required).values_list("staff_synced_at", flat=True).first()
    )
    if read_at is None or read_at <= launch.created_at:
        return True
    staff = CourseStaff.objects.filter(course_id=launch.course_id_required)
    if not staff.exists():
        return True
    return staff.filter(person_id=launch.person_id, state="active").exists()


def instructor_powers(*, launch: LaunchContext, course_badge: CourseBadge | None = None) -> Powers:
    """May this launch act on `course_badge` (None: on the course, e.g. ask for a sync)?"""
    if launch.concluded:
        return Powers(False, CONCLUDED)
    if launch.role not in (LaunchContext.ROLE_INSTRUCTOR, LaunchContext.ROLE_ADMIN):
        return Powers(False, NOT_INSTRUCTOR)
    if launch.is_teaching_assistant:
        if course_badge is not None:
            allowed = course_badge.teaching_assistants_may_act
        else:
            allowed = CourseBadge.objects.filter(
                course_id=launch.course_id_required, active=True, teaching_assistants_may_act=True
            ).exists()
        if not allowed:
            return Powers(False, TA_READ_ONLY)
    if launch.role == LaunchContext.ROLE_INSTRUCTOR and not still_teaches(launch=launch):
        return Powers(False, NOT_ON_ROSTER)
    return Powers(True)
