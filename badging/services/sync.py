"""Course sync: bring a course's Canvas data into the database, evaluate every learner, hand the
eligible ones to issuance.

Guarantees:
- One sync per course at a time (a lock in the shared cache). A trigger that arrives while a
  sync runs is not lost: it is recorded and the running sync makes one more pass.
- Few Canvas calls: one sequential pass per kind, pages of 100. Submissions are read in full the
  first time and once a day, otherwise incrementally with `graded_since` (with an overlap margin
  against clock skew).
  The roster (enrollments with grades, primary emails) is re-read on full syncs, on an
  instructor's "sync now", on roster live events, and when older than BADGING_SYNC_INTERVAL_MINUTES;
  a roster pass also re-reads graded-but-unposted results, since posting does not move graded_at.
- Only posted grades count (the evaluation ignores unposted ones; posted_at is recorded).
- Only published credentialing assessments are asked for (badging.rules): Canvas refuses the
  whole submissions request for an unpublished or deleted id. The course's Final Grade Override
  setting is read with the roster: without it Canvas reports no override.
- Every run leaves a SyncRun with its status, Canvas request count, stats and, on failure, the
  reason in plain words (also copied to CourseSync.last_error for the instructor dashboard).
"""

from __future__ import annotations

import functools
import logging
import threading
import time
import uuid
from collections import defaultdict, deque
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from badging import evaluation as ev
from badging import rules as credentialing
from badging.models import (
    AssessmentResult,
    Assignment,
    Award,
    CourseBadge,
    CourseStaff,
    CourseSync,
    Enrollment,
    LearnerProgress,
    SyncRun,
)
from badging.rules import badge_rule_build, rule_assignments
from badging.services.emails import primary_emails_read
from badging.services.issuance.queueing import awards_enqueue_eligible
from badging.services.issuance.review import award_flag_for_review
from canvas import (
    CanvasAssignment,
    CanvasClient,
    CanvasCourse,
    CanvasEnrollment,
    CanvasError,
    CanvasInvalidAssignmentsError,
    CanvasPermissionError,
    CanvasSubmission,
)
from canvas.client import IDS_PER_REQUEST, MAX_THROTTLE_WAITS
from lti.models import Course, Person

logger = logging.getLogger(__name__)

BATCH = 500
# graded_since is compared with Canvas's clock: start the next window a little before this one began.
WATERMARK_OVERLAP = timedelta(minutes=5)
LOCK_TIMEOUT = int(getattr(settings, "CELERY_TASK_TIME_LIMIT", 600)) + 60
# The course lock is a lease that its holder renews while it works: a worker killed mid-sync (out
# of memory, a lost node) frees the course within LOCK_LEASE_SECONDS, not after the time limit.
LOCK_LEASE_SECONDS = 30
LOCK_RENEW_SECONDS = 10
INTERRUPTED = "interrupted: the worker stopped before this sync finished; the course was synced again"
# The delayed task that runs a folded request in case the lock's holder died: a no-op otherwise.
RECHECK_TRIGGER = "lock_recheck"
QUEUED_TTL = 15 * 60
# A trigger arriving during a run makes the running sync loop again, at most this many times.
MAX_EXTRA_PASSES = 3
STUDENT_ENROLLMENT_TYPES = ("StudentEnrollment", "StudentViewEnrollment")
# Read in the same roster request: who teaches the course (instructor actions re-check it).
STAFF_ENROLLMENT_TYPES = ("TeacherEnrollment", "TaEnrollment")
ENROLLMENT_TYPES = STUDENT_ENROLLMENT_TYPES + STAFF_ENROLLMENT_TYPES
STUDENT_IDS_PER_REQUEST = IDS_PER_REQUEST
# Above this many learners marked for a targeted refresh, one roster pass is cheaper.
TARGETED_LEARNERS_MAX = 20
# Learners whose unposted results a light pass re-reads after grade events (one request per 100).
POSTINGS_MARKED_MAX = 500
# A safety net under the incremental passes: once a day everything is read again, so an update
# missed for any reason (a lost event, a regrade that kept graded_at) cannot stay missed.
FULL_SYNC_EVERY = timedelta(hours=24)


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


def _marks_add(course_id: int, field: str, canvas_user_ids: Iterable[str], *, cap: int) -> None:
    # Kept with the course's sync state (not in the cache): a mark survives until a sync takes it.
    ids = {str(u) for u in canvas_user_ids if u}
    if not ids:
        return
    with transaction.atomic():
        state, _ = CourseSync.objects.select_for_update().get_or_create(course_id=course_id)
        marked = sorted(set(getattr(state, field) or ()) | ids)[:cap]
        CourseSync.objects.filter(pk=state.pk).update(**{field: marked})


def _marks_take(course_id: int, field: str) -> list[str]:
    with transaction.atomic():
        marked = (
            CourseSync.objects.select_for_update().filter(course_id=course_id).values_list(field, flat=True).first()
        )
        if marked:
            CourseSync.objects.filter(course_id=course_id).update(**{field: []})
    return list(marked or [])


def course_sync_learners_mark(*, course_id: int, canvas_user_ids: Iterable[str]) -> None:
    """Ask the next sync of the course to re-read these learners' enrollments (final grade override,
    state) even when it does not read the whole roster: one request per learner instead of a pass
    over every learner. Too many marked learners make it read the whole roster instead."""
    # One past the limit is kept, so the sync can tell "too many" from "exactly the limit".
    _marks_add(course_id, "learners_marked", canvas_user_ids, cap=TARGETED_LEARNERS_MAX + 1)


def _learners_marked_take(course_id: int) -> list[str]:
    return _marks_take(course_id, "learners_marked")


def course_sync_postings_mark(*, course_id: int, canvas_user_ids: Iterable[str]) -> None:
    """Ask the next sync of the course to re-read these learners' graded-but-unposted results.

    Posting a grade does not move graded_at, so graded_since cannot see it; Canvas does send a
    grade event for the learner. Costs nothing for a learner with no unposted result on record,
    one request per 100 learners otherwise. Past the cap, the next roster pass rechecks everyone."""
    _marks_add(course_id, "postings_marked", canvas_user_ids, cap=POSTINGS_MARKED_MAX)


