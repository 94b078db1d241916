"""Course sync against an in-memory Canvas: full and incremental passes, posted-only grades,
roster changes, failures in plain words, and the one-sync-per-course lock."""

import threading
from datetime import timedelta
from unittest import mock

import pytest
from django.core.cache import cache
from django.utils import timezone

from badging.models import AssessmentResult, Assignment, Award, CourseSync, Enrollment, LearnerProgress, SyncRun
from badging.services.sync import coordination
from badging.services.sync import marks as sync_marks
from badging.services.sync import run as sync_run
from lti.models import Person
from tests import factories as f

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("enqueued")]


@pytest.fixture
def canvas_api(canvas_api):
    """The Canvas double with this course: two credentialing assessments, a quiz, four enrollments."""
    canvas_api.add_assignment(55, "Clean a data set")
    canvas_api.add_assignment(56, "Present findings")
    canvas_api.add_assignment(57, "Quiz 1", group=4)
    canvas_api.groups.append({"id": 4, "name": "Quizzes", "position": 2})
    canvas_api.add_student(42, "Ada Lovelace", email="Ada@Uni.edu")
    canvas_api.add_student(43, "Zoë O'Brien <b>")
    canvas_api.add_student(44, "Dropped Learner", state="deleted")
    canvas_api.add_student(45, "Test Student", type="StudentViewEnrollment")
    return canvas_api


@pytest.fixture
def course_badge(canvas_api):
    platform = f.PlatformFactory(api_base_url=canvas_api.base)
    course = f.CourseFactory(platform=platform, canvas_course_id=canvas_api.course_id)
    return f.CourseBadgeFactory(course=course)


def roster_due(course_badge):
    """Moves the last roster pass back past BADGING_ROSTER_INTERVAL_MINUTES: the next sync reads it."""
    CourseSync.objects.filter(course=course_badge.course).update(
        roster_read_at=timezone.now() - sync_run.roster_interval() - timedelta(seconds=1)
    )


def states(badge):
    return dict(LearnerProgress.objects.filter(course_badge=badge).values_list("learner__canvas_user_id", "state"))


def test_full_sync_stores_course_data_and_evaluates_every_learner(canvas_api, course_badge):
    now = timezone.now()
    canvas_api.grade(55, 42, 12, at=now)
    canvas_api.grade(56, 42, 10, at=now)
    canvas_api.grade(57, 42, 1, at=now)  # not a credentialing assessment: not even fetched
    canvas_api.grade(55, 43, 12, at=now, posted=False)
    canvas_api.set_override(42, 95.0, "A")

    run = coordination.course_sync(course_id=course_badge.course_id, trigger="test")

    assert run.status == SyncRun.STATUS_OK and run.kind == "full"
    # Course, groups, assignments, course settings (Final Grade Override allowed?), enrollments, then
    # the submissions of the (up to 100) enrolled learners in one grouped request.
    assert run.canvas_requests == len(canvas_api.requests) == 6
    course_badge.course.refresh_from_db()
    assert course_badge.course.name == "Data Skills <101>"
    assert set(Assignment.objects.values_list("name", "assignment_group_name")) == {
        ("Clean a data set", "Credentialing Assessments"),
        ("Present findings", "Credentialing Assessments"),
        ("Quiz 1", "Quizzes"),
    }
    ada = Person.objects.get(canvas_user_id="42")
    assert ada.email == "Ada@Uni.edu" and ada.name == "Ada Lovelace"
    assert Person.objects.get(canvas_user_id="43").name == "Zoë O'Brien <b>"
    assert Enrollment.objects.get(learner=ada).override_grade == "A"
    assert Enrollment.objects.get(learner__canvas_user_id="45").is_test_user
    assert AssessmentResult.objects.count() == 3
    assert not AssessmentResult.objects.filter(assignment__name="Quiz 1").exists()

    assert states(course_badge) == {
        "42": "eligible",
        "43": "in_progress",  # graded but not posted: does not count
        "44": "ineligible",
        "45": "ineligible",
    }
    detail = LearnerProgress.objects.get(course_badge=course_badge, learner=ada).detail
    assert [a["status"] for a in detail["assessments"]] == ["mastered", "mastered"]
    assert detail["final_grade"]["entered"] is True
    zoe = LearnerProgress.objects.get(course_badge=course_badge, learner__canvas_user_id="43").detail
    assert zoe["assessments"][0]["status"] == "graded_not_posted"
    state = CourseSync.objects.get(course=course_badge.course)
    assert state.last_status == "ok" and state.submissions_graded_since is not None


