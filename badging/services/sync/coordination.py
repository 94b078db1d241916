"""When a course sync runs, and that only one runs per course at a time.

The course lock (a lease renewed while its holder works), the "again" flag that folds a trigger
arriving during a run into it, the queued flag that keeps one task per course in the queue, the
recheck and the reconciler for a holder that died, and the entry points that enqueue or run a
sync or a re-evaluation. Changes when the rules of triggering, queueing or locking change.
"""

from __future__ import annotations

import logging
import threading
import uuid
from contextlib import contextmanager
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from badging.models import (
    CourseBadge,
    CourseSync,
    SyncRun,
)
from badging.services.issuance.policy import retry_delay
from badging.services.sync.progress import progress_evaluate_course
from badging.services.sync.run import INTERRUPTED, _sync_once
from canvas import (
    CanvasClient,
)
from canvas.errors import CanvasIncompleteAnswerError, CanvasThrottledError, CanvasUnavailableError
from lti.models import Course

logger = logging.getLogger(__name__)

LOCK_TIMEOUT = int(getattr(settings, "CELERY_TASK_TIME_LIMIT", 600)) + 60


# The course lock is a lease that its holder renews while it works: a worker killed mid-sync (out
# of memory, a lost node) frees the course within LOCK_LEASE_SECONDS, not after the time limit.
# The same length as the issuance leases (BADGING_LEASE_SECONDS, 30), renewed three times a lease.
LOCK_LEASE_SECONDS = settings.BADGING_LEASE_SECONDS


