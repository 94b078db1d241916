"""The launch link (/l/<id>/…) is a bearer capability: short-lived, tied to its browser where a
cookie is available, and an instructor's power is re-checked against the last roster sync.

- sliding idle timeout (LTI_LAUNCH_IDLE_MINUTES, 60) within an absolute maximum (LTI_LAUNCH_MAX_HOURS, 8);
- the launch response sets a per-launch cookie; once it has come back, the link is refused without
  it. Inside Canvas's iframe, with third-party cookies blocked, it never comes back: the link then
  keeps working (within the time limits);
- before every instructor action, an instructor must still be on the course's teacher/TA roster
  as the last sync read it (when that roster is newer than the launch). Canvas lists teachers and
  TAs through the same enrollments endpoint the roster pass reads (canvas-lms
  app/controllers/enrollments_api_controller.rb, index: `type[]` filters by enrollment type,
  TeacherEnrollment and TaEnrollment among them).
"""

from datetime import timedelta

import pytest
import responses
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from badging.models import Award, CourseStaff, CourseSync
from badging.services.sync import coordination
from badging.views.instructor.access import action_token
from lti.launch import launch_cookie_name
from lti.models import LaunchContext
from tests import factories as f
from tests.badging.test_dashboard import build_course
from tests.canvas.fake import FakeCanvas as FakeCanvasApi
from tests.lti.platform import LEARNER

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def production_like(settings):
    settings.DEBUG = False
    settings.SANDBOX_ENABLED = False


def launched(canvas, client):
    response = canvas.launch(client, roles=LEARNER, user_id="42")
    assert response.status_code == 302
    public_id = response["Location"].rstrip("/").rsplit("/", 1)[-1]
    return LaunchContext.objects.get(public_id=public_id), response["Location"]


def test_an_unused_link_ends_after_the_idle_timeout_and_use_slides_it(canvas, settings):
    settings.LTI_LAUNCH_IDLE_MINUTES = 60
    browser = Client()
    launch, home = launched(canvas, browser)
    assert abs(launch.expires_at - launch.created_at - timedelta(hours=8)) < timedelta(seconds=5)
    assert browser.get(home).status_code == 200
    # Used 59 minutes ago: still open, and using it now moves the idle timer.
    LaunchContext.objects.filter(pk=launch.pk).update(last_used_at=timezone.now() - timedelta(minutes=59))
    assert browser.get(home).status_code == 200
    launch.refresh_from_db()
    assert timezone.now() - launch.last_used_at < timedelta(minutes=1)
    # Unused for 61 minutes: gone, though the absolute limit is hours away.
    LaunchContext.objects.filter(pk=launch.pk).update(last_used_at=timezone.now() - timedelta(minutes=61))
    response = browser.get(home)
    assert response.status_code == 404 and "expired" in response.content.decode()
    # The timeout is a setting.
    settings.LTI_LAUNCH_IDLE_MINUTES = 120
    assert browser.get(home).status_code == 200


def test_use_never_extends_a_link_past_its_absolute_end(canvas):
    browser = Client()
    launch, home = launched(canvas, browser)
    LaunchContext.objects.filter(pk=launch.pk).update(
        last_used_at=timezone.now(), expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert browser.get(home).status_code == 404


def test_a_copied_link_does_not_work_in_another_browser(canvas):
    browser = Client()
    launch, home = launched(canvas, browser)
    assert launch_cookie_name(launch.public_id) in browser.cookies
    assert browser.get(home).status_code == 200
    elsewhere = Client()
    response = elsewhere.get(home)
    assert response.status_code == 403
    assert "another browser" in response.content.decode()
    elsewhere.cookies[launch_cookie_name(launch.public_id)] = "guessed"
    assert elsewhere.get(home).status_code == 403
    assert browser.get(home).status_code == 200


def test_without_cookies_inside_canvas_the_link_still_works(canvas):
    browser = Client()
    launch, home = launched(canvas, browser)
    # Third-party cookies blocked: the launch cookie is never sent back from the iframe.
    browser.cookies.clear()
    assert browser.get(home).status_code == 200
    assert browser.get(home).status_code == 200
    launch.refresh_from_db()
    assert not launch.browser_bound
    # A wrong cookie is still refused.
    browser.cookies[launch_cookie_name(launch.public_id)] = "not-the-key"
    assert browser.get(home).status_code == 403


@pytest.fixture
def course(enqueued):
    return build_course()


def test_an_instructor_the_last_roster_no_longer_lists_cannot_act(course):
    launch = course["launch"]
    award = Award.objects.get()
    other_teacher = f.PersonFactory(platform=course["course"].platform, canvas_user_id="3")
    CourseStaff.objects.create(
        course=course["course"],
        person=other_teacher,
        canvas_enrollment_id="1",
        enrollment_type="TeacherEnrollment",
        state="active",
    )
    CourseSync.objects.update_or_create(course=course["course"], defaults={"staff_synced_at": timezone.now()})
    client = Client()
    revoke = reverse("badging:instructor_revoke", args=[launch.public_id, award.public_id])
    response = client.post(revoke, {"token": action_token(launch=launch, action="revoke"), "reason": "x"})
    assert response.status_code == 403
    assert "no longer lists you" in response.content.decode()
    export = reverse("badging:instructor_export", args=[launch.public_id, course["badge"].pk])
    assert client.post(export, {"token": action_token(launch=launch, action="export")}).status_code == 403
    assert not Award.objects.get().revoked
    dashboard = client.get(reverse("badging:instructor_dashboard", args=[launch.public_id]))
    assert dashboard.status_code == 200 and "no longer lists you" in dashboard.content.decode()
    # Listed again (or launched after the roster was read): acting works.
    CourseStaff.objects.create(
        course=course["course"],
        person=launch.person,
        canvas_enrollment_id="2",
        enrollment_type="TeacherEnrollment",
        state="active",
    )
    response = client.post(revoke, {"token": action_token(launch=launch, action="revoke"), "reason": "Copied"})
    assert response.status_code == 302 and Award.objects.get().revoked


def test_the_roster_sync_stores_the_course_staff_from_its_enrollment_read():
    fake = FakeCanvasApi()
    fake.add_student(42, "Ada Lovelace")
    fake.add_student(7, "Tess Teacher", type="TeacherEnrollment")
    fake.add_student(8, "Tara Assistant", type="TaEnrollment")
    fake.add_student(9, "Former Teacher", type="TeacherEnrollment", state="completed")
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        fake.install(rsps)
        platform = f.PlatformFactory(api_base_url=fake.base)
        course = f.CourseFactory(platform=platform, canvas_course_id=fake.course_id)
        f.CourseBadgeFactory(course=course)
        run = coordination.course_sync(course_id=course.pk, trigger="test")
    assert run.status == "ok", run.error
    staff = set(CourseStaff.objects.filter(course=course).values_list("person__canvas_user_id", "state"))
    assert staff == {("7", "active"), ("8", "active"), ("9", "completed")}
    assert CourseSync.objects.get(course=course).staff_synced_at is not None
    # Teachers are not learners of the badge.
    assert set(course.enrollments.values_list("learner__canvas_user_id", flat=True)) == {"42"}
