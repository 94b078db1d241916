"""Instructor actions: each has a confirm step, needs its form's launch-bound token, is refused to learners and to
instructors of other courses or Canvas instances, and leaves an AuditEvent."""

import csv
import io
import re

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from badging.models import AuditEvent, Award, Delivery, LearnerProgress
from badging.views.instructor.access import action_token
from lti.models import LaunchContext
from tests.badging.test_dashboard import build_course
from tests.factories import CourseFactory, LaunchContextFactory, PersonFactory, PlatformFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def course():
    return build_course()


@pytest.fixture
def strict_client():
    """Django's own CSRF checks enforced, as in production: the launch-bound form token must suffice."""
    return Client(enforce_csrf_checks=True)


def form_token(html: str) -> str:
    match = re.search(r'name="token" value="([0-9a-f]+)"', html)
    assert match, "the confirm form carries no token"
    return match.group(1)


def confirm_and_post(client, url, data=None):
    """What a person does: open the confirm page, then press its button (the form carries the token)."""
    page = client.get(url)
    assert page.status_code == 200, page.content[:500]
    html = page.content.decode()
    assert '<form method="post"' in html
    return client.post(url, {"token": form_token(html), **(data or {})})


def url(name, launch, *args):
    return reverse(f"badging:{name}", args=[launch.public_id, *args])


def other_launches(s):
    """A learner of this course; an instructor of another course on the same Canvas; and an
    instructor of a course with the same Canvas course id on another Canvas instance."""
    course = s["course"]
    learner = LaunchContextFactory(course=course, person=s["people"]["bob"])
    other_course = LaunchContextFactory(
        course=CourseFactory(platform=course.platform), role=LaunchContext.ROLE_INSTRUCTOR
    )
    other_platform = PlatformFactory()
    other_canvas = LaunchContextFactory(
        course=CourseFactory(platform=other_platform, canvas_course_id=course.canvas_course_id),
        person=PersonFactory(platform=other_platform, canvas_user_id=s["launch"].person.canvas_user_id),
        role=LaunchContext.ROLE_INSTRUCTOR,
    )
    return learner, other_course, other_canvas


# --- Sync now -------------------------------------------------------------------------------------


def test_sync_now_confirm_then_enqueue_after_commit(
    strict_client, course, enqueued, django_capture_on_commit_callbacks
):
    launch = course["launch"]
    with django_capture_on_commit_callbacks(execute=True):
        response = confirm_and_post(strict_client, url("instructor_sync", launch))
    assert response.status_code == 302
    assert "done=sync" in response["Location"]
    assert enqueued.names == ["badging.course_sync"]
    assert enqueued[-1].kwargs["course_id"] == course["course"].pk
    event = AuditEvent.objects.get(action="instructor.sync_requested")
    assert event.actor_person == launch.person
    assert event.course == course["course"]
    assert event.actor == "Tess Teacher (Canvas user 2, instructor)"
    page = strict_client.get(response["Location"]).content.decode()
    assert "Sync requested." in page
    assert "Tess Teacher (Canvas user 2, instructor) asked for a sync" in page


def test_the_confirm_page_alone_does_nothing(client, course, enqueued):
    response = client.get(url("instructor_sync", course["launch"]))
    assert "Sync with Canvas now?" in response.content.decode()
    assert not AuditEvent.objects.exists()
    assert not enqueued


def action_urls(launch, s, award):
    return [
        url("instructor_sync", launch),
        url("instructor_retry", launch, s["badge"].pk),
        url("instructor_revoke", launch, award.public_id),
        url("instructor_resend", launch, award.public_id),
        url("instructor_keep", launch, award.public_id),
        url("instructor_export", launch, s["badge"].pk),
    ]


