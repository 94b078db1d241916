"""The reconciler's view of the broker: work queued in a Redis that has since lost its memory.

Queued learners and emails carry a time after which the reconciler queues them again
(BADGING_QUEUED_STALE_AFTER_SECONDS, 180 s), because a message may be lost without anybody
noticing. A Redis restarted without persistence, or flushed, loses every message at once: the
reconciler notices that (a marker key it keeps in the broker's Redis is gone) and queues that work
again at once, so a lost queue costs one reconciler interval, not the stale time."""

from __future__ import annotations

import logging

from django.utils import timezone

from badging.models import Delivery, LearnerProgress

logger = logging.getLogger(__name__)

MARKER = "badging:broker-remembers"


def broker_forgot() -> bool:
    """True when the broker's Redis does not hold the marker (it lost its data since the last look,
    or this is the first look); the marker is set again. False for other brokers or when the
    broker cannot be reached (the next run looks again)."""
    from skillsforward.celery import app

    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
            client = getattr(conn.default_channel, "client", None)
            if client is None or not callable(getattr(client, "set", None)):
                return False
            return bool(client.set(MARKER, "1", nx=True))
    except Exception:  # the broker is down: nothing can be queued now anyway
        logger.warning("reconciler: could not look at the broker", exc_info=True)
        return False


def queued_work_due_now() -> dict:
    """Makes every queued learner and every queued (pending) email due for the reconciler now:
    their messages were lost with the broker's data. A message that did survive only costs a
    repeat, which finds the work done or leased."""
    now = timezone.now()
    learners = LearnerProgress.objects.make_queued_due(now=now)
    emails = Delivery.objects.filter(status=Delivery.PENDING, next_attempt_at__gt=now).update(next_attempt_at=now)
    if learners or emails:
        logger.warning("reconciler: the broker lost its queue; queuing again %d learners, %d emails", learners, emails)
    return {"learners": learners, "emails": emails}