def _postings_marked_take(course_id: int) -> list[str]:
    return _marks_take(course_id, "postings_marked")


# --- Entry points ---------------------------------------------------------------------------------


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
        return run


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


# --- One pass -------------------------------------------------------------------------------------


class _Timer:
    """Seconds per pass into stats["seconds"] (where a slow sync spends its time)."""

    def __init__(self, stats: dict):
        self.seconds = stats.setdefault("seconds", {})
        self.last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.seconds[name] = round(now - self.last, 2)
        self.last = now


def roster_interval() -> timedelta:
    """How long after a roster pass the next one is due (BADGING_ROSTER_INTERVAL_MINUTES): the longest
    a roster change Canvas sent no Live Event for (e.g. a dropped learner) takes to show, plus one sync."""
    return timedelta(minutes=settings.BADGING_ROSTER_INTERVAL_MINUTES)


def _roster_due(state: CourseSync, now: datetime) -> bool:
    return state.roster_read_at is None or now - state.roster_read_at >= roster_interval()


def _sync_once(
    *, course_id: int, trigger: str, full: bool, roster: bool | None, client: CanvasClient | None
) -> SyncRun:
    course = Course.objects.select_related("platform").get(pk=course_id)
    state, _ = CourseSync.objects.get_or_create(course=course)
    started = timezone.now()
    full = (
        full
        or state.submissions_graded_since is None
        or state.last_full_sync_at is None
        or started - state.last_full_sync_at > FULL_SYNC_EVERY
    )
    # Whatever the trigger (beat, command, Sync now, a grade event), the roster is read when it is due,
    # on full syncs, and when asked for explicitly (a roster Live Event naming no learner).
    roster = bool(roster) or full or _roster_due(state, started)
    targeted = _learners_marked_take(course.pk)
    postings = _postings_marked_take(course.pk)
    if roster or len(targeted) > TARGETED_LEARNERS_MAX:
        roster, targeted = True, []
    # Under the course lock no other sync of this course runs: a run still "running" was cut short.
    SyncRun.objects.filter(course=course, status=SyncRun.STATUS_RUNNING).update(
        status=SyncRun.STATUS_FAILED, finished_at=started, error=INTERRUPTED
    )
    run = SyncRun.objects.create(
        course=course, kind="full" if full else "incremental", trigger=trigger[:30], status=SyncRun.STATUS_RUNNING
    )
    stats: dict = {"roster": bool(roster)}
    try:
        client = client or CanvasClient(course.platform, max_throttle_waits=MAX_THROTTLE_WAITS)
    except CanvasError as exc:
        return _fail(run, state, exc, requests=0, stats=stats)
    before = client.request_count
    http_before = client.http_seconds
    try:
        timer = _Timer(stats)
        with ThreadPoolExecutor(max_workers=client.parallel, thread_name_prefix="canvas-sync") as pool:
            _course_read(client=client, pool=pool, course=course, state=state, full=full, roster=roster, stats=stats)
            timer.lap("assignments")
            read = functools.partial(
                _learners_and_submissions_read,
                client=client, pool=pool, course=course, state=state, full=full, roster=roster,
                postings=postings, stats=stats,
            )  # fmt: skip
            try:
                fetched = read(targeted=targeted)
            except CanvasInvalidAssignmentsError:
                # An assessment was unpublished or deleted in Canvas after we listed the assignments:
                # list them again (it then no longer counts as readable) and read once more.
                logger.info("course %s: an assessment changed in Canvas during the sync; listing again", course.pk)
                stats["assignments"] = _assignments_write(
                    course=course, records=client.list_assignments(course.canvas_course_id)
                )
                stats["assignments_relisted"] = True
                fetched = read(targeted=[])
        stats["submissions"] = fetched
        timer.lap("learners_and_submissions")
        stats["progress"] = progress_evaluate_course(course_id=course.pk)
        timer.lap("evaluation")
        stats["seconds"]["waiting_for_canvas"] = round(client.http_seconds - http_before, 2)
        stats["peak_in_flight"] = client.peak_in_flight
    except CanvasError as exc:
        return _fail(run, state, exc, requests=client.request_count - before, stats=stats)
    except Exception as exc:
        logger.exception("sync of course %s failed", course.pk)
        _fail(run, state, exc, requests=client.request_count - before, stats=stats, plain=False)
        raise

    finished = timezone.now()
    state.last_synced_at = finished
    if full:
        state.last_full_sync_at = finished
    if roster:
        state.roster_read_at = started
    state.synced_assignment_ids = stats["assignment_ids"]
    state.submissions_graded_since = started - WATERMARK_OVERLAP
    state.last_status = SyncRun.STATUS_OK
    state.last_error = ""
    state.save(
        update_fields=[
            "last_synced_at",
            "last_full_sync_at",
            "roster_read_at",
            "synced_assignment_ids",
            "submissions_graded_since",
            "last_status",
            "last_error",
        ]
    )
    run.status = SyncRun.STATUS_OK
    run.finished_at = finished
    run.canvas_requests = client.request_count - before
    run.stats = stats
    run.save()
    logger.info("synced course %s (%s, %s): %d Canvas requests", course.pk, run.kind, trigger, run.canvas_requests)
    return run


