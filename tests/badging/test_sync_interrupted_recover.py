"""The reconciler syncs again a course whose sync died with its worker. Found by the chaos run
(bench/chaos.py, PostgreSQL restart and `kill -9` mid-sync): the killed sync's run stayed "running"
(the dashboard said "syncing") and the course waited for the next periodic sync,
BADGING_SYNC_INTERVAL_MINUTES (30) later. Now, once the course lock's lease has run out, the next
reconciler run (every minute) marks the run interrupted, which the dashboard shows as the reason,
and queues a sync; a sync whose holder is alive (it renews the lease) is left alone."""

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from badging.models import SyncRun
from badging.selectors.dashboard.sync_status import sync_status
from badging.services.sync import coordination
from badging.services.sync import run as sync_run
from badging.tasks.issuance import reconcile
from tests.factories import CourseBadgeFactory

pytestmark = pytest.mark.django_db


def test_a_sync_whose_worker_died_is_marked_interrupted_and_synced_again(enqueued, django_capture_on_commit_callbacks):
    course = CourseBadgeFactory().course
    long_ago = timezone.now() - timedelta(seconds=3 * coordination.LOCK_LEASE_SECONDS)
    dead = SyncRun.objects.create(course=course, kind="full", trigger="bench", status=SyncRun.STATUS_RUNNING)
    SyncRun.objects.filter(pk=dead.pk).update(started_at=long_ago)
    assert sync_status(course=course).running

    with django_capture_on_commit_callbacks(execute=True):
        result = reconcile()
    assert result["syncs_restarted"] == 1
    dead.refresh_from_db()
    assert dead.status == SyncRun.STATUS_FAILED and dead.error == sync_run.INTERRUPTED
    assert [t.kwargs for t in enqueued.named("badging.course_sync")] == [
        {"course_id": course.pk, "trigger": "interrupted"}
    ]
    status = sync_status(course=course)
    assert not status.running and status.failed and "interrupted" in status.error_plain

    with django_capture_on_commit_callbacks(execute=True):
        assert reconcile()["syncs_restarted"] == 0  # once: the run is no longer running


def test_a_sync_that_is_alive_or_just_started_is_left_alone(enqueued, django_capture_on_commit_callbacks):
    course = CourseBadgeFactory().course
    alive = SyncRun.objects.create(course=course, kind="full", trigger="bench", status=SyncRun.STATUS_RUNNING)
    SyncRun.objects.filter(pk=alive.pk).update(started_at=timezone.now() - timedelta(minutes=10))
    cache.set(coordination._lock_key(course.pk), "holder-token", timeout=coordination.LOCK_LEASE_SECONDS)
    other = CourseBadgeFactory().course
    SyncRun.objects.create(course=other, kind="full", trigger="bench", status=SyncRun.STATUS_RUNNING)  # now

    with django_capture_on_commit_callbacks(execute=True):
        assert reconcile()["syncs_restarted"] == 0
    assert set(SyncRun.objects.values_list("status", flat=True)) == {SyncRun.STATUS_RUNNING}
    assert not enqueued.named("badging.course_sync")
