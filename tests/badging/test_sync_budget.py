"""How many Canvas requests a sync and the issuance it triggers make (counted, never timed).

- The roster pass reads every learner's primary email with the enrollments (include[]=email) and
  stores when it was read (Person.email_read_at): issuance uses a fresh one without any request,
  and re-reads stale ones from the course's users list, 100 learners per request (canvas-lms
  app/controllers/courses_controller.rb#users: `user_ids[]`, `enrollment_state[]`, `include[]=email`).
- A full history is read 100 learners per request with `grouped=true` and `student_ids[]` (canvas-lms
  app/controllers/submissions_api_controller.rb#for_students: with `grouped` a page is 100 *students*,
  and more than Api::MAX_PER_PAGE named students is refused).
- Any incremental trigger reads new grades only (graded_since); the roster is read when
  BADGING_ROSTER_INTERVAL_MINUTES have passed since the last roster pass, whatever the trigger.
- Requests run several at once within the token's cap, and one at a time, after a pause, when
  X-Rate-Limit-Remaining runs low (doc/api/throttling.md: the bucket, the up-front cost).
"""

import threading
from datetime import timedelta

import pytest
from django.utils import timezone
from freezegun import freeze_time

from badging.models import Award, CourseSync, Enrollment, LearnerProgress
from badging.services.issuance import issue, queueing, recipients
from badging.services.sync import coordination
from badging.services.sync import run as sync_run
from canvas.client import CanvasClient
from lti.models import Person
from tests import factories as f

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("enqueued")]
LEARNERS = 250


@pytest.fixture
def canvas_api(canvas_api):
    canvas_api.add_assignment(55, "Clean a data set")
    canvas_api.add_assignment(56, "Present findings")
    for uid in range(1000, 1000 + LEARNERS):
        canvas_api.add_student(uid, f"Learner {uid}")
    return canvas_api


@pytest.fixture
def course_badge(canvas_api):
    platform = f.PlatformFactory(api_base_url=canvas_api.base)
    course = f.CourseFactory(platform=platform, canvas_course_id=canvas_api.course_id)
    return f.CourseBadgeFactory(course=course)


@pytest.fixture(autouse=True)
def public_base(settings):
    settings.PUBLIC_BASE_URL = "https://badges.example.edu"


def master(canvas_api, uids, *, at=None):
    at = at or timezone.now() - timedelta(days=1)
    for uid in uids:
        canvas_api.grade(55, uid, 12, at=at)
        canvas_api.grade(56, uid, 12, at=at)
        canvas_api.set_override(uid, 90.0)


def paths(canvas_api, since=0):
    return [url.split("/api/v1", 1)[1].split("?", 1)[0] for url in canvas_api.requests[since:]]


def issue_eligible(course_badge):
    ids = list(
        LearnerProgress.objects.filter(course_badge=course_badge, state=LearnerProgress.ELIGIBLE).values_list(
            "pk", flat=True
        )
    )
    for start in range(0, len(ids), queueing.BATCH_SIZE):
        issue.awards_issue_batch(progress_ids=ids[start : start + queueing.BATCH_SIZE])
    return len(ids)


def test_issuance_reads_no_email_when_the_roster_just_read_them(canvas_api, course_badge):
    master(canvas_api, range(1000, 1120))
    run = coordination.course_sync(course_id=course_badge.course_id, trigger="command")
    # Course, settings, groups, assignments, 3 roster pages, 3 grouped history requests (100 learners each).
    assert run.canvas_requests == len(canvas_api.requests) == 10
    assert paths(canvas_api).count(f"/courses/{canvas_api.course_id}/students/submissions") == 3
    before = len(canvas_api.requests)

    assert issue_eligible(course_badge) == 120
    assert Award.objects.count() == 120
    assert paths(canvas_api, before) == []  # not one profile, channel or users request
    award = Award.objects.get(learner__canvas_user_id="1000")
    assert award.recipient_email == "user1000@uni.edu"


