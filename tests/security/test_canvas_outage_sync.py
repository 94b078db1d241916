"""Canvas down or refusing in the middle of a sync: the run fails in plain words, and nothing
already synced is lost or rolled forward; the next sync after recovery reads what was missed."""

from datetime import timedelta

import pytest
from django.utils import timezone

from badging.models import AssessmentResult, CourseSync, Enrollment, LearnerProgress, SyncRun
from badging.services.sync import coordination
from tests.badging import test_sync as sync_tests

pytestmark = pytest.mark.django_db

canvas_api = sync_tests.canvas_api
course_badge = sync_tests.course_badge


@pytest.fixture(autouse=True)
def no_waiting(monkeypatch, settings):
    settings.CANVAS_MAX_RETRIES = 2
    monkeypatch.setattr("canvas.transport.time.sleep", lambda seconds: None)


def snapshot(course_badge):
    return (
        sorted(LearnerProgress.objects.filter(course_badge=course_badge).values_list("learner_id", "state")),
        sorted(AssessmentResult.objects.values_list("learner_id", "assignment_id", "score")),
        Enrollment.objects.count(),
        CourseSync.objects.get(course=course_badge.course).submissions_graded_since,
    )


@pytest.mark.parametrize("status", [503, 403], ids=["outage", "forbidden"])
def test_a_canvas_outage_mid_sync_loses_nothing(canvas_api, course_badge, status):
    now = timezone.now()
    canvas_api.grade(55, 42, 12, at=now - timedelta(hours=1))
    assert coordination.course_sync(course_id=course_badge.course_id, trigger="test").status == SyncRun.STATUS_OK
    before = snapshot(course_badge)

    canvas_api.grade(56, 42, 12, at=now)  # graded while Canvas then goes down
    canvas_api.fail_with = status
    run = coordination.course_sync(course_id=course_badge.course_id, trigger="instructor")
    assert run.status == SyncRun.STATUS_FAILED
    assert "Canvas" in run.error and "Traceback" not in run.error
    state = CourseSync.objects.get(course=course_badge.course)
    assert state.last_status == "failed" and state.last_error == run.error
    assert snapshot(course_badge) == before  # nothing lost, the watermark not moved past the missed grade

    canvas_api.fail_with = None
    assert coordination.course_sync(course_id=course_badge.course_id, trigger="periodic").status == SyncRun.STATUS_OK
    assert AssessmentResult.objects.filter(learner__canvas_user_id="42", assignment__canvas_assignment_id="56").exists()
