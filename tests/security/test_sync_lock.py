"""The course lock never loses a request: a request folded into a holder is run when the holder
lets go, a delayed recheck covers a holder that died, the lock is a lease renewed only while its
holder lives, and a run cut short does not stay "running"."""

import time
from unittest import mock

import pytest
from django.core.cache import cache

from badging.models import SyncRun
from badging.services.sync import coordination
from tests.badging import test_sync as sync_tests

pytestmark = pytest.mark.django_db

canvas_api = sync_tests.canvas_api
course_badge = sync_tests.course_badge


def sent(enqueued):
    return [(task.kwargs["trigger"], task.options.get("countdown")) for task in enqueued]


def test_a_sync_folded_into_a_rule_evaluation_runs_when_it_ends(
    course_badge,
    enqueued,
    django_capture_on_commit_callbacks,
):
    course_id = course_badge.course_id

    def evaluate_while_a_sync_arrives(**kwargs):
        assert coordination.course_sync(course_id=course_id, trigger="instructor") is None  # folded
        return {}

    with (
        django_capture_on_commit_callbacks(execute=True),
        mock.patch.object(coordination, "progress_evaluate_course", side_effect=evaluate_while_a_sync_arrives),
    ):
        coordination.course_evaluate(course_id=course_id)
    # Before: the evaluation let go and the instructor's sync was never run.
    assert ("requested_again", None) in sent(enqueued)
    # And one delayed recheck, in case the holder had died instead.
    assert (coordination.RECHECK_TRIGGER, coordination.LOCK_LEASE_SECONDS + 2) in sent(enqueued)
    assert cache.get(coordination._lock_key(course_id)) is None


def test_a_recheck_with_nothing_folded_does_nothing(canvas_api, course_badge, enqueued):
    assert coordination.course_sync(course_id=course_badge.course_id, trigger=coordination.RECHECK_TRIGGER) is None
    assert not SyncRun.objects.exists() and canvas_api.requests == []


def test_a_recheck_runs_what_a_dead_holder_left(canvas_api, course_badge, enqueued):
    course_id = course_badge.course_id
    cache.set(coordination._lock_key(course_id), "a worker that was killed", timeout=coordination.LOCK_LEASE_SECONDS)
    assert coordination.course_sync(course_id=course_id, trigger="instructor", roster=True) is None
    cache.delete(coordination._lock_key(course_id))  # its lease ran out
    run = coordination.course_sync(course_id=course_id, trigger=coordination.RECHECK_TRIGGER)
    assert run.status == SyncRun.STATUS_OK and run.trigger == "requested_again" and run.stats["roster"] is True


def test_a_run_cut_short_is_marked_interrupted_by_the_next_sync(canvas_api, course_badge, enqueued):
    orphan = SyncRun.objects.create(course=course_badge.course, kind="incremental", trigger="test")
    assert orphan.status == SyncRun.STATUS_RUNNING
    run = coordination.course_sync(course_id=course_badge.course_id, trigger="test")
    orphan.refresh_from_db()
    assert run.status == SyncRun.STATUS_OK
    assert orphan.status == SyncRun.STATUS_FAILED and "interrupted" in orphan.error and orphan.finished_at


def test_the_lock_is_a_lease_renewed_only_while_held(course_badge, enqueued, monkeypatch):
    monkeypatch.setattr(coordination, "LOCK_LEASE_SECONDS", 1)
    monkeypatch.setattr(coordination, "LOCK_RENEW_SECONDS", 0.1)
    key = coordination._lock_key(course_badge.course_id)
    with coordination._course_lock(course_badge.course_id) as locked:
        assert locked
        time.sleep(1.5)  # longer than the lease: the holder's renewals keep it
        assert cache.get(key) is not None
    assert cache.get(key) is None
    # A holder that stops renewing (its process died) loses the lock when the lease runs out.
    cache.add(key, "dead holder", timeout=1)
    time.sleep(1.2)
    with coordination._course_lock(course_badge.course_id) as locked:
        assert locked