LOCK_RENEW_SECONDS = max(1, LOCK_LEASE_SECONDS // 3)


# The delayed task that runs a folded request in case the lock's holder died: a no-op otherwise.
RECHECK_TRIGGER = "lock_recheck"


QUEUED_TTL = 15 * 60


# A trigger arriving during a run makes the running sync loop again, at most this many times.
MAX_EXTRA_PASSES = 3


def _lock_key(course_id: int) -> str:
    return f"badging:sync:lock:{course_id}"


def _again_key(course_id: int) -> str:
    return f"badging:sync:again:{course_id}"


def _queued_key(course_id: int) -> str:
    return f"badging:sync:queued:{course_id}"


def _recheck_key(course_id: int) -> str:
    return f"badging:sync:recheck:{course_id}"


class _Lease(threading.Thread):
    """Renews the course lock while its holder lives; stops when the lock is no longer ours."""

    def __init__(self, key: str, token: str):
        super().__init__(name=f"lease {key}", daemon=True)
        self.key, self.token, self.done = key, token, threading.Event()

    def run(self) -> None:
        while not self.done.wait(LOCK_RENEW_SECONDS):
            try:
                if cache.get(self.key) != self.token or not cache.touch(self.key, LOCK_LEASE_SECONDS):
                    return
            except Exception:  # the cache is down: the lease runs out, another worker may take over
                logger.warning("could not renew %s", self.key, exc_info=True)


@contextmanager
def _course_lock(course_id: int, *, full: bool = False, roster: bool | None = None):
    """Yields True while holding the course's lock, or False after folding this request into the
    holder's "again" (which it runs before letting go). Two things make sure a folded request is
    never lost: the holder hands a leftover "again" to a new task when it lets go, and a delayed
    recheck task runs the sync in case the holder died without letting go."""
    key, token = _lock_key(course_id), uuid.uuid4().hex
    if not cache.add(key, token, timeout=LOCK_LEASE_SECONDS):
        previous = cache.get(_again_key(course_id)) or {}
        cache.set(
            _again_key(course_id),
            {"full": bool(previous.get("full") or full), "roster": bool(previous.get("roster") or roster)},
            timeout=LOCK_TIMEOUT,
        )
        if cache.add(_recheck_key(course_id), 1, timeout=LOCK_LEASE_SECONDS):
            _sync_task_send(course_id=course_id, trigger=RECHECK_TRIGGER, countdown=LOCK_LEASE_SECONDS + 2)
        yield False
        return
    lease = _Lease(key, token)
    lease.start()
    try:
        yield True
    finally:
        lease.done.set()
        if cache.get(key) == token:
            cache.delete(key)
        if cache.get(_again_key(course_id)):
            # Asked for while this holder was finishing (or past its extra passes): a task of its own.
            _sync_task_send(course_id=course_id, trigger="requested_again")


def _sync_task_send(*, course_id: int, trigger: str, countdown: float | None = None) -> None:
    def send() -> None:
        from celery import current_app

        current_app.send_task(
            "badging.course_sync", kwargs={"course_id": course_id, "trigger": trigger}, countdown=countdown
        )

    transaction.on_commit(send)


def course_sync(
    *, course_id: int, trigger: str, full: bool = False, roster: bool | None = None, client: CanvasClient | None = None
) -> SyncRun | None:
    """Sync one course now, in this process. Returns the last SyncRun, or None when another sync of
    the course is running (this trigger is then folded into it: it will run once more)."""
    with _course_lock(course_id, full=full, roster=roster) as locked:
        if not locked:
            logger.info("sync of course %s already running: folded trigger %r into it", course_id, trigger)
            return None
        # Requests that arrived while this task was queued ride along with this pass.
        pending = cache.get(_again_key(course_id))
        if trigger == RECHECK_TRIGGER:
            if not pending:
                return None  # the holder ran the folded request before letting go
            trigger = "requested_again"
        if pending:
            cache.delete(_again_key(course_id))
            full = full or bool(pending.get("full"))
            roster = True if pending.get("roster") else roster
        run = _sync_once(course_id=course_id, trigger=trigger, full=full, roster=roster, client=client)
        for _ in range(MAX_EXTRA_PASSES):
            again = cache.get(_again_key(course_id))
            if not again:
                break
            cache.delete(_again_key(course_id))
            run = _sync_once(
                course_id=course_id,
                trigger="requested_again",
                full=again.get("full", False),
                roster=again.get("roster") or None,
                client=client,
            )
    if run.status == SyncRun.STATUS_FAILED and (run.stats or {}).get("error_kind") in PASSING_FAILURES:
        _sync_retry_later(course_id)
    elif run.status == SyncRun.STATUS_OK:
        CourseSync.objects.filter(course_id=course_id, retry_at__isnull=False).update(retry_at=None)
    return run


# Canvas down, throttling or answering half pages: worth asking again soon. A refused token or
# permission is not: it waits for an admin (and the periodic sync).
PASSING_FAILURES = frozenset({CanvasUnavailableError.kind, CanvasIncompleteAnswerError.kind, CanvasThrottledError.kind})


def _sync_retry_later(course_id: int) -> None:
    """A sync that failed because Canvas was down or throttling is due again after a backoff
    (BADGING_RETRY_BASE_SECONDS, doubling with each failure in a row, never later than the periodic
    sync): an outage of a few minutes no longer leaves the course unsynced, and its failure on the
    dashboard, until the next periodic sync. The time is kept on CourseSync; the reconciler asks."""
    last_ok = SyncRun.objects.filter(course_id=course_id, status=SyncRun.STATUS_OK).order_by("-pk").values("pk").first()
    failures = SyncRun.objects.filter(
        course_id=course_id, status=SyncRun.STATUS_FAILED, pk__gt=last_ok["pk"] if last_ok else 0
    ).count()
    delay = retry_delay(max(failures, 1), cap=timedelta(minutes=settings.BADGING_SYNC_INTERVAL_MINUTES))
    CourseSync.objects.update_or_create(course_id=course_id, defaults={"retry_at": timezone.now() + delay})
    logger.info("sync of course %s: due again in %.0f s (failure %s in a row)", course_id, delay.seconds, failures)


def syncs_retry_due() -> int:
    """Reconciler: ask again for the syncs whose retry time has come (see _sync_retry_later).
    Each is taken once (its row locked and its time cleared in one transaction), whichever of
    several beats runs this."""
    now = timezone.now()
    course_ids = []
    with transaction.atomic():
        for state in CourseSync.objects.select_for_update(skip_locked=True).filter(retry_at__lte=now):
            state.retry_at = None
            state.save(update_fields=["retry_at"])
            course_ids.append(state.course_id)
            _sync_task_send(course_id=state.course_id, trigger="retry")
    return len(course_ids)


def course_sync_request(*, course_id: int, trigger: str, full: bool = False, roster: bool | None = None) -> bool:
    """Enqueue a sync of the course after the current transaction commits, unless one is already
    queued (then this request is covered by it). Returns True when a task was enqueued."""
    if not cache.add(_queued_key(course_id), trigger, timeout=QUEUED_TTL):
        if roster or full:
            # The queued task may be a light one: make sure whichever pass runs next reads the roster.
            previous = cache.get(_again_key(course_id)) or {}
            cache.set(
                _again_key(course_id),
                {"full": bool(previous.get("full") or full), "roster": True},
                timeout=LOCK_TIMEOUT,
            )
        return False
    CourseSync.objects.update_or_create(course_id=course_id, defaults={"requested_at": timezone.now()})
    kwargs = {"course_id": course_id, "trigger": trigger, "full": full, "roster": roster}

    def send() -> None:
        from celery import current_app

        current_app.send_task("badging.course_sync", kwargs=kwargs)

    transaction.on_commit(send)
    return True


def course_evaluate(*, course_id: int) -> dict | None:
    """Re-evaluate every learner of the course from the synced rows, without calling Canvas (after
    an admin changed a course badge's rule). Under the course's sync lock; when a sync holds it,
    the request is folded into it (the sync evaluates once more at its end) and None is returned."""
    with _course_lock(course_id) as locked:
        return progress_evaluate_course(course_id=course_id) if locked else None


def course_evaluate_request(*, course_id: int) -> None:
    """Enqueue course_evaluate after the current transaction commits (a rule was saved)."""

    def send() -> None:
        from celery import current_app

        try:
            current_app.send_task("badging.course_evaluate", kwargs={"course_id": course_id})
        except Exception:  # the rule is saved; the course's next sync evaluates it anyway
            logger.warning("could not enqueue the re-evaluation of course %s", course_id, exc_info=True)

    transaction.on_commit(send)


def course_sync_dequeued(*, course_id: int) -> None:
    """Called by the task as it starts: later requests must enqueue a new task again."""
    cache.delete(_queued_key(course_id))


def syncs_interrupted_recover() -> int:
    """Reconciler: a sync whose worker died (kill -9, a lost node, a cut database connection) leaves
    its run "running" (the dashboard says "syncing") and its course unsynced until the next periodic
    sync, BADGING_SYNC_INTERVAL_MINUTES later. Once the course lock's lease has run out nobody is
    syncing that course: the run is marked interrupted (the dashboard says so) and synced again now.
    Returns how many syncs were started again."""
    now = timezone.now()
    runs = SyncRun.objects.filter(
        # A run is created under its course lock: once the lock is gone its holder is dead (or the
        # cache was flushed, when a new sync would also take over: see _course_sync_locked).
        status=SyncRun.STATUS_RUNNING,
        started_at__lt=now - timedelta(seconds=LOCK_LEASE_SECONDS),
    ).values_list("pk", "course_id")
    restarted = 0
    for pk, course_id in runs:
        if cache.get(_lock_key(course_id)) is not None:
            continue  # its holder is alive: it renews the lease every LOCK_RENEW_SECONDS
        if SyncRun.objects.filter(pk=pk, status=SyncRun.STATUS_RUNNING).update(
            status=SyncRun.STATUS_FAILED, finished_at=now, error=INTERRUPTED
        ):
            _sync_task_send(course_id=course_id, trigger="interrupted")
            restarted += 1
    return restarted


def course_sync_request_if_stale(*, course_id: int) -> bool:
    """For page views: enqueue a background sync when the course's data is older than
    BADGING_STALE_AFTER_MINUTES (or was never synced). Never calls Canvas itself."""
    if not CourseBadge.objects.filter(course_id=course_id, active=True).exists():
        return False
    stale_after = timedelta(minutes=settings.BADGING_STALE_AFTER_MINUTES)
    now = timezone.now()
    last_synced, requested = CourseSync.objects.filter(course_id=course_id).values_list(
        "last_synced_at", "requested_at"
    ).first() or (None, None)
    if last_synced and now - last_synced < stale_after:
        return False
    if requested and now - requested < stale_after:
        # Asked recently and not synced since: it is running, or it failed (e.g. a revoked token).
        # Page views must not turn a failing sync into a stream of Canvas calls.
        return False
    return course_sync_request(course_id=course_id, trigger="stale")


def courses_sync_due() -> int:
    """Enqueue a sync of every course with an active course badge whose last sync is older than
    BADGING_SYNC_INTERVAL_MINUTES. Returns how many were enqueued."""
    cutoff = timezone.now() - timedelta(minutes=settings.BADGING_SYNC_INTERVAL_MINUTES)
    course_ids = (
        Course.objects.filter(course_badges__active=True, platform__active=True)
        .filter(
            Q(sync_state__isnull=True)
            | Q(sync_state__last_synced_at__isnull=True)
            | Q(sync_state__last_synced_at__lt=cutoff)
        )
        .values_list("pk", flat=True)
        .distinct()
    )
    return sum(1 for cid in course_ids if course_sync_request(course_id=cid, trigger="periodic"))
