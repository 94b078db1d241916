"""Sync now, end to end (PostgreSQL + Redis + a real Celery worker + the sandbox Canvas): the
instructor's request reaches the worker, learners appear on the dashboard, and when Canvas refuses
the API token the dashboard says so in plain words."""

import re

import pytest
from django.test import Client
from django.urls import reverse

from badging.models import AuditEvent, LearnerProgress, SyncRun
from lti.models import Course, LaunchContext
from sandbox.models import SandboxEnrollment
from sandbox.seed.instances import sandbox_seed
from tests.conftest import wait_for
from tests.factories import LaunchContextFactory, PersonFactory

pytestmark = [pytest.mark.integration]


def finished_runs(course):
    return list(SyncRun.objects.filter(course=course).exclude(status=SyncRun.STATUS_RUNNING).order_by("started_at"))


def test_sync_now_through_the_worker_then_a_revoked_token(celery_worker_process, live_server):
    seeded = sandbox_seed(learners=12, assessments=2, slug="instructorsync", base_url=live_server.url)
    course = Course.objects.get(platform_id=seeded.platform_id, canvas_course_id=str(seeded.course.id))
    teacher = SandboxEnrollment.objects.get(course=seeded.course, type="TeacherEnrollment").user
    launch = LaunchContextFactory(
        course=course,
        # The course's teacher in the sandbox: instructor actions need the launching person on the
        # roster the sync reads (someone no longer teaching is refused once that roster is newer).
        person=PersonFactory(platform=course.platform, name="Tess Teacher", canvas_user_id=str(teacher.id)),
        role=LaunchContext.ROLE_INSTRUCTOR,
    )
    client = Client(enforce_csrf_checks=True)
    sync_url = reverse("badging:instructor_sync", args=[launch.public_id])
    dashboard = reverse("badging:instructor_dashboard", args=[launch.public_id])

    def press_sync_now():
        page = client.get(sync_url).content.decode()
        token = re.search(r'name="token" value="([0-9a-f]+)"', page).group(1)
        response = client.post(sync_url, {"token": token})
        assert response.status_code == 302

    press_sync_now()
    wait_for(lambda: len(finished_runs(course)) == 1, timeout=90, message="the instructor's sync to finish")
    run = finished_runs(course)[0]
    assert run.status == SyncRun.STATUS_OK, run.error
    # Setting up the course badge queues a re-evaluation that holds the course's lock for a moment:
    # an instructor's request arriving then is folded into it and runs as its "requested_again" pass.
    assert run.trigger in ("instructor", "requested_again")
    learners = LearnerProgress.objects.filter(course_badge__course=course).count()
    assert learners >= 12
    html = client.get(dashboard).content.decode()
    assert "Last sync succeeded" in html
    assert f"{learners} learners" in html
    assert AuditEvent.objects.filter(action="instructor.sync_requested", course=course).count() == 1

    # The Canvas admin revokes the token: the next sync fails, and the instructor is told why.
    platform = course.platform
    platform.api_token = "revoked-token"
    platform.save()
    press_sync_now()
    wait_for(lambda: len(finished_runs(course)) == 2, timeout=90, message="the second sync to finish")
    failed = finished_runs(course)[1]
    assert failed.status == SyncRun.STATUS_FAILED
    html = client.get(dashboard).content.decode()
    assert "Last sync failed" in html
    assert "token" in html and "Canvas admin" in html
    # The learners from the last good sync are still shown.
    assert f"{learners} learners" in html