def _course_read(
    *,
    client: CanvasClient,
    pool: ThreadPoolExecutor,
    course: Course,
    state: CourseSync,
    full: bool,
    roster: bool,
    stats: dict,
) -> None:
    """The course's details (full syncs), its Final Grade Override setting (read with the roster) and
    its assignments: independent requests, sent at once; written here, on the sync's thread."""
    cid = course.canvas_course_id
    details = pool.submit(client.get_course, cid) if full else None
    course_settings = (
        pool.submit(client.get_course_settings, cid) if roster or state.allow_final_grade_override is None else None
    )
    assignments = pool.submit(client.list_assignments, cid)
    if details is not None:
        _course_details_write(course=course, details=details.result())
    if course_settings is not None:
        # Whether Canvas reports Final Grade Overrides at all in this course.
        state.allow_final_grade_override = course_settings.result().allow_final_grade_override
        CourseSync.objects.filter(pk=state.pk).update(allow_final_grade_override=state.allow_final_grade_override)
        stats["allow_final_grade_override"] = state.allow_final_grade_override
    stats["assignments"] = _assignments_write(course=course, records=assignments.result())


def _learners_and_submissions_read(
    *,
    client: CanvasClient,
    pool: ThreadPoolExecutor,
    course: Course,
    state: CourseSync,
    full: bool,
    roster: bool,
    targeted: list[str],
    postings: list[str],
    stats: dict,
) -> int:
    """The roster (when due) and the submissions. A whole history (full syncs, assessments new to
    the sync) is read 100 learners per request, each batch asked for as soon as the roster pass has
    written it, while the roster's next pages arrive."""
    wanted = _submission_assignment_ids(course)
    stats["assignment_ids"] = sorted(wanted)
    history_ids = sorted(wanted) if full else sorted(wanted - set(state.synced_assignment_ids or []))
    history = (
        _HistoryReader(client=client, pool=pool, course=course, assignment_ids=history_ids) if history_ids else None
    )
    new_learner_ids: list[str] = []
    if roster:
        roster_stats, new_learner_ids = _roster_sync(client=client, pool=pool, course=course, history=history)
        stats.update(roster_stats)
    else:
        if targeted:
            new_learner_ids = _learners_refresh(client=client, course=course, user_ids=targeted)
            stats["learners_refreshed"] = len(targeted)
        if history is not None:
            for batch in _enrolled_learner_batches(course):
                history.add(batch)
    fetched = 0
    if history is not None:
        try:
            fetched += history.finish()
        except CanvasPermissionError:
            # Canvas refuses a batch naming a learner it no longer lists (removed since the roster was
            # read): read the history course-wide instead, one state at a time.
            logger.info("course %s: a learner left during the sync; reading the history course-wide", course.pk)
            fetched = _submissions_history_sync(client=client, course=course, assignment_ids=history_ids, stats=stats)
        stats["results_removed"] = stats.get("results_removed", 0) + history.removed
    old_ids = sorted(wanted - set(history_ids))
    if old_ids:
        fetched += _submissions_sync(
            client=client,
            course=course,
            records=client.list_submissions(
                course.canvas_course_id, assignment_ids=old_ids, graded_since=state.submissions_graded_since
            ),
        )
        # Learners new since the last roster pass: the graded_since window may have skipped their grades.
        fetched += _students_refetch(client=client, course=course, student_ids=new_learner_ids, assignment_ids=old_ids)
        if roster:
            stats["unposted_rechecked"] = _unposted_recheck(client=client, course=course, readable=set(old_ids))
        elif postings:
            stats["unposted_rechecked"] = _unposted_recheck(
                client=client, course=course, only=postings, readable=set(old_ids)
            )
    return fetched


def _fail(
    run: SyncRun, state: CourseSync, exc: Exception, *, requests: int, stats: dict, plain: bool = True
) -> SyncRun:
    message = str(exc) if plain else f"an unexpected error stopped the sync ({type(exc).__name__}); it was logged"
    run.status = SyncRun.STATUS_FAILED
    run.finished_at = timezone.now()
    run.error = message
    if isinstance(exc, CanvasError):
        # The dashboard words the failure for instructors by its kind (the admin message stays in error).
        stats["error_kind"] = exc.kind
    run.canvas_requests = requests
    run.stats = stats
    run.save()
    state.last_status = SyncRun.STATUS_FAILED
    state.last_error = message
    state.save(update_fields=["last_status", "last_error", "allow_final_grade_override"])
    logger.warning("sync of course %s failed: %s", run.course_id, message)
    return run


# --- Passes ---------------------------------------------------------------------------------------


def _course_details_write(*, course: Course, details: CanvasCourse) -> None:
    """The course's name and language as Canvas has them now (a course configured before its first
    launch has no name; the language is the course's own, Canvas REST Course `locale`)."""
    name, code, locale = details.name[:500], details.course_code[:255], details.locale
    if (course.name, course.course_code, course.locale) != (name, code, locale):
        Course.objects.filter(pk=course.pk).update(name=name, course_code=code, locale=locale)


def _assignments_write(*, course: Course, records: list[CanvasAssignment]) -> int:
    rows = [
        Assignment(
            course=course,
            canvas_assignment_id=a.id,
            name=a.name[:500],
            assignment_group_id=a.assignment_group_id,
            assignment_group_name=a.assignment_group_name[:500],
            points_possible=a.points_possible,
            grading_type=a.grading_type,
            published=a.published,
            position=a.position,
            html_url=a.html_url[:1000],
            rubric=a.rubric_json(),
            rubric_title=a.rubric_title[:500],
            deleted_in_canvas=False,
        )
        for a in records
    ]
    with transaction.atomic():
        Assignment.objects.bulk_create(
            rows,
            batch_size=BATCH,
            update_conflicts=True,
            unique_fields=["course", "canvas_assignment_id"],
            update_fields=[
                "name",
                "assignment_group_id",
                "assignment_group_name",
                "points_possible",
                "grading_type",
                "published",
                "position",
                "html_url",
                "rubric",
                "rubric_title",
                "deleted_in_canvas",
                "synced_at",
            ],
        )
        Assignment.objects.filter(course=course).exclude(canvas_assignment_id__in=[a.id for a in records]).update(
            deleted_in_canvas=True
        )
    return len(rows)


