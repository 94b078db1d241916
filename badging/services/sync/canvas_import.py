"""Canvas's course, assignments, roster and people, read page by page into rows.

Course details, assignments (published or not), enrollments with grades and primary emails,
teachers and TAs, Person upserts: bulk writes of what the Canvas client returns. Changes when
Canvas's records or our rows for them change.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone

from badging.models import (
    Assignment,
    CourseStaff,
    CourseSync,
    Enrollment,
)
from badging.services.emails import primary_emails_read
from canvas import (
    CanvasAssignment,
    CanvasClient,
    CanvasCourse,
    CanvasEnrollment,
)
from canvas.client import IDS_PER_REQUEST
from lti.models import Course, Person
from skillsforward.bulk_upsert import rows_upsert
from skillsforward.durability import rereadable_writes

if TYPE_CHECKING:
    from badging.services.sync.submissions_import import _HistoryReader


BATCH = 500


STUDENT_ENROLLMENT_TYPES = ("StudentEnrollment", "StudentViewEnrollment")


# Read in the same roster request: who teaches the course (instructor actions re-check it).
STAFF_ENROLLMENT_TYPES = ("TeacherEnrollment", "TaEnrollment")


ENROLLMENT_TYPES = STUDENT_ENROLLMENT_TYPES + STAFF_ENROLLMENT_TYPES


def _course_details_write(*, course: Course, details: CanvasCourse) -> None:
    """The course's name and language as Canvas has them now (a course configured before its first
    launch has no name; the language is the course's own, Canvas REST Course `locale`)."""
    name, code, locale = details.name[:500], details.course_code[:255], details.locale
    if (course.name, course.course_code, course.locale) != (name, code, locale):
        Course.objects.filter(pk=course.pk).update(name=name, course_code=code, locale=locale)


def _assignments_write(*, course: Course, records: list[CanvasAssignment]) -> int:
    rows = [
        Assignment(
            course=course,
            canvas_assignment_id=a.id,
            name=a.name[:500],
            assignment_group_id=a.assignment_group_id,
            assignment_group_name=a.assignment_group_name[:500],
            points_possible=a.points_possible,
            grading_type=a.grading_type,
            published=a.published,
            position=a.position,
            html_url=a.html_url[:1000],
            rubric=a.rubric_json(),
            rubric_title=a.rubric_title[:500],
            deleted_in_canvas=False,
        )
        for a in records
    ]
    with transaction.atomic():
        Assignment.objects.bulk_create(
            rows,
            batch_size=BATCH,
            update_conflicts=True,
            unique_fields=["course", "canvas_assignment_id"],
            update_fields=[
                "name",
                "assignment_group_id",
                "assignment_group_name",
                "points_possible",
                "grading_type",
                "published",
                "position",
                "html_url",
                "rubric",
                "rubric_title",
                "deleted_in_canvas",
                "synced_at",
            ],
        )
        Assignment.objects.filter(course=course).exclude(canvas_assignment_id__in=[a.id for a in records]).update(
            deleted_in_canvas=True
        )
    return len(rows)


def people_upsert_from_canvas(*, platform_id: int, users: Iterable[tuple[str, str, str, str]]) -> dict[str, int]:
    """Bulk create/update Person rows from Canvas (user id, name, sortable name, primary email).

    An empty email leaves a known one alone. Returns {canvas_user_id: person pk}. Bulk on purpose:
    a course of thousands of learners is one statement per batch, not one per learner.
    """
    with_email: dict[str, tuple] = {}
    without_email: dict[str, tuple] = {}
    now = timezone.now()
    for user_id, name, sortable_name, email in users:
        if not user_id:
            continue
        (with_email if email else without_email)[user_id] = (
            platform_id,
            user_id,
            name[:500],
            sortable_name[:500],
            email[:320],
            now if email else None,
        )
    fields = ("platform_id", "canvas_user_id", "name", "sortable_name", "email", "email_read_at")
    with rereadable_writes():
        if with_email:
            rows_upsert(
                Person,
                fields=fields,
                rows=list(with_email.values()),
                batch_size=BATCH,
                unique_fields=["platform", "canvas_user_id"],
                update_fields=["name", "sortable_name", "email", "email_read_at", "updated_at"],
            )
        if without_email:
            rows_upsert(
                Person,
                fields=fields,
                rows=list(without_email.values()),
                batch_size=BATCH,
                unique_fields=["platform", "canvas_user_id"],
                update_fields=["name", "sortable_name", "updated_at"],
            )
    ids = list(with_email) + list(without_email)
    mapping: dict[str, int] = {}
    for start in range(0, len(ids), BATCH):
        mapping.update(
            Person.objects.filter(platform_id=platform_id, canvas_user_id__in=ids[start : start + BATCH]).values_list(
                "canvas_user_id", "pk"
            )
        )
    return mapping


