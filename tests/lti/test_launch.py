"""The real OIDC login → launch round trip through pylti1p3, for each kind of Canvas user."""

import pytest
from django.contrib.sessions.models import Session
from django.utils import timezone

from lti.models import Course, LaunchContext, Person
from tests.factories import PersonFactory
from tests.lti.platform import (
    ADMIN,
    INSTRUCTOR,
    LEARNER,
    LIS,
    LTI,
    STUDENT_VIEW,
    TEACHING_ASSISTANT,
    FakeCanvas,
)

pytestmark = pytest.mark.django_db


def test_login_redirects_to_the_platform_with_iframe_cookies(client, canvas):
    response, state, nonce = canvas.login(client)

    assert response.status_code == 302
    assert response["Location"].startswith(canvas.auth_login_url + "?")
    assert "redirect_uri=https%3A%2F%2Ftestserver%2Flti%2Flaunch%2F" in response["Location"]
    assert "client_id=" + canvas.client_id in response["Location"]
    assert "lti_message_hint=a-message-hint" in response["Location"]
    assert state and nonce
    state_cookie = response.cookies[f"lti1p3-{state}"]
    assert state_cookie.value == state
    # Inside the Canvas iframe the cookie must be sendable cross-site.
    assert state_cookie["samesite"] == "None" and state_cookie["secure"] and state_cookie["httponly"]
    assert response.cookies["lti1p3-session-id"]["samesite"] == "None"


def test_learner_launch_records_course_person_and_context(client, canvas):
    response = canvas.launch(client, roles=LEARNER, user_id="42", course_id="7", seed_jwks=False)

    assert response.status_code == 302
    ctx = LaunchContext.objects.get()
    assert response["Location"] == f"/l/{ctx.public_id}/"
    assert ctx.role == "learner" and not ctx.is_test_user and not ctx.is_teaching_assistant
    assert ctx.platform == canvas.platform
    assert ctx.deployment.deployment_id == canvas.deployment_id
    assert ctx.course.canvas_course_id == "7" and ctx.course.name == "Data Skills 7"
    assert ctx.course.course_code == "DATA7"
    assert ctx.person.canvas_user_id == "42" and ctx.person.name == "Ada Lovelace"
    assert ctx.person.sortable_name == "Lovelace, Ada"
    assert ctx.person.email == "ada@uni.example.edu" and ctx.person.email_read_at is not None
    assert ctx.email == "ada@uni.example.edu"
    assert LIS + "membership#Learner" in ctx.roles
    hours = (ctx.expires_at - timezone.now()).total_seconds() / 3600
    assert 7.9 < hours <= 8
    assert canvas.jwks_requests == 1
    # The launch home answers for this context.
    assert client.get(response["Location"], secure=True).status_code == 200


@pytest.mark.parametrize(
    ("roles", "role", "is_ta", "is_test_user"),
    [
        (INSTRUCTOR, "instructor", False, False),
        (TEACHING_ASSISTANT, "instructor", True, False),
        (ADMIN, "admin", False, False),
        (STUDENT_VIEW, "learner", False, True),
    ],
    ids=["teacher", "teaching-assistant", "admin", "student-view"],
)
def test_role_of_each_kind_of_canvas_user(client, canvas, roles, role, is_ta, is_test_user):
    ctx = canvas.launch_context(client, roles=roles, seed_jwks=False)

    assert ctx.role == role
    assert ctx.is_teaching_assistant is is_ta
    assert ctx.is_test_user is is_test_user
    assert ctx.is_instructor is (role in ("instructor", "admin"))


def test_faculty_enrolled_as_a_student_is_a_learner_here(client, canvas):
    """An institution Instructor role says nothing about this course: the membership role decides."""
    roles = [LIS + "institution/person#Instructor", LIS + "membership#Learner"]
    assert canvas.launch_context(client, roles=roles, seed_jwks=False).role == "learner"


def test_second_launch_updates_the_same_rows(client, canvas):
    canvas.launch_context(client, user_id="42", course_id="7", email="old@uni.example.edu", seed_jwks=False)
    canvas.launch_context(client, user_id="42", course_id="7", email="New@Uni.example.edu", name="Ada King")

    assert Course.objects.count() == 1 and Person.objects.count() == 1
    person = Person.objects.get()
    assert person.email == "new@uni.example.edu" and person.name == "Ada King"
    assert LaunchContext.objects.count() == 2


def test_launch_finds_the_person_a_sync_created(client, canvas):
    synced = PersonFactory(platform=canvas.platform, canvas_user_id="42", lti_sub="", email="ada@uni.example.edu")

    ctx = canvas.launch_context(client, user_id="42", seed_jwks=False)

    assert ctx.person == synced
    synced.refresh_from_db()
    assert synced.lti_sub == f"sub-42-{canvas.client_id}"


def test_unsubstituted_custom_values_fall_back_to_known_rows(client, canvas):
    """Canvas sends "$Canvas.user.id" literally when it cannot substitute it."""
    canvas.launch_context(client, user_id="42", course_id="7", seed_jwks=False)

    def unsubstituted(body):
        body[LTI + "custom"] = {
            "canvas_user_id": "$Canvas.user.id",
            "canvas_course_id": "$Canvas.course.id",
            "email": "$Person.email.primary",
        }
        return body

    ctx = canvas.launch_context(client, user_id="42", course_id="7", token_hook=unsubstituted)

    assert ctx.person.canvas_user_id == "42" and ctx.course.canvas_course_id == "7"
    assert ctx.email == "ada@uni.example.edu"  # the standard email claim


