"""People in the sandbox Canvas: users (names, primary email, language) and their enrollments
(enrol, drop, conclude, deactivate), with the Live Events Canvas sends for enrollments."""

from django.db import transaction

from sandbox import live_events
from sandbox.models import (
    STUDENT_TYPES,
    CommunicationChannel,
    CourseSection,
    SandboxAssignment,
    SandboxCourse,
    SandboxEnrollment,
    SandboxInstance,
    SandboxUser,
    Submission,
)
from sandbox.services.base import SandboxError, _course_request
from sandbox.services.grades import enrollment_grades_recompute

# The languages a sandbox user can choose (Canvas: Account > Settings > Language); "" is the
# account default, English. Canvas offers many more; these cover the tool's catalogues, a regional
# variant and a right-to-left language.
LOCALES = [
    ("", "Default (English)"),
    ("en", "English"),
    ("es", "Español"),
    ("fr", "Français"),
    ("fr-CA", "Français (Canada)"),
    ("ar", "العربية"),
]


def user_locale_set(*, user: SandboxUser, locale: str) -> SandboxUser:
    """The user's Canvas language: sent as the locale claims of their next launch."""
    if locale not in dict(LOCALES):
        raise SandboxError("choose one of the listed languages")
    user.locale = locale
    user.save(update_fields=["locale"])
    return user


def primary_email_set(*, user: SandboxUser, address: str) -> CommunicationChannel:
    """Makes `address` the user's primary email (position 1), adding the channel if needed."""
    address = address.strip()
    if "@" not in address or len(address) > 320:
        raise SandboxError("enter an email address")
    with transaction.atomic():
        channels = list(CommunicationChannel.objects.select_for_update().filter(user=user, channel_type="email"))
        chosen = next((c for c in channels if c.address.lower() == address.lower()), None)
        if chosen is None:
            chosen = CommunicationChannel.objects.create(user=user, address=address, position=1)
        chosen.workflow_state = "active"
        others = sorted((c for c in channels if c.id != chosen.id), key=lambda c: (c.position, c.id))
        chosen.position = 1
        chosen.save()
        for position, channel in enumerate(others, start=2):
            if channel.position != position:
                channel.position = position
                channel.save(update_fields=["position"])
    return chosen


def sortable_name(name: str) -> str:
    """Canvas's default: "Last, First" from "First Last" (everything after the first word is the last name)."""
    first, _, rest = name.strip().partition(" ")
    return f"{rest}, {first}" if rest else first


def user_create(
    *,
    instance: SandboxInstance,
    name: str,
    email: str,
    login_id: str = "",
    is_account_admin: bool = False,
    is_test_user: bool = False,
) -> SandboxUser:
    """A new user named as Canvas would sort them, with `email` (if any) as the primary channel.

    Raises SandboxError for a blank name; the login id defaults to the email."""
    name = name.strip()
    if not name:
        raise SandboxError("a user needs a name")
    user = SandboxUser.objects.create(
        instance=instance,
        name=name,
        sortable_name=sortable_name(name),
        short_name=name,
        login_id=login_id or email,
        is_account_admin=is_account_admin,
        is_test_user=is_test_user,
    )
    if email:
        CommunicationChannel.objects.create(user=user, address=email, position=1)
    return user


def enrollment_create(
    *,
    course: SandboxCourse,
    user: SandboxUser,
    type: str = "StudentEnrollment",
    section: CourseSection | None = None,
    workflow_state: str = "active",
) -> SandboxEnrollment:
    """Enrolls the user (or re-activates a dropped enrollment in the same section and role)."""
    if type not in SandboxEnrollment.TYPES:
        raise SandboxError(f"unknown enrollment type {type}")
    section = (
        section
        or course.sections.order_by("id").first()
        or CourseSection.objects.create(course=course, name=course.name)
    )
    with transaction.atomic():
        enrollment, created = SandboxEnrollment.objects.get_or_create(
            course=course, user=user, section=section, type=type, defaults={"workflow_state": workflow_state}
        )
        if not created and enrollment.workflow_state != workflow_state:
            enrollment.workflow_state = workflow_state
            enrollment.save(update_fields=["workflow_state", "updated_at"])
        with _course_request(course=course, path="enroll_users"):
            live_events.emit_on_commit(
                instance=course.instance,
                event_name="enrollment_created" if created else "enrollment_updated",
                body=live_events.enrollment_body(enrollment),
                course=course,
            )
        if type in STUDENT_TYPES:
            # Canvas keeps a submission row for every student and assignment, graded or not.
            Submission.objects.bulk_create(
                [Submission(assignment=a, user=user) for a in SandboxAssignment.objects.filter(course=course)],
                ignore_conflicts=True,
            )
            # The new student's scores are computed after the enrollment is saved, by a job in Canvas
            # (its course_grade_change carries the job's metadata).
            enrollment_grades_recompute(course=course, user_ids=[user.id])
            enrollment.refresh_from_db()
    return enrollment


def enrollment_state_set(*, enrollment: SandboxEnrollment, state: str) -> SandboxEnrollment:
    """Drop (deleted), conclude (completed), deactivate (inactive) or re-activate an enrollment."""
    if state not in SandboxEnrollment.STATES:
        raise SandboxError(f"unknown enrollment state {state}")
    enrollment.workflow_state = state
    enrollment.save(update_fields=["workflow_state", "updated_at"])
    with _course_request(course=enrollment.course, path=f"unenroll/{enrollment.id}"):
        live_events.emit_on_commit(
            instance=enrollment.course.instance,
            event_name="enrollment_updated",
            body=live_events.enrollment_body(enrollment),
            course=enrollment.course,
        )
    return enrollment