def _roster_sync(
    *,
    client: CanvasClient,
    pool: ThreadPoolExecutor,
    course: Course,
    history: _HistoryReader | None,
    enrollments: Iterator[CanvasEnrollment] | None = None,
) -> tuple[dict, list[str]]:
    """The roster pass: enrollments with grades and primary emails, streamed and written 100 at a
    time (memory does not grow with the course). Each written batch of learners is handed to the
    history reader at once. Returns stats and the learners new since the last roster pass."""
    cid = course.canvas_course_id
    pass_started = timezone.now()
    had_learners = Enrollment.objects.filter(course=course).exists()
    staff: dict[str, CanvasEnrollment] = {}
    without_email: list[str] = []
    new_learner_ids: list[str] = []
    written = 0
    # Keyed by id: a row listed twice (pages shifting under a concurrent change) must be written once,
    # or PostgreSQL refuses the whole upsert batch.
    batch: dict[str, CanvasEnrollment] = {}

    def flush() -> None:
        nonlocal written
        listed = list(batch.values())
        batch.clear()
        user_ids = sorted({e.user_id for e in listed})
        if had_learners:
            known = set(
                Enrollment.objects.filter(course=course, learner__canvas_user_id__in=user_ids).values_list(
                    "learner__canvas_user_id", flat=True
                )
            )
            new_learner_ids.extend(u for u in user_ids if u not in known)
        people, count = _enrollments_write(
            course=course, enrollments=listed, emails={e.user_id: e.user.email for e in listed if e.user.email}
        )
        written += count
        without_email.extend(sorted({e.user_id for e in listed if not e.user.email and not e.is_test_user}))
        if history is not None:
            # Canvas refuses a submissions request naming a student whose enrollment is deleted.
            history.add({e.user_id: people[e.user_id] for e in listed if e.enrollment_state != "deleted"})

    if enrollments is None:
        enrollments = client.list_enrollments(cid, types=ENROLLMENT_TYPES)
    for enrollment in enrollments:
        if enrollment.type in STAFF_ENROLLMENT_TYPES:
            staff[enrollment.id] = enrollment
            continue
        batch[enrollment.id] = enrollment
        if len(batch) >= IDS_PER_REQUEST:
            flush()
    if batch:
        flush()
    _staff_write(course=course, staff=list(staff.values()))
    if without_email:
        # Enrollments did not carry every primary email (include[]=email is undocumented there):
        # the course's users list has them, asked for 100 learners per request.
        primary_emails_read(
            client=client,
            platform_id=course.platform_id,
            canvas_course_id=cid,
            canvas_user_ids=without_email,
            pool=pool,
        )
    # Canvas no longer lists it at all: the learner was removed (hard-deleted or hidden from us).
    vanished = (
        Enrollment.objects.filter(course=course, synced_at__lt=pass_started)
        .exclude(state="deleted")
        .update(state="deleted")
    )
    return {
        "enrollments": written,
        "enrollments_vanished": vanished,
        "users_pass": bool(without_email),
        "emails_reread": len(without_email),
    }, new_learner_ids