def test_eligible_learners_are_handed_to_issuance(
    canvas_api, course_badge, enqueued, django_capture_on_commit_callbacks
):
    now = timezone.now()
    canvas_api.grade(55, 42, 12, at=now)
    canvas_api.grade(56, 42, 12, at=now)
    canvas_api.set_override(42, 90.0)
    with django_capture_on_commit_callbacks(execute=True):
        coordination.course_sync(course_id=course_badge.course_id, trigger="test")
    progress = LearnerProgress.objects.get(course_badge=course_badge, learner__canvas_user_id="42")
    assert progress.state == "eligible"
    assert progress.issue_status == LearnerProgress.ISSUE_QUEUED
    assert enqueued.calls[-1] == ("badging.award_issue_batch", [[progress.pk]])


def test_incremental_sync_reads_only_new_grades_and_keeps_the_roster(canvas_api, course_badge):
    long_ago = timezone.now() - timedelta(days=3)
    canvas_api.grade(55, 42, 12, at=long_ago)
    coordination.course_sync(course_id=course_badge.course_id, trigger="test")
    first = len(canvas_api.requests)

    canvas_api.grade(56, 42, 10, at=timezone.now())
    canvas_api.requests.clear()
    run = coordination.course_sync(course_id=course_badge.course_id, trigger="stale")

    assert run.kind == "incremental" and run.stats["roster"] is False
    assert run.canvas_requests == 3 < first  # groups, assignments, one page of new grades
    assert any("graded_since=" in url for url in canvas_api.requests)
    assert states(course_badge)["42"] == "awaiting_final_grade"
    assert run.stats["progress"][course_badge.key]["awaiting_final_grade"] == 1


def test_instructor_sync_reads_final_grade_override_and_posting_of_old_grades(canvas_api, course_badge):
    long_ago = timezone.now() - timedelta(days=3)
    canvas_api.grade(55, 43, 12, at=long_ago, posted=False)
    canvas_api.grade(56, 43, 12, at=long_ago, posted=False)
    coordination.course_sync(course_id=course_badge.course_id, trigger="test")
    assert states(course_badge)["43"] == "in_progress"

    # The instructor posts the grades (graded_at unchanged, so graded_since cannot see it) and
    # enters the final grade override, then presses "sync now".
    canvas_api.post(55, 43, at=timezone.now())
    canvas_api.post(56, 43, at=timezone.now())
    canvas_api.set_override(43, None, "B+")
    roster_due(course_badge)
    run = coordination.course_sync(course_id=course_badge.course_id, trigger="instructor")

    assert run.stats["roster"] is True and run.stats["unposted_rechecked"] == 2
    assert states(course_badge)["43"] == "eligible"
    assert AssessmentResult.objects.filter(learner__canvas_user_id="43", posted_at__isnull=False).count() == 2


def test_new_learner_between_roster_passes_gets_their_older_grades(canvas_api, course_badge):
    coordination.course_sync(course_id=course_badge.course_id, trigger="test")
    canvas_api.add_student(46, "Late Joiner")
    canvas_api.grade(55, 46, 12, at=timezone.now() - timedelta(days=1))
    roster_due(course_badge)
    coordination.course_sync(course_id=course_badge.course_id, trigger="instructor")
    assert AssessmentResult.objects.filter(learner__canvas_user_id="46").count() == 1
    assert states(course_badge)["46"] == "in_progress"


