"""A worker killed in the middle of a course sync (out of memory, a node lost): the sync is run
again within a minute instead of being locked out for the task time limit, and the interrupted
run does not stay "running" on the instructor's dashboard."""

import os
import signal

import pytest
from celery import current_app

from badging.models import SyncRun
from lti.models import Course
from sandbox.models import SandboxInstance
from sandbox.seed.instances import sandbox_seed
from tests.badging.test_issuance_integration import _children
from tests.conftest import wait_for

pytestmark = [pytest.mark.integration]

LEASE_SECONDS = 6  # the worker's course lock lease here (production: BADGING_LEASE_SECONDS, 30)


@pytest.fixture
def short_lease(monkeypatch):
    """The worker started after this holds 6-second course locks, and the last of the Canvas
    token's in-flight places the killed sync held is free 10 s after it was taken (CANVAS_HTTP_TIMEOUT
    + 5 s; production 35 s): the sync run again waits for these two leases, scaled down."""
    monkeypatch.setenv("BADGING_LEASE_SECONDS", str(LEASE_SECONDS))
    monkeypatch.setenv("CANVAS_HTTP_TIMEOUT", "5")  # each answer here takes 1.5 s at most


def test_a_worker_killed_mid_sync_is_recovered_quickly(short_lease, celery_worker_process, live_server):
    result = sandbox_seed(learners=8, assessments=2, slug="killsync", base_url=live_server.url)
    course = Course.objects.get(platform_id=result.platform_id, canvas_course_id=str(result.course.id))
    SandboxInstance.objects.filter(slug="killsync").update(latency_ms=1500)  # every Canvas answer takes 1.5 s

    current_app.send_task("badging.course_sync", kwargs={"course_id": course.pk, "trigger": "test"})
    interrupted = wait_for(
        lambda: SyncRun.objects.filter(course=course, status=SyncRun.STATUS_RUNNING).first(),
        timeout=60,
        message="the sync to be running",
    )
    children = _children(celery_worker_process.pid)
    assert children, "no pool process found"
    for pid in children:
        os.kill(pid, signal.SIGKILL)  # mid-sync, between two Canvas requests
    SandboxInstance.objects.filter(slug="killsync").update(latency_ms=0)

    done = wait_for(
        lambda: SyncRun.objects.filter(course=course, status=SyncRun.STATUS_OK).first(),
        timeout=LEASE_SECONDS + 45,
        message="the sync to run again after the crash",
    )
    assert done.pk != interrupted.pk
    interrupted.refresh_from_db()
    assert interrupted.status == SyncRun.STATUS_FAILED
    assert "interrupted" in interrupted.error
    assert not SyncRun.objects.filter(course=course, status=SyncRun.STATUS_RUNNING).exists()