def _staff_write(*, course: Course, staff: list[CanvasEnrollment]) -> None:
    """Replaces the course's teacher and TA enrollments with the ones Canvas listed just now."""
    people = people_upsert_from_canvas(
        platform_id=course.platform_id,
        users=((e.user_id, e.user.name, e.user.sortable_name, "") for e in staff),
    )
    rows = [
        CourseStaff(
            course=course,
            person_id=people[e.user_id],
            canvas_enrollment_id=e.id,
            enrollment_type=e.type[:40],
            state=e.enrollment_state[:20],
        )
        for e in staff
        if e.user_id in people
    ]
    with transaction.atomic():
        CourseStaff.objects.filter(course=course).delete()
        CourseStaff.objects.bulk_create(rows, batch_size=BATCH)
        CourseSync.objects.update_or_create(course=course, defaults={"staff_synced_at": timezone.now()})


# What an enrollment row takes from Canvas, in the order _enrollments_write gives it after the
# row's key (course, Canvas enrollment id); a later read updates all of it.
ENROLLMENT_UPDATED = (
    "learner_id",
    "section_id",
    "enrollment_type",
    "state",
    "is_test_user",
    "current_score",
    "final_score",
    "override_score",
    "override_grade",
)


def _enrollments_write(
    *, course: Course, enrollments: list[CanvasEnrollment], emails: dict[str, str]
) -> tuple[dict[str, int], int]:
    """The learners' Person rows and these enrollments, stored; returns {canvas user id: person pk}
    and how many enrollments were written."""
    people = people_upsert_from_canvas(
        platform_id=course.platform_id,
        users=((e.user_id, e.user.name, e.user.sortable_name, emails.get(e.user_id, "")) for e in enrollments),
    )
    rows = [
        (
            course.pk,
            e.id,
            people[e.user_id],
            e.course_section_id,
            e.type[:40],
            e.enrollment_state[:20],
            e.is_test_user,
            e.grades.current_score,
            e.grades.final_score,
            e.grades.override_score,
            e.grades.override_grade[:40],
        )
        for e in enrollments
        if e.user_id in people
    ]
    with rereadable_writes():
        rows_upsert(
            Enrollment,
            fields=("course_id", "canvas_enrollment_id", *ENROLLMENT_UPDATED),
            rows=rows,
            batch_size=BATCH,
            unique_fields=["course", "canvas_enrollment_id"],
            update_fields=[*ENROLLMENT_UPDATED, "synced_at"],
        )
    return people, len(rows)


def _learners_refresh(*, client: CanvasClient, course: Course, user_ids: list[str]) -> list[str]:
    """Targeted roster refresh (Live Events): re-read these learners' enrollments, one request each.
    Returns the ids of learners new to the course (their earlier grades must be read too)."""
    known = set(
        Enrollment.objects.filter(course=course, learner__canvas_user_id__in=user_ids).values_list(
            "learner__canvas_user_id", flat=True
        )
    )
    enrollments: dict[str, CanvasEnrollment] = {}
    for user_id in user_ids:
        for e in client.list_enrollments(course.canvas_course_id, types=STUDENT_ENROLLMENT_TYPES, user_id=user_id):
            enrollments[e.id] = e
    listed = list(enrollments.values())
    _enrollments_write(
        course=course, enrollments=listed, emails={e.user_id: e.user.email for e in listed if e.user.email}
    )
    # Enrollments of these learners that Canvas no longer lists at all: removed from the course.
    Enrollment.objects.filter(course=course, learner__canvas_user_id__in=user_ids).exclude(
        canvas_enrollment_id__in=list(enrollments)
    ).exclude(state="deleted").update(state="deleted")
    return sorted({e.user_id for e in listed} - known)


def _enrolled_learner_batches(course: Course) -> Iterator[dict[str, int]]:
    """The course's learners with a student enrollment that is not deleted, 100 at a time."""
    rows = (
        Enrollment.objects.filter(course=course, enrollment_type__in=STUDENT_ENROLLMENT_TYPES)
        .exclude(state="deleted")
        .order_by("learner__canvas_user_id")
        .values_list("learner__canvas_user_id", "learner_id")
        .distinct()
    )
    batch: dict[str, int] = {}
    for user_id, learner_id in rows.iterator(chunk_size=2000):
        batch[user_id] = learner_id
        if len(batch) >= IDS_PER_REQUEST:
            yield batch
            batch = {}
    if batch:
        yield batch
