"""The demo course's Canvas content: learners of every kind, sections, rubric-graded credentialing
assessments and their grades, written with bulk inserts."""

import random
from datetime import timedelta
from decimal import Decimal

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from sandbox.models import (
    AssignmentGroup,
    CommunicationChannel,
    CourseSection,
    Rubric,
    SandboxAssignment,
    SandboxCourse,
    SandboxEnrollment,
    SandboxInstance,
    SandboxUser,
    Submission,
)
from sandbox.services.grades import GradeInput, enrollment_grades_recompute, submission_grade
from sandbox.services.people import enrollment_create, sortable_name, user_create

COURSE_SIS_ID = "SFB-DEMO-101"


CREDENTIALING_GROUP = "Credentialing Assessments"
ASSESSMENT_TITLES = [
    "Assessment 1: Data cleaning & validation",
    "Assessment 2: Visualising <data> for decisions",
    "Assessment 3: Statistical reasoning — “why it matters”",
    "Assessment 4: Communicating results à la carte",
]
CRITERIA = [
    ["Accuracy & completeness", "Handles missing <NA> values", "Documents every step"],
    ["Chooses a fitting chart", "Labels axes & units", "Tells the story — clearly"],
    ["States hypotheses", "Interprets p-values (“not proof”)", "Checks assumptions"],
    ["Audience-aware summary", "Uses <em>plain</em> language", "Cites sources & data"],
]
FIRST = ["Amara", "Björn", "Chloé", "Dmitri", "Émile", "Fatima", "Grégoire", "Hana", "Ibrahim", "Jürgen", "Kaito",
         "Léa", "Malik", "Nuño", "Oksana", "Pál", "Quentin", "Renée", "Søren", "Tomás", "Uxía", "Valentina", "Wen",
         "Ximena", "Yusuf", "Zoé"]  # fmt: skip
LAST = ["Adeyemi", "Bjørnsen", "Castañeda", "Dubois", "Eriksson", "Fernández", "García", "Hernández", "Işık", "Jansen",
        "Kowalski", "López", "Müller", "Nakamura", "O'Connor", "Petrović", "Quispe", "Rossi", "Schäfer", "Tanaka",
        "Ünal", "Vázquez", "Wójcik", "Xu", "Yılmaz", "Żukowski"]  # fmt: skip
# Learner kinds and their share of the generated learners.
KINDS = [
    ("eligible", 0.30),
    ("awaiting_final_grade", 0.20),
    ("partial", 0.20),
    ("not_submitted", 0.10),
    ("unposted", 0.10),
    ("override_without_mastery", 0.05),
    ("submitted_ungraded", 0.05),
]


def _criteria(rng: random.Random, titles: list[str], used: set[str]) -> list[dict]:
    levels = [
        ("Exceeds", "Goes beyond the standard, e.g. “above & beyond”", 4.0),
        ("Meets", "Meets the standard", 3.0),
        ("Approaching", "Partly meets the standard", 2.0),
        ("Not yet", "Does not meet the standard <yet>", 0.0),
    ]
    out = []
    for title in titles:
        criterion_id = f"_{rng.randint(1000, 9999)}"
        while criterion_id in used:
            criterion_id = f"_{rng.randint(1000, 9999)}"
        used.add(criterion_id)
        out.append(
            {
                "id": criterion_id,
                "description": title,
                "long_description": f"Évaluation: {title}",
                "points": 4.0,
                "criterion_use_range": False,
                "ratings": [
                    {"id": f"{criterion_id}_{i}", "description": d, "long_description": ld, "points": p}
                    for i, (d, ld, p) in enumerate(levels)
                ],
            }
        )
    return out


def _learner_name(i: int) -> str:
    """The i-th generated learner's name: every first/last name pair once (shifting the surname per
    round of first names), then again with a middle initial, so names look real and rarely repeat."""
    cycle, rest = divmod(i, len(FIRST) * len(LAST))
    block, first = divmod(rest, len(FIRST))
    middle = f" {chr(ord('A') + (cycle - 1) % 26)}." if cycle else ""
    return f"{FIRST[first]}{middle} {LAST[(first + block) % len(LAST)]}"


def _pick_kind(rng: random.Random) -> str:
    roll, total = rng.random(), 0.0
    for kind, share in KINDS:
        total += share
        if roll < total:
            return kind
    return KINDS[0][0]


