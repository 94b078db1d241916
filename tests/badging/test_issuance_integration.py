"""Issuance through real Celery workers on PostgreSQL + Redis: racing workers, duplicate and retried
tasks issue exactly once; a lost broker message delays an award but never loses it."""

import os
import re
import signal
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from badging.models import Award, Delivery, LearnerProgress
from badging.services.issuance import queueing
from tests.badging.test_issuance_support import (
    CanvasProfiles,
    SMTPSink,
    course_badge_with_assessments,
    eligible_progress,
)
from tests.conftest import celery_idle, celery_worker_start, wait_for

pytestmark = pytest.mark.integration


@pytest.fixture
def outside(monkeypatch):
    """The Canvas profile endpoint and a mail server, both reachable from worker processes."""
    with CanvasProfiles() as profiles, SMTPSink() as smtp:
        monkeypatch.setenv("EMAIL_URL", smtp.url)
        monkeypatch.setenv("PUBLIC_BASE_URL", "http://badges.test")
        yield profiles, smtp


@pytest.fixture
def second_worker(celery_worker_process, celery_queue_name):
    """Another worker process on the same queue (different host name), like a second machine."""
    proc = celery_worker_start(celery_queue_name, hostname=f"test2-{celery_queue_name}", log_name="worker2")
    yield proc
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)


def succeeded(workers, task_name: str) -> int:
    pattern = re.compile(rf"Task {re.escape(task_name)}\[[^\]]+\] succeeded")
    return sum(len(pattern.findall(w.log_path.read_text(errors="replace"))) for w in workers)


def test_racing_workers_and_duplicate_tasks_issue_exactly_once(
    outside, celery_worker_process, second_worker, celery_queue_name
):
    from skillsforward.celery import app

    profiles, smtp = outside
    course_badge = course_badge_with_assessments(api_base_url=profiles.url)
    progresses = [eligible_progress(course_badge, email=f"learner{i}@uni.example.edu") for i in range(24)]
    profiles.emails = {p.learner.canvas_user_id: f"  Learner{i}@Uni.Example.EDU " for i, p in enumerate(progresses)}
    ids = [p.pk for p in progresses]

    # The same learners three times over: a duplicated event, a retried batch, single-learner tasks.
    for order in (ids, ids[::-1], ids[5:] + ids[:5]):
        app.send_task("badging.award_issue_batch", args=[order])
    for progress_id in ids:
        app.send_task("badging.award_issue", args=[progress_id])

    workers = [celery_worker_process, second_worker]
    wait_for(lambda: succeeded(workers, "badging.award_issue_batch") == 3, timeout=90, message="issue batches")
    wait_for(lambda: succeeded(workers, "badging.award_issue") == len(ids), timeout=60, message="single issues")
    wait_for(lambda: len(smtp.messages) >= len(ids), timeout=60, message="emails")
    wait_for(lambda: not Delivery.objects.exclude(status=Delivery.SENT).exists(), timeout=30, message="deliveries")
    # Every task has run to its end, so a duplicate email would be in the sink by now.
    wait_for(lambda: celery_idle(celery_queue_name), timeout=60, message="the workers to be idle")

    assert Award.objects.count() == len(ids)
    assert sorted(Award.objects.values_list("recipient_email", flat=True)) == sorted(
        f"learner{i}@uni.example.edu" for i in range(len(ids))
    )
    assert LearnerProgress.objects.filter(state=LearnerProgress.ISSUED).count() == len(ids)
    assert Award.objects.filter(ob3_credential__isnull=False).count() == len(ids)
    assert len(smtp.messages) == len(ids)
    assert sorted(m["to"][0] for m in smtp.messages) == sorted(f"learner{i}@uni.example.edu" for i in range(len(ids)))
    # Both worker processes did real work.
    assert all(succeeded([w], "badging.award_issue_batch") + succeeded([w], "badging.award_issue") for w in workers)
    assert queueing.awards_enqueue_eligible(course_badge_id=course_badge.pk) == 0


def test_lost_messages_are_recovered_by_the_reconciler(outside, celery_worker_process):
    from skillsforward.celery import app

    profiles, smtp = outside
    course_badge = course_badge_with_assessments(api_base_url=profiles.url)
    lost = [eligible_progress(course_badge, email=f"lost{i}@uni.example.edu") for i in range(4)]
    never = [eligible_progress(course_badge, email=f"never{i}@uni.example.edu") for i in range(3)]
    profiles.emails = {p.learner.canvas_user_id: p.learner.email for p in lost + never}
    # Queued twenty minutes ago; the broker lost the message (or the worker died with it).
    LearnerProgress.objects.filter(pk__in=[p.pk for p in lost]).update(
        issue_status=LearnerProgress.ISSUE_QUEUED, issue_next_attempt_at=timezone.now() - timedelta(minutes=5)
    )
    # An award whose email task was lost too.
    stranded = Award.objects.create(
        badge_class=course_badge.badge_class,
        course_badge=course_badge,
        learner=eligible_progress(course_badge, email="stranded@uni.example.edu").learner,
        recipient_email="stranded@uni.example.edu",
        issued_on=timezone.now(),
    )
    LearnerProgress.objects.filter(learner=stranded.learner).update(state=LearnerProgress.ISSUED)
    Delivery.objects.create(award=stranded, kind=Delivery.KIND_EMAIL, next_attempt_at=timezone.now())

    app.send_task("badging.reconcile")

    wait_for(
        lambda: LearnerProgress.objects.filter(state=LearnerProgress.ISSUED).count() == len(lost) + len(never) + 1,
        timeout=60,
        message="reconciled awards",
    )
    wait_for(lambda: len(smtp.messages) == len(lost) + len(never) + 1, timeout=60, message="emails")
    assert "stranded@uni.example.edu" in {m["to"][0] for m in smtp.messages}
    assert Award.objects.count() == len(lost) + len(never) + 1


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def test_a_worker_killed_mid_batch_loses_nothing_and_issues_once(outside, celery_worker_process, celery_queue_name):
    """acks_late + reject_on_worker_lost: the batch goes back to the queue and runs again."""
    from skillsforward.celery import app

    profiles, smtp = outside
    course_badge = course_badge_with_assessments(api_base_url=profiles.url)
    progresses = [eligible_progress(course_badge, email=f"k{i}@uni.example.edu") for i in range(12)]
    profiles.emails = {p.learner.canvas_user_id: p.learner.email for p in progresses}
    slow = progresses[-1].learner.canvas_user_id
    profiles.slow_users[slow] = 3.0  # keeps the first run of the batch busy
    app.send_task("badging.award_issue_batch", args=[[p.pk for p in progresses]])

    wait_for(lambda: profiles.calls.get(slow), timeout=30, message="the batch to be running")
    busy = [pid for pid in _children(celery_worker_process.pid)]
    assert busy, "no pool process found"
    for pid in busy:
        os.kill(pid, signal.SIGKILL)  # the pool process dies mid-task, before anything is committed
    profiles.slow_users[slow] = 0.0

    wait_for(lambda: len(smtp.messages) == len(progresses), timeout=90, message="all emails after the crash")
    wait_for(lambda: celery_idle(celery_queue_name), timeout=60, message="the worker to be idle")
    assert Award.objects.count() == len(progresses)
    assert len(smtp.messages) == len(progresses)
    assert profiles.calls[slow] >= 2  # the batch really ran twice
