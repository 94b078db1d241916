"""Through a real Celery worker (PostgreSQL + Redis): the sync task reads the sandbox Canvas and
learner progress appears; a second trigger while the course is syncing is folded into it."""

from itertools import pairwise

import pytest
from celery import current_app

from badging.models import LearnerProgress, SyncRun
from lti.models import Course
from sandbox.seed import sandbox_seed
from tests.conftest import wait_for

pytestmark = [pytest.mark.integration]


def test_sync_task_writes_learner_progress(celery_worker_process, live_server):
    result = sandbox_seed(learners=30, assessments=3, slug="synctask", base_url=live_server.url)
    course = Course.objects.get(platform_id=result.platform_id, canvas_course_id=str(result.course.id))

    current_app.send_task("badging.course_sync", kwargs={"course_id": course.pk, "trigger": "test"})

    run = wait_for(
        lambda: SyncRun.objects.filter(course=course).exclude(status=SyncRun.STATUS_RUNNING).first(),
        timeout=60,
        message="the sync run to finish",
    )
    assert run.status == SyncRun.STATUS_OK, run.error
    assert run.canvas_requests >= 4
    states = set(LearnerProgress.objects.filter(course_badge__course=course).values_list("state", flat=True))
    # The seed spreads learners over these states; the Student View user is never eligible.
    assert {"in_progress", "awaiting_final_grade", "ineligible"} <= states
    assert states & {"eligible", "issued"}
    student_view = LearnerProgress.objects.get(
        course_badge__course=course, learner__enrollments__enrollment_type="StudentViewEnrollment"
    )
    assert student_view.state == "ineligible"


def test_triggers_while_syncing_are_coalesced(celery_worker_process, live_server):
    result = sandbox_seed(learners=10, assessments=2, slug="synccoalesce", base_url=live_server.url)
    course = Course.objects.get(platform_id=result.platform_id, canvas_course_id=str(result.course.id))
    for _ in range(4):
        current_app.send_task("badging.course_sync", kwargs={"course_id": course.pk, "trigger": "test"})
    log = celery_worker_process.log_path

    def finished_tasks() -> int:
        return sum(1 for line in log.read_text().splitlines() if "badging.course_sync[" in line and "succeeded" in line)

    wait_for(lambda: finished_tasks() >= 4, timeout=90, message="every sync task to finish")
    runs = SyncRun.objects.filter(course=course)
    assert all(r.status == SyncRun.STATUS_OK for r in runs)
    # Four triggers on two worker processes: the lock means no two passes of one course overlap.
    ordered = sorted(runs, key=lambda r: r.started_at)
    for earlier, later in pairwise(ordered):
        assert earlier.finished_at <= later.started_at