def test_stale_emails_are_reread_100_learners_per_request_never_one_by_one(canvas_api, course_badge, settings):
    master(canvas_api, range(1000, 1150))
    coordination.course_sync(course_id=course_badge.course_id, trigger="command")
    Person.objects.filter(canvas_user_id="1007").update(email="")  # never read: stale too
    # Older than BADGING_EMAIL_FRESH_MINUTES: each must be read again before a badge goes to it.
    Person.objects.update(email_read_at=timezone.now() - timedelta(minutes=settings.BADGING_EMAIL_FRESH_MINUTES + 1))
    canvas_api.emails["1003"] = "changed.primary@uni.edu"
    before = len(canvas_api.requests)

    assert issue_eligible(course_badge) == 150
    # Batches of 50 learners: one users request each (an issue batch is smaller than a page of 100).
    read = paths(canvas_api, before)
    assert read == [f"/courses/{canvas_api.course_id}/users"] * 3
    assert Award.objects.get(learner__canvas_user_id="1003").recipient_email == "changed.primary@uni.edu"
    assert Award.objects.get(learner__canvas_user_id="1007").recipient_email == "user1007@uni.edu"
    assert Person.objects.filter(email_read_at__gte=timezone.now() - timedelta(minutes=1)).count() >= 150


def test_stale_emails_of_a_large_batch_are_read_in_pages_of_100(canvas_api, course_badge, settings):
    """The page size, not the issue batch, bounds the requests: 150 learners in one batch, 2 requests."""
    master(canvas_api, range(1000, 1150))
    coordination.course_sync(course_id=course_badge.course_id, trigger="command")
    Person.objects.update(email_read_at=None)
    before = len(canvas_api.requests)
    rows = list(
        LearnerProgress.objects.filter(course_badge=course_badge, state=LearnerProgress.ELIGIBLE).select_related(
            "course_badge__course__platform", "learner"
        )
    )
    emails = recipients._emails_read(rows)
    assert sorted(emails.values()) == sorted(f"user{u}@uni.edu" for u in range(1000, 1150))
    assert paths(canvas_api, before) == [f"/courses/{canvas_api.course_id}/users"] * 2


@pytest.mark.parametrize("trigger", ["periodic", "command", "instructor", "live_event:grade_change"])
def test_any_incremental_trigger_after_50_grade_changes_is_a_few_requests(canvas_api, course_badge, trigger):
    coordination.course_sync(course_id=course_badge.course_id, trigger="command")
    master(canvas_api, range(1000, 1050), at=timezone.now())
    before = len(canvas_api.requests)

    run = coordination.course_sync(course_id=course_badge.course_id, trigger=trigger)

    # Groups, assignments, one page of new grades (50 x 2 = 100 submissions): the roster is not due.
    assert run.canvas_requests == len(canvas_api.requests) - before == 3 <= 12
    assert run.stats["roster"] is False
    assert LearnerProgress.objects.filter(state=LearnerProgress.ELIGIBLE).count() == 0  # no override read yet
    canvas_api.set_override(1000, None)


def test_the_incremental_request_count_does_not_grow_with_the_course(canvas_api, course_badge):
    for uid in range(2000, 2000 + 750):
        canvas_api.add_student(uid, f"Learner {uid}")
    coordination.course_sync(course_id=course_badge.course_id, trigger="command")
    master(canvas_api, range(1000, 1050), at=timezone.now())
    before = len(canvas_api.requests)
    run = coordination.course_sync(course_id=course_badge.course_id, trigger="periodic")
    assert Enrollment.objects.count() == 1000 and run.canvas_requests == len(canvas_api.requests) - before == 3


def test_eligible_learners_of_an_incremental_sync_are_issued_without_email_requests(canvas_api, course_badge):
    coordination.course_sync(course_id=course_badge.course_id, trigger="command")
    for uid in range(1000, 1050):
        canvas_api.set_override(uid, 90.0)
    with freeze_time(timezone.now() + sync_run.roster_interval() + timedelta(seconds=1)):
        coordination.course_sync(course_id=course_badge.course_id, trigger="periodic")  # the roster pass is due
        master(canvas_api, range(1000, 1050), at=timezone.now())
        before = len(canvas_api.requests)
        run = coordination.course_sync(course_id=course_badge.course_id, trigger="periodic")
        assert run.stats["roster"] is False
        assert issue_eligible(course_badge) == 50
    assert run.canvas_requests == len(canvas_api.requests) - before == 3


