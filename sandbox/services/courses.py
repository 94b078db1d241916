"""Course setup in the sandbox Canvas: rubric-graded assessments, publishing, the Final Grade
Override setting, and concluding the course at the end of term."""

import secrets
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from sandbox.models import (
    STUDENT_TYPES,
    AssignmentGroup,
    Rubric,
    SandboxAssignment,
    SandboxCourse,
    SandboxEnrollment,
    Submission,
)
from sandbox.services.base import SandboxError
from sandbox.services.grades import enrollment_grades_recompute


def course_conclude(*, course: SandboxCourse) -> int:
    """Concludes the course (end of term): it and its active enrollments become completed.

    Returns how many enrollments were concluded. Grades and overrides stay as they are.
    """
    with transaction.atomic():
        course.workflow_state = "completed"
        course.save(update_fields=["workflow_state"])
        return SandboxEnrollment.objects.filter(course=course, workflow_state__in=["active", "invited"]).update(
            workflow_state="completed", updated_at=timezone.now()
        )


def rubric_criteria(titles: list[str], *, points_each: int = 4) -> list[dict]:
    """Criteria in Canvas's shape with the usual four ratings (Exceeds, Meets, Approaching, Not yet)."""
    levels = [
        ("Exceeds", "Goes beyond the standard", 1.0),
        ("Meets", "Meets the standard", 0.75),
        ("Approaching", "Partly meets the standard", 0.5),
        ("Not yet", "Does not meet the standard yet", 0.0),
    ]
    criteria: list[dict] = []
    for title in titles:
        criterion_id = f"_{secrets.randbelow(9000) + 1000}"
        while any(c["id"] == criterion_id for c in criteria):
            criterion_id = f"_{secrets.randbelow(9000) + 1000}"
        criteria.append(
            {
                "id": criterion_id,
                "description": title,
                "long_description": "",
                "points": float(points_each),
                "criterion_use_range": False,
                "ratings": [
                    {
                        "id": f"{criterion_id}_{i}",
                        "description": label,
                        "long_description": text,
                        "points": float(points_each * share),
                    }
                    for i, (label, text, share) in enumerate(levels)
                ],
            }
        )
    return criteria


def assessment_add(
    *,
    course: SandboxCourse,
    name: str,
    criteria_titles: list[str],
    group_name: str = "Credentialing Assessments",
    points_per_criterion: int = 4,
    published: bool = True,
    ignored_for_scoring: list[str] | None = None,
) -> SandboxAssignment:
    """Adds a rubric-graded assignment (by default a credentialing assessment) to the course."""
    name = name.strip()
    if not name:
        raise SandboxError("an assignment needs a name")
    if not criteria_titles:
        raise SandboxError("a rubric needs at least one criterion")
    if not 1 <= len(criteria_titles) <= 50 or not 1 <= points_per_criterion <= 1000:
        raise SandboxError("a rubric has 1-50 criteria and points_per_criterion is 1-1000")
    with transaction.atomic():
        group = AssignmentGroup.objects.filter(course=course, name=group_name).first()
        if group is None:
            position = AssignmentGroup.objects.filter(course=course).count() + 1
            group = AssignmentGroup.objects.create(course=course, name=group_name, position=position)
        data = rubric_criteria(criteria_titles, points_each=points_per_criterion)
        for criterion in data:
            if criterion["description"] in (ignored_for_scoring or []):
                criterion["ignore_for_scoring"] = True
        rubric = Rubric.objects.create(course=course, title=f"{name} rubric", data=data)
        assignment = SandboxAssignment.objects.create(
            course=course,
            group=group,
            name=name,
            points_possible=Decimal(rubric.points_possible),
            published=published,
            position=SandboxAssignment.objects.filter(course=course).count() + 1,
            rubric=rubric,
            use_rubric_for_grading=True,
        )
        students = SandboxEnrollment.objects.filter(course=course, type__in=STUDENT_TYPES).values_list(
            "user_id", flat=True
        )
        Submission.objects.bulk_create(
            [Submission(assignment=assignment, user_id=user_id) for user_id in set(students)],
            batch_size=1000,
            ignore_conflicts=True,
        )
        enrollment_grades_recompute(course=course)
    return assignment


def course_final_grade_override_set(*, course: SandboxCourse, allowed: bool) -> SandboxCourse:
    """Turns the course's "Allow final grade override" setting on or off (Gradebook settings).

    Turning it off hides every override from the API (the stored values stay, as in Canvas)."""
    course.allow_final_grade_override = allowed
    course.save(update_fields=["allow_final_grade_override"])
    return course


def assignment_published_set(*, assignment: SandboxAssignment, published: bool) -> SandboxAssignment:
    """Publishes or unpublishes an assignment (an unpublished one keeps its submissions, as in Canvas)."""
    assignment.published = published
    assignment.save(update_fields=["published", "updated_at"])
    enrollment_grades_recompute(course=assignment.course)
    return assignment