def people_upsert_from_canvas(*, platform_id: int, users: Iterable[tuple[str, str, str, str]]) -> dict[str, int]:
    """Bulk create/update Person rows from Canvas (user id, name, sortable name, primary email).

    An empty email leaves a known one alone. Returns {canvas_user_id: person pk}. Bulk on purpose:
    a course of thousands of learners is one statement per batch, not one per learner.
    """
    with_email: dict[str, Person] = {}
    without_email: dict[str, Person] = {}
    now = timezone.now()
    for user_id, name, sortable_name, email in users:
        if not user_id:
            continue
        person = Person(
            platform_id=platform_id,
            canvas_user_id=user_id,
            name=name[:500],
            sortable_name=sortable_name[:500],
            email=email[:320],
            email_read_at=now if email else None,
        )
        (with_email if email else without_email)[user_id] = person
    with transaction.atomic():
        if with_email:
            Person.objects.bulk_create(
                list(with_email.values()),
                batch_size=BATCH,
                update_conflicts=True,
                unique_fields=["platform", "canvas_user_id"],
                update_fields=["name", "sortable_name", "email", "email_read_at", "updated_at"],
            )
        if without_email:
            Person.objects.bulk_create(
                list(without_email.values()),
                batch_size=BATCH,
                update_conflicts=True,
                unique_fields=["platform", "canvas_user_id"],
                update_fields=["name", "sortable_name", "updated_at"],
            )
    ids = list(with_email) + list(without_email)
    mapping: dict[str, int] = {}
    for start in range(0, len(ids), BATCH):
        mapping.update(
            Person.objects.filter(platform_id=platform_id, canvas_user_id__in=ids[start : start + BATCH]).values_list(
                "canvas_user_id", "pk"
            )
        )
    return mapping


def _roster_sync(
    *, client: CanvasClient, pool: ThreadPoolExecutor, course: Course, history: _HistoryReader | None
) -> tuple[dict, list[str]]:
    """The roster pass: enrollments with grades and primary emails, streamed and written 100 at a
    time (memory does not grow with the course). Each written batch of learners is handed to the
    history reader at once. Returns stats and the learners new since the last roster pass."""
    cid = course.canvas_course_id
    pass_started = timezone.now()
    had_learners = Enrollment.objects.filter(course=course).exists()
    staff: dict[str, CanvasEnrollment] = {}
    without_email: list[str] = []
    new_learner_ids: list[str] = []
    written = 0
    # Keyed by id: a row listed twice (pages shifting under a concurrent change) must be written once,
    # or PostgreSQL refuses the whole upsert batch.
    batch: dict[str, CanvasEnrollment] = {}

    def flush() -> None:
        nonlocal written
        listed = list(batch.values())
        batch.clear()
        user_ids = sorted({e.user_id for e in listed})
        if had_learners:
            known = set(
                Enrollment.objects.filter(course=course, learner__canvas_user_id__in=user_ids).values_list(
                    "learner__canvas_user_id", flat=True
                )
            )
            new_learner_ids.extend(u for u in user_ids if u not in known)
        people, rows = _enrollments_write(
            course=course, enrollments=listed, emails={e.user_id: e.user.email for e in listed if e.user.email}
        )
        written += len(rows)
        without_email.extend(sorted({e.user_id for e in listed if not e.user.email and not e.is_test_user}))
        if history is not None:
            # Canvas refuses a submissions request naming a student whose enrollment is deleted.
            history.add({e.user_id: people[e.user_id] for e in listed if e.enrollment_state != "deleted"})

    for enrollment in client.list_enrollments(cid, types=ENROLLMENT_TYPES):
        if enrollment.type in STAFF_ENROLLMENT_TYPES:
            staff[enrollment.id] = enrollment
            continue
        batch[enrollment.id] = enrollment
        if len(batch) >= IDS_PER_REQUEST:
            flush()
    if batch:
        flush()
    _staff_write(course=course, staff=list(staff.values()))
    if without_email:
        # Enrollments did not carry every primary email (include[]=email is undocumented there):
        # the course's users list has them, asked for 100 learners per request.
        primary_emails_read(
            client=client,
            platform_id=course.platform_id,
            canvas_course_id=cid,
            canvas_user_ids=without_email,
            pool=pool,
        )
    # Canvas no longer lists it at all: the learner was removed (hard-deleted or hidden from us).
    vanished = (
        Enrollment.objects.filter(course=course, synced_at__lt=pass_started)
        .exclude(state="deleted")
        .update(state="deleted")
    )
    return {
        "enrollments": written,
        "enrollments_vanished": vanished,
        "users_pass": bool(without_email),
        "emails_reread": len(without_email),
    }, new_learner_ids


def _staff_write(*, course: Course, staff: list[CanvasEnrollment]) -> None:
    """Replaces the course's teacher and TA enrollments with the ones Canvas listed just now."""
    people = people_upsert_from_canvas(
        platform_id=course.platform_id,
        users=((e.user_id, e.user.name, e.user.sortable_name, "") for e in staff),
    )
    rows = [
        CourseStaff(
            course=course,
            person_id=people[e.user_id],
            canvas_enrollment_id=e.id,
            enrollment_type=e.type[:40],
            state=e.enrollment_state[:20],
        )
        for e in staff
        if e.user_id in people
    ]
    with transaction.atomic():
        CourseStaff.objects.filter(course=course).delete()
        CourseStaff.objects.bulk_create(rows, batch_size=BATCH)
        CourseSync.objects.update_or_create(course=course, defaults={"staff_synced_at": timezone.now()})


