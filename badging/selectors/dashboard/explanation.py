"""One learner's "why not issued?": the exact rule outcome per assessment and for the final grade,
with their enrollments."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from badging.models import CourseBadge, Enrollment, LearnerProgress
from badging.selectors.dashboard.learner_table import LearnerRow, learner_rows
from badging.selectors.dashboard.rule_check import RuleCheck, rule_check


@dataclass
class LearnerExplanation:
    row: LearnerRow
    rule: RuleCheck
    enrollments: list[Enrollment]
    final_grade_detail: str
    evaluated_at: Any


def learner_explanation(*, course_badge: CourseBadge, learner_id: int) -> LearnerExplanation | None:
    """The exact rule outcome for one learner, per assessment and for the final grade."""
    progress = (
        LearnerProgress.objects.filter(course_badge=course_badge, learner_id=learner_id)
        .select_related("learner")
        .first()
    )
    if progress is None:
        return None
    rule = rule_check(course_badge=course_badge)
    row = learner_rows(course_badge=course_badge, progresses=[progress], rules=rule.assessments)[0]
    enrollments = list(
        Enrollment.objects.filter(course_id=course_badge.course_id, learner_id=learner_id).order_by("section_id")
    )
    return LearnerExplanation(
        row=row,
        rule=rule,
        enrollments=enrollments,
        final_grade_detail=row.final_grade_text,
        evaluated_at=progress.evaluated_at,
    )
