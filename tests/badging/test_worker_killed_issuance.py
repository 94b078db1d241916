"""A whole worker killed with SIGKILL (out of memory, a lost node) in the middle of issuing or of
sending an email: its tasks stay with Redis, unacknowledged and invisible for the broker's
visibility_timeout (an hour by default, 30 minutes here), so nothing the broker does brings them
back in time. The database leases do: the learners and emails the dead worker held become due when
its lease runs out, and the reconciler (beat, every minute) queues them for a fresh worker. Every
eligible learner ends with exactly one award and one email; an email the mail server took just
before the worker died is sent again once at most, and counted as an unconfirmed send (every email
of the batch the worker had leased and not recorded as sent is counted: an upper bound)."""

import os
import signal
import subprocess
from collections import Counter

import pytest

from badging.models import Award, Delivery, LearnerProgress
from badging.services.issuance import queueing
from tests.badging.test_issuance_support import (
    CanvasProfiles,
    SMTPSink,
    course_badge_with_assessments,
    eligible_progress,
)
from tests.conftest import celery_worker_start, wait_for

pytestmark = pytest.mark.integration

LEASE_SECONDS = 4  # the workers' lease in these tests (production: BADGING_LEASE_SECONDS, 30)


@pytest.fixture
def outside(monkeypatch):
    """The Canvas profile endpoint and a mail server, both reachable from worker processes."""
    with CanvasProfiles() as profiles, SMTPSink() as smtp:
        monkeypatch.setenv("EMAIL_URL", smtp.url)
        monkeypatch.setenv("PUBLIC_BASE_URL", "http://badges.test")
        yield profiles, smtp


@pytest.fixture
def short_leases(monkeypatch, settings):
    """Workers started after this hold 4-second leases (emails: 3 x EMAIL_TIMEOUT = 6 s). Queued
    work is only re-queued after ten minutes: whatever recovers within the test is the lease."""
    monkeypatch.setenv("BADGING_LEASE_SECONDS", str(LEASE_SECONDS))
    monkeypatch.setenv("EMAIL_TIMEOUT", "2")
    monkeypatch.setenv("BADGING_QUEUED_STALE_AFTER_SECONDS", "600")
    settings.BADGING_LEASE_SECONDS = LEASE_SECONDS
    settings.BADGING_QUEUED_STALE_AFTER_SECONDS = 600


def fresh_worker(queue: str, name: str) -> subprocess.Popen:
    """A new worker process on the same queue, as a supervisor would start after a crash."""
    return celery_worker_start(queue, hostname=f"{name}-{queue}", log_name=name, timeout=60)


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def kill_whole_worker(proc: subprocess.Popen) -> None:
    """SIGKILL to the worker's main process and its pool processes at once: nobody is left to
    give the tasks back to Redis (a clean shutdown or a surviving parent would)."""
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=15)


def reconciled(predicate):
    """The beat's reconciler, run between polls (beat runs it every minute in production)."""

    def check():
        queueing.awards_reconcile()
        return predicate()

    return check


def test_killed_worker_mid_batch_every_learner_gets_one_award_and_one_email(
    short_leases, outside, celery_worker_process, celery_queue_name
):
    from skillsforward.celery import app

    profiles, smtp = outside
    course_badge = course_badge_with_assessments(api_base_url=profiles.url)
    progresses = [eligible_progress(course_badge, email=f"k{i}@uni.example.edu") for i in range(16)]
    profiles.emails = {p.learner.canvas_user_id: p.learner.email for p in progresses}
    first, second = progresses[:8], progresses[8:]
    slow = [first[-1].learner.canvas_user_id, second[-1].learner.canvas_user_id]
    for user_id in slow:
        profiles.slow_users[user_id] = 30.0  # both batches are mid-way when the worker dies
    LearnerProgress.objects.filter(pk__in=[p.pk for p in progresses]).update(
        issue_status=LearnerProgress.ISSUE_QUEUED, issue_next_attempt_at=None
    )
    for batch in (first, second):
        app.send_task("badging.award_issue_batch", args=[[p.pk for p in batch]])

    wait_for(lambda: all(profiles.calls.get(u) for u in slow), timeout=60, message="both batches to be running")
    assert LearnerProgress.objects.filter(issue_status=LearnerProgress.ISSUE_ISSUING).count() == len(progresses)
    kill_whole_worker(celery_worker_process)
    for user_id in slow:
        profiles.slow_users[user_id] = 0.0
    assert Award.objects.count() == 0 and not smtp.messages

    replacement = fresh_worker(celery_queue_name, "replacement")
    try:
        wait_for(
            reconciled(lambda: len(smtp.messages) >= len(progresses)),
            timeout=120,
            interval=1.0,
            message="every learner's email after the crash",
        )
        wait_for(
            reconciled(lambda: not Delivery.objects.exclude(status=Delivery.SENT).exists()),
            timeout=60,
            interval=1.0,
            message="every delivery marked sent",
        )
    finally:
        stop(replacement)

    assert Award.objects.count() == len(progresses)
    assert Counter(a.learner_id for a in Award.objects.all()) == Counter(p.learner_id for p in progresses)
    assert LearnerProgress.objects.filter(state=LearnerProgress.ISSUED).count() == len(progresses)
    assert sorted(m["to"][0] for m in smtp.messages) == sorted(p.learner.email for p in progresses)
    assert not Delivery.objects.filter(unconfirmed_sends__gt=0).exists()
    assert all(profiles.calls[u] >= 2 for u in slow)  # both batches really ran again


