"""Celery tasks for issuance, delivery and the reconciler (see badging.services.issuance).

Thin: ids in, one service call. All are idempotent (acks_late + reject_on_worker_lost: a task
whose pool process died runs again and finds the work done). A task lost with its whole worker
stays with the broker until its visibility timeout; the work does not wait for it: the database
leases run out and the reconciler queues it again (see badging.services.issuance).
"""

from celery import shared_task

from badging.services import canvas_credentials, notifications
from badging.services.issuance import issue, queueing

# Retry policies, one per kind of work, stated here:
# - Issuing a learner and sending a delivery (an email, a Canvas Credentials push): no task retry.
#   A failure is recorded on the row with its own backoff (badging.services.issuance.policy.retry_delay)
#   and the reconciler (every minute) queues it again when due: one schedule, kept in the database,
#   that survives a lost task, a restarted broker and a dead worker alike.
# - Revoking a Canvas Credentials copy: Celery's autoretry with the backoff below on a passing
#   failure (there is no row schedule for it); a permanent one (refused) is recorded on the
#   delivery and not retried; the reconciler queues a revocation whose retries ran out.
# - Sync and evaluation: no task retry; the next trigger or the periodic sync runs again.
MAX_TASK_RETRIES = 5
# Short and bounded, for passing failures: 30 s doubling up to 10 minutes, full jitter (queued
# retries do not all wake at once).
RETRY_BACKOFF, RETRY_BACKOFF_MAX, RETRY_JITTER = 30, 600, True


def _claim(request) -> str:
    # The task's id names its lease on the learners: the same task given back after its pool process
    # died takes its own lease over at once instead of waiting for it to run out.
    return (request.id or "").replace("-", "")


@shared_task(bind=True, name="badging.award_issue_batch", acks_late=True, reject_on_worker_lost=True)
def award_issue_batch(self, progress_ids: list[int]) -> int:
    """Issue a batch of eligible learners and send their emails (as the batch lands, not behind the
    other queued batches); per-learner failures are recorded on their rows."""
    return len(issue.awards_issue_batch(progress_ids=progress_ids, claim=_claim(self.request), send_emails=True))


@shared_task(bind=True, name="badging.award_issue", acks_late=True, reject_on_worker_lost=True)
def award_issue(self, progress_id: int) -> str | None:
    """Issue one learner's award if still eligible, exactly once: a repeat returns the live award's
    public id. None when not eligible, or when issuing failed (recorded on the learner's progress)."""
    award = issue.award_issue(progress_id=progress_id, claim=_claim(self.request))
    return award.public_id if award else None


@shared_task(name="badging.deliveries_send", acks_late=True, reject_on_worker_lost=True)
def deliveries_send(delivery_ids: list[int]) -> int:
    """Send emails / Canvas Credentials pushes; how many went out. A failed one keeps its own retry
    schedule on its row (the reconciler queues it again when due)."""
    return sum(
        1 for delivery in notifications.deliveries_send(delivery_ids=delivery_ids) if delivery.status == delivery.SENT
    )


@shared_task(
    name="badging.canvas_credentials_revoke",
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(canvas_credentials.CanvasCredentialsError,),
    retry_backoff=RETRY_BACKOFF,
    retry_backoff_max=RETRY_BACKOFF_MAX,
    retry_jitter=RETRY_JITTER,
    max_retries=MAX_TASK_RETRIES,
)
def canvas_credentials_revoke(delivery_id: int) -> None:
    """Revoke the Canvas Credentials copy of a revoked award, once (a repeat finds it done). A
    failure is recorded on the delivery; a passing one is retried (autoretry), a permanent one not."""
    try:
        canvas_credentials.canvas_credentials_revoke(delivery_id=delivery_id)
    except canvas_credentials.CanvasCredentialsError as exc:
        if exc.permanent:
            return None  # recorded on the delivery and the connection; retrying cannot help
        raise


@shared_task(name="badging.reconcile", acks_late=True, reject_on_worker_lost=True)
def reconcile() -> dict:
    """Periodic: re-enqueue eligible learners without an award and due or stuck deliveries (at once
    when the broker lost its queue), sync again a course whose sync died with its worker, and retry
    the syncs a Canvas outage failed once their backoff is over."""
    from badging.services.reconcile import broker_forgot, queued_work_due_now
    from badging.services.sync.coordination import syncs_interrupted_recover, syncs_retry_due

    lost = queued_work_due_now() if broker_forgot() else {}
    return {
        **queueing.awards_reconcile(),
        "syncs_restarted": syncs_interrupted_recover(),
        "syncs_retried": syncs_retry_due(),
        "lost_requeued": lost,
    }