def _ratings(rng: random.Random, criteria: list[dict], mastered: bool) -> dict:
    # 80% mastery of 12 points needs 10: two "Exceeds" and a "Meets" at least.
    if mastered:
        picks = rng.choice([[0, 0, 0], [0, 0, 1], [0, 1, 0], [1, 0, 0]])
    else:
        picks = rng.choice([[1, 1, 1], [1, 2, 1], [2, 2, 3], [1, 1, 2], [3, 1, 2]])
    out = {}
    for criterion, pick in zip(criteria, picks, strict=False):
        rating = criterion["ratings"][pick]
        out[criterion["id"]] = {"points": rating["points"], "rating_id": rating["id"], "comments": ""}
    return out


@transaction.atomic
def _course(
    *, instance: SandboxInstance, learners: int, assessments: int, rng: random.Random
) -> tuple[SandboxCourse, int]:
    now = timezone.now()
    course = SandboxCourse.objects.create(
        instance=instance,
        name="Data Skills for Everyone — Autumn <2026>",
        course_code="DATA-101",
        sis_course_id=COURSE_SIS_ID,
    )
    section_a = CourseSection.objects.create(course=course, name="Section 001 (Mon & Wed)")
    section_b = CourseSection.objects.create(course=course, name="Section 002 (Tue & Thu)")
    credentialing = AssignmentGroup.objects.create(course=course, name=CREDENTIALING_GROUP, position=1)
    other = AssignmentGroup.objects.create(course=course, name="Homework & Quizzes", position=2)

    used: set[str] = set()
    graded_assessments = []
    for k in range(assessments):
        title = ASSESSMENT_TITLES[k] if k < len(ASSESSMENT_TITLES) else f"Assessment {k + 1}: Applied skill {k + 1}"
        titles = CRITERIA[k % len(CRITERIA)]
        rubric = Rubric.objects.create(
            course=course, title=f"{title.split(':')[0]} rubric", data=_criteria(rng, titles, used)
        )
        graded_assessments.append(
            SandboxAssignment.objects.create(
                course=course,
                group=credentialing,
                name=title,
                description=f"<p>{title}: show the skill & explain it.</p>",
                points_possible=Decimal(str(rubric.points_possible)),
                position=k + 1,
                rubric=rubric,
                use_rubric_for_grading=True,
                due_at=now - timedelta(days=14 - k),
            )
        )
    homework = [
        SandboxAssignment.objects.create(
            course=course, group=other, name=name, points_possible=Decimal(10), position=i + 1, published=published
        )
        for i, (name, published) in enumerate(
            [("Weekly quiz 1", True), ("Reading reflection “Data & society”", True), ("Draft: final project", False)]
        )
    ]

    def person(name: str, email: str, **flags) -> SandboxUser:
        return user_create(instance=instance, name=name, email=email, **flags)

    teacher = person("Grace Hopper-Núñez", "grace.hopper@skillsforward.example.edu")
    ta = person("Alan Turing", "alan.turing@skillsforward.example.edu")
    person("Ada Admin", "ada.admin@skillsforward.example.edu", is_account_admin=True)
    SandboxEnrollment.objects.create(course=course, user=teacher, section=section_a, type="TeacherEnrollment")
    SandboxEnrollment.objects.create(course=course, user=ta, section=section_b, type="TaEnrollment")

    # Named learners first, each pinning one case; then generated ones in the usual mix.
    special = [
        ("Zoë O'Brien <b>", "eligible", "active", [section_a]),
        ("José Núñez-García", "awaiting_final_grade", "active", [section_a]),
        ("Priya Raman", "eligible", "active", [section_a, section_b]),
        # Concluded at term end (enrollment completed) with every assessment mastered and the final
        # grade entered: the tool issues her badge, and her launches carry no course role, only
        # $Canvas.membership.concludedRoles=Learner (Badges opens read-only).
        ("Ana Müller", "eligible", "completed", [section_b]),
        ("Liam Ó Súilleabháin", "eligible", "deleted", [section_a]),
        ("Chen Wei", "partial", "inactive", [section_b]),
        ("Amélie Dupont & Fils", "unposted", "active", [section_b]),
        ("Kwame Mensah", "override_without_mastery", "active", [section_a]),
        ("Sofía Herrera", "not_submitted", "active", [section_b]),
    ][:learners]
    users_spec = list(special)
    for i in range(learners - len(special)):
        users_spec.append((_learner_name(i), _pick_kind(rng), "active", [section_a if i % 2 else section_b]))

    # Two learners use Canvas in another language: their Badges pages and emails follow it.
    locales = {"José Núñez-García": "es", "Amélie Dupont & Fils": "fr"}
    new_users = []
    for i, (name, _, _, _) in enumerate(users_spec):
        new_users.append(
            SandboxUser(
                instance=instance,
                name=name,
                sortable_name=sortable_name(name),
                short_name=name.split(" ")[0],
                login_id=f"learner{i + 1}",
                sis_user_id=f"S{100000 + i}",
                locale=locales.get(name, ""),
            )
        )
    created_users = SandboxUser.objects.bulk_create(new_users, batch_size=1000)
    channels, enrollments, submissions = [], [], []
    assignments = graded_assessments + homework
    for index, (user, (_name, kind, state, sections)) in enumerate(zip(created_users, users_spec, strict=True)):
        channels.append(CommunicationChannel(user=user, address=f"learner{index + 1}@students.example.edu", position=1))
        if index == 0:  # a second, non-primary address: the tool must use position 1
            channels.append(CommunicationChannel(user=user, address="zoe.personal@example.com", position=2))
        for section in sections:
            enrollments.append(SandboxEnrollment(course=course, user=user, section=section, workflow_state=state))
        if kind in ("eligible",) or (kind == "override_without_mastery"):
            override = Decimal(rng.choice([88, 91, 95, 97])) if kind == "eligible" else Decimal(62)
            for e in enrollments[-len(sections) :]:
                e.override_score = override
        mastered_count = {
            "eligible": assessments,
            "awaiting_final_grade": assessments,
            "unposted": assessments,
            "partial": rng.randint(0, max(0, assessments - 1)),
            "override_without_mastery": max(0, assessments - 2),
        }.get(kind, 0)
        for k, assignment in enumerate(assignments):
            sub = Submission(assignment=assignment, user=user)
            is_assessment = k < assessments
            graded = (
                kind in ("eligible", "awaiting_final_grade", "unposted", "override_without_mastery")
                or (kind == "partial" and (k < mastered_count + 1 or not is_assessment))
            ) and assignment.published
            if kind == "submitted_ungraded" and assignment.published:
                sub.workflow_state, sub.submitted_at, sub.attempt = "submitted", now - timedelta(days=3), 1
            elif graded:
                graded_at = now - timedelta(days=rng.randint(1, 10), minutes=rng.randint(0, 600))
                sub.workflow_state, sub.attempt, sub.grader = "graded", 1, teacher
                sub.submitted_at, sub.graded_at = graded_at - timedelta(hours=20), graded_at
                posted = not (kind == "unposted" and k == assessments - 1)
                sub.posted_at = graded_at + timedelta(minutes=30) if posted else None
                if is_assessment and assignment.rubric is not None:
                    sub.rubric_assessment = _ratings(rng, assignment.rubric.data, mastered=k < mastered_count)
                    sub.score = Decimal(str(sum(v["points"] for v in sub.rubric_assessment.values())))
                else:
                    sub.score = Decimal(rng.randint(6, 10))
                sub.grade = str(sub.score.normalize())
            submissions.append(sub)
    CommunicationChannel.objects.bulk_create(channels, batch_size=2000)
    SandboxEnrollment.objects.bulk_create(enrollments, batch_size=2000)
    Submission.objects.bulk_create(submissions, batch_size=2000)
    # Canvas gives each rubric assessment its own id; the submission id serves here.
    Submission.objects.filter(assignment__course=course).exclude(rubric_assessment={}).update(
        rubric_assessment_id=F("id")
    )

    # Student View: Canvas's "Test Student", fully mastered and overridden: it must never get a badge.
    test_student = person("Test Student", "", is_test_user=True)
    enrollment_create(course=course, user=test_student, type="StudentViewEnrollment", section=section_a)
    for assignment in graded_assessments:
        assert assignment.rubric is not None  # every credentialing assessment above has one
        submission_grade(
            assignment=assignment,
            user=test_student,
            grader=teacher,
            grade=GradeInput(ratings={c["id"]: c["ratings"][0]["id"] for c in assignment.rubric.data}),
        )
    SandboxEnrollment.objects.filter(course=course, user=test_student).update(override_score=Decimal(99))
    enrollment_grades_recompute(course=course)
    return course, len(created_users)
