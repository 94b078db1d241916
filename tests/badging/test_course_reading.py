"""Reading a course as Canvas answers it, end to end against the sandbox Canvas (real HTTP via
live_server): unpublished assessments, Final Grade Override turned off, late penalties, rubric
criteria left out of the score, and failures worded for instructors. Each test cites the canvas-lms
behaviour it relies on; tests/canvas/test_canvas_fidelity.py pins the sandbox to the same shapes."""

from decimal import Decimal

import pytest

from badging.models import AssessmentResult, CourseBadge, CourseSync, LearnerProgress, SyncRun
from badging.selectors.dashboard.rule_check import rule_check
from badging.selectors.dashboard.sync_status import INSTRUCTOR_SYNC_ERRORS, sync_status
from badging.services.sync.coordination import course_sync
from lti.models import Course, Platform
from sandbox.models import SandboxAssignment, SandboxEnrollment, SandboxUser
from sandbox.seed.instances import sandbox_seed
from sandbox.services.courses import assessment_add, assignment_published_set, course_final_grade_override_set
from sandbox.services.grades import GradeInput, grade_override_set, submission_grade
from sandbox.services.keys import api_token_create

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("enqueued")]


@pytest.fixture
def seeded(live_server, request):
    slug = "cr" + str(abs(hash(request.node.name)) % 10**6)
    result = sandbox_seed(learners=10, assessments=2, seed=5, slug=slug, base_url=live_server.url)
    course = Course.objects.get(platform_id=result.platform_id, canvas_course_id=str(result.course.id))
    badge = CourseBadge.objects.get(course=course)
    assessments = list(
        SandboxAssignment.objects.filter(course=result.course, group__name="Credentialing Assessments").order_by("id")
    )
    return result, course, badge, assessments


def sync(course) -> SyncRun:
    return course_sync(course_id=course.pk, trigger="test", full=True, roster=True)


def progress(badge, name) -> LearnerProgress:
    return LearnerProgress.objects.get(course_badge=badge, learner__name=name)


def test_an_unpublished_picked_assessment_no_longer_fails_the_sync_and_is_named_for_everyone(seeded):
    """app/controllers/submissions_api_controller.rb `for_students`: one unpublished (or deleted) id
    among `assignment_ids[]` answers 403 `{"error": "invalid assignment ids requested"}` for the whole
    request. The sync asks only for published ones, keeps the rest, and the rule says which is out."""
    _result, course, badge, (first, second) = seeded
    badge.assessment_ids = [str(first.id), str(second.id)]
    badge.save()
    assert sync(course).status == SyncRun.STATUS_OK
    assignment_published_set(assignment=second, published=False)

    run = sync(course)

    assert run.status == SyncRun.STATUS_OK, run.error
    assert run.stats["assignment_ids"] == [str(first.id)]
    assert AssessmentResult.objects.filter(course=course, assignment__canvas_assignment_id=str(first.id)).exists()
    flags = " | ".join(f.message for f in rule_check(course_badge=badge).flags)
    assert f"“{second.name}” is unpublished in Canvas, so Canvas reports no grades for it" in flags
    # José mastered both: he is held back, and told why, not left "in progress" without a word.
    jose = progress(badge, "José Núñez-García")
    assert jose.state != LearnerProgress.ELIGIBLE
    outcome = next(a for a in jose.detail["assessments"] if a["assignment_id"] == str(second.id))
    assert outcome["status"] == "missing_in_canvas" and "unpublished in Canvas" in outcome["reason"]


def test_final_grade_override_off_is_read_and_explained(seeded):
    """app/models/enrollment.rb: `override_score` is reported only when the course allows Final Grade
    Override (Course#allow_final_grade_override?), read from `GET /api/v1/courses/:id/settings`
    (courses_controller.rb `api_settings`). Off, a rule on the override can never be met."""
    result, course, badge, _ = seeded
    course_final_grade_override_set(course=result.course, allowed=False)

    run = sync(course)

    assert run.status == SyncRun.STATUS_OK, run.error
    assert CourseSync.objects.get(course=course).allow_final_grade_override is False
    jose = progress(badge, "José Núñez-García")  # mastered everything
    assert jose.state == LearnerProgress.AWAITING_FINAL_GRADE
    assert "does not allow Final Grade Override" in jose.detail["reason"]
    assert "waiting for the final grade" not in jose.detail["reason"]
    # Zoë had an override entered before the setting was turned off: Canvas no longer reports it.
    assert progress(badge, "Zoë O'Brien <b>").state == LearnerProgress.AWAITING_FINAL_GRADE
    flags = [f for f in rule_check(course_badge=badge).flags if "Final Grade Override" in f.message]
    assert flags and "Allow final grade override" in flags[0].advice