def _enrollments_write(
    *, course: Course, enrollments: list[CanvasEnrollment], emails: dict[str, str]
) -> tuple[dict[str, int], list[Enrollment]]:
    people = people_upsert_from_canvas(
        platform_id=course.platform_id,
        users=((e.user_id, e.user.name, e.user.sortable_name, emails.get(e.user_id, "")) for e in enrollments),
    )
    rows = [
        Enrollment(
            course=course,
            learner_id=people[e.user_id],
            canvas_enrollment_id=e.id,
            section_id=e.course_section_id,
            enrollment_type=e.type[:40],
            state=e.enrollment_state[:20],
            is_test_user=e.is_test_user,
            current_score=e.grades.current_score,
            final_score=e.grades.final_score,
            override_score=e.grades.override_score,
            override_grade=e.grades.override_grade[:40],
        )
        for e in enrollments
        if e.user_id in people
    ]
    with transaction.atomic():
        Enrollment.objects.bulk_create(
            rows,
            batch_size=BATCH,
            update_conflicts=True,
            unique_fields=["course", "canvas_enrollment_id"],
            update_fields=[
                "learner",
                "section_id",
                "enrollment_type",
                "state",
                "is_test_user",
                "current_score",
                "final_score",
                "override_score",
                "override_grade",
                "synced_at",
            ],
        )
    return people, rows


def _learners_refresh(*, client: CanvasClient, course: Course, user_ids: list[str]) -> list[str]:
    """Targeted roster refresh (Live Events): re-read these learners' enrollments, one request each.
    Returns the ids of learners new to the course (their earlier grades must be read too)."""
    known = set(
        Enrollment.objects.filter(course=course, learner__canvas_user_id__in=user_ids).values_list(
            "learner__canvas_user_id", flat=True
        )
    )
    enrollments: dict[str, CanvasEnrollment] = {}
    for user_id in user_ids:
        for e in client.list_enrollments(course.canvas_course_id, types=STUDENT_ENROLLMENT_TYPES, user_id=user_id):
            enrollments[e.id] = e
    listed = list(enrollments.values())
    _enrollments_write(
        course=course, enrollments=listed, emails={e.user_id: e.user.email for e in listed if e.user.email}
    )
    # Enrollments of these learners that Canvas no longer lists at all: removed from the course.
    Enrollment.objects.filter(course=course, learner__canvas_user_id__in=user_ids).exclude(
        canvas_enrollment_id__in=list(enrollments)
    ).exclude(state="deleted").update(state="deleted")
    return sorted({e.user_id for e in listed} - known)


class _HistoryReader:
    """Reads the whole submission history of learners on some assessments, 100 learners per request
    (`grouped`: one page per 100 students whatever their submissions), several requests in flight
    on the pool while the caller goes on (the roster pass). Results are written on the caller's
    thread, as the answers arrive, with at most a few batches waiting: memory stays bounded.
    Results Canvas no longer has for a batch's learners are removed, so that a missing row always
    means "not submitted"."""

    def __init__(self, *, client: CanvasClient, pool: ThreadPoolExecutor, course: Course, assignment_ids: list[str]):
        self.client, self.pool, self.course, self.assignment_ids = client, pool, course, assignment_ids
        self.assignment_pks = dict(
            Assignment.objects.filter(course=course, canvas_assignment_id__in=assignment_ids).values_list(
                "canvas_assignment_id", "pk"
            )
        )
        self.batch: dict[str, int] = {}
        self.pending: deque[tuple[Future, dict[str, int]]] = deque()
        self.fetched = self.removed = 0
        self.refused: CanvasPermissionError | None = None

    def add(self, learners: Mapping[str, int]) -> None:
        """Learners (Canvas user id: Person pk) whose student enrollment Canvas lists, not deleted."""
        for user_id, learner_id in learners.items():
            self.batch[user_id] = learner_id
            if len(self.batch) >= IDS_PER_REQUEST:
                self._send()
        self._write(wait=False)

    def finish(self) -> int:
        """Waits for every batch; returns how many results were written. Raises CanvasPermissionError
        when Canvas refused a batch (then nothing else is asked)."""
        if self.batch:
            self._send()
        self._write(wait=True)
        if self.refused is not None:
            raise self.refused
        return self.fetched

    def _send(self) -> None:
        learners, self.batch = self.batch, {}
        if self.refused is not None:
            return
        future = self.pool.submit(
            self.client.list_submissions_of_students,
            self.course.canvas_course_id,
            assignment_ids=self.assignment_ids,
            student_ids=sorted(learners),
        )
        self.pending.append((future, learners))
        # Bounded memory: past a few waiting answers the caller writes before reading on.
        while len(self.pending) > 2 * self.client.parallel:
            self._write_one()

    def _write(self, *, wait: bool) -> None:
        while self.pending and (wait or self.pending[0][0].done()):
            self._write_one()

    def _write_one(self) -> None:
        future, learners = self.pending.popleft()
        if self.refused is not None:
            future.cancel()
            return
        try:
            records = future.result()
        except CanvasPermissionError as exc:
            self.refused = exc
            return
        rows: dict[tuple[int, int], AssessmentResult] = {}
        for sub in records:
            learner_id, assignment_id = learners.get(sub.user_id), self.assignment_pks.get(sub.assignment_id)
            if learner_id is not None and assignment_id is not None:
                rows[(assignment_id, learner_id)] = _result_row(self.course, assignment_id, learner_id, sub)
        if rows:
            self.fetched += _results_write(list(rows.values()))
        stale = [
            pk
            for pk, assignment_id, learner_id in AssessmentResult.objects.filter(
                course=self.course,
                assignment_id__in=list(self.assignment_pks.values()),
                learner_id__in=list(learners.values()),
            ).values_list("pk", "assignment_id", "learner_id")
            if (assignment_id, learner_id) not in rows
        ]
        if stale:
            AssessmentResult.objects.filter(pk__in=stale).delete()
            self.removed += len(stale)


def _enrolled_learner_batches(course: Course) -> Iterator[dict[str, int]]:
    """The course's learners with a student enrollment that is not deleted, 100 at a time."""
    rows = (
        Enrollment.objects.filter(course=course, enrollment_type__in=STUDENT_ENROLLMENT_TYPES)
        .exclude(state="deleted")
        .order_by("learner__canvas_user_id")
        .values_list("learner__canvas_user_id", "learner_id")
        .distinct()
    )
    batch: dict[str, int] = {}
    for user_id, learner_id in rows.iterator(chunk_size=2000):
        batch[user_id] = learner_id
        if len(batch) >= IDS_PER_REQUEST:
            yield batch
            batch = {}
    if batch:
        yield batch


