"""What the seed sets up in the tool for a seeded sandbox: the platform registration, the demo's
issuer, badge class and course badges, and the My badges demo (earlier courses' awards and a program)."""

import base64
import io
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.utils import timezone
from PIL import Image, ImageDraw, ImageFont

from sandbox.models import SandboxAssignment, SandboxCourse, SandboxInstance, SandboxUser
from sandbox.seed.course import CREDENTIALING_GROUP
from sandbox.services.people import enrollment_create


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


def tool_register(*, instance: SandboxInstance, api_token: str) -> int | None:
    """Registers this sandbox as a Canvas platform in the tool (lti.services.platforms.platform_upsert)."""
    from lti.services.platforms import platform_upsert

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
            enrollment_create(course=past, user=learner, workflow_state="completed")
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
