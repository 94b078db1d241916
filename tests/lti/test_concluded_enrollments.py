"""Concluded enrollments: a learner (or an instructor) whose enrollment ended with the term opens
Badges read-only.

Canvas puts course roles in the roles claim for *current* enrollments only (canvas-lms
lib/lti/substitutions_helper.rb, all_roles: context_roles from course_enrollments, which reads
@context.current_enrollments), so after the term a learner launches with institution/system roles
alone. The tool asks for $Canvas.membership.concludedRoles as a custom field (canvas-lms
lib/lti/variable_expander.rb: register_expansion 'Canvas.membership.concludedRoles' →
lti_helper.concluded_lis_roles, COURSE_GUARD; substitutions_helper.rb concluded_lis_roles joins
Lti::LtiUserCreator::ENROLLMENT_MAP names of @user.enrollments.concluded with ",", or
urn:lti:sysrole:ims/lis/None; gems/lti_outbound/lib/lti_outbound/lti_roles.rb ContextNotNamespaced:
"Learner", "Instructor", "urn:lti:role:ims/lis/TeachingAssistant").
"""

import pytest
from django.test import Client
from django.urls import reverse

from badging.models import AuditEvent, Award
from badging.views.instructor.access import action_token
from badging.views.learner import share_form_token
from lti import config
from lti.models import LaunchContext
from lti.roles import concluded_roles_parse, role_decide
from tests import factories as f
from tests.lti.platform import LIS, LTI

pytestmark = pytest.mark.django_db

# What Canvas sends after the term: no membership role.
AFTER_TERM = [LIS + "institution/person#Student", LIS + "system/person#User"]
AFTER_TERM_TEACHER = [LIS + "institution/person#Instructor", LIS + "system/person#User"]


@pytest.fixture(autouse=True)
def production_like(settings):
    settings.DEBUG = False
    settings.SANDBOX_ENABLED = False


def concluded(value):
    def hook(claims):
        claims[LTI + "custom"] = {**claims[LTI + "custom"], "concluded_roles": value}
        return claims

    return hook


def test_the_tool_configuration_asks_canvas_for_concluded_roles():
    wanted = "$Canvas.membership.concludedRoles"
    assert (
        config.developer_key_json(base_url="https://badges.example.edu")["custom_fields"]["concluded_roles"] == wanted
    )
    registration = config.registration_request(base_url="https://badges.example.edu")
    tool = registration["https://purl.imsglobal.org/spec/lti-tool-configuration"]
    assert tool["custom_parameters"]["concluded_roles"] == wanted


@pytest.mark.parametrize(
    ("value", "role", "ta"),
    [
        ("Learner", "learner", False),
        ("urn:lti:role:ims/lis/Learner", "learner", False),
        ("Instructor", "instructor", False),
        ("urn:lti:role:ims/lis/TeachingAssistant", "instructor", True),
        ("Learner,Instructor", "instructor", False),
    ],
)
def test_concluded_roles_give_the_same_role_read_only(value, role, ta):
    decision = role_decide(AFTER_TERM, concluded_roles=concluded_roles_parse(value))
    assert (decision.role, decision.is_teaching_assistant, decision.concluded) == (role, ta, True)
    # A current course role wins: the person is enrolled again (e.g. retaking the course).
    assert not role_decide([LIS + "membership#Learner"], concluded_roles=concluded_roles_parse(value)).concluded


def test_without_a_concluded_role_the_launch_is_still_refused(canvas):
    response = canvas.launch(Client(), roles=AFTER_TERM, token_hook=concluded("urn:lti:sysrole:ims/lis/None"))
    assert response.status_code == 403
    assert "no_usable_role" in response.content.decode()


def test_a_concluded_learner_sees_their_badge_read_only(canvas):
    client = Client()
    launch = canvas.launch_context(
        client, roles=AFTER_TERM, user_id="42", name="Ana Muller", token_hook=concluded("Learner")
    )
    assert launch.role == LaunchContext.ROLE_LEARNER and launch.concluded
    badge = f.CourseBadgeFactory(course=launch.course, badge_class__name="Data Skills Practitioner")
    f.EnrollmentFactory(course=launch.course, learner=launch.person, state="completed", override_score=91)
    award = f.AwardFactory(course_badge=badge, learner=launch.person)
    page = client.get(reverse("badging:launch_home", args=[launch.public_id]))
    html = page.content.decode()
    assert page.status_code == 200
    assert "You have earned this badge." in html and "Data Skills Practitioner" in html
    assert "this page is read-only" in html
    assert "Save my choice" not in html and "Add to a digital wallet" not in html
    share = reverse("badging:learner_award_share", args=[launch.public_id, award.public_id])
    response = client.post(share, {"token": share_form_token(launch), "show_name": "yes"})
    assert response.status_code == 403
    assert not Award.objects.get().learner_name_public


def test_a_concluded_instructor_sees_the_dashboard_read_only(canvas, enqueued):
    client = Client()
    launch = canvas.launch_context(
        client, roles=AFTER_TERM_TEACHER, user_id="7", name="Grace Teacher", token_hook=concluded("Instructor")
    )
    assert launch.role == LaunchContext.ROLE_INSTRUCTOR and launch.concluded
    badge = f.CourseBadgeFactory(course=launch.course)
    learner = f.PersonFactory(platform=launch.platform)
    f.LearnerProgressFactory(course_badge=badge, learner=learner, state="issued")
    award = f.AwardFactory(course_badge=badge, learner=learner)
    dashboard = client.get(reverse("badging:instructor_dashboard", args=[launch.public_id]))
    html = dashboard.content.decode()
    assert dashboard.status_code == 200
    assert "Concluded course: read-only" in html and "has concluded" in html
    assert "Sync now" not in html
    for name, args, action in [
        ("instructor_sync", [], "sync"),
        ("instructor_revoke", [award.public_id], "revoke"),
    ]:
        target = reverse(f"badging:{name}", args=[launch.public_id, *args])
        assert (
            client.post(target, {"token": action_token(launch=launch, action=action), "reason": "x"}).status_code == 403
        )
    assert not enqueued
    assert not Award.objects.get().revoked and not AuditEvent.objects.exists()