def test_actions_without_the_form_token_are_refused(client, course, enqueued):
    launch = course["launch"]
    Award.objects.update(needs_review=True, review_reason="a grade changed")  # so "keep" offers its form
    award = Award.objects.get()
    other_teacher = LaunchContextFactory(course=course["course"], role=LaunchContext.ROLE_INSTRUCTOR)
    sync_token = form_token(client.get(url("instructor_sync", launch)).content.decode())
    for target in action_urls(launch, course, award):
        # No token; the token of another action; the token of another launch of the same course.
        assert client.post(target, {"reason": "cheating"}).status_code == 403, target
        if "/sync/" not in target:
            assert client.post(target, {"reason": "cheating", "token": sync_token}).status_code == 403, target
        stolen = form_token(client.get(target.replace(launch.public_id, other_teacher.public_id)).content.decode())
        assert client.post(target, {"reason": "cheating", "token": stolen}).status_code == 403, target
    assert not AuditEvent.objects.exists()
    assert not Award.objects.get().revoked and Award.objects.get().needs_review
    assert not enqueued


def test_a_post_from_another_site_is_refused_even_with_the_token(client, course, enqueued):
    target = url("instructor_sync", course["launch"])
    token = form_token(client.get(target).content.decode())
    response = client.post(target, {"token": token}, headers={"Origin": "https://evil.example"})
    assert response.status_code == 403
    assert "This form cannot be used" in response.content.decode()
    response = client.post(target, {"token": token}, headers={"Origin": "http://testserver"})
    assert response.status_code == 302
    assert AuditEvent.objects.count() == 1


def test_actions_need_no_cookie(course, enqueued):
    """Inside Canvas's iframe the browser may send no cookie at all: the actions still work."""
    target = url("instructor_sync", course["launch"])
    token = form_token(Client().get(target).content.decode())
    response = Client(enforce_csrf_checks=True).post(target, {"token": token})
    assert response.status_code == 302
    assert AuditEvent.objects.get().action == "instructor.sync_requested"


def test_a_learner_cannot_use_any_action(client, course, enqueued):
    learner, _, _ = other_launches(course)
    award = Award.objects.get()
    for target in (
        url("instructor_sync", learner),
        url("instructor_retry", learner, course["badge"].pk),
        url("instructor_revoke", learner, award.public_id),
        url("instructor_resend", learner, award.public_id),
        url("instructor_keep", learner, award.public_id),
        url("instructor_export", learner, course["badge"].pk),
    ):
        assert client.get(target).status_code == 403, target
        assert client.post(target, {"reason": "x"}).status_code == 403, target
    assert not AuditEvent.objects.exists()
    assert not Award.objects.get().revoked
    assert not enqueued


def test_instructors_of_another_course_or_canvas_cannot_act_on_this_one(client, course, enqueued):
    _, other_course, other_canvas = other_launches(course)
    award = Award.objects.get()
    for launch in (other_course, other_canvas):
        for action, target in (
            ("retry", url("instructor_retry", launch, course["badge"].pk)),
            ("revoke", url("instructor_revoke", launch, award.public_id)),
            ("resend", url("instructor_resend", launch, award.public_id)),
            ("keep", url("instructor_keep", launch, award.public_id)),
            ("export", url("instructor_export", launch, course["badge"].pk)),
            ("", url("instructor_learner", launch, course["badge"].pk, award.learner_id)),
        ):
            assert client.get(target).status_code == 404, target
            # Even with a genuine token of their own launch, this course's rows are not found.
            if action:
                token = action_token(launch=launch, action=action)
                assert client.post(target, {"reason": "x", "token": token}).status_code == 404, target
    assert not Award.objects.get().revoked
    assert not AuditEvent.objects.exists()
    assert not enqueued


def test_sync_from_another_course_syncs_only_that_course(client, course, enqueued, django_capture_on_commit_callbacks):
    _, other_course, _ = other_launches(course)
    with django_capture_on_commit_callbacks(execute=True):
        confirm_and_post(client, url("instructor_sync", other_course))
    assert enqueued[-1].kwargs["course_id"] == other_course.course_id
    assert AuditEvent.objects.get().course_id == other_course.course_id


# --- Retry failed issuing -------------------------------------------------------------------------


