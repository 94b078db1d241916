"""factory_boy factories for the models every test area uses."""

import datetime

import factory
from django.utils import timezone

from badging import models as bm
from lti import models as lm


def _badge_png() -> bytes:
    """A small, valid badge image (a filled circle), the way an admin would upload one."""
    import io

    from PIL import Image, ImageDraw

    image = Image.new("RGBA", (120, 120), (0, 0, 0, 0))
    ImageDraw.Draw(image).ellipse((4, 4, 116, 116), fill=(7, 112, 163, 255))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


BADGE_PNG = _badge_png()
PNG_1X1 = BADGE_PNG  # kept for tests that name it


class PlatformFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = lm.Platform

    name = factory.Sequence(lambda n: f"Canvas {n}")
    issuer = "https://canvas.instructure.com"
    client_id = factory.Sequence(lambda n: f"1000000000{n:04d}")
    auth_login_url = "https://sso.canvaslms.com/api/lti/authorize_redirect"
    auth_token_url = factory.Sequence(lambda n: f"https://uni{n}.instructure.com/login/oauth2/token")
    keyset_url = "https://sso.canvaslms.com/api/lti/security/jwks"
    api_base_url = factory.Sequence(lambda n: f"https://uni{n}.instructure.com")
    api_token = "canvas-api-token"


class DeploymentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = lm.Deployment

    platform = factory.SubFactory(PlatformFactory)
    deployment_id = factory.Sequence(lambda n: f"{n}:8865aa05b4b79b64a91a86042e43af5ea8ae79eb")


class CourseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = lm.Course

    platform = factory.SubFactory(PlatformFactory)
    canvas_course_id = factory.Sequence(lambda n: str(100 + n))
    lti_context_id = factory.Sequence(lambda n: f"ctx{n:08x}")
    name = factory.Sequence(lambda n: f"Data Skills {n}")


class PersonFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = lm.Person

    platform = factory.SubFactory(PlatformFactory)
    canvas_user_id = factory.Sequence(lambda n: str(1000 + n))
    lti_sub = factory.Faker("uuid4")
    name = factory.Faker("name")
    sortable_name = factory.LazyAttribute(lambda o: ", ".join(reversed(o.name.split(" ", 1))))
    email = factory.Sequence(lambda n: f"learner{n}@uni.example.edu")


class IssuerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = bm.Issuer

    key = factory.Sequence(lambda n: f"issuer-{n}")
    name = "Skills Forward University"
    url = "https://uni.example.edu"
    email = "badges@uni.example.edu"
    description = "Micro-credentials from the University."


class BadgeClassFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = bm.BadgeClass

    key = factory.Sequence(lambda n: f"badge-{n}")
    issuer = factory.SubFactory(IssuerFactory)
    name = "Data Analysis Fundamentals"
    description = "Cleans, analyses and presents a data set."
    image = BADGE_PNG
    image_content_type = "image/png"
    criteria_narrative = "Master every credentialing assessment and receive a final grade."
    alignments = factory.LazyFunction(
        lambda: [{"targetName": "Data analysis", "targetUrl": "https://skills.example.org/data-analysis"}]
    )
    tags = factory.LazyFunction(lambda: ["data", "analysis"])


class CourseBadgeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = bm.CourseBadge

    key = factory.Sequence(lambda n: f"course-badge-{n}")
    badge_class = factory.SubFactory(BadgeClassFactory)
    course = factory.SubFactory(CourseFactory)


class AssignmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = bm.Assignment

    course = factory.SubFactory(CourseFactory)
    canvas_assignment_id = factory.Sequence(lambda n: str(500 + n))
    name = factory.Sequence(lambda n: f"Credentialing assessment {n}")
    assignment_group_id = "3"
    assignment_group_name = "Credentialing Assessments"
    points_possible = 12
    grading_type = "points"
    rubric = factory.LazyFunction(
        lambda: [
            {
                "id": "_1",
                "description": "Skill A",
                "points": 6.0,
                "ratings": [
                    {"id": "r1", "description": "Meets", "points": 6.0},
                    {"id": "r2", "description": "Not yet", "points": 0.0},
                ],
            },
            {
                "id": "_2",
                "description": "Skill B",
                "points": 6.0,
                "ratings": [
                    {"id": "r3", "description": "Meets", "points": 6.0},
                    {"id": "r4", "description": "Not yet", "points": 0.0},
                ],
            },
        ]
    )


class EnrollmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = bm.Enrollment

    course = factory.SubFactory(CourseFactory)
    learner = factory.SubFactory(PersonFactory)
    canvas_enrollment_id = factory.Sequence(lambda n: str(9000 + n))
    state = "active"


class AssessmentResultFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = bm.AssessmentResult

    assignment = factory.SubFactory(AssignmentFactory)
    course = factory.SelfAttribute("assignment.course")
    learner = factory.SubFactory(PersonFactory)
    workflow_state = "graded"
    score = 12
    graded_at = factory.LazyFunction(timezone.now)
    posted_at = factory.LazyFunction(timezone.now)


class LaunchContextFactory(factory.django.DjangoModelFactory):
    """A launch of the tool: `course` and `person` should share the platform (pass both)."""

    class Meta:
        model = lm.LaunchContext

    course = factory.SubFactory(CourseFactory)
    platform = factory.SelfAttribute("course.platform")
    deployment = factory.SubFactory(DeploymentFactory, platform=factory.SelfAttribute("..platform"))
    person = factory.SubFactory(PersonFactory, platform=factory.SelfAttribute("..platform"))
    role = lm.LaunchContext.ROLE_LEARNER
    email = factory.SelfAttribute("person.email")
    expires_at = factory.LazyFunction(lambda: timezone.now() + datetime.timedelta(hours=8))


class LearnerProgressFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = bm.LearnerProgress

    course_badge = factory.SubFactory(CourseBadgeFactory)
    learner = factory.SubFactory(PersonFactory)
    evaluated_at = factory.LazyFunction(timezone.now)


class AwardFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = bm.Award

    course_badge = factory.SubFactory(CourseBadgeFactory)
    badge_class = factory.SelfAttribute("course_badge.badge_class")
    learner = factory.SubFactory(PersonFactory)
    # An award always names its recipient (a database constraint): a learner built without an email gets one.
    recipient_email = factory.LazyAttribute(
        lambda o: o.learner.email.strip().lower() or f"user{o.learner.canvas_user_id}@uni.example.edu"
    )
    issued_on = factory.LazyFunction(timezone.now)
