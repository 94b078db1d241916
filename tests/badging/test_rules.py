"""badging.rules: the one place that decides which Canvas assignments count for a course badge.

Canvas reports submissions only for published assignments and refuses a submissions request that
names an unpublished or deleted one (canvas-lms app/controllers/submissions_api_controller.rb,
`for_students`: 403 "invalid assignment ids requested"), so only published, live assignments of
the group count, and a badge's evidence names exactly those.
"""

import pytest

from badging import rules
from badging.models import CourseBadge
from badging.services.issuance import documents
from tests import factories as f

pytestmark = pytest.mark.django_db


def _course_with_group():
    course = f.CourseFactory(name="Data Skills 101")
    badge = f.CourseBadgeFactory(course=course)
    f.AssignmentFactory(course=course, name="Cleaning a data set", canvas_assignment_id="501", position=1)
    f.AssignmentFactory(course=course, name="Draft: modelling", canvas_assignment_id="502", position=2, published=False)
    f.AssignmentFactory(course=course, name="Old essay", canvas_assignment_id="503", position=3, deleted_in_canvas=True)
    f.AssignmentFactory(
        course=course, name="Weekly quiz", canvas_assignment_id="504", position=4, assignment_group_name="Quizzes"
    )
    f.AssignmentFactory(
        course=course,
        name="Presenting findings",
        canvas_assignment_id="505",
        position=5,
        assignment_group_name="  credentialing ASSESSMENTS ",
    )
    return badge


def test_only_published_live_assignments_of_the_group_count_everywhere():
    badge = _course_with_group()
    assignments = rules.rule_assignments(course_id=badge.course_id)
    counted = [
        c.canvas_assignment_id for c in rules.credentialing_assessments(course_badge=badge, assignments=assignments)
    ]
    assert counted == ["501", "505"]
    # The evaluation rule, the submissions asked of Canvas and the evidence agree with it.
    assert [s.assignment_id for s in rules.badge_rule_build(course_badge=badge).assessments] == counted
    assert rules.submission_assignment_ids(course_badges=[badge], assignments=assignments) == set(counted)
    assert rules.evidence_names(course_badge=badge, assignments=assignments) == [
        "Cleaning a data set",
        "Presenting findings",
    ]
    # The group members that do not count, and why (the dashboard's rule panel says so).
    not_counted = rules.group_members_not_counted(course_badge=badge, assignments=assignments)
    assert [(c.canvas_assignment_id, c.problem) for c in not_counted] == [
        ("502", rules.UNPUBLISHED),
        ("503", rules.DELETED),
    ]


def test_a_badges_evidence_never_lists_an_assignment_that_was_not_evaluated():
    """The issued award's evidence narrative is built from the same rule: an unpublished or deleted
    member of the group was never evaluated, so it is not evidence."""
    badge = _course_with_group()
    narrative = documents._evidence_narrative(badge)
    assert "- Cleaning a data set" in narrative and "- Presenting findings" in narrative
    assert "Draft: modelling" not in narrative
    assert "Old essay" not in narrative
    assert "Weekly quiz" not in narrative


def test_picked_ids_keep_their_place_and_block_when_unavailable():
    badge = _course_with_group()
    badge.assessment_ids = ["505", "502", "999"]
    assignments = rules.rule_assignments(course_id=badge.course_id)
    picked = rules.credentialing_assessments(course_badge=badge, assignments=assignments)
    assert [(c.canvas_assignment_id, c.problem) for c in picked] == [
        ("505", ""),
        ("502", rules.UNPUBLISHED),
        ("999", rules.NOT_FOUND),
    ]
    assert rules.submission_assignment_ids(course_badges=[badge], assignments=assignments) == {"505"}
    assert rules.evidence_names(course_badge=badge, assignments=assignments) == ["Presenting findings"]
    built = rules.badge_rule_build(course_badge=badge)
    assert [(s.assignment_id, s.missing) for s in built.assessments] == [
        ("505", False),
        ("502", True),
        ("999", True),
    ]


def test_thresholds_override_per_assessment_then_badge_mode():
    badge = f.CourseBadgeFactory(
        mastery_mode=CourseBadge.MASTERY_POINTS,
        mastery_min_points=9,
        mastery_overrides={"501": {"min_percent": 50}, "502": {"min_points": "7.5"}},
    )
    assert rules.threshold(badge, "501") == (50, None)
    assert rules.threshold(badge, "502") == (None, rules.Decimal("7.5"))
    assert rules.threshold(badge, "503") == (None, 9)
    badge.mastery_mode = CourseBadge.MASTERY_PERCENT
    assert rules.threshold(badge, "503") == (badge.mastery_min_percent, None)


def test_final_grade_assignment_prefers_a_live_one_and_reports_a_deleted_one():
    course = f.CourseFactory()
    badge = f.CourseBadgeFactory(
        course=course,
        final_grade_source=CourseBadge.FINAL_GRADE_ASSIGNMENT,
        final_grade_assignment_name="Final grade",
    )
    f.AssignmentFactory(course=course, name="Final Grade", canvas_assignment_id="700", deleted_in_canvas=True)
    assignments = rules.rule_assignments(course_id=course.pk)
    assert rules.final_grade_assignment(course_badge=badge, assignments=assignments)["canvas_assignment_id"] == "700"
    assert rules.final_grade_assignment_id(course_badge=badge, assignments=assignments) == ""
    f.AssignmentFactory(course=course, name=" final grade ", canvas_assignment_id="701", assignment_group_name="X")
    assignments = rules.rule_assignments(course_id=course.pk)
    assert rules.final_grade_assignment_id(course_badge=badge, assignments=assignments) == "701"
