"""A realistic course in the sandbox, registered in the tool: what `sandbox_seed` and the demo run.

Learners are spread over every state the tool must tell apart (mastered all, partly, not
submitted, graded but unposted, final grade override entered or not, dropped, concluded,
inactive, two sections, Student View), with names and rubric texts that carry accents and
HTML-special characters. Idempotent: a second run finds the course and only refreshes the
tool's registration and demo configuration. Bulk inserts keep 5,000 learners well under a minute.
"""

import base64
import io
import random
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from PIL import Image, ImageDraw, ImageFont

from sandbox import services
from sandbox.models import (
    DEFAULT_CUSTOM_FIELDS,
    ApiToken,
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

COURSE_SIS_ID = "SFB-DEMO-101"
# Two small courses whose Canvas settings break the badge rule, each showing how the tool says so.
UNPUBLISHED_COURSE_SIS_ID = "SFB-DEMO-UNPUBLISHED"
NO_OVERRIDE_COURSE_SIS_ID = "SFB-DEMO-NO-OVERRIDE"
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


@dataclass
class SeedResult:
    instance: SandboxInstance
    course: SandboxCourse
    api_token: str
    created: bool
    platform_id: int | None
    learners: int

    def launch_url(self) -> str:
        return f"{self.instance.root_url}/courses/{self.course.id}/"

    @property
    def course_badge_key(self) -> str:
        return course_badge_key(instance=self.instance, course=self.course)


def course_badge_key(*, instance: SandboxInstance, course: SandboxCourse) -> str:
    return f"sandbox-{instance.slug}-{course.id}"


def badge_png(text: str = "DATA", size: int = 256) -> bytes:
    """A round badge image, drawn so the demo needs no image file."""
    image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.ellipse((4, 4, size - 4, size - 4), fill=(7, 112, 163, 255), outline=(3, 87, 127, 255), width=8)
    draw.ellipse((32, 32, size - 32, size - 32), outline=(255, 255, 255, 200), width=4)
    try:
        font = ImageFont.load_default(size=size // 6)
    except TypeError:  # Pillow without FreeType
        font = ImageFont.load_default()
    box = draw.textbbox((0, 0), text, font=font)
    draw.text(((size - (box[2] - box[0])) / 2, (size - (box[3] - box[1])) / 2 - box[1]), text, font=font, fill="white")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


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


def _instance(*, slug: str, base_url: str, tool_url: str, issuer_url: str = "") -> SandboxInstance:
    tool_url = tool_url.rstrip("/")
    instance, _ = SandboxInstance.objects.update_or_create(
        slug=slug,
        defaults={
            "name": f"Canvas sandbox ({slug})",
            "base_url": base_url.rstrip("/"),
            "issuer_base_url": issuer_url.rstrip("/"),
            "client_id": "10000000000001",
            "deployment_id": "1:8865aa05b4b79b64a91a86042e43af5ea8ae79eb",
            "tool_login_url": f"{tool_url}/lti/login/",
            "tool_launch_url": f"{tool_url}/lti/launch/",
            "tool_jwks_url": f"{tool_url}/lti/jwks.json",
            "tool_custom_fields": DEFAULT_CUSTOM_FIELDS,
        },
    )
    services.platform_key_current(instance=instance)
    return instance


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
        return services.user_create(instance=instance, name=name, email=email, **flags)

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
                sortable_name=services.sortable_name(name),
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
    services.enrollment_create(course=course, user=test_student, type="StudentViewEnrollment", section=section_a)
    for assignment in graded_assessments:
        assert assignment.rubric is not None  # every credentialing assessment above has one
        services.submission_grade(
            assignment=assignment,
            user=test_student,
            grader=teacher,
            grade=services.GradeInput(ratings={c["id"]: c["ratings"][0]["id"] for c in assignment.rubric.data}),
        )
    SandboxEnrollment.objects.filter(course=course, user=test_student).update(override_score=Decimal(99))
    services.enrollment_grades_recompute(course=course)
    return course, len(created_users)


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
    first = services.assessment_add(course=course, name="Assessment 1: Tidy a table", criteria_titles=["Structure"])
    second = services.assessment_add(
        course=course, name="Assessment 2: Chart the trend", criteria_titles=["Chart choice", "Labels"]
    )
    for i, learner_name in enumerate(learners):
        slug = sis_id.lower().replace("sfb-demo-", "")
        user = services.user_create(
            instance=instance, name=learner_name, email=f"{slug}.learner{i + 1}@students.example.edu"
        )
        services.enrollment_create(course=course, user=user, type="StudentEnrollment", section=section)
        grader = teacher or user
        for assignment in (first, second) if i == 0 else (first,):
            assert assignment.rubric is not None
            services.submission_grade(
                assignment=assignment,
                user=user,
                grader=grader,
                grade=services.GradeInput(ratings={c["id"]: c["ratings"][0]["id"] for c in assignment.rubric.data}),
            )
        if i == 0:
            services.grade_override_set(course=course, user=user, score=Decimal(93))
    if unpublish_second:
        services.assignment_published_set(assignment=second, published=False)
    if not allow_override:
        services.course_final_grade_override_set(course=course, allowed=False)
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


def tool_register(*, instance: SandboxInstance, api_token: str) -> int | None:
    """Registers this sandbox as a Canvas platform in the tool (lti.services.platform_upsert)."""
    from lti.services import platform_upsert

    platform = platform_upsert(
        issuer=instance.issuer,
        client_id=instance.client_id,
        deployment_ids=[instance.deployment_id],
        api_base_url=instance.root_url,
        api_token=api_token,
        name=instance.name,
        auth_login_url=instance.auth_login_url,
        auth_token_url=instance.auth_token_url,
        keyset_url=instance.keyset_url,
    )
    return platform.id


def tool_live_events_url(*, platform_id: int, tool_url: str) -> str:
    """The tool's Live Events URL for this platform (the tool tells events apart by their URL)."""
    from lti.models import Platform
    from lti.selectors import platform_live_events_url

    return platform_live_events_url(platform=Platform.objects.get(pk=platform_id), base_url=tool_url)


def tool_demo_config(
    *, instance: SandboxInstance, course: SandboxCourse, extra_courses: tuple[SandboxCourse, ...] = ()
) -> list[str]:
    """The tool's demo configuration (issuer, badge class, course badge) via the badging import service.

    `extra_courses` (the problem courses) get the same badge class, on the two assessments picked by id."""
    from badging.services.config import config_import

    image = "data:image/png;base64," + base64.b64encode(badge_png("DATA")).decode()
    data: dict[str, Any] = {
        "issuers": [
            {
                "key": "skills-forward-academy",
                "name": "Skills Forward Academy",
                "url": "https://skillsforward.example.edu",
                "email": "badges@skillsforward.example.edu",
                "description": "Micro-credentials for skills shown in credentialing assessments.",
                "image": image,
            }
        ],
        "badge_classes": [
            {
                "key": "data-skills-practitioner",
                "issuer": "skills-forward-academy",
                "name": "Data Skills Practitioner",
                "description": "Cleans, visualises, reasons about and communicates data — “from raw to report”.",
                "image": image,
                "criteria": {
                    "narrative": "Master every credentialing assessment (80% or more on each rubric) "
                    "and complete the course with a final grade."
                },
                "alignments": [
                    {
                        "targetName": "Data literacy",
                        "targetUrl": "https://skillsforward.example.edu/frameworks/data-literacy",
                    }
                ],
                "tags": ["data", "statistics", "communication"],
            }
        ],
        "course_badges": [
            {
                "key": course_badge_key(instance=instance, course=course),
                "badge_class": "data-skills-practitioner",
                "platform_issuer": instance.issuer,
                "client_id": instance.client_id,
                "canvas_course_id": str(course.id),
                "assessments": {"assignment_group": CREDENTIALING_GROUP},
                "mastery": {"min_percent": 80},
                "final_grade": {"source": "override"},
            }
        ],
    }
    for extra in extra_courses:
        data["course_badges"].append(
            {
                "key": course_badge_key(instance=instance, course=extra),
                "badge_class": "data-skills-practitioner",
                "platform_issuer": instance.issuer,
                "client_id": instance.client_id,
                "canvas_course_id": str(extra.id),
                "assessments": {
                    "assignment_ids": [
                        str(a.id) for a in SandboxAssignment.objects.filter(course=extra).order_by("position", "id")
                    ]
                },
                "mastery": {"min_percent": 80},
                "final_grade": {"source": "override"},
            }
        )
    report = config_import(data=data, base_dir=Path.cwd())
    for c in (course, *extra_courses):
        _tool_course_details(instance=instance, course=c)
    return report.lines()


BACKPACK_PAST_COURSES = (
    ("STAT-100", "Statistics Foundations — Spring 2026", "statistics-foundations", "Statistics Foundations"),
    ("SHEET-110", "Spreadsheet Skills — Summer 2026", "spreadsheet-skills", "Spreadsheet Skills"),
)
BACKPACK_PROGRAM_KEY = "data-skills-pathway"


def tool_backpack_demo(*, instance: SandboxInstance, course: SandboxCourse, tool_url: str) -> str:
    """My badges in the demo: the first learner of the course holds badges from two earlier courses
    (concluded in the sandbox, their course badges retired in the tool) and is on their way to the
    "Data Skills Pathway" program badge, which also needs this course's badge (2 of 3 held).
    Idempotent. Returns the learner's name."""
    from badging.models import Award, BadgeClass, CourseBadge, Issuer, Program, ProgramRequirement
    from badging.openbadges.links import PublicLinks
    from badging.services.issuance.documents import award_documents_render
    from lti.models import Course, Person, Platform

    platform = Platform.objects.filter(issuer=instance.issuer, client_id=instance.client_id).first()
    learner = (
        SandboxUser.objects.filter(
            enrollments__course=course, enrollments__type="StudentEnrollment", is_test_user=False
        )
        .order_by("id")
        .first()
    )
    if platform is None or learner is None:
        return ""
    issuer = Issuer.objects.get(key="skills-forward-academy")
    person, _ = Person.objects.get_or_create(
        platform=platform,
        canvas_user_id=str(learner.id),
        defaults={"name": learner.name, "sortable_name": learner.sortable_name, "email": learner.primary_email},
    )
    held = []
    for offset, (code, name, key, badge_name) in enumerate(BACKPACK_PAST_COURSES):
        past = SandboxCourse.objects.filter(instance=instance, course_code=code).first()
        if past is None:
            past = SandboxCourse.objects.create(
                instance=instance, name=name, course_code=code, workflow_state="completed"
            )
            services.enrollment_create(course=past, user=learner, workflow_state="completed")
        badge_class, _ = BadgeClass.objects.get_or_create(
            key=key,
            defaults={
                "issuer": issuer,
                "name": badge_name,
                "description": f"Shows the skills of {badge_name} in graded credentialing assessments.",
                "image": badge_png(code.split("-")[0]),
                "image_content_type": "image/png",
                "criteria_narrative": "Master every credentialing assessment and complete the course with a "
                "final grade.",
            },
        )
        tool_course, _ = Course.objects.get_or_create(
            platform=platform, canvas_course_id=str(past.id), defaults={"name": name, "course_code": code}
        )
        # Last term's offering: retired (not synced any more), its awards stay valid.
        course_badge, _ = CourseBadge.objects.get_or_create(
            key=f"{key}-{past.id}", defaults={"badge_class": badge_class, "course": tool_course, "active": False}
        )
        award = Award.objects.filter(badge_class=badge_class, learner=person, revoked=False).first()
        if award is None:
            award = Award.objects.create(
                badge_class=badge_class,
                course_badge=course_badge,
                learner=person,
                recipient_email=(learner.primary_email or f"user{learner.id}@example.edu").lower(),
                issued_on=timezone.now() - timedelta(days=120 - 60 * offset),
                evidence_narrative=f"Mastered every credentialing assessment in {name} and received a final grade.",
            )
            award_documents_render(award=award, links=PublicLinks(tool_url.rstrip("/")))
        held.append(badge_class)
    program_class, _ = BadgeClass.objects.get_or_create(
        key=BACKPACK_PROGRAM_KEY,
        defaults={
            "issuer": issuer,
            "name": "Data Skills Pathway",
            "description": "Earned by holding the Statistics Foundations, Spreadsheet Skills and Data Skills "
            "Practitioner course badges.",
            "image": badge_png("PATH"),
            "image_content_type": "image/png",
            "criteria_narrative": "Hold all three course badges of the Data Skills pathway.",
        },
    )
    program, _ = Program.objects.get_or_create(
        key=BACKPACK_PROGRAM_KEY, defaults={"platform": platform, "badge_class": program_class}
    )
    wanted = [*held, BadgeClass.objects.get(key="data-skills-practitioner")]
    for position, badge_class in enumerate(wanted):
        ProgramRequirement.objects.get_or_create(
            program=program, badge_class=badge_class, defaults={"position": position}
        )
    return learner.name


def _tool_course_details(*, instance: SandboxInstance, course: SandboxCourse) -> None:
    """Gives the tool's course row its name and context id, as a first launch would."""
    from lti.models import Course, Platform

    platform = Platform.objects.filter(issuer=instance.issuer, client_id=instance.client_id).first()
    if platform is not None:
        Course.objects.filter(platform=platform, canvas_course_id=str(course.id)).update(
            name=course.name, course_code=course.course_code, lti_context_id=course.lti_context_id
        )


def sandbox_seed(
    *,
    learners: int = 40,
    assessments: int = 4,
    seed: int = 2026,
    slug: str = "demo",
    base_url: str = "http://localhost:8001",
    tool_url: str = "http://localhost:8000",
    register_in_tool: bool = True,
    reset: bool = False,
    live_events_url: str | None = None,
    live_events: bool = False,
    issuer_url: str = "",
    problem_courses_too: bool = False,
    backpack_demo: bool = True,
) -> SeedResult:
    """Creates (once) the demo course and (every time) the tool's registration and configuration.

    `live_events` posts the sandbox's signed Live Events to the tool's URL for the platform it
    registers (under tool_url); `live_events_url` sets any other URL ('' turns them off).
    `issuer_url`: serve the LTI issuer and OpenID configuration from this origin instead of
    base_url, as hosted Canvas does (https://canvas.instructure.com for every customer).
    `problem_courses_too`: also the two small courses whose Canvas settings stop the badge (an
    unpublished credentialing assessment; Final Grade Override off), with their course badges.
    """
    if learners < 0 or assessments < 1:
        raise ValueError("learners must be >= 0 and assessments >= 1")
    rng = random.Random(seed)
    if reset:
        SandboxInstance.objects.filter(slug=slug).delete()
    instance = _instance(slug=slug, base_url=base_url, tool_url=tool_url, issuer_url=issuer_url)
    course = SandboxCourse.objects.filter(instance=instance, sis_course_id=COURSE_SIS_ID).first()
    created = course is None
    count = 0
    if course is None:
        course, count = _course(instance=instance, learners=learners, assessments=assessments, rng=rng)
    extra = problem_courses(instance=instance) if problem_courses_too else ()
    admin = SandboxUser.objects.filter(instance=instance, is_account_admin=True).order_by("id").first()
    if admin is None:
        raise ValueError(f"the sandbox instance {slug!r} has no account admin: seed it again with --reset")
    # One live token for the tool: a re-seed replaces it (and hands the new one to the tool).
    ApiToken.objects.filter(user=admin, purpose="Skills Forward Badges").delete()
    token = services.api_token_create(user=admin, purpose="Skills Forward Badges")
    platform_id = None
    if register_in_tool:
        platform_id = tool_register(instance=instance, api_token=token)
        tool_demo_config(instance=instance, course=course, extra_courses=extra)
        if backpack_demo:  # awards of other courses: benchmarks that count this course's awards leave it out
            tool_backpack_demo(instance=instance, course=course, tool_url=tool_url)
    if live_events and live_events_url is None:
        if platform_id is None:
            raise ValueError("live events go to the tool's URL of the registered platform: register it too")
        live_events_url = tool_live_events_url(platform_id=platform_id, tool_url=tool_url)
    if live_events_url is not None:
        # Set after seeding: the seeded grades are history, not news for the tool.
        services.live_events_url_set(instance=instance, url=live_events_url)
    return SeedResult(
        instance=instance, course=course, api_token=token, created=created, platform_id=platform_id, learners=count
    )


HOSTED_SLUG = "hosted"


def other_host_name(origin: str) -> str:
    """The same server under its other loopback name (localhost ↔ 127.0.0.1): the sandbox's stand-in
    for hosted Canvas's LTI issuer host, which is not the institution's."""
    if "://localhost" in origin:
        return origin.replace("://localhost", "://127.0.0.1", 1)
    return origin.replace("://127.0.0.1", "://localhost", 1)


def hosted_registration_seed(*, base_url: str, tool_url: str, learners: int = 6) -> SeedResult:
    """A second sandbox Canvas set up as hosted Canvas is, and registered in the tool the way hosted
    Canvas registers it, so the tool's admin shows both kinds side by side.

    The OpenID configuration and the issuer are on the issuer's host (another name of the sandbox),
    so registration cannot tell the REST address; the registration exchange (the tool's request, the
    sandbox's answer with its top-level deployment_id) runs in-process, the registration is approved
    as an admin would, and the API base is recorded from the `$Canvas.api.baseUrl` the sandbox's
    launch sends, as its first launch records it (source "Launch"). Idempotent."""
    from lti import services as lti_services
    from lti.config import registration_request
    from lti.models import Platform
    from lti.registration import registration_api_base_url, registration_deployment_id
    from sandbox import platform as sandbox_platform

    result = sandbox_seed(
        learners=learners,
        assessments=2,
        seed=7,
        slug=HOSTED_SLUG,
        base_url=base_url,
        tool_url=tool_url,
        register_in_tool=False,
        issuer_url=other_host_name(base_url),
    )
    instance = result.instance
    openid = sandbox_platform.openid_configuration(instance=instance)
    body = registration_request(base_url=tool_url.rstrip("/"), scopes_supported=openid["scopes_supported"])
    answer = sandbox_platform.registration_create(instance=instance, body=body)
    platform = Platform.objects.filter(issuer=openid["issuer"], client_id=answer["client_id"]).first()
    if platform is None:
        platform = lti_services.platform_create_registered(
            issuer=openid["issuer"],
            client_id=answer["client_id"],
            deployment_id=registration_deployment_id(answer),
            api_base_url=registration_api_base_url(
                openid_configuration_url=instance.openid_configuration_url,
                issuer=openid["issuer"],
                platform_conf=openid[sandbox_platform.PLATFORM_CONFIGURATION],
            ),
            name=f"{instance.name}, hosted-style",
            auth_login_url=openid["authorization_endpoint"],
            auth_token_url=openid["token_endpoint"],
            keyset_url=openid["jwks_uri"],
            requested_ip="127.0.0.1",
            requested_with="sandbox seed: dynamic registration as hosted Canvas does it",
        )
    platform = lti_services.platform_approve(platform=platform, approved_by="demo seed")
    admin = SandboxUser.objects.filter(instance=instance, is_account_admin=True).order_by("id").first()
    if admin is None:
        raise ValueError(f"the sandbox instance {HOSTED_SLUG!r} has no account admin: seed it again with --reset")
    launched = sandbox_platform.custom_substitute(instance=instance, user=admin, course=result.course).get(
        "canvas_api_base_url", ""
    )
    lti_services.platform_api_base_url_record(platform=platform, launched=launched)
    platform.refresh_from_db()
    platform.api_token = result.api_token
    platform.save(update_fields=["api_token", "updated_at"])
    return SeedResult(
        instance=instance,
        course=result.course,
        api_token=result.api_token,
        created=result.created,
        platform_id=platform.pk,
        learners=result.learners,
    )