def test_mastery_uses_the_entered_score_unless_the_badge_counts_late_penalties(seeded):
    """lib/api/v1/submission.rb: `score` is after the late policy's deduction, `entered_score` before it
    (`points_deducted` the difference). A badge certifies skill: by default mastery is judged on what
    the grader entered; a course badge may opt into Canvas's score after penalties."""
    result, course, badge, assessments = seeded
    teacher = SandboxUser.objects.get(instance=result.instance, name="Grace Hopper-Núñez")
    learner = SandboxUser.objects.get(instance=result.instance, name="Sofía Herrera")  # nothing submitted yet
    for a in assessments:
        submission_grade(
            assignment=a,
            user=learner,
            grader=teacher,
            grade=GradeInput(
                ratings={c["id"]: c["ratings"][0]["id"] for c in a.rubric.data},  # full marks
                points_deducted=Decimal(str(a.points_possible)) / 2,  # half off for lateness
            ),
        )
    grade_override_set(course=result.course, user=learner, score=Decimal(90))

    assert sync(course).status == SyncRun.STATUS_OK
    stored = AssessmentResult.objects.filter(course=course, learner__name="Sofía Herrera").first()
    assert stored.entered_score == stored.score + stored.points_deducted
    assert progress(badge, "Sofía Herrera").state == LearnerProgress.ELIGIBLE

    badge.mastery_score = CourseBadge.SCORE_AFTER_PENALTIES
    badge.save()
    assert sync(course).status == SyncRun.STATUS_OK
    assert progress(badge, "Sofía Herrera").state == LearnerProgress.NOT_EARNED


def test_a_criterion_ignored_for_scoring_does_not_decide_rubric_mastery(seeded):
    """Rubric criteria may be `ignore_for_scoring` (lib/api/v1/assignment.rb serialises it; the rubric's
    score leaves such criteria out, app/models/rubric.rb): rated for feedback, not part of mastery."""
    result, course, badge, _ = seeded
    assignment = assessment_add(
        course=result.course,
        name="Assessment 3: Explain",
        criteria_titles=["Reasoning", "Outcome link"],
        ignored_for_scoring=["Outcome link"],
    )
    teacher = SandboxUser.objects.get(instance=result.instance, name="Grace Hopper-Núñez")
    learner = SandboxUser.objects.get(instance=result.instance, name="José Núñez-García")
    reasoning, outcome = assignment.rubric.data
    submission_grade(
        assignment=assignment,
        user=learner,
        grader=teacher,
        grade=GradeInput(
            ratings={reasoning["id"]: reasoning["ratings"][0]["id"], outcome["id"]: outcome["ratings"][-1]["id"]}
        ),
    )
    badge.min_rubric_criterion_percent = Decimal(75)
    badge.save()

    assert sync(course).status == SyncRun.STATUS_OK

    detail = progress(badge, "José Núñez-García").detail
    third = next(a for a in detail["assessments"] if a["assignment_id"] == str(assignment.id))
    assert third["mastered"], third["reason"]
    assert [c["description"] for c in third["criteria"]] == ["Reasoning"]


def test_a_missing_permission_is_worded_for_the_instructor_and_the_admin(seeded):
    """lib/authentication_methods.rb `render_json_unauthorized`: a token whose user lacks a right gets
    401 `{"status": "unauthorized", ...}` (not "Invalid access token."). The sync run keeps the admin's
    message; the dashboard tells the instructor whom to ask, without calling the token revoked."""
    result, course, _badge, _ = seeded
    learner = SandboxEnrollment.objects.filter(course=result.course, type="StudentEnrollment").first().user
    platform = Platform.objects.get(pk=result.platform_id)
    platform.api_token = api_token_create(user=learner, purpose="wrong account")
    platform.save()

    run = sync(course)

    assert run.status == SyncRun.STATUS_FAILED
    assert "user not authorized to perform that action" in run.error and "revoked" not in run.error
    status = sync_status(course=course)
    assert status.error_plain == INSTRUCTOR_SYNC_ERRORS["permission"]


def test_issued_awards_are_not_flagged_for_review_when_canvas_stops_reporting_a_setting(seeded):
    """app/models/enrollment.rb: with Final Grade Override turned off Canvas reports no override at all,
    and an unpublished assessment reports no grades (submissions_api_controller.rb `for_students`): a
    course setting changed, not the learners' grades, so issued badges are not flagged for review."""
    from badging.models import Award
    from tests import factories as f

    result, course, badge, (first, _) = seeded
    assert sync(course).status == SyncRun.STATUS_OK
    zoe = progress(badge, "Zoë O'Brien <b>")
    assert zoe.state == LearnerProgress.ELIGIBLE
    award = f.AwardFactory(course_badge=badge, learner=zoe.learner)

    course_final_grade_override_set(course=result.course, allowed=False)
    assignment_published_set(assignment=first, published=False)
    assert sync(course).status == SyncRun.STATUS_OK

    award.refresh_from_db()
    assert progress(badge, "Zoë O'Brien <b>").state == LearnerProgress.ISSUED
    assert award.needs_review is False
    assert not Award.objects.filter(badge_class=badge.badge_class, needs_review=True).exists()
