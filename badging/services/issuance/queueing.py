"""Queueing eligible learners for issuing, and the reconciler: finding work that should have
happened (learners without an award, due or stuck deliveries, revocations that never reached
Canvas Credentials) and queueing it again. Safe to run any time, from any number of schedulers."""

from __future__ import annotations

from datetime import datetime

from celery import current_app
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from badging.models import (
    AuditEvent,
    Delivery,
    LearnerProgress,
)
from badging.services.issuance.policy import queued_stale_after

BATCH_SIZE = 50


UNCONFIRMED_SEND = (
    "The worker stopped while sending this email, after the mail server may have taken it: the learner "
    "may receive it twice (counted in unconfirmed sends). Sending it again."
)


def _due_eligible(now: datetime):
    # ELIGIBLE means evaluated eligible and not yet issued; queued rows carry their stale time in
    # issue_next_attempt_at, failed rows their retry time: either way "due" is the same test.
    return LearnerProgress.objects.filter(state=LearnerProgress.ELIGIBLE, course_badge__active=True).filter(
        Q(issue_next_attempt_at__isnull=True) | Q(issue_next_attempt_at__lte=now)
    )


def _enqueue_batches(progress_ids: list[int]) -> None:
    for start in range(0, len(progress_ids), BATCH_SIZE):
        current_app.send_task("badging.award_issue_batch", args=[progress_ids[start : start + BATCH_SIZE]])


def _mark_queued_and_enqueue(queryset) -> int:
    now = timezone.now()
    with transaction.atomic():
        ids = list(queryset.select_for_update(skip_locked=True).order_by("pk").values_list("pk", flat=True))
        if not ids:
            return 0
        LearnerProgress.objects.filter(pk__in=ids).queue_for_issuing(until=now + queued_stale_after())
        transaction.on_commit(lambda: _enqueue_batches(ids))
    return len(ids)


def awards_enqueue_eligible(*, course_badge_id: int) -> int:
    """Queue every eligible learner of a course badge who has no award yet; returns how many.

    Learners failing with a retry time in the future, queued less than queued_stale_after() ago, or
    being issued under a live lease, are left alone. Tasks are enqueued after commit, in batches of BATCH_SIZE.
    """
    return _mark_queued_and_enqueue(_due_eligible(timezone.now()).filter(course_badge_id=course_badge_id))


def awards_retry_failed_now(*, course_badge_id: int) -> tuple[int, int]:
    """An instructor's "retry now": the learners whose issuing failed skip the rest of their backoff
    (that is for automatic retries) and are queued. Returns (how many had failed, how many queued)."""
    with transaction.atomic():
        failed_count = LearnerProgress.objects.filter(course_badge_id=course_badge_id).retry_failed_now()
        return failed_count, awards_enqueue_eligible(course_badge_id=course_badge_id)


def awards_reconcile() -> dict:
    """Find work that should have happened and enqueue it again: eligible learners without an
    award (never queued, queued too long ago, their worker's lease run out, or failed and due for a
    retry) and deliveries that are due or stuck (an email's sending lease run out). Safe to run any
    time, from any number of beat schedulers."""
    now = timezone.now()
    stale = queued_stale_after()
    queued = _mark_queued_and_enqueue(_due_eligible(now))
    with transaction.atomic():
        # An email whose sending lease ran out: its worker died between handing it to the mail server
        # and recording the answer. It may have gone out: count it, then send it again.
        Delivery.objects.filter(status=Delivery.SENDING, next_attempt_at__lte=now).update(
            status=Delivery.FAILED,
            unconfirmed_sends=F("unconfirmed_sends") + 1,
            last_error=UNCONFIRMED_SEND,
            next_attempt_at=now,
            updated_at=now,
        )
        delivery_ids = list(
            Delivery.objects.select_for_update(skip_locked=True)
            .exclude(status=Delivery.SENT)
            .filter(next_attempt_at__isnull=False, next_attempt_at__lte=now)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        if delivery_ids:
            Delivery.objects.filter(pk__in=delivery_ids).update(next_attempt_at=now + stale)
            transaction.on_commit(lambda: _enqueue_deliveries(delivery_ids))
    # Revocations that never reached Canvas Credentials (its task exhausted its retries or was lost).
    unpropagated = list(
        Delivery.objects.filter(
            kind=Delivery.KIND_CANVAS_CREDENTIALS, award__revoked=True, award__revoked_at__lte=now - stale
        )
        .exclude(external_id="")
        .exclude(award__in=AuditEvent.objects.filter(action="canvas_credentials_revoked").values("award"))
        .values_list("pk", flat=True)
    )
    for delivery_id in unpropagated:
        current_app.send_task("badging.canvas_credentials_revoke", args=[delivery_id])
    return {"learners_queued": queued, "deliveries_queued": len(delivery_ids), "revocations_queued": len(unpropagated)}


def _enqueue_deliveries(delivery_ids: list[int]) -> None:
    for start in range(0, len(delivery_ids), BATCH_SIZE):
        current_app.send_task("badging.deliveries_send", args=[delivery_ids[start : start + BATCH_SIZE]])
