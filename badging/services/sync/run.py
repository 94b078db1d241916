"""One pass of a course sync: what it reads, in which order, and what the SyncRun records.

Decides full or incremental, roster due or not, overlaps independent Canvas requests, hands the
stored learners to the evaluation, and writes the run's status, counts and seconds per pass (or
the reason it failed, in plain words). Changes when the shape of a pass changes.
"""

from __future__ import annotations

import functools
import itertools
import logging
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import TypeVar

from django.conf import settings
from django.utils import timezone

from badging.models import (
    CourseSync,
    SyncRun,
)
from badging.services.sync.canvas_import import (
    ENROLLMENT_TYPES,
    _assignments_write,
    _course_details_write,
    _enrolled_learner_batches,
    _learners_refresh,
    _roster_sync,
)
from badging.services.sync.marks import TARGETED_LEARNERS_MAX, _learners_marked_take, _postings_marked_take
from badging.services.sync.progress import _CourseEvaluation
from badging.services.sync.submissions_import import (
    _HistoryReader,
    _students_refetch,
    _submission_assignment_ids,
    _submissions_history_sync,
    _submissions_sync,
    _unposted_recheck,
)
from canvas import (
    CanvasClient,
    CanvasEnrollment,
    CanvasError,
    CanvasInvalidAssignmentsError,
    CanvasPermissionError,
)
from canvas.transport import MAX_THROTTLE_WAITS
from lti.models import Course

logger = logging.getLogger(__name__)

T = TypeVar("T")


# graded_since is compared with Canvas's clock: start the next window a little before this one began.
WATERMARK_OVERLAP = timedelta(minutes=5)


INTERRUPTED = "interrupted: the worker stopped before this sync finished; the course was synced again"


# A safety net under the incremental passes: once a day everything is read again, so an update
# missed for any reason (a lost event, a regrade that kept graded_at) cannot stay missed.
FULL_SYNC_EVERY = timedelta(hours=24)


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
        # One worker more than requests in flight: the roster's first page waits on one.
        with ThreadPoolExecutor(max_workers=client.parallel + 1, thread_name_prefix="canvas-sync") as pool:
            # The roster walk is the longest chain of requests (one page after the other): it starts
            # now, alongside the course's details and assignments it does not depend on.
            enrollments = (
                _reading_started(pool, client.list_enrollments(course.canvas_course_id, types=ENROLLMENT_TYPES))
                if roster
                else None
            )
            _course_read(client=client, pool=pool, course=course, state=state, full=full, roster=roster, stats=stats)
            timer.lap("assignments")
            read = functools.partial(
                _learners_and_submissions_read,
                client=client, pool=pool, course=course, state=state, full=full, roster=roster,
                postings=postings, stats=stats,
            )  # fmt: skip
            evaluation = _CourseEvaluation(course_id=course.pk)
            try:
                fetched = read(targeted=targeted, evaluation=evaluation, enrollments=enrollments)
            except CanvasInvalidAssignmentsError:
                # An assessment was unpublished or deleted in Canvas after we listed the assignments:
                # list them again (it then no longer counts as readable) and read once more.
                logger.info("course %s: an assessment changed in Canvas during the sync; listing again", course.pk)
                stats["assignments"] = _assignments_write(
                    course=course, records=client.list_assignments(course.canvas_course_id)
                )
                stats["assignments_relisted"] = True
                # The rules changed: every learner is evaluated again with them.
                evaluation = _CourseEvaluation(course_id=course.pk)
                fetched = read(targeted=[], evaluation=evaluation, enrollments=None)
        stats["submissions"] = fetched
        stats["evaluated_while_reading"] = len(evaluation.done)
        timer.lap("learners_and_submissions")
        stats["progress"] = evaluation.finish()
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


def _reading_started(pool: ThreadPoolExecutor, records: Iterator[T]) -> Iterator[T]:
    """The same records, their first page asked for now on the pool (a generator from the Canvas
    client sends nothing until it is iterated)."""
    first = pool.submit(lambda: list(itertools.islice(records, 1)))

    def everything() -> Iterator[T]:
        yield from first.result()
        yield from records

    return everything()


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
    evaluation: _CourseEvaluation,
    enrollments: Iterator[CanvasEnrollment] | None,
) -> int:
    """The roster (when due) and the submissions. A whole history (full syncs, assessments new to
    the sync) is read 100 learners per request, each batch asked for as soon as the roster pass has
    written it, while the roster's next pages arrive. When that history is all there is to read
    (a roster pass, no incremental read after it), the learners whose rows are stored are evaluated
    and queued for issuance while the next pages are read."""
    wanted = _submission_assignment_ids(course)
    stats["assignment_ids"] = sorted(wanted)
    history_ids = sorted(wanted) if full else sorted(wanted - set(state.synced_assignment_ids or []))
    complete = roster and not (wanted - set(history_ids))
    history = (
        _HistoryReader(
            client=client,
            pool=pool,
            course=course,
            assignment_ids=history_ids,
            evaluation=evaluation if complete else None,
        )
        if history_ids
        else None
    )
    new_learner_ids: list[str] = []
    if roster:
        roster_stats, new_learner_ids = _roster_sync(
            client=client, pool=pool, course=course, history=history, enrollments=enrollments
        )
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
            evaluation.again()
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