def test_killed_worker_mid_email_sends_it_again_once_and_counts_it(
    short_leases, outside, celery_worker_process, celery_queue_name
):
    from skillsforward.celery import app

    profiles, smtp = outside
    course_badge = course_badge_with_assessments(api_base_url=profiles.url)
    progresses = [eligible_progress(course_badge, email=f"m{i}@uni.example.edu") for i in range(5)]
    profiles.emails = {p.learner.canvas_user_id: p.learner.email for p in progresses}
    smtp.hold.set()  # the first email is taken by the server, its "250" held back
    app.send_task("badging.award_issue_batch", args=[[p.pk for p in progresses]])

    wait_for(lambda: smtp.holding.is_set(), timeout=60, message="the first email to reach the mail server")
    kill_whole_worker(celery_worker_process)
    smtp.hold.clear()
    held = smtp.messages[0]["to"][0]
    # The batch's emails were leased together, before the first went to the server.
    sending = Delivery.objects.filter(status=Delivery.SENDING).select_related("award")
    assert held in {d.award.recipient_email for d in sending} and len(sending) == len(progresses)
    assert all(d.send_started_at is not None for d in sending)
    assert len(smtp.messages) == 1

    replacement = fresh_worker(celery_queue_name, "replacement")
    try:
        wait_for(
            reconciled(lambda: Delivery.objects.filter(status=Delivery.SENT).count() == len(progresses)),
            timeout=120,
            interval=1.0,
            message="every delivery sent after the crash",
        )
    finally:
        stop(replacement)

    received = Counter(m["to"][0] for m in smtp.messages)
    unconfirmed = {d.award.recipient_email: d.unconfirmed_sends for d in Delivery.objects.select_related("award")}
    assert received[held] == 2 and unconfirmed[held] == 1  # sent again once, and counted
    assert {p.learner.email for p in progresses} == set(received)
    # The others were leased but not sent when the worker died: sent once; the count is an upper
    # bound (the new worker cannot tell which of the batch's leased emails had gone out).
    assert all(received[e] == 1 and unconfirmed[e] <= 1 for e in received if e != held)
    assert Award.objects.count() == len(progresses)


def test_sigterm_lets_the_worker_finish_its_batch(outside, celery_worker_process):
    """A deploy or scale-down stops a worker with SIGTERM (Celery's warm shutdown): the batch it is
    issuing finishes and its learners are issued once, with no reconciler involved."""
    from skillsforward.celery import app

    profiles, _smtp = outside
    course_badge = course_badge_with_assessments(api_base_url=profiles.url)
    progresses = [eligible_progress(course_badge, email=f"t{i}@uni.example.edu") for i in range(6)]
    profiles.emails = {p.learner.canvas_user_id: p.learner.email for p in progresses}
    slow = progresses[-1].learner.canvas_user_id
    profiles.slow_users[slow] = 3.0
    app.send_task("badging.award_issue_batch", args=[[p.pk for p in progresses]])

    wait_for(lambda: profiles.calls.get(slow), timeout=60, message="the batch to be running")
    os.kill(celery_worker_process.pid, signal.SIGTERM)
    celery_worker_process.wait(timeout=60)

    assert Award.objects.count() == len(progresses)
    assert LearnerProgress.objects.filter(state=LearnerProgress.ISSUED).count() == len(progresses)
    assert not LearnerProgress.objects.filter(issue_status=LearnerProgress.ISSUE_ISSUING).exists()
    assert profiles.calls[slow] == 1  # finished in the one run, not given back and run again
