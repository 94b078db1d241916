"""Grades in the sandbox Canvas: grading a submission (rubric ratings or a score, late deductions),
posting grades, Final Grade Override, and the course scores Canvas recomputes after each, with
the Live Events Canvas sends for them."""

from collections import defaultdict
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.db import transaction
from django.utils import timezone

from sandbox import live_events
from sandbox.models import STUDENT_TYPES, SandboxAssignment, SandboxCourse, SandboxEnrollment, SandboxUser, Submission
from sandbox.services.base import SandboxError, _course_request

# Canvas's default grading scheme: (minimum %, letter).
GRADING_SCHEME = [
    (94, "A"),
    (90, "A-"),
    (87, "B+"),
    (84, "B"),
    (80, "B-"),
    (77, "C+"),
    (74, "C"),
    (70, "C-"),
    (67, "D+"),
    (64, "D"),
    (61, "D-"),
    (0, "F"),
]


def letter_grade(score: Decimal | float | None) -> str | None:
    """The letter of Canvas's default grading scheme for a percentage; None for no score."""
    if score is None:
        return None
    value = float(score)
    for minimum, letter in GRADING_SCHEME:
        if value >= minimum:
            return letter
    return "F"


def _pct(numerator: Decimal, denominator: Decimal) -> Decimal | None:
    if not denominator:
        return None
    return (Decimal(100) * numerator / denominator).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def enrollment_grades_recompute(*, course: SandboxCourse, user_ids: list[int] | None = None) -> int:
    """Recomputes current/final scores (posted, and unposted as graders see them) like Canvas.

    current_* ignore ungraded work, final_* count it as zero; points-based (no group weights).
    Returns the number of enrollments updated.
    """
    assignments = {
        a.id: a.points_possible
        for a in SandboxAssignment.objects.filter(course=course, published=True, points_possible__gt=0)
    }
    total = sum(assignments.values(), Decimal(0))
    subs = Submission.objects.filter(assignment_id__in=assignments, workflow_state="graded", score__isnull=False)
    enrollments = SandboxEnrollment.objects.filter(course=course, type__in=STUDENT_TYPES)
    if user_ids is not None:
        subs = subs.filter(user_id__in=user_ids)
        enrollments = enrollments.filter(user_id__in=user_ids)
    # user -> [posted score, posted points, all score, all points]
    sums: dict[int, list[Decimal]] = defaultdict(lambda: [Decimal(0)] * 4)
    for user_id, assignment_id, score, deducted, posted_at, excused in subs.values_list(
        "user_id", "assignment_id", "score", "points_deducted", "posted_at", "excused"
    ):
        if excused:
            continue
        row = sums[user_id]
        # Course grades count the score after late/missing deductions, as Canvas's do.
        score = (score or Decimal(0)) - (deducted or Decimal(0))
        if posted_at is not None:
            row[0] += score
            row[1] += assignments[assignment_id]
        row[2] += score
        row[3] += assignments[assignment_id]
    changed = []
    moved = []
    for enrollment in enrollments.select_related("user"):
        old = {name: getattr(enrollment, name) for name in live_events.SCORE_FIELDS}
        posted_score, posted_points, all_score, all_points = sums[enrollment.user_id]
        enrollment.current_score = _pct(posted_score, posted_points)
        enrollment.final_score = _pct(posted_score, total)
        enrollment.unposted_current_score = _pct(all_score, all_points)
        enrollment.unposted_final_score = _pct(all_score, total)
        changed.append(enrollment)
        if any(old[name] != getattr(enrollment, name) for name in live_events.SCORE_FIELDS):
            moved.append((enrollment, old))
    SandboxEnrollment.objects.bulk_update(
        changed,
        ["current_score", "final_score", "unposted_current_score", "unposted_final_score"],
        batch_size=1000,
    )
    # Canvas's GradeCalculator announces each student whose course scores moved (course_grade_change).
    for enrollment, old in moved:
        live_events.emit_on_commit(
            instance=course.instance,
            event_name="course_grade_change",
            body=live_events.course_grade_change_body(enrollment, old),
            course=course,
            job_tag="GradeCalculator#recompute_final_score",
        )
    return len(changed)


# The score columns hold 8 digits, 2 of them after the point.
MAX_SCORE = Decimal("999999.99")


def _score_in_range(score: Decimal, label: str) -> None:
    # NaN and Infinity parse as Decimals but would fail (or corrupt) every comparison after this.
    if not score.is_finite() or score > MAX_SCORE:
        raise SandboxError(f"{label} must be a number up to {MAX_SCORE}")


@dataclass(frozen=True)
class GradeInput:
    """Rubric ratings {criterion_id: rating_id} (the score is their sum) or a plain score."""

    ratings: dict[str, str] | None = None
    score: Decimal | None = None
    comments: dict[str, str] | None = None
    # The late/missing policy's deduction (Canvas's points_deducted): `score` stays what was entered.
    points_deducted: Decimal | None = None