def test_unsubstituted_user_id_for_an_unknown_person_is_refused(client, canvas):
    response = canvas.launch(
        client, seed_jwks=False, claims={LTI + "custom": {"canvas_user_id": "$Canvas.user.id", "canvas_course_id": "7"}}
    )

    assert response.status_code == 400
    assert b"Badges could not tell who you are" in response.content
    assert not LaunchContext.objects.exists() and not Person.objects.exists()


def test_observer_has_no_badges_page(client, canvas):
    response = canvas.launch(client, roles=[LIS + "membership#Mentor"], seed_jwks=False)

    assert response.status_code == 403
    assert b"Badges is for learners and instructors" in response.content
    assert not LaunchContext.objects.exists()


def test_state_cookie_is_dropped_after_a_successful_launch(client, canvas):
    response = canvas.launch(client, seed_jwks=False)

    assert response.cookies[f"lti1p3-{canvas.last_state}"].value == ""
    assert not Session.objects.exists()


def test_aud_may_list_several_audiences_when_azp_names_us(client, canvas):
    ctx = canvas.launch_context(
        client, seed_jwks=False, claims={"aud": ["someone-else", canvas.client_id], "azp": canvas.client_id}
    )
    assert ctx.platform == canvas.platform


def test_two_registrations_with_the_same_issuer_stay_isolated(client, rsps):
    """Canvas cloud: one issuer, a client_id per institution. Same user and course ids, different rows."""
    a, b = FakeCanvas(), FakeCanvas()
    for platform in (a, b):
        platform.register()
        platform.serve_jwks(rsps)
    assert a.issuer == b.issuer and a.client_id != b.client_id

    ctx_a = a.launch_context(client, user_id="42", course_id="7", name="Ada Lovelace", seed_jwks=False)
    ctx_b = b.launch_context(client, user_id="42", course_id="7", name="Bea Other", seed_jwks=False)

    assert ctx_a.platform == a.platform and ctx_b.platform == b.platform
    assert ctx_a.course != ctx_b.course and ctx_a.person != ctx_b.person
    assert ctx_b.person.name == "Bea Other"
    assert a.jwks_requests == 1 and b.jwks_requests == 1

    # A token signed by B but addressed to A's client_id is refused: A trusts only A's keys.
    _, state, nonce = a.login(client)
    body = a.claims(nonce=nonce, roles=LEARNER)
    response = a.post_launch(client, state=state, id_token=b.sign(body))
    assert response.status_code == 403
    assert LaunchContext.objects.count() == 2


def test_new_deployment_is_recorded_when_the_platform_accepts_them(client, canvas):
    canvas.platform.accept_new_deployments = True
    canvas.platform.save()

    ctx = canvas.launch_context(client, seed_jwks=False, claims={LTI + "deployment_id": "9:new-deployment"})

    assert ctx.deployment.deployment_id == "9:new-deployment"
    assert canvas.platform.deployments.count() == 2


def test_api_base_url_is_learned_from_a_signed_launch(client, canvas):
    canvas.platform.api_base_url = ""
    canvas.platform.save()

    canvas.launch_context(client, seed_jwks=False)

    canvas.platform.refresh_from_db()
    assert canvas.platform.api_base_url == canvas.api_base_url


def test_seeded_jwks_needs_no_http(client, db):
    """How other areas launch: keys seeded into the tool's cache, no HTTP mock needed."""
    canvas = FakeCanvas()
    canvas.register()
    ctx = canvas.launch_context(client, roles=INSTRUCTOR)
    assert ctx.role == "instructor"


def test_launch_without_a_known_course_is_refused(client, canvas):
    custom = {"canvas_user_id": "42", "canvas_course_id": "$Canvas.course.id"}
    response = canvas.launch(client, seed_jwks=False, claims={LTI + "custom": custom})

    assert response.status_code == 400
    assert b"Badges must be opened from a course" in response.content
    assert not LaunchContext.objects.exists() and not Course.objects.exists()


def test_login_initiated_by_a_form_post_as_canvas_does(client, canvas):
    """Canvas starts the OIDC login with an auto-submitted form POST, not a GET."""
    params = {
        "iss": canvas.issuer,
        "login_hint": "a-login-hint",
        "target_link_uri": "https://testserver/lti/launch/",
        "lti_message_hint": "a-message-hint",
        "client_id": canvas.client_id,
        "lti_deployment_id": canvas.deployment_id,
        "lti_storage_target": "post_message_forwarding",
    }
    response = client.post("/lti/login/", params, secure=True)

    assert response.status_code == 302
    assert response["Location"].startswith(canvas.auth_login_url + "?")
    assert "login_hint=a-login-hint" in response["Location"]
    state = response["Location"].split("state=", 1)[1].split("&", 1)[0]
    assert response.cookies[f"lti1p3-{state}"]["samesite"] == "None"
