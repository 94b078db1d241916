"""Through a real Celery worker (PostgreSQL + Redis): the sync task reads the sandbox Canvas and
learner progress appears; a second trigger while the course is syncing is folded into it."""

from itertools import pairwise

import pytest
from celery import current_app

from badging.models import LearnerProgress, SyncRun
from lti.models import Course
from sandbox.seed.instances import sandbox_seed
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
    log = celery_worker_process.log_path
    # The worker is shared by the module's tests: count only what this test's tasks log.
    start = len(log.read_text().splitlines())
    for _ in range(4):
        current_app.send_task("badging.course_sync", kwargs={"course_id": course.pk, "trigger": "test"})

    def finished_tasks() -> int:
        lines = log.read_text().splitlines()[start:]
        return sum(1 for line in lines if "badging.course_sync[" in line and "succeeded" in line)

    runs = SyncRun.objects.filter(course=course)
    # Folded triggers may hand their request on to a follow-up task: wait until nothing is running.
    wait_for(
        lambda: finished_tasks() >= 4 and runs.exists() and not runs.filter(status=SyncRun.STATUS_RUNNING).exists(),
        timeout=90,
        message="every sync task to finish",
    )
    assert all(r.status == SyncRun.STATUS_OK for r in runs), [(r.status, r.error) for r in runs]
    # Four triggers on two worker processes: the lock means no two passes of one course overlap.
    ordered = sorted(runs, key=lambda r: r.started_at)
    for earlier, later in pairwise(ordered):
        assert earlier.finished_at <= later.started_at


def test_a_rule_change_is_re_evaluated_by_the_worker(celery_worker_process, live_server):
    from badging.models import CourseBadge

    result = sandbox_seed(learners=12, assessments=2, slug="syncrule", base_url=live_server.url)
    course = Course.objects.get(platform_id=result.platform_id, canvas_course_id=str(result.course.id))
    current_app.send_task("badging.course_sync", kwargs={"course_id": course.pk, "trigger": "test"})
    # The seed's own rule evaluation may fold into this sync as one more pass: wait for all of them.
    wait_for(
        lambda: (
            SyncRun.objects.filter(course=course, status=SyncRun.STATUS_OK).exists()
            and not SyncRun.objects.filter(course=course, status=SyncRun.STATUS_RUNNING).exists()
        ),
        timeout=60,
        message="the first sync",
    )
    progress = LearnerProgress.objects.filter(course_badge__course=course)
    assert progress.filter(mastered_count__gt=0).exists()
    runs = SyncRun.objects.filter(course=course).count()

    # No score reaches 200 points: once the worker re-evaluates, nobody has mastered anything.
    CourseBadge.objects.filter(course=course).update(mastery_mode="points", mastery_min_points=200)
    current_app.send_task("badging.course_evaluate", kwargs={"course_id": course.pk})
    wait_for(lambda: not progress.filter(mastered_count__gt=0).exists(), timeout=60, message="the re-evaluation")
    assert SyncRun.objects.filter(course=course).count() == runs  # evaluated from local data, no sync