def test_retry_failed_requeues_now(strict_client, course, enqueued, django_capture_on_commit_callbacks):
    fay = LearnerProgress.objects.get(learner=course["people"]["fay"])
    fay.issue_next_attempt_at = timezone.now() + timezone.timedelta(hours=3)
    fay.save()
    target = url("instructor_retry", course["launch"], course["badge"].pk)
    assert (
        "1 learner earned “Data Analysis Fundamentals” but issuing failed" in strict_client.get(target).content.decode()
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = confirm_and_post(strict_client, target)
    assert response.status_code == 302
    fay.refresh_from_db()
    assert fay.issue_status == LearnerProgress.ISSUE_QUEUED
    assert enqueued[-1].name == "badging.award_issue_batch"
    assert fay.pk in enqueued[-1].args[0]
    event = AuditEvent.objects.get(action="instructor.issuance_retried")
    assert event.detail["failed"] == 1
    assert event.actor_person == course["launch"].person


def test_retry_with_nothing_failed_offers_no_button(client, course):
    LearnerProgress.objects.filter(issue_status=LearnerProgress.ISSUE_FAILED).update(issue_status="")
    html = client.get(url("instructor_retry", course["launch"], course["badge"].pk)).content.decode()
    assert "nothing to retry" in html
    assert "<form" not in html


# --- Revoke ---------------------------------------------------------------------------------------


def test_revoke_needs_a_reason(strict_client, course):
    award = Award.objects.get()
    response = confirm_and_post(
        strict_client, url("instructor_revoke", course["launch"], award.public_id), {"reason": " "}
    )
    assert response.status_code == 400
    assert "Give a reason" in response.content.decode()
    assert not Award.objects.get().revoked
    assert not AuditEvent.objects.exists()


def test_revoke_service_refuses_a_blank_reason(course):
    # The view checks first; the service must hold the rule on its own (the issuance service enforces it).
    from badging.services.instructor import award_revoke_as_instructor

    award = Award.objects.get()
    with pytest.raises(ValueError):
        award_revoke_as_instructor(launch=course["launch"], award=award, reason="  ")
    assert not Award.objects.get().revoked
    assert not AuditEvent.objects.exists()


def test_revoke_with_reason(strict_client, course):
    award = Award.objects.get()
    response = confirm_and_post(
        strict_client,
        url("instructor_revoke", course["launch"], award.public_id),
        {"reason": "Submitted someone else's work"},
    )
    assert response.status_code == 302
    award.refresh_from_db()
    assert award.revoked and award.revocation_reason == "Submitted someone else's work"
    assert award.revoked_by == "Tess Teacher (Canvas user 2, instructor)"
    event = AuditEvent.objects.get(award=award)
    assert event.action == "award_revoked"
    assert event.actor == "Tess Teacher (Canvas user 2, instructor)"
    assert event.detail["reason"] == "Submitted someone else's work"
    page = strict_client.get(response["Location"]).content.decode()
    assert "The badge was revoked." in page
    assert "Submitted someone else&#x27;s work" in page
    # A revoked award cannot be revoked again.
    assert strict_client.get(url("instructor_revoke", course["launch"], award.public_id)).status_code == 409


# --- Re-send the notification ---------------------------------------------------------------------


def test_resend_reopens_the_email_delivery(strict_client, course, enqueued, django_capture_on_commit_callbacks):
    award = Award.objects.get()
    delivery = Delivery.objects.get(award=award)
    assert delivery.status == Delivery.SENT
    target = url("instructor_resend", course["launch"], award.public_id)
    assert "goes again to ada.primary@uni.example.edu" in strict_client.get(target).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = confirm_and_post(strict_client, target)
    assert response.status_code == 302
    delivery.refresh_from_db()
    assert delivery.status == Delivery.PENDING
    assert enqueued.calls[-1] == ("badging.deliveries_send", [[delivery.pk]])
    event = AuditEvent.objects.get(action="instructor.notification_resent")
    assert event.award == award and event.detail["recipient_email"] == "ada.primary@uni.example.edu"


def test_resend_of_a_revoked_award_is_not_offered(client, course, enqueued):
    award = Award.objects.get()
    Award.objects.filter(pk=award.pk).update(revoked=True, revocation_reason="error", revoked_at=timezone.now())
    html = client.get(url("instructor_resend", course["launch"], award.public_id)).content.decode()
    assert "revoked: its email is not sent again" in html and "<form" not in html
    token = action_token(launch=course["launch"], action="resend")
    response = client.post(url("instructor_resend", course["launch"], award.public_id), {"token": token})
    assert response.status_code == 409
    assert not enqueued


# --- CSV export -----------------------------------------------------------------------------------


def read_csv(response):
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment;" in response["Content-Disposition"]
    body = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(body)))