def test_vanished_assignments_and_enrollments(canvas_api, course_badge):
    coordination.course_sync(course_id=course_badge.course_id, trigger="test")
    canvas_api.assignments = [a for a in canvas_api.assignments if a["id"] != 56]
    canvas_api.enrollments = [e for e in canvas_api.enrollments if e["user_id"] != 43]
    roster_due(course_badge)
    coordination.course_sync(course_id=course_badge.course_id, trigger="instructor")
    assert Assignment.objects.get(canvas_assignment_id="56").deleted_in_canvas
    assert Enrollment.objects.get(learner__canvas_user_id="43").state == "deleted"
    assert states(course_badge)["43"] == "ineligible"
    progress = LearnerProgress.objects.get(course_badge=course_badge, learner__canvas_user_id="42")
    assert progress.assessment_count == 1


def test_emails_from_users_endpoint_when_enrollments_lack_them(canvas_api, course_badge):
    canvas_api.enrollment_emails = False
    run = coordination.course_sync(course_id=course_badge.course_id, trigger="test")
    assert run.stats["users_pass"] is True
    assert Person.objects.get(canvas_user_id="43").email == "user43@uni.edu"


def test_revoked_token_fails_in_plain_words_and_keeps_the_watermark(canvas_api, course_badge):
    coordination.course_sync(course_id=course_badge.course_id, trigger="test")
    watermark = CourseSync.objects.get(course=course_badge.course).submissions_graded_since
    platform = course_badge.course.platform
    platform.api_token = "revoked"
    platform.save()
    run = coordination.course_sync(course_id=course_badge.course_id, trigger="periodic")
    assert run.status == SyncRun.STATUS_FAILED
    assert run.error.startswith("the Canvas API token was revoked or is invalid: ask your Canvas admin")
    state = CourseSync.objects.get(course=course_badge.course)
    assert state.last_status == "failed" and state.last_error == run.error
    assert state.submissions_graded_since == watermark


def test_missing_token_is_reported_without_calling_canvas(canvas_api, course_badge):
    platform = course_badge.course.platform
    platform.api_token = ""
    platform.save()
    run = coordination.course_sync(course_id=course_badge.course_id, trigger="test")
    assert run.status == "failed" and "no Canvas API token" in run.error
    assert canvas_api.requests == []


def test_a_trigger_during_a_running_sync_is_folded_into_it(canvas_api, course_badge):
    course_id = course_badge.course_id
    folded: list = []
    once = threading.Lock()  # the run's requests may be in flight together

    def a_second_trigger_arrives(path):
        if once.acquire(blocking=False):  # while the first run reads Canvas, holding the course's lock
            folded.append(coordination.course_sync(course_id=course_id, trigger="instructor", roster=True))

    canvas_api.before = a_second_trigger_arrives
    run = coordination.course_sync(course_id=course_id, trigger="periodic")
    assert folded == [None]  # another worker (or an instructor) asked while this one held the lock
    runs_seen = list(SyncRun.objects.filter(course_id=course_id).order_by("pk").values_list("trigger", flat=True))
    assert runs_seen == ["periodic", "requested_again"]
    assert run.trigger == "requested_again" and run.stats["roster"] is True
    assert SyncRun.objects.filter(course_id=course_id).count() == 2
    assert cache.get(coordination._lock_key(course_id)) is None


def test_sync_requests_are_enqueued_once_after_commit(course_badge, enqueued, django_capture_on_commit_callbacks):
    course_id = course_badge.course_id
    with django_capture_on_commit_callbacks(execute=True):
        assert coordination.course_sync_request(course_id=course_id, trigger="stale") is True
        assert coordination.course_sync_request(course_id=course_id, trigger="stale") is False
    assert len(enqueued) == 1
    assert enqueued[-1].kwargs["course_id"] == course_id
    coordination.course_sync_dequeued(course_id=course_id)
    with django_capture_on_commit_callbacks(execute=True):
        assert coordination.course_sync_request(course_id=course_id, trigger="stale") is True
    assert len(enqueued) == 2