def _submission_assignment_ids(course: Course) -> set[str]:
    """Canvas ids whose submissions are read: see badging.rules (published ones only)."""
    return credentialing.submission_assignment_ids(
        course_badges=CourseBadge.objects.filter(course=course, active=True),
        assignments=rule_assignments(course_id=course.pk),
    )


def _learner_ids(course: Course, user_ids: Iterable[str]) -> dict[str, int]:
    """Person pks of these Canvas users among the course's learners (users the roster never listed
    are left out: the next roster pass adds them)."""
    return dict(
        Enrollment.objects.filter(course=course, learner__canvas_user_id__in=list(user_ids))
        .values_list("learner__canvas_user_id", "learner_id")
        .distinct()
    )


# Every submission state but "unsubmitted": an unsubmitted placeholder says nothing a missing row
# does not, and skipping them saves a large share of the requests in a big course.
SUBMISSION_STATES = ("graded", "submitted", "pending_review")


def _submissions_history_sync(*, client: CanvasClient, course: Course, assignment_ids: list[str], stats: dict) -> int:
    """Every submission on these assignments, course-wide, one state at a time (the fallback when
    Canvas refuses the per-learner batches); results Canvas no longer has are removed."""
    seen: set[tuple[int, int]] = set()
    count = 0
    for state in SUBMISSION_STATES:
        count += _submissions_sync(
            client=client,
            course=course,
            records=client.list_submissions(
                course.canvas_course_id, assignment_ids=assignment_ids, workflow_state=state
            ),
            seen=seen,
        )
    assignment_pks = list(
        Assignment.objects.filter(course=course, canvas_assignment_id__in=assignment_ids).values_list("pk", flat=True)
    )
    stale = [
        pk
        for pk, assignment_id, learner_id in AssessmentResult.objects.filter(
            course=course, assignment_id__in=assignment_pks
        ).values_list("pk", "assignment_id", "learner_id")
        if (assignment_id, learner_id) not in seen
    ]
    for start in range(0, len(stale), BATCH):
        AssessmentResult.objects.filter(pk__in=stale[start : start + BATCH]).delete()
    stats["results_removed"] = stats.get("results_removed", 0) + len(stale)
    return count


def _result_row(course: Course, assignment_id: int, learner_id: int, sub: CanvasSubmission) -> AssessmentResult:
    return AssessmentResult(
        course=course,
        assignment_id=assignment_id,
        learner_id=learner_id,
        canvas_submission_id=sub.id,
        workflow_state=sub.workflow_state[:30],
        score=sub.score,
        entered_score=sub.entered_score,
        points_deducted=sub.points_deducted,
        grade=sub.grade[:40],
        excused=sub.excused,
        submitted_at=sub.submitted_at,
        graded_at=sub.graded_at,
        posted_at=sub.posted_at,
        rubric_assessment=sub.rubric_assessment_json(),
    )


def _submissions_sync(
    *,
    client: CanvasClient,
    course: Course,
    records: Iterable[CanvasSubmission],
    seen: set[tuple[int, int]] | None = None,
) -> int:
    """Writes streamed submissions a thousand at a time (their learners looked up per batch)."""
    assignment_pks = dict(Assignment.objects.filter(course=course).values_list("canvas_assignment_id", "pk"))
    count = 0
    pending: list[CanvasSubmission] = []

    def flush() -> int:
        learners = _learner_ids(course, {sub.user_id for sub in pending})
        batch: dict[tuple[int, int], AssessmentResult] = {}
        for sub in pending:
            learner_id = learners.get(sub.user_id)
            assignment_id = assignment_pks.get(sub.assignment_id)
            if learner_id is None or assignment_id is None:
                continue  # not a learner we track (e.g. enrolled after the roster pass): the next roster pass adds them
            if seen is not None:
                seen.add((assignment_id, learner_id))
            batch[(assignment_id, learner_id)] = _result_row(course, assignment_id, learner_id, sub)
        pending.clear()
        return _results_write(list(batch.values())) if batch else 0

    for sub in records:
        pending.append(sub)
        if len(pending) >= BATCH * 2:
            count += flush()
    if pending:
        count += flush()
    return count


def _results_write(rows: list[AssessmentResult]) -> int:
    with transaction.atomic():
        AssessmentResult.objects.bulk_create(
            rows,
            batch_size=BATCH,
            update_conflicts=True,
            unique_fields=["assignment", "learner"],
            update_fields=[
                "canvas_submission_id",
                "workflow_state",
                "score",
                "entered_score",
                "points_deducted",
                "grade",
                "excused",
                "submitted_at",
                "graded_at",
                "posted_at",
                "rubric_assessment",
                "synced_at",
            ],
        )
    return len(rows)


def _students_refetch(
    *,
    client: CanvasClient,
    course: Course,
    student_ids: list[str],
    assignment_ids: list[str],
    workflow_state: str | None = None,
) -> int:
    count = 0
    if not assignment_ids:
        return 0
    for start in range(0, len(student_ids), STUDENT_IDS_PER_REQUEST):
        count += _submissions_sync(
            client=client,
            course=course,
            records=client.list_submissions(
                course.canvas_course_id,
                assignment_ids=assignment_ids,
                student_ids=student_ids[start : start + STUDENT_IDS_PER_REQUEST],
                workflow_state=workflow_state,
            ),
        )
    return count


