"""Every page under /l/<launch_id>/: who may see and do what.

A learner never reaches instructor pages or another learner's award; an instructor of another
course, or of a course with the same id on another Canvas, gets 404 for this course's rows; an
expired or unknown launch id is refused; form tokens are bound to one launch and one action, and
posts from other sites are refused even with a valid token.
"""

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from badging.models import AuditEvent, Award
from badging.views.instructor.access import action_token
from badging.views.learner import share_form_token
from tests.badging.test_dashboard import build_course
from tests.badging.test_instructor_actions import other_launches
from tests.factories import LaunchContextFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def course(enqueued):
    return build_course()


def instructor_urls(launch, s, award):
    badge = s["badge"].pk
    return [
        reverse("badging:instructor_dashboard", args=[launch.public_id]),
        reverse("badging:instructor_learner", args=[launch.public_id, badge, award.learner_id]),
        reverse("badging:instructor_sync", args=[launch.public_id]),
        reverse("badging:instructor_retry", args=[launch.public_id, badge]),
        reverse("badging:instructor_export", args=[launch.public_id, badge]),
        reverse("badging:instructor_revoke", args=[launch.public_id, award.public_id]),
        reverse("badging:instructor_resend", args=[launch.public_id, award.public_id]),
    ]


def test_a_learner_reaches_no_instructor_page_nor_the_csv(client, course):
    learner, _, _ = other_launches(course)
    award = Award.objects.get()
    for target in instructor_urls(learner, course, award):
        response = client.get(target)
        assert response.status_code == 403, target
        assert award.recipient_email not in response.content.decode()
        token = action_token(launch=learner, action="export")
        assert client.post(target, {"token": token}).status_code in (403, 405), target  # 405: a read-only page
    assert not AuditEvent.objects.exists()


def test_expired_and_unknown_launch_ids_are_refused_everywhere(client, course):
    award = Award.objects.get()
    expired = course["launch"]
    expired.expires_at = timezone.now() - timedelta(seconds=1)
    expired.save(update_fields=["expires_at"])
    for target in [reverse("badging:launch_home", args=[expired.public_id]), *instructor_urls(expired, course, award)]:
        assert client.get(target).status_code == 404, target
        assert client.get(target.replace(expired.public_id, "x" * 22)).status_code == 404
        token = action_token(launch=expired, action="revoke")
        assert client.post(target, {"token": token, "reason": "r"}).status_code in (404, 405), target
    assert not Award.objects.get().revoked


def test_the_instructor_pages_of_other_courses_show_none_of_this_course(client, course):
    _, other_course, other_canvas = other_launches(course)
    for launch in (other_course, other_canvas):
        page = client.get(reverse("badging:instructor_dashboard", args=[launch.public_id]))
        html = page.content.decode()
        for person in course["people"].values():
            assert person.name not in html
        assert "ada.primary@uni.example.edu" not in html


def test_a_learner_cannot_change_another_learners_award(client, course):
    award = Award.objects.get()  # Ada's
    bob = LaunchContextFactory(course=course["course"], person=course["people"]["bob"])
    target = reverse("badging:learner_award_share", args=[bob.public_id, award.public_id])
    response = client.post(target, {"token": share_form_token(bob), "show_name": "yes"})
    assert response.status_code == 404
    assert not Award.objects.get().learner_name_public
    page = client.get(reverse("badging:launch_home", args=[bob.public_id])).content.decode()
    assert award.public_id not in page and "ada.primary@uni.example.edu" not in page


def test_form_tokens_are_bound_to_one_launch_and_one_action(client, course):
    award = Award.objects.get()
    launch = course["launch"]
    second = LaunchContextFactory(course=launch.course, person=launch.person, role=launch.role)
    revoke = reverse("badging:instructor_revoke", args=[launch.public_id, award.public_id])
    assert action_token(launch=launch, action="revoke") != action_token(launch=second, action="revoke")
    assert len(action_token(launch=launch, action="revoke")) >= 40
    for token in (
        action_token(launch=launch, action="resend"),  # another action of the same launch
        action_token(launch=second, action="revoke"),  # the same action of another launch
        "",
    ):
        assert client.post(revoke, {"token": token, "reason": "r"}).status_code == 403
    assert not Award.objects.get().revoked


@pytest.mark.parametrize(
    "headers",
    [
        {"HTTP_ORIGIN": "https://evil.example"},
        {"HTTP_ORIGIN": "null"},  # a sandboxed frame or a redirect chain through another site
        {"HTTP_REFERER": "https://evil.example/page"},  # a browser that sends no Origin
    ],
    ids=["other-origin", "null-origin", "other-referer-no-origin"],
)
def test_a_post_from_another_site_is_refused_even_with_a_valid_token(course, headers):
    award = Award.objects.get()
    launch = course["launch"]
    ada = LaunchContextFactory(course=launch.course, person=course["people"]["ada"])
    client = Client()
    revoke = reverse("badging:instructor_revoke", args=[launch.public_id, award.public_id])
    token = action_token(launch=launch, action="revoke")
    assert client.post(revoke, {"token": token, "reason": "r"}, **headers).status_code == 403
    share = reverse("badging:learner_award_share", args=[ada.public_id, award.public_id])
    assert client.post(share, {"token": share_form_token(ada), "show_name": "yes"}, **headers).status_code == 403
    award.refresh_from_db()
    assert not award.revoked and not award.learner_name_public
    # The same posts from our own pages go through.
    own = {"HTTP_ORIGIN": "http://testserver", "HTTP_REFERER": f"http://testserver{revoke}"}
    assert client.post(revoke, {"token": token, "reason": "Issued in error"}, **own).status_code == 302
    assert (
        client.post(
            share, {"token": share_form_token(ada), "show_name": "yes"}, HTTP_REFERER="http://testserver/"
        ).status_code
        == 302
    )


def test_launch_pages_send_no_path_to_other_sites_and_are_not_cached(client, course):
    """The launch id is in every page URL: links out (LinkedIn, issuer, criteria) must not carry it,
    and no shared or back-button cache keeps these personal pages."""
    ada = LaunchContextFactory(course=course["course"], person=course["people"]["ada"])
    for target in (
        reverse("badging:instructor_dashboard", args=[course["launch"].public_id]),
        reverse("badging:launch_home", args=[ada.public_id]),
    ):
        response = client.get(target)
        assert response.status_code == 200
        assert response["Referrer-Policy"] in ("same-origin", "no-referrer", "strict-origin-when-cross-origin")
        assert "no-store" in response["Cache-Control"] and "private" in response["Cache-Control"]