def test_request_if_stale(course_badge, enqueued, django_capture_on_commit_callbacks):
    course_id = course_badge.course_id
    CourseSync.objects.create(course_id=course_id, last_synced_at=timezone.now())
    assert coordination.course_sync_request_if_stale(course_id=course_id) is False
    CourseSync.objects.filter(course_id=course_id).update(last_synced_at=timezone.now() - timedelta(hours=1))
    with django_capture_on_commit_callbacks(execute=True):
        assert coordination.course_sync_request_if_stale(course_id=course_id) is True
    assert len(enqueued) == 1


def test_page_views_do_not_retry_a_failing_sync_more_than_once_per_stale_period(course_badge, enqueued):
    course_id = course_badge.course_id
    CourseSync.objects.create(
        course_id=course_id,
        last_synced_at=timezone.now() - timedelta(hours=2),
        requested_at=timezone.now() - timedelta(minutes=1),
        last_status="failed",
    )
    assert coordination.course_sync_request_if_stale(course_id=course_id) is False
    assert not enqueued


def test_courses_sync_due_picks_courses_with_active_badges_not_synced_recently(course_badge):
    fresh = f.CourseBadgeFactory()
    CourseSync.objects.create(course=fresh.course, last_synced_at=timezone.now())
    f.CourseBadgeFactory(active=False)
    with mock.patch.object(coordination, "course_sync_request", return_value=True) as request:
        assert coordination.courses_sync_due() == 1
    assert request.call_args.kwargs == {"course_id": course_badge.course_id, "trigger": "periodic"}


def award_issued_then_grade_lowered(canvas_api, course_badge) -> Award:
    """Ada masters both assessments and gets a final grade, is awarded, then assessment 56 is regraded 3/12."""
    now = timezone.now()
    canvas_api.grade(55, 42, 12, at=now)
    canvas_api.grade(56, 42, 12, at=now)
    canvas_api.set_override(42, 90.0)
    coordination.course_sync(course_id=course_badge.course_id, trigger="test")
    award = Award.objects.create(
        badge_class=course_badge.badge_class,
        course_badge=course_badge,
        learner=Person.objects.get(canvas_user_id="42"),
        recipient_email="ada@uni.edu",
        issued_on=now,
    )
    canvas_api.grade(56, 42, 3, at=now + timedelta(seconds=1))
    coordination.course_sync(course_id=course_badge.course_id, trigger="instructor")
    award.refresh_from_db()
    return award


def test_issued_learner_whose_grade_is_lowered_is_flagged_not_revoked(canvas_api, course_badge):
    award = award_issued_then_grade_lowered(canvas_api, course_badge)
    ada = award.learner
    assert not award.revoked
    assert award.needs_review and "Present findings" in award.review_reason
    progress = LearnerProgress.objects.get(course_badge=course_badge, learner=ada)
    assert progress.state == "issued" and progress.detail["eligible_by_rule"] is False


def test_minimum_rubric_rating_uses_the_synced_rubric_assessment(canvas_api, course_badge):
    course_badge.min_rubric_criterion_percent = 60
    course_badge.save()
    now = timezone.now()
    canvas_api.grade(55, 42, 12, at=now)
    canvas_api.grade(56, 42, 10, at=now)
    # 10 of 12 points, but 6 + 4 on a 6 + 6 rubric is fine; 8 + 2 is not.
    canvas_api.submissions[("56", "42")]["rubric_assessment"] = {
        "_56a": {"points": 8.0, "rating_id": "r2", "comments": ""},
        "_56b": {"points": 2.0, "rating_id": "r2", "comments": ""},
    }
    coordination.course_sync(course_id=course_badge.course_id, trigger="test")
    detail = LearnerProgress.objects.get(course_badge=course_badge, learner__canvas_user_id="42").detail
    first, second = detail["assessments"]
    assert first["mastered"] and not second["mastered"]
    assert "below the minimum on: Skill B" in second["reason"]
    assert [c["met"] for c in second["criteria"]] == [True, False]


