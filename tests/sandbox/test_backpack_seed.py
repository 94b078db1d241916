"""The demo seed's My badges: a learner with badges from two courses and a program badge in progress."""

import pytest

from badging.models import Award, Program
from badging.selectors.backpack import my_badges_page
from lti.models import Person
from sandbox.models import SandboxCourse
from sandbox.seed.instances import sandbox_seed
from sandbox.seed.tool import BACKPACK_PROGRAM_KEY

pytestmark = pytest.mark.django_db


def test_demo_seeds_a_learner_with_two_courses_of_badges_and_a_program_in_progress(enqueued):
    result = sandbox_seed(learners=4, assessments=2, seed=3, slug="bp", base_url="http://testserver")
    person = Person.objects.filter(platform_id=result.platform_id, awards__isnull=False).distinct().get()
    page = my_badges_page(person=person)
    assert [b.course_name for b in page.badges] == [
        "Spreadsheet Skills — Summer 2026",
        "Statistics Foundations — Spring 2026",
    ]
    assert all(b.award.ob3_credential for b in page.badges)  # signed, as issued awards are
    (program,) = page.programs
    assert program.name == "Data Skills Pathway" and (program.held_count, program.required_count) == (2, 3)
    assert program.award is None
    # The earlier courses are concluded in the sandbox and retired in the tool (never synced again).
    assert set(
        SandboxCourse.objects.filter(course_code__in=["STAT-100", "SHEET-110"]).values_list("workflow_state", flat=True)
    ) == {"completed"}
    assert not any(b.award.course_badge.active for b in page.badges)
    # Seeding again changes nothing.
    sandbox_seed(learners=4, assessments=2, seed=3, slug="bp", base_url="http://testserver")
    assert (
        Award.objects.filter(learner=person).count() == 2
        and Program.objects.filter(key=BACKPACK_PROGRAM_KEY).count() == 1
    )


def test_user_navigation_launch_claims_are_canvas_s(db):
    """A user_navigation launch as Canvas sends it (users_controller.rb external_tool: the User is the
    context; jwt_message.rb add_context_claims!: type = class name; variable_expander.rb: course
    variables stay literal outside a course; NRPS only for courses and groups)."""
    from sandbox import platform as sandbox_platform
    from sandbox.models import SandboxUser

    result = sandbox_seed(learners=2, assessments=1, seed=4, slug="un", register_in_tool=False)
    user = SandboxUser.objects.filter(instance=result.instance, enrollments__type="StudentEnrollment").first()
    claims = sandbox_platform.id_token_claims(
        instance=result.instance, user=user, course=None, nonce="n", target_link_uri="https://tool/lti/launch/"
    )
    lti = "https://purl.imsglobal.org/spec/lti/claim/"
    assert claims[lti + "context"]["type"] == ["User"] and claims[lti + "context"]["title"] == user.name
    assert claims["https://www.instructure.com/placement"] == "user_navigation"
    assert not any("/membership" in role for role in claims[lti + "roles"])
    assert "http://purl.imsglobal.org/vocab/lis/v2/institution/person#Student" in claims[lti + "roles"]
    custom = claims[lti + "custom"]
    assert custom["canvas_course_id"] == "$Canvas.course.id" and custom["canvas_user_id"] == str(user.id)
    assert "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice" not in claims
