"""The learner page at /l/<launch_id>/: what each learner sees, and nothing of anyone else."""

import datetime
import re
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from badging.models import AuditEvent, Award, LearnerProgress
from badging.views.learner import share_form_token
from tests import factories as f

pytestmark = pytest.mark.django_db


def text_of(response) -> str:
    """The page as a person reads it: tags dropped, whitespace collapsed."""
    html = response.content.decode()
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


@pytest.fixture
def course_setup():
    """A course with one badge over two credentialing assessments (12 points, 80% = 9.6) and a learner."""
    course = f.CourseFactory(name="Data Skills 101")
    course_badge = f.CourseBadgeFactory(course=course, badge_class__name="Data Analysis Fundamentals")
    a1 = f.AssignmentFactory(course=course, name="Clean a data set", position=1)
    a2 = f.AssignmentFactory(course=course, name="Present findings", position=2)
    f.AssignmentFactory(course=course, name="Weekly quiz", assignment_group_name="Quizzes", position=3)
    learner = f.PersonFactory(platform=course.platform, name="Ada Learner", email="ada@uni.example.edu")
    f.EnrollmentFactory(course=course, learner=learner, state="active")
    launch = f.LaunchContextFactory(course=course, person=learner)
    return {"course": course, "course_badge": course_badge, "a1": a1, "a2": a2, "learner": learner, "launch": launch}


def page(client, launch):
    response = client.get(reverse("badging:launch_home", args=[launch.public_id]))
    assert response.status_code == 200
    return response


def test_not_started_shows_the_rule_from_canvas(client, course_setup):
    text = text_of(page(client, course_setup["launch"]))
    assert "Data Analysis Fundamentals" in text
    assert "Not started" in text
    assert "Master all 2 credentialing assessments" in text
    assert "at least 80% (9.6 of 12 points)" in text
    assert "Clean a data set" in text and "Present findings" in text
    assert "Weekly quiz" not in text  # not in the credentialing group
    assert text.count("Not submitted") == 2
    # The rubric criteria and ratings of each assessment
    assert "Skill A" in text and "Meets 6 pts" in text and "Not yet 0 pts" in text
    assert "Final grade not entered yet" in text
    assert "the badge is issued only once your instructor has entered your final grade" in text
    assert "ada@uni.example.edu" in text
    assert "Ways to Contact" in text and "Badgr / Canvas Credentials" in text
    assert "Issued by Skills Forward University" in text
    assert "Data analysis" in text  # the skill (alignment)