def test_export_streams_every_learner(strict_client, course):
    target = url("instructor_export", course["launch"], course["badge"].pk)
    response = confirm_and_post(strict_client, target)
    assert response.status_code == 200
    rows = read_csv(response)
    header = rows[0]
    assert header[:3] == ["Name", "Sortable name", "Canvas user id"]
    assert "Clean a data set: score" in header and "Present findings: mastered" in header
    by_name = {r[0]: dict(zip(header, r, strict=True)) for r in rows[1:]}
    assert len(by_name) == 6
    ada = by_name["Ada Lovelace"]
    assert ada["State"] == "Issued"
    assert ada["Email"] == "ada.primary@uni.example.edu"
    assert ada["Email delivery"] == "Sent"
    # Absolute: the file is read outside the tool.
    assert ada["Public assertion"] == f"http://testserver/public/assertions/{Award.objects.get().public_id}"
    assert ada["Clean a data set: mastered"] == "yes"
    assert by_name["Bob Byte"]["Present findings: mastered"] == "no"
    assert by_name["Fay Fail"]["State"] == "Failed, will retry"
    event = AuditEvent.objects.get(action="instructor.learners_exported")
    assert event.actor_person == course["launch"].person


def test_export_keeps_the_filter_and_defuses_formulas(strict_client, course):
    bob = course["people"]["bob"]
    bob.name = '=HYPERLINK("http://evil")'
    bob.save()
    target = url("instructor_export", course["launch"], course["badge"].pk) + "?state=in_progress"
    page = strict_client.get(target).content.decode()
    assert "the learners matching state “In progress”" in page
    assert 'name="state" value="in_progress"' in page
    response = strict_client.post(target, {"token": form_token(page), "state": "in_progress"})
    rows = read_csv(response)
    assert len(rows) == 2
    assert rows[1][0] == '\'=HYPERLINK("http://evil")'
    assert AuditEvent.objects.get().detail["filters"] == {"state": "in_progress"}


def test_export_for_a_teaching_assistant(client, course):
    ta = LaunchContextFactory(
        course=course["course"],
        person=PersonFactory(platform=course["course"].platform, name="Tia Assistant", canvas_user_id="3"),
        role=LaunchContext.ROLE_INSTRUCTOR,
        is_teaching_assistant=True,
    )
    target = url("instructor_export", ta, course["badge"].pk)
    response = confirm_and_post(client, target)
    assert len(read_csv(response)) == 7
    assert AuditEvent.objects.get().actor == "Tia Assistant (Canvas user 3, teaching assistant)"


# --- Keep a badge flagged for review ----------------------------------------------------------------


def test_keep_a_badge_flagged_for_review(strict_client, course):
    award = Award.objects.get()
    detail = reverse(
        "badging:instructor_learner", args=[course["launch"].public_id, award.course_badge_id, award.learner_id]
    )
    target = url("instructor_keep", course["launch"], award.public_id)
    assert "Keep the badge" not in strict_client.get(detail).content.decode()  # nothing to review yet
    html = strict_client.get(target).content.decode()
    assert "does not need review" in html and "<form" not in html

    Award.objects.filter(pk=award.pk).update(
        needs_review=True, review_reason="the learner no longer meets the badge rule: the final grade was removed"
    )
    assert "Keep the badge" in strict_client.get(detail).content.decode()
    assert "since then the learner no longer meets the badge rule" in strict_client.get(target).content.decode()
    response = confirm_and_post(strict_client, target)
    assert response.status_code == 302
    award.refresh_from_db()
    assert not award.needs_review and not award.revoked
    event = AuditEvent.objects.get(action="award_review_kept")
    assert event.actor == "Tess Teacher (Canvas user 2, instructor)" and event.award == award
    page = strict_client.get(response["Location"]).content.decode()
    assert "You kept the badge." in page and "Needs review" not in page