def _unposted_recheck(
    *,
    client: CanvasClient,
    course: Course,
    readable: set[str],
    only: list[str] | None = None,
) -> int:
    """Graded-but-unposted results (of every learner, or of `only`) on assignments Canvas will
    report: posting does not change graded_at, so graded_since misses it."""
    unposted = AssessmentResult.objects.filter(
        course=course,
        graded_at__isnull=False,
        posted_at__isnull=True,
        assignment__canvas_assignment_id__in=sorted(readable),
    )
    if only is not None:
        unposted = unposted.filter(learner__canvas_user_id__in=only)
    pending = list(unposted.values_list("learner__canvas_user_id", "assignment__canvas_assignment_id").distinct())
    if not pending:
        return 0
    return _students_refetch(
        client=client,
        course=course,
        student_ids=sorted({p[0] for p in pending}),
        assignment_ids=sorted({p[1] for p in pending}),
        workflow_state="graded",
    )


# --- Evaluation -----------------------------------------------------------------------------------


@dataclass
class _Facts:
    enrollments: list
    results: dict


def progress_evaluate_course(*, course_id: int) -> dict:
    """Evaluate every learner on every active course badge of the course from the synced rows,
    write LearnerProgress (bulk), flag issued awards whose learner no longer meets the rule, and
    hand the eligible learners to issuance. Returns counts by state per course badge key.

    Learners are evaluated EVALUATE_CHUNK at a time (their enrollments and results read for the
    chunk only): memory does not grow with the course."""
    assignments = rule_assignments(course_id=course_id)
    override_allowed = (
        CourseSync.objects.filter(course_id=course_id).values_list("allow_final_grade_override", flat=True).first()
    )
    badges = list(CourseBadge.objects.filter(course_id=course_id, active=True))
    # A course badge no longer offered issues nothing: drop its not-yet-issued eligible rows (derived
    # data, rebuilt by the next evaluation if it is offered again), so the reconciler finds none.
    LearnerProgress.objects.filter(
        course_badge__course_id=course_id, course_badge__active=False, state=LearnerProgress.ELIGIBLE
    ).delete()
    # Rubric ratings are only read when a badge asks for a minimum rating per criterion.
    with_rubric = any(b.min_rubric_criterion_percent is not None for b in badges)
    rules = {
        badge.pk: badge_rule_build(
            course_badge=badge, assignments=assignments, final_grade_override_allowed=override_allowed
        )
        for badge in badges
    }
    # Only this course badge's awards: another course offering the same badge class has its own
    # learners. Its live awards only say that an enrolled learner here already holds the class.
    awards: dict[int, dict[int, tuple[bool, bool]]] = {}
    for badge in badges:
        mine: dict[int, tuple[bool, bool]] = {}
        for learner_id, revoked, needs_review in Award.objects.filter(course_badge_id=badge.pk).values_list(
            "learner_id", "revoked", "needs_review"
        ):
            live, flagged = mine.get(learner_id, (False, False))
            if not revoked:
                live, flagged = True, needs_review
            mine[learner_id] = (live, flagged)
        awards[badge.pk] = mine
    # The course's learners: ids only (the facts are read per chunk).
    with_facts = set(Enrollment.objects.filter(course_id=course_id).values_list("learner_id", flat=True)) | set(
        AssessmentResult.objects.filter(course_id=course_id).values_list("learner_id", flat=True).distinct()
    )
    for badge in badges:
        # Rows of people neither in this course nor holding this course badge's award (e.g. left by
        # an evaluation that read another course's awards) are not this course's learners.
        LearnerProgress.objects.filter(course_badge=badge).exclude(
            learner_id__in=Enrollment.objects.filter(course_id=course_id).values("learner_id")
        ).exclude(learner_id__in=AssessmentResult.objects.filter(course_id=course_id).values("learner_id")).exclude(
            learner_id__in=list(awards[badge.pk])
        ).delete()
    counts: dict[int, dict[str, int]] = {badge.pk: defaultdict(int) for badge in badges}
    to_flag: dict[int, dict[int, str]] = {badge.pk: {} for badge in badges}
    ordered = sorted(with_facts)
    chunks = [ordered[start : start + EVALUATE_CHUNK] for start in range(0, len(ordered), EVALUATE_CHUNK)]
    # Holders of a live award of a badge who have no enrollment or result here: evaluated with no facts.
    award_only = sorted({lid for mine in awards.values() for lid, (live, _) in mine.items() if live} - with_facts)
    chunks += [award_only[start : start + EVALUATE_CHUNK] for start in range(0, len(award_only), EVALUATE_CHUNK)]
    now = timezone.now()
    for chunk in chunks:
        facts = _facts_read(course_id=course_id, learner_ids=chunk, with_rubric=with_rubric)
        for badge in badges:
            _evaluate_chunk(
                badge=badge,
                rule=rules[badge.pk],
                learner_ids=chunk,
                facts=facts,
                awards=awards[badge.pk],
                counts=counts[badge.pk],
                to_flag=to_flag[badge.pk],
                now=now,
            )
    summary: dict = {}
    for badge in badges:
        if to_flag[badge.pk]:
            _flag_for_review(badge, to_flag[badge.pk])
        badge_counts = counts[badge.pk]
        queued = awards_enqueue_eligible(course_badge_id=badge.pk) if badge_counts.get(ev.ELIGIBLE) else 0
        summary[badge.key] = {**badge_counts, "queued": queued}
    return summary


EVALUATE_CHUNK = 1000


def _facts_read(*, course_id: int, learner_ids: list[int], with_rubric: bool) -> dict[int, _Facts]:
    facts: dict[int, _Facts] = defaultdict(lambda: _Facts([], {}))
    for row in Enrollment.objects.filter(course_id=course_id, learner_id__in=learner_ids).values(
        "learner_id", "state", "enrollment_type", "is_test_user", "override_score", "override_grade"
    ):
        facts[row["learner_id"]].enrollments.append(
            ev.EnrollmentFact(
                state=row["state"],
                enrollment_type=row["enrollment_type"],
                is_test_user=row["is_test_user"],
                override_score=row["override_score"],
                override_grade=row["override_grade"],
            )
        )
    fields = ["learner_id", "assignment__canvas_assignment_id", "workflow_state", "score", "entered_score"]
    fields += ["grade", "excused"]
    fields += ["graded_at", "posted_at"] + (["rubric_assessment"] if with_rubric else [])
    for row in AssessmentResult.objects.filter(course_id=course_id, learner_id__in=learner_ids).values(*fields):
        aid = row["assignment__canvas_assignment_id"]
        rubric = row.get("rubric_assessment") or {}
        facts[row["learner_id"]].results[aid] = ev.ResultFact(
            assignment_id=aid,
            workflow_state=row["workflow_state"],
            score=row["score"],
            entered_score=row["entered_score"],
            grade=row["grade"],
            excused=row["excused"],
            graded=row["graded_at"] is not None,
            posted=row["posted_at"] is not None,
            rubric_points={
                str(k): (Decimal(str(v["points"])) if isinstance(v, dict) and v.get("points") is not None else None)
                for k, v in rubric.items()
            },
        )
    return facts


