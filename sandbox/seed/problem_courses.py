"""The demo's two small courses whose Canvas settings stop the badge (an unpublished credentialing
assessment; Final Grade Override off), made through the sandbox's own services."""

from decimal import Decimal

from sandbox.models import CourseSection, SandboxCourse, SandboxEnrollment, SandboxInstance, SandboxUser
from sandbox.services.courses import assessment_add, assignment_published_set, course_final_grade_override_set
from sandbox.services.grades import GradeInput, grade_override_set, submission_grade
from sandbox.services.people import enrollment_create, user_create

# Two small courses whose Canvas settings break the badge rule, each showing how the tool says so.
UNPUBLISHED_COURSE_SIS_ID = "SFB-DEMO-UNPUBLISHED"
NO_OVERRIDE_COURSE_SIS_ID = "SFB-DEMO-NO-OVERRIDE"


def _problem_course(
    *,
    instance: SandboxInstance,
    sis_id: str,
    name: str,
    code: str,
    allow_override: bool,
    unpublish_second: bool,
    learners: list[str],
) -> SandboxCourse:
    """A small course with two credentialing assessments and four learners who mastered the first one
    (the first learner mastered both and had the final grade entered). Idempotent."""
    course = SandboxCourse.objects.filter(instance=instance, sis_course_id=sis_id).first()
    if course is not None:
        return course
    teacher = SandboxUser.objects.filter(instance=instance, name="Grace Hopper-Núñez").first()
    course = SandboxCourse.objects.create(
        instance=instance, name=name, course_code=code, sis_course_id=sis_id, allow_final_grade_override=True
    )
    section = CourseSection.objects.create(course=course, name="Section 001")
    if teacher is not None:
        SandboxEnrollment.objects.create(course=course, user=teacher, section=section, type="TeacherEnrollment")
    first = assessment_add(course=course, name="Assessment 1: Tidy a table", criteria_titles=["Structure"])
    second = assessment_add(
        course=course, name="Assessment 2: Chart the trend", criteria_titles=["Chart choice", "Labels"]
    )
    for i, learner_name in enumerate(learners):
        slug = sis_id.lower().replace("sfb-demo-", "")
        user = user_create(instance=instance, name=learner_name, email=f"{slug}.learner{i + 1}@students.example.edu")
        enrollment_create(course=course, user=user, type="StudentEnrollment", section=section)
        grader = teacher or user
        for assignment in (first, second) if i == 0 else (first,):
            assert assignment.rubric is not None
            submission_grade(
                assignment=assignment,
                user=user,
                grader=grader,
                grade=GradeInput(ratings={c["id"]: c["ratings"][0]["id"] for c in assignment.rubric.data}),
            )
        if i == 0:
            grade_override_set(course=course, user=user, score=Decimal(93))
    if unpublish_second:
        assignment_published_set(assignment=second, published=False)
    if not allow_override:
        course_final_grade_override_set(course=course, allowed=False)
    return course


def problem_courses(*, instance: SandboxInstance) -> tuple[SandboxCourse, SandboxCourse]:
    """The demo's two courses whose Canvas settings stop the badge: a picked credentialing assessment
    unpublished, and Final Grade Override turned off."""
    unpublished = _problem_course(
        instance=instance,
        sis_id=UNPUBLISHED_COURSE_SIS_ID,
        name="Spreadsheet Skills — an assessment unpublished",
        code="SHEETS-102",
        allow_override=True,
        unpublish_second=True,
        learners=["Ada Okafor", "Bea Lindqvist", "Carlos Mendes", "Dana Kowalski"],
    )
    no_override = _problem_course(
        instance=instance,
        sis_id=NO_OVERRIDE_COURSE_SIS_ID,
        name="Statistics Basics — no Final Grade Override",
        code="STATS-103",
        allow_override=False,
        unpublish_second=False,
        learners=["Eli Haddad", "Fatima Zahra", "Gustavo Lima", "Hana Sato"],
    )
    return unpublished, no_override
