"""Launches from Canvas's account and user navigation ("My badges"): no course, own badges only.

Canvas sources relied on:
- doc/api/navigation_tools.md: account_navigation and user_navigation placements "do not provide
  any course or resource level context in the Launch"; user_navigation is configured on the root
  account and shows in every user's Account tray; account_navigation shows to account admins.
- app/controllers/users_controller.rb `external_tool`: a user_navigation launch sets
  `@context = @current_user`; lib/lti/messages/jwt_message.rb `add_context_claims!` then sends
  context.id = the user's opaque id, title = name, type = [the class name, "User"] (an Account for
  account_navigation); `add_roles_claims!` expands the person's roles, with no course membership.
- lib/lti/variable_expander.rb: course variables ($Canvas.course.id, concludedRoles) have a course
  guard and stay unexpanded (the literal string) outside a course.
"""

import pytest
from django.db import IntegrityError
from django.urls import reverse

from lti import config
from lti.models import Course, LaunchContext, Person
from tests import factories as f
from tests.lti.platform import DROP, LIS, LTI, STUDENT_VIEW, SYSTEM_USER

pytestmark = pytest.mark.django_db

STUDENT_OUTSIDE_COURSE = [LIS + "institution/person#Student", SYSTEM_USER]
ADMIN_OUTSIDE_COURSE = [LIS + "institution/person#Administrator", LIS + "system/person#SysAdmin", SYSTEM_USER]


def navigation_claims(canvas, *, placement: str, context_type: str, user_id: str = "42") -> dict:
    return {
        LTI + "context": {"id": f"opaque-{context_type}-{user_id}", "title": "Ada Lovelace", "type": [context_type]},
        LTI + "resource_link": {"id": f"opaque-{context_type}-{user_id}", "title": "My badges"},
        LTI + "custom": {
            "canvas_user_id": user_id,
            "canvas_course_id": "$Canvas.course.id",
            "concluded_roles": "$Canvas.membership.concludedRoles",
            "canvas_api_base_url": canvas.api_base_url,
            "email": "ada@uni.example.edu",
        },
        "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice": DROP,
        "https://www.instructure.com/placement": placement,
    }


def my_badges_launch(client, canvas, *, user_id: str = "42", **kwargs):
    roles = kwargs.pop("roles", STUDENT_OUTSIDE_COURSE)
    claims = navigation_claims(canvas, user_id=user_id, **kwargs)
    return canvas.launch(client, roles=roles, claims=claims, user_id=user_id, seed_jwks=False)


@pytest.mark.parametrize(
    "placement,context_type,roles",
    [
        ("user_navigation", "User", STUDENT_OUTSIDE_COURSE),
        ("account_navigation", "Account", ADMIN_OUTSIDE_COURSE),
    ],
)
def test_navigation_launch_opens_my_badges_without_a_course(client, canvas, placement, context_type, roles):
    response = my_badges_launch(client, canvas, placement=placement, context_type=context_type, roles=roles)
    assert response.status_code == 302, response.content.decode()[:500]
    launch = LaunchContext.objects.get()
    assert response["Location"] == f"/l/{launch.public_id}/my-badges/"
    assert launch.course is None and launch.is_backpack and launch.role == "learner"
    assert launch.person.canvas_user_id == "42" and launch.person.email == "ada@uni.example.edu"
    assert not Course.objects.exists()  # a user or account context is not a course
    assert client.get(response["Location"], secure=True).status_code == 200


def test_without_the_placement_claim_the_user_context_still_means_no_course(client, canvas):
    claims = navigation_claims(canvas, placement="user_navigation", context_type="User")
    claims["https://www.instructure.com/placement"] = DROP
    response = canvas.launch(client, roles=STUDENT_OUTSIDE_COURSE, claims=claims, seed_jwks=False)
    assert response.status_code == 302 and response["Location"].endswith("/my-badges/")


def test_the_same_person_from_a_course_and_from_the_account_menu(client, canvas):
    course_launch = canvas.launch(client, user_id="42", course_id="7", seed_jwks=False)
    assert course_launch.status_code == 302
    assert my_badges_launch(client, canvas, placement="user_navigation", context_type="User").status_code == 302
    assert Person.objects.count() == 1
    assert LaunchContext.objects.filter(course__isnull=True).count() == 1


def test_student_view_outside_a_course_is_refused(client, canvas):
    response = my_badges_launch(client, canvas, placement="user_navigation", context_type="User", roles=STUDENT_VIEW)
    assert response.status_code == 403
    assert not LaunchContext.objects.exists()


def test_a_launch_without_a_course_is_always_a_learners(db):
    launch = f.LaunchContextFactory(course=None, platform=f.PlatformFactory())
    launch.role = LaunchContext.ROLE_INSTRUCTOR
    with pytest.raises(IntegrityError):
        launch.save()


def test_developer_key_and_dynamic_registration_offer_my_badges(settings):
    key = config.developer_key_json(base_url="https://badges.example.edu")
    placements = {p["placement"]: p for p in key["extensions"][0]["settings"]["placements"]}
    assert set(placements) == {"course_navigation", "account_navigation", "user_navigation"}
    for name in ("account_navigation", "user_navigation"):
        assert placements[name]["text"] == "My badges" and placements[name]["enabled"] is True
        assert placements[name]["target_link_uri"] == "https://badges.example.edu" + reverse("lti:launch")
        assert placements[name]["message_type"] == "LtiResourceLinkRequest"
    request = config.registration_request(base_url="https://badges.example.edu")
    messages = request["https://purl.imsglobal.org/spec/lti-tool-configuration"]["messages"]
    assert [m["placements"] for m in messages] == [["course_navigation"], ["account_navigation", "user_navigation"]]
    assert messages[1]["label"] == "My badges"