def submission_grade(
    *,
    assignment: SandboxAssignment,
    user: SandboxUser,
    grader: SandboxUser,
    grade: GradeInput,
    post: bool = True,
) -> Submission:
    """Grades a learner's submission (with rubric ratings when the assignment has a rubric).

    Posting makes the grade visible to the learner; unposted grades are visible to graders only.
    """
    enrollment = SandboxEnrollment.objects.filter(course=assignment.course_id, user=user, type__in=STUDENT_TYPES)
    if not enrollment.exists():
        raise SandboxError(f"{user.name} is not a student in this course")
    assessment: dict = {}
    if grade.ratings is not None:
        if assignment.rubric is None:
            raise SandboxError("this assignment has no rubric")
        criteria = {c["id"]: c for c in assignment.rubric.data}
        unknown = set(grade.ratings) - set(criteria)
        if unknown:
            raise SandboxError(f"unknown rubric criteria: {', '.join(sorted(unknown))}")
        for criterion_id, rating_id in grade.ratings.items():
            rating = next((r for r in criteria[criterion_id]["ratings"] if r["id"] == rating_id), None)
            if rating is None:
                raise SandboxError(f"unknown rating {rating_id} for criterion {criterion_id}")
            assessment[criterion_id] = {
                "points": float(rating["points"]),
                "rating_id": rating_id,
                "comments": (grade.comments or {}).get(criterion_id, ""),
            }
        # A criterion marked ignore_for_scoring is rated but adds nothing to the score.
        score = Decimal(
            str(
                sum(
                    item["points"]
                    for criterion_id, item in assessment.items()
                    if not criteria[criterion_id].get("ignore_for_scoring")
                )
            )
        )
    elif grade.score is not None:
        score = Decimal(grade.score)
    else:
        raise SandboxError("a grade needs rubric ratings or a score")
    _score_in_range(score, "a score")
    if score < 0:
        raise SandboxError("a score cannot be negative")
    deducted = grade.points_deducted
    if deducted is not None:
        _score_in_range(deducted, "points_deducted")
        if deducted < 0 or deducted > score:
            raise SandboxError("points_deducted must be between 0 and the score")
    now = timezone.now()
    with transaction.atomic():
        submission, _ = Submission.objects.select_for_update().get_or_create(assignment=assignment, user=user)
        old_score, old_grade = submission.score, submission.grade
        submission.workflow_state = "graded"
        submission.score = score
        submission.points_deducted = deducted or None
        submission.grade = _format_points(score - (deducted or 0))
        submission.rubric_assessment = assessment
        if assessment and submission.rubric_assessment_id is None:
            submission.rubric_assessment_id = submission.id
        submission.grader = grader
        submission.attempt = submission.attempt or 1
        submission.submitted_at = submission.submitted_at or now
        submission.graded_at = now
        if post:
            submission.posted_at = now
        submission.save()
        course = assignment.course
        with _course_request(
            course=course,
            actor=grader,
            path="gradebook/update_submission",
            referrer=f"gradebook/speed_grader?assignment_id={assignment.id}&student_id={user.id}",
        ):
            # As Canvas: the grade, the submission, its rubric assessment, then the course scores.
            live_events.emit_on_commit(
                instance=course.instance,
                event_name="grade_change",
                body=live_events.grade_change_body(submission, old_score=old_score, old_grade=old_grade, grader=grader),
                course=course,
            )
            live_events.emit_on_commit(
                instance=course.instance,
                event_name="submission_updated",
                body=live_events.submission_body(submission),
                course=course,
            )
            if assessment:
                live_events.emit_on_commit(
                    instance=course.instance,
                    event_name="rubric_assessed",
                    body=live_events.rubric_assessed_body(submission),
                    course=course,
                )
            enrollment_grades_recompute(course=course, user_ids=[user.id])
    return submission


def _format_points(score: Decimal) -> str:
    return format(score.normalize(), "f") if score == score.to_integral() else str(score)


def assignment_grades_post(*, assignment: SandboxAssignment) -> int:
    """Posts every graded, unposted submission of the assignment; returns how many were posted."""
    now = timezone.now()
    with transaction.atomic():
        ids = list(
            Submission.objects.filter(
                assignment=assignment, workflow_state="graded", posted_at__isnull=True
            ).values_list("user_id", flat=True)
        )
        Submission.objects.filter(assignment=assignment, user_id__in=ids).update(posted_at=now, updated_at=now)
        # Posting moves the posted course scores: course_grade_change for each learner (no grade_change).
        with _course_request(course=assignment.course, path=f"assignments/{assignment.id}/post_policy"):
            enrollment_grades_recompute(course=assignment.course, user_ids=ids)
    return len(ids)


def grade_override_set(*, course: SandboxCourse, user: SandboxUser, score: Decimal | None) -> list[SandboxEnrollment]:
    """Sets (or clears, with None) the learner's Final Grade Override in every section."""
    if not course.allow_final_grade_override:
        raise SandboxError("Final Grade Override is not enabled in this course")
    if score is not None:
        _score_in_range(score, "an override score")
    if score is not None and score < 0:
        raise SandboxError("an override score cannot be negative")
    with transaction.atomic():
        enrollments = list(
            SandboxEnrollment.objects.select_for_update().filter(course=course, user=user, type="StudentEnrollment")
        )
        if not enrollments:
            raise SandboxError(f"{user.name} is not a student in this course")
        old = enrollments[0].override_score
        for enrollment in enrollments:
            enrollment.override_score = score
            enrollment.save(update_fields=["override_score", "updated_at"])
        with _course_request(course=course, path="gradebook/final_grade_overrides"):
            live_events.emit_on_commit(
                instance=course.instance,
                event_name="grade_override",
                body=live_events.grade_override_body(enrollments[0], old_score=old),
                course=course,
            )
    return enrollments
