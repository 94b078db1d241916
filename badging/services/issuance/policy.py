"""How long a worker's leases last, when failed work is tried again, and what a failure to issue
is: the timing that issuing, delivering and reconciling share (one place to change it).

- A worker issuing a batch, or sending its emails, holds a lease on the rows in the database,
  renewed by LeaseRenewer while it works; once it runs out (the worker was killed) the reconciler
  queues the work again, whatever the broker did with the task.
- A learner or delivery queued queued_stale_after() ago and not picked up is queued again.
- Failures are retried with capped exponential backoff and jitter (retry_delay).
"""

from __future__ import annotations

import logging
import random
import threading
from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.utils import timezone

logger = logging.getLogger(__name__)


RETRY_CAP = timedelta(hours=6)


# A badge image that cannot be baked will not fix itself: retry rarely, until an admin replaces it.
PERMANENT_FAILURE_RETRY = timedelta(hours=24)


class IssueFailure(Exception):
    """Issuing to one learner failed for a reason worth showing to instructors and admins."""

    def __init__(self, reason: str, *, permanent: bool = False):
        super().__init__(reason)
        self.permanent = permanent


def queued_stale_after() -> timedelta:
    """A learner or delivery queued this long ago and not picked up is queued again (lost message)."""
    return timedelta(seconds=settings.BADGING_QUEUED_STALE_AFTER_SECONDS)


def lease_length() -> timedelta:
    """How long a worker's claim on its learners (or on an email being sent) lasts unless renewed."""
    return timedelta(seconds=settings.BADGING_LEASE_SECONDS)


def retry_delay(attempts: int, *, base: timedelta | None = None, cap: timedelta = RETRY_CAP) -> timedelta:
    """Capped exponential backoff with full jitter on the upper half (no thundering herd): after
    the first attempt between base/2 and base (BADGING_RETRY_BASE_SECONDS, a minute), doubling
    with each attempt, never above cap."""
    base = base or timedelta(seconds=settings.BADGING_RETRY_BASE_SECONDS)
    ceiling = min(base * (2 ** max(attempts - 1, 0)), cap)
    return ceiling / 2 + ceiling / 2 * random.random()


class LeaseRenewer(threading.Thread):
    """Calls renew() every third of the lease until done is set, from its own database connection
    (a worker killed mid-task stops renewing: its lease runs out and the reconciler takes over)."""

    def __init__(self, name: str, renew):
        super().__init__(name=name, daemon=True)
        self.renew, self.done = renew, threading.Event()

    def run(self) -> None:
        from django.db import connections

        try:
            while not self.done.wait(lease_length().total_seconds() / 3):
                try:
                    self.renew(timezone.now() + lease_length())
                except Exception:  # the database is unreachable: the lease runs out, the work is redone
                    logger.warning("could not renew the lease %s", self.name, exc_info=True)
        finally:
            connections.close_all()

    def start_unless_in_transaction(self) -> None:
        if not connection.in_atomic_block:  # a caller's open transaction hides the lease from other connections
            self.start()
