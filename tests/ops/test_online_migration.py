"""Migrations applied while the previous release's workers still run (README "Online migrations").
Badging 0010 added two NOT NULL columns the previous release does not know: Django gives them a
default in Python only, so that release's inserts (a sync's new learner progress, issuance's
email delivery) failed with "null value in column ... violates not-null constraint" until its
workers were replaced (drill against main~ before the leases merge, README). Badging 0012 gives
them database defaults: an insert that leaves them out, as the previous release's does, works."""

import pytest
from django.db import connection
from django.utils import timezone

from badging.models import Delivery, LearnerProgress
from tests.factories import AwardFactory, CourseBadgeFactory, PersonFactory

pytestmark = pytest.mark.django_db


def _insert_without(obj, left_out: set[str]) -> None:
    """INSERT as a release without the `left_out` columns writes it (the ORM would send them all)."""
    fields = [f for f in obj._meta.local_concrete_fields if not f.primary_key and f.column not in left_out]
    values = [f.get_db_prep_save(f.pre_save(obj, True), connection) for f in fields]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {obj._meta.db_table} ({columns}) VALUES ({', '.join(['%s'] * len(fields))})", values
        )


def test_the_previous_release_can_insert_rows_without_the_columns_badging_0010_added():
    course_badge = CourseBadgeFactory()
    learner = PersonFactory(platform=course_badge.course.platform)
    _insert_without(
        LearnerProgress(course_badge=course_badge, learner=learner, state="eligible", evaluated_at=timezone.now()),
        {"issue_claim", "issue_claimed_at"},
    )
    award = AwardFactory(course_badge=course_badge, badge_class=course_badge.badge_class, learner=learner)
    now = timezone.now()
    _insert_without(
        Delivery(award=award, kind=Delivery.KIND_EMAIL, created_at=now, updated_at=now),
        {"unconfirmed_sends", "send_started_at"},
    )
    assert LearnerProgress.objects.get(learner=learner).issue_claim == ""
    assert Delivery.objects.get(award=award).unconfirmed_sends == 0


def test_the_previous_release_can_start_a_course_sync_without_the_columns_badging_0013_added():
    """Badging 0013 moved the sync's control state into CourseSync columns; a worker of the previous
    release creating a course's sync row leaves them out, and the database fills them in."""
    from badging.models import CourseSync

    course = CourseBadgeFactory().course
    _insert_without(
        CourseSync(course=course),
        {"roster_read_at", "synced_assignment_ids", "learners_marked", "postings_marked"},
    )
    state = CourseSync.objects.get(course=course)
    assert state.synced_assignment_ids == [] and state.learners_marked == [] and state.postings_marked == []
    assert state.roster_read_at is None