def test_the_roster_pass_runs_at_the_configured_interval_and_a_dropped_learner_goes_within_it(
    canvas_api, course_badge, settings
):
    settings.BADGING_ROSTER_INTERVAL_MINUTES = 45
    start = timezone.now()
    with freeze_time(start):
        coordination.course_sync(course_id=course_badge.course_id, trigger="command")
    assert CourseSync.objects.get(course=course_badge.course).roster_read_at == start
    canvas_api.enrollments = [e for e in canvas_api.enrollments if e["user_id"] != 1001]  # dropped, no Live Event

    with freeze_time(start + timedelta(minutes=44)):
        run = coordination.course_sync(course_id=course_badge.course_id, trigger="instructor")
    assert run.stats["roster"] is False
    assert Enrollment.objects.get(learner__canvas_user_id="1001").state == "active"

    with freeze_time(start + timedelta(minutes=45)):
        run = coordination.course_sync(course_id=course_badge.course_id, trigger="periodic")
    assert run.stats["roster"] is True and run.stats["enrollments_vanished"] == 1
    assert Enrollment.objects.get(learner__canvas_user_id="1001").state == "deleted"
    assert LearnerProgress.objects.get(course_badge=course_badge, learner__canvas_user_id="1001").state == "ineligible"
    assert CourseSync.objects.get(course=course_badge.course).roster_read_at == start + timedelta(minutes=45)


def test_the_full_walk_stays_within_the_token_cap(canvas_api, course_badge, settings):
    settings.CANVAS_MAX_IN_FLIGHT_PER_TOKEN = 3
    canvas_api.answer_seconds = 0.005  # answers take a moment, so requests overlap when they may
    master(canvas_api, range(1000, 1250))
    run = coordination.course_sync(course_id=course_badge.course_id, trigger="command", full=True)
    # The whole cap while the bucket has room (the token's other users wait for a slot in the budget).
    assert run.status == "ok" and run.stats["peak_in_flight"] <= 3
    assert canvas_api.peak_in_flight <= 3
    assert LearnerProgress.objects.filter(state=LearnerProgress.ELIGIBLE).count() == 250


def test_a_low_rate_limit_remaining_narrows_to_one_request_and_pauses(canvas_api, course_badge, settings):
    settings.CANVAS_MAX_IN_FLIGHT_PER_TOKEN = 4
    canvas_api.answer_seconds = 0.005
    canvas_api.rate_limit_remaining = 120.0  # below the low-water mark: every answer says slow down
    sleeps: list[float] = []
    client = CanvasClient(course_badge.course.platform, sleep=sleeps.append)
    list(client.list_users_with_email(canvas_api.course_id, user_ids=["1000"]))
    assert client.parallel == 4 and sleeps == []  # the token's cap

    def read():
        list(client.list_users_with_email(canvas_api.course_id, user_ids=["1001"]))

    threads = [threading.Thread(target=read) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert client.peak_in_flight == 1 and canvas_api.peak_in_flight == 1  # one at a time, never a burst
    # Each request waited for the bucket: (150 + 3 x 50 up-front - 120) / 10 units a second, at most 5 s.
    assert len(sleeps) == 6 and all(0 < s <= 5.0 for s in sleeps)

    canvas_api.rate_limit_remaining = 600.0  # the bucket leaked back: the client widens again
    for _ in range(3):
        read()
    assert client._allowed == 4


def test_a_learner_removed_during_the_walk_falls_back_to_the_course_wide_history(canvas_api, course_badge):
    """Canvas refuses (401) a submissions request naming a student it no longer lists
    (submissions_api_controller.rb#for_students, render_unauthorized_action): the sync then reads
    the history course-wide, one state at a time, and still succeeds."""
    master(canvas_api, range(1000, 1010))

    def drop_once(path):
        if path.endswith("/students/submissions") and canvas_api.enrollments[0]["enrollment_state"] != "deleted":
            canvas_api.enrollments[0]["enrollment_state"] = "deleted"

    canvas_api.before = drop_once
    run = coordination.course_sync(course_id=course_badge.course_id, trigger="command")
    assert run.status == "ok"
    course_wide = [u for u in canvas_api.requests if "/students/submissions" in u and "student_ids%5B%5D=all" in u]
    assert len(course_wide) == 3 and all("workflow_state=" in u for u in course_wide)  # graded, submitted, pending
    # 1000 was listed by the roster page read before it left: the next roster pass drops it.
    assert LearnerProgress.objects.filter(state=LearnerProgress.ELIGIBLE).count() == 10