def test_full_sync_removes_results_canvas_no_longer_has(canvas_api, course_badge):
    canvas_api.grade(55, 42, 12, at=timezone.now())
    canvas_api.grade(56, 42, 6, at=timezone.now(), workflow="submitted")
    coordination.course_sync(course_id=course_badge.course_id, trigger="test")
    assert AssessmentResult.objects.filter(learner__canvas_user_id="42").count() == 2
    detail = LearnerProgress.objects.get(course_badge=course_badge, learner__canvas_user_id="42").detail
    assert [a["status"] for a in detail["assessments"]] == ["mastered", "awaiting_grading"]
    del canvas_api.submissions[("55", "42")]  # the grade was deleted: Canvas shows it unsubmitted again
    run = coordination.course_sync(course_id=course_badge.course_id, trigger="test", full=True)
    assert run.stats["results_removed"] == 1
    assert list(AssessmentResult.objects.values_list("assignment__canvas_assignment_id", flat=True)) == ["56"]


def test_a_daily_full_sync_catches_what_incremental_passes_missed(canvas_api, course_badge):
    long_ago = timezone.now() - timedelta(days=3)
    canvas_api.grade(55, 42, 5, at=long_ago)
    coordination.course_sync(course_id=course_badge.course_id, trigger="test")
    # A regrade that kept its old graded_at: invisible to graded_since.
    canvas_api.grade(55, 42, 12, at=long_ago)
    assert coordination.course_sync(course_id=course_badge.course_id, trigger="stale").kind == "incremental"
    assert AssessmentResult.objects.get(learner__canvas_user_id="42").score == 5
    CourseSync.objects.filter(course=course_badge.course).update(last_full_sync_at=timezone.now() - timedelta(hours=25))
    assert coordination.course_sync(course_id=course_badge.course_id, trigger="stale").kind == "full"
    assert AssessmentResult.objects.get(learner__canvas_user_id="42").score == 12


def test_a_course_id_canvas_does_not_know_is_reported_plainly(canvas_api, course_badge):
    course_badge.course.canvas_course_id = "8"
    course_badge.course.save()
    run = coordination.course_sync(course_id=course_badge.course_id, trigger="test")
    assert run.status == "failed"
    assert run.error.startswith("Canvas says this does not exist (/api/v1/courses/8)")


def test_targeted_refresh_reads_only_the_marked_learners(canvas_api, course_badge):
    long_ago = timezone.now() - timedelta(days=3)
    canvas_api.grade(55, 42, 12, at=long_ago)
    canvas_api.grade(56, 42, 12, at=long_ago)
    coordination.course_sync(course_id=course_badge.course_id, trigger="test")
    assert states(course_badge)["42"] == "awaiting_final_grade"

    # Live Events: the instructor entered Ada's final grade, and a new learner joined with a grade.
    canvas_api.set_override(42, 93.0, "A")
    canvas_api.add_student(47, "New Learner")
    canvas_api.grade(55, 47, 12, at=long_ago)
    sync_marks.course_sync_learners_mark(course_id=course_badge.course_id, canvas_user_ids=["42", "47"])
    canvas_api.requests.clear()
    run = coordination.course_sync(course_id=course_badge.course_id, trigger="live_event:grade_override")

    assert run.stats["roster"] is False and run.stats["learners_refreshed"] == 2
    enrollment_calls = [u for u in canvas_api.requests if "/enrollments" in u]
    assert len(enrollment_calls) == 2 and all("user_id=" in u for u in enrollment_calls)
    assert states(course_badge)["42"] == "eligible"
    assert states(course_badge)["47"] == "in_progress"  # their earlier grade was read too
    # groups, assignments, 2 learners, new grades since the watermark, the new learner's grades
    assert run.canvas_requests == 6