def _evaluate_chunk(
    *,
    badge: CourseBadge,
    rule: ev.BadgeRule,
    learner_ids: list[int],
    facts: dict[int, _Facts],
    awards: dict[int, tuple[bool, bool]],
    counts: dict[str, int],
    to_flag: dict[int, str],
    now: datetime,
) -> None:
    held_elsewhere = set(
        Award.objects.filter(badge_class_id=badge.badge_class_id, revoked=False, learner_id__in=learner_ids)
        .exclude(course_badge_id=badge.pk)
        .values_list("learner_id", flat=True)
    )
    rows: list[LearnerProgress] = []
    for learner_id in learner_ids:
        award = awards.get(learner_id)
        if learner_id not in facts and not (award is not None and award[0]):
            continue  # holds a live award of another of the course's badges only
        f = facts[learner_id] if learner_id in facts else _Facts([], {})
        if award is not None and award[0]:
            award_state: str | None = ev.AWARD_LIVE
        elif learner_id in held_elsewhere:
            award_state = ev.AWARD_ELSEWHERE
        else:
            award_state = None if award is None else ev.AWARD_REVOKED
        result = ev.evaluate_learner(
            rule=rule,
            learner=ev.LearnerFacts(enrollments=tuple(f.enrollments), results=f.results, award=award_state),
        )
        counts[result.state] += 1
        if (
            award is not None
            and award[0]
            and result.state == ev.ISSUED
            and not result.eligible_by_rule
            and not award[1]
            and not _canvas_hides_the_facts(rule, result)
        ):
            to_flag[learner_id] = _review_reason(result)
        rows.append(
            LearnerProgress(
                course_badge=badge,
                learner_id=learner_id,
                state=result.state,
                mastered_count=result.mastered_count,
                assessment_count=result.assessment_count,
                final_grade_entered=result.final_grade.entered,
                detail=result.detail(),
                evaluated_at=now,
            )
        )
    with transaction.atomic():
        LearnerProgress.objects.bulk_create(
            rows,
            batch_size=BATCH,
            update_conflicts=True,
            unique_fields=["course_badge", "learner"],
            update_fields=[
                "state",
                "mastered_count",
                "assessment_count",
                "final_grade_entered",
                "detail",
                "evaluated_at",
            ],
        )


def _canvas_hides_the_facts(rule: ev.BadgeRule, result: ev.LearnerEvaluation) -> bool:
    """True when the learner misses the rule only because Canvas no longer reports what decided it
    (an assessment unpublished or deleted, Final Grade Override turned off): a course setting changed,
    not the learner's grades, so their issued award is not flagged for review."""
    hidden_final = rule.final_grade_source == ev.FINAL_GRADE_OVERRIDE and rule.final_grade_override_allowed is False
    return any(a.status == ev.MISSING_IN_CANVAS for a in result.assessments) or (
        hidden_final and not result.final_grade.entered
    )


def _review_reason(result: ev.LearnerEvaluation) -> str:
    if not result.enrollment.counts:
        return f"the learner no longer meets the badge rule: {result.enrollment.reason}"
    if not result.final_grade.entered:
        return "the learner no longer meets the badge rule: the final grade was removed"
    missed = [a for a in result.assessments if not a.mastered]
    names = "; ".join(f"{a.name}: {a.reason}" for a in missed)
    return f"the learner no longer meets the badge rule ({names})"[:2000]


def _flag_for_review(badge: CourseBadge, reasons: dict[int, str]) -> None:
    progress_ids = dict(
        LearnerProgress.objects.filter(course_badge=badge, learner_id__in=list(reasons)).values_list("learner_id", "pk")
    )
    for learner_id, reason in reasons.items():
        award_flag_for_review(progress_id=progress_ids[learner_id], reason=reason)


# --- Schedule -------------------------------------------------------------------------------------


def beat_schedule_write() -> list[tuple[str, int, bool]]:
    """Create or update the django-celery-beat rows: periodic sync, the reconciler, the launch purge.
    Idempotent: rows are keyed by task name. Returns (task, minutes, changed) per row."""
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    wanted = [
        ("badging.sync_all_due", settings.BADGING_SYNC_INTERVAL_MINUTES, "Sync courses from Canvas"),
        ("badging.reconcile", settings.BADGING_RECONCILE_INTERVAL_MINUTES, "Reconcile awards and deliveries"),
        ("lti.launches_purge", 60, "Purge expired LTI launches"),
    ]
    # The sync interval is when a course is due; checking more often spreads the courses out.
    out = []
    with transaction.atomic():
        for task, minutes, label in wanted:
            every = max(1, minutes if task != "badging.sync_all_due" else min(minutes, 5))
            interval, _ = IntervalSchedule.objects.get_or_create(every=every, period=IntervalSchedule.MINUTES)
            row = PeriodicTask.objects.filter(name=label).first()
            changed = row is None or row.task != task or row.interval_id != interval.pk or not row.enabled
            if changed:
                PeriodicTask.objects.update_or_create(
                    name=label,
                    defaults={"task": task, "interval": interval, "enabled": True, "crontab": None, "kwargs": "{}"},
                )
            out.append((task, every, changed))
    return out
