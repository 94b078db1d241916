"""Power in a course comes from the course (context) roles only, and teaching assistants are
read-only unless the course badge lets them act.

Canvas puts the course roles of the launching user's *current* enrollments in the roles claim next
to their institution and system roles (canvas-lms lib/lti/substitutions_helper.rb, all_roles:
context_roles from course_enrollments = @context.current_enrollments; institution_roles from
@user.roles(@root_account); LIS_V2_LTI_ADVANTAGE_ROLE_MAP: AccountUser →
institution/person#Administrator, TaEnrollment → membership/Instructor#TeachingAssistant plus
membership#Instructor). An account administrator who is a student in a course therefore arrives
with institution/person#Administrator *and* membership#Learner: in that course they are a learner.
"""

import pytest
from django.test import Client
from django.urls import reverse

from badging.models import AuditEvent, Award, CourseBadge
from badging.services.config import config_export, config_import
from badging.views.instructor.access import action_token
from lti.models import LaunchContext
from lti.roles import role_decide
from tests.badging.test_dashboard import build_course
from tests.factories import LaunchContextFactory, PersonFactory
from tests.lti.platform import LEARNER, LIS, TEACHING_ASSISTANT, FakeCanvas

pytestmark = pytest.mark.django_db

INSTITUTION_ADMIN_AS_STUDENT = [
    LIS + "institution/person#Administrator",
    LIS + "institution/person#Student",
    LIS + "membership#Learner",
    LIS + "system/person#User",
]


@pytest.fixture(autouse=True)
def production_like(settings):
    settings.DEBUG = False
    settings.SANDBOX_ENABLED = False


@pytest.fixture
def course(enqueued):
    return build_course()


def test_an_institution_administrator_enrolled_as_a_student_is_a_learner_in_that_course():
    decision = role_decide(INSTITUTION_ADMIN_AS_STUDENT)
    assert decision.role == "learner"
    canvas = FakeCanvas()
    canvas.register()
    client = Client()
    launch = canvas.launch_context(client, roles=INSTITUTION_ADMIN_AS_STUDENT, user_id="77")
    assert launch.role == LaunchContext.ROLE_LEARNER
    dashboard = client.get(reverse("badging:instructor_dashboard", args=[launch.public_id]))
    assert dashboard.status_code == 403
    # A plain learner is still a learner; an administrator with no role in the course keeps the admin view.
    assert role_decide(LEARNER).role == "learner"
    assert role_decide([LIS + "institution/person#Administrator"]).role == "admin"


def ta_launch(course):
    ta = PersonFactory(platform=course["course"].platform, name="Tara Assistant", canvas_user_id="3")
    return LaunchContextFactory(
        course=course["course"],
        person=ta,
        role=LaunchContext.ROLE_INSTRUCTOR,
        is_teaching_assistant=True,
        roles=TEACHING_ASSISTANT,
    )


def action_urls(launch, course, award):
    badge = course["badge"].pk
    return {
        "sync": reverse("badging:instructor_sync", args=[launch.public_id]),
        "retry": reverse("badging:instructor_retry", args=[launch.public_id, badge]),
        "revoke": reverse("badging:instructor_revoke", args=[launch.public_id, award.public_id]),
        "resend": reverse("badging:instructor_resend", args=[launch.public_id, award.public_id]),
        "keep": reverse("badging:instructor_keep", args=[launch.public_id, award.public_id]),
    }


def test_a_teaching_assistant_is_read_only_by_default_and_is_told_so(course):
    assert role_decide(TEACHING_ASSISTANT).is_teaching_assistant
    launch = ta_launch(course)
    award = Award.objects.get()
    client = Client()
    dashboard = client.get(reverse("badging:instructor_dashboard", args=[launch.public_id]))
    html = dashboard.content.decode()
    assert dashboard.status_code == 200
    assert "Read-only" in html and "teaching assistant" in html
    assert "Sync now" not in html and "Retry failed" not in html
    assert reverse("badging:instructor_learner", args=[launch.public_id, course["badge"].pk, award.learner_id]) in html
    detail = client.get(
        reverse("badging:instructor_learner", args=[launch.public_id, course["badge"].pk, award.learner_id])
    )
    assert "Revoke…" not in detail.content.decode()
    for action, target in action_urls(launch, course, award).items():
        assert client.get(target).status_code == 403, action
        token = action_token(launch=launch, action=action)
        assert client.post(target, {"token": token, "reason": "testing"}).status_code == 403, action
    assert not Award.objects.get().revoked
    assert not AuditEvent.objects.exists()
    # Reading stays open: the CSV export.
    export = reverse("badging:instructor_export", args=[launch.public_id, course["badge"].pk])
    assert client.post(export, {"token": action_token(launch=launch, action="export")}).status_code == 200


def test_a_course_badge_can_let_teaching_assistants_act(course):
    CourseBadge.objects.filter(pk=course["badge"].pk).update(teaching_assistants_may_act=True)
    launch = ta_launch(course)
    award = Award.objects.get()
    client = Client()
    html = client.get(reverse("badging:instructor_dashboard", args=[launch.public_id])).content.decode()
    assert "Read-only" not in html and "Sync now" in html
    assert "this badge lets teaching assistants act" in html
    target = action_urls(launch, course, award)["revoke"]
    response = client.post(target, {"token": action_token(launch=launch, action="revoke"), "reason": "Copied work"})
    assert response.status_code == 302
    assert Award.objects.get().revoked


def test_the_switch_travels_through_config_export_and_import(course, tmp_path):
    CourseBadge.objects.filter(pk=course["badge"].pk).update(teaching_assistants_may_act=True)
    exported = config_export()
    entry = next(cb for cb in exported["course_badges"] if cb["key"] == course["badge"].key)
    assert entry["teaching_assistants_may_act"] is True
    entry["teaching_assistants_may_act"] = False
    config_import(data={"course_badges": [entry]}, base_dir=tmp_path)
    assert CourseBadge.objects.get(pk=course["badge"].pk).teaching_assistants_may_act is False


def test_the_switch_is_in_the_admin_form():
    from badging.admin.badge_classes import CourseBadgeForm

    assert "teaching_assistants_may_act" in CourseBadgeForm().fields