def test_too_many_marked_learners_read_the_whole_roster(canvas_api, course_badge):
    coordination.course_sync(course_id=course_badge.course_id, trigger="test")
    sync_marks.course_sync_learners_mark(
        course_id=course_badge.course_id, canvas_user_ids=[str(i) for i in range(sync_marks.TARGETED_LEARNERS_MAX + 5)]
    )
    run = coordination.course_sync(course_id=course_badge.course_id, trigger="live_event:grade_override")
    assert run.stats["roster"] is True and "learners_refreshed" not in run.stats


def test_a_picked_assessment_missing_in_canvas_blocks_the_badge(canvas_api, course_badge):
    # The badge names its assessments by id; one of them is later deleted in Canvas. The rule
    # still has two assessments: nobody earns the badge on one, and the reason says why.
    course_badge.assessment_ids = ["55", "56"]
    course_badge.save()
    now = timezone.now()
    canvas_api.grade(55, 42, 12, at=now)
    canvas_api.grade(56, 42, 12, at=now)
    canvas_api.set_override(42, 95.0, "A")
    canvas_api.assignments = [a for a in canvas_api.assignments if a["id"] != 56]
    coordination.course_sync(course_id=course_badge.course_id, trigger="test")

    progress = LearnerProgress.objects.get(course_badge=course_badge, learner__canvas_user_id="42")
    assert progress.state != "eligible"
    assert (progress.mastered_count, progress.assessment_count) == (1, 2)
    missing = progress.detail["assessments"][1]
    assert missing["assignment_id"] == "56" and not missing["mastered"]
    assert "not found in Canvas" in missing["reason"]


def test_a_grade_event_rechecks_that_learners_unposted_grades_between_roster_passes(canvas_api, course_badge):
    long_ago = timezone.now() - timedelta(days=3)
    canvas_api.grade(55, 43, 12, at=long_ago, posted=False)
    canvas_api.grade(56, 43, 12, at=long_ago, posted=False)
    canvas_api.grade(55, 42, 12, at=long_ago, posted=False)
    canvas_api.set_override(43, 90.0, "A-")
    coordination.course_sync(course_id=course_badge.course_id, trigger="test")
    assert states(course_badge)["43"] == "in_progress"  # final grade entered, grades not posted yet

    # The instructor posts the grades: graded_at does not move, so graded_since misses it, but
    # Canvas sends a grade event for the learner, and the next light pass re-reads just them.
    canvas_api.post(55, 43, at=timezone.now())
    canvas_api.post(56, 43, at=timezone.now())
    sync_marks.course_sync_postings_mark(course_id=course_badge.course_id, canvas_user_ids=["43"])
    canvas_api.requests.clear()
    run = coordination.course_sync(course_id=course_badge.course_id, trigger="live_event:grade_change")

    assert run.stats["roster"] is False and run.stats["unposted_rechecked"] == 2
    rechecks = [u for u in canvas_api.requests if "workflow_state=graded" in u]
    assert len(rechecks) == 1 and "student_ids%5B%5D=43" in rechecks[0] and "=42" not in rechecks[0]
    assert states(course_badge)["43"] == "eligible"
    assert states(course_badge)["42"] == "in_progress"  # still unposted: nothing changes for Ada
    # A learner with nothing unposted costs no request.
    sync_marks.course_sync_postings_mark(course_id=course_badge.course_id, canvas_user_ids=["44"])
    canvas_api.requests.clear()
    run = coordination.course_sync(course_id=course_badge.course_id, trigger="live_event:grade_change")
    assert run.stats.get("unposted_rechecked", 0) == 0
    assert not [u for u in canvas_api.requests if "workflow_state=graded" in u]


def test_a_rule_saved_in_the_admin_re_evaluates_the_course_without_calling_canvas(
    canvas_api, course_badge, admin_client, enqueued, django_capture_on_commit_callbacks
):
    from django.urls import reverse

    from badging.tasks.sync import course_evaluate

    now = timezone.now()
    canvas_api.grade(55, 42, 10, at=now)
    canvas_api.grade(56, 42, 10, at=now)
    canvas_api.set_override(42, 90.0, "A-")
    coordination.course_sync(course_id=course_badge.course_id, trigger="test")
    assert states(course_badge)["42"] == "eligible"  # 10 of 12 ≥ 80%

    enqueued.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse("admin:badging_coursebadge_change", args=[course_badge.pk]),
            {
                "key": course_badge.key,
                "badge_class": course_badge.badge_class_id,
                "course": course_badge.course_id,
                "active": "on",
                "assessment_group_name": "Credentialing Assessments",
                "assessment_ids": "[]",
                "mastery_mode": "percent",
                "mastery_min_percent": "90",
                "mastery_min_points": "",
                "mastery_overrides": "{}",
                "mastery_score": "entered",
                "min_rubric_criterion_percent": "",
                "final_grade_source": "override",
                "final_grade_assignment_id": "",
                "final_grade_assignment_name": "",
            },
        )
    assert response.status_code == 302
    evaluate = ("badging.course_evaluate", {"course_id": course_badge.course_id})
    assert [(task.name, task.kwargs) for task in enqueued] == [evaluate]

    canvas_api.requests.clear()
    summary = course_evaluate(course_id=course_badge.course_id)  # what the worker runs
    assert summary[course_badge.key]["not_earned"] == 1
    assert states(course_badge)["42"] == "not_earned"  # 10 of 12 < 90%: nothing left for issuance
    assert canvas_api.requests == []

    # While a sync of the course runs, the evaluation is folded into it.
    cache.add(coordination._lock_key(course_badge.course_id), "someone", timeout=60)
    assert coordination.course_evaluate(course_id=course_badge.course_id) is None
    assert cache.get(coordination._again_key(course_badge.course_id)) == {"full": False, "roster": False}
    cache.delete(coordination._lock_key(course_badge.course_id))


def test_a_deactivated_course_badge_leaves_nothing_for_issuance(canvas_api, course_badge):
    now = timezone.now()
    canvas_api.grade(55, 42, 12, at=now)
    canvas_api.grade(56, 42, 12, at=now)
    canvas_api.set_override(42, 95.0, "A")
    coordination.course_sync(course_id=course_badge.course_id, trigger="test")
    assert states(course_badge)["42"] == "eligible"

    course_badge.active = False  # the admin stops offering it before the award was issued
    course_badge.save()
    coordination.course_evaluate(course_id=course_badge.course_id)
    assert not LearnerProgress.objects.filter(course_badge=course_badge, state="eligible").exists()

    course_badge.active = True  # offered again: the learner is eligible again
    course_badge.save()
    coordination.course_evaluate(course_id=course_badge.course_id)
    assert states(course_badge)["42"] == "eligible"


def test_the_sync_waits_out_throttling_far_longer_than_interactive_calls(course_badge):
    from canvas.transport import MAX_THROTTLE_WAITS

    with mock.patch.object(sync_run, "CanvasClient", side_effect=sync_run.CanvasError("stop here")) as make:
        run = coordination.course_sync(course_id=course_badge.course_id, trigger="test")
    assert run.status == SyncRun.STATUS_FAILED and run.error == "stop here"
    assert make.call_args.kwargs == {"max_throttle_waits": MAX_THROTTLE_WAITS} and MAX_THROTTLE_WAITS >= 10


def test_an_assessment_unpublished_during_the_sync_is_left_out_and_the_rest_synced(canvas_api, course_badge):
    """app/controllers/submissions_api_controller.rb `for_students`: a requested id that is no longer
    published answers 403 {"error": "invalid assignment ids requested"} for the whole request. When an
    assessment is unpublished between the assignment list and the submissions request, the sync lists
    the assignments again and asks only for the published ones."""
    now = timezone.now()
    canvas_api.grade(55, 42, 12, at=now)
    canvas_api.grade(56, 42, 12, at=now)

    def unpublish_once(path: str) -> None:
        if path.endswith("/students/submissions") and canvas_api.assignments[1]["published"]:
            canvas_api.assignments[1]["published"] = False  # the teacher unpublishes "Present findings" now

    canvas_api.before = unpublish_once
    run = coordination.course_sync(course_id=course_badge.course_id, trigger="test")

    assert run.status == SyncRun.STATUS_OK, run.error
    assert run.stats["assignments_relisted"] is True and run.stats["assignment_ids"] == ["55"]
    assert Assignment.objects.get(canvas_assignment_id="56").published is False
    assert AssessmentResult.objects.filter(assignment__canvas_assignment_id="55").exists()
    detail = LearnerProgress.objects.get(course_badge=course_badge, learner__canvas_user_id="42").detail
    assert [a["assignment_id"] for a in detail["assessments"]] == ["55"]  # a group rule: unpublished ones do not count


def _retries(enqueued) -> list:
    return [t for t in enqueued if t.name == "badging.course_sync" and (t.kwargs or {}).get("trigger") == "retry"]


def _retry_in(course_id) -> float:
    retry_at = CourseSync.objects.get(course_id=course_id).retry_at
    return (retry_at - timezone.now()).total_seconds()


def test_a_sync_failed_by_a_canvas_outage_is_tried_again_after_a_growing_wait(
    canvas_api, course_badge, enqueued, django_capture_on_commit_callbacks, settings
):
    """Canvas answering 5xx is an outage (canvas/errors.py: CanvasUnavailableError after every retry),
    so the sync is due again after BADGING_RETRY_BASE_SECONDS (half to all of it), twice that after a
    second failure in a row; the reconciler asks for it once that time has come (the time is kept
    in the database: a broker that loses its queue loses no retry), and a sync that succeeds ends it."""
    settings.BADGING_RETRY_BASE_SECONDS = 60
    settings.CANVAS_MAX_RETRIES = 1  # the client's own retries are tests/canvas's
    course_id = course_badge.course_id
    canvas_api.fail_with = 503
    waits = []
    for _ in range(2):
        run = coordination.course_sync(course_id=course_id, trigger="periodic")
        assert run.status == SyncRun.STATUS_FAILED and run.stats["error_kind"] == "unavailable"
        waits.append(_retry_in(course_id))
    assert 29 <= waits[0] <= 60 and 59 <= waits[1] <= 120
    with django_capture_on_commit_callbacks(execute=True):
        assert coordination.syncs_retry_due() == 0  # not yet
    assert _retries(enqueued) == []
    CourseSync.objects.filter(course_id=course_id).update(retry_at=timezone.now() - timedelta(seconds=1))
    with django_capture_on_commit_callbacks(execute=True):
        assert coordination.syncs_retry_due() == 1
        assert coordination.syncs_retry_due() == 0  # taken once, by whichever reconciler came first
    assert [t.kwargs for t in _retries(enqueued)] == [{"course_id": course_id, "trigger": "retry"}]
    assert CourseSync.objects.get(course_id=course_id).retry_at is None
    canvas_api.fail_with = None
    coordination.course_sync(course_id=course_id, trigger="periodic")
    canvas_api.fail_with = 503
    coordination.course_sync(course_id=course_id, trigger="periodic")
    assert 29 <= _retry_in(course_id) <= 60  # failures in a row count from the last sync that worked
    canvas_api.fail_with = None
    assert coordination.course_sync(course_id=course_id, trigger="retry").status == SyncRun.STATUS_OK
    assert CourseSync.objects.get(course_id=course_id).retry_at is None


def test_a_sync_refused_by_canvas_is_not_retried_before_the_periodic_sync(canvas_api, course_badge):
    """A revoked token (401 with WWW-Authenticate) waits for an admin: asking again cannot help."""
    platform = course_badge.course.platform
    platform.api_token = "revoked"
    platform.save()
    run = coordination.course_sync(course_id=course_badge.course_id, trigger="periodic")
    assert run.status == SyncRun.STATUS_FAILED and run.stats["error_kind"] == "token"
    assert CourseSync.objects.get(course_id=course_badge.course_id).retry_at is None
