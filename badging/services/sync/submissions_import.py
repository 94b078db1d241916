"""Canvas submissions read into AssessmentResult rows.

A whole history 100 learners per request (several in flight, written as they arrive, memory
bounded), incremental reads with graded_since, the course-wide fallback, targeted re-reads of
new learners and unposted results. Which assessments are read is badging.rules's decision.
Changes when how results are read from Canvas or stored changes.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor

from badging import rules as credentialing
from badging.models import (
    AssessmentResult,
    Assignment,
    CourseBadge,
    Enrollment,
)
from badging.rules import rule_assignments
from badging.services.sync.canvas_import import BATCH
from badging.services.sync.progress import EVALUATE_WHILE_READING, _CourseEvaluation
from canvas import (
    CanvasClient,
    CanvasPermissionError,
    CanvasSubmission,
)
from canvas.client import IDS_PER_REQUEST
from lti.models import Course
from skillsforward.bulk_upsert import rows_upsert
from skillsforward.durability import rereadable_writes

STUDENT_IDS_PER_REQUEST = IDS_PER_REQUEST


class _HistoryReader:
    """Reads the whole submission history of learners on some assessments, 100 learners per request
    (`grouped`: one page per 100 students whatever their submissions), several requests in flight
    on the pool while the caller goes on (the roster pass). Results are written on the caller's
    thread, as the answers arrive, with at most a few batches waiting: memory stays bounded.
    Results Canvas no longer has for a batch's learners are removed, so that a missing row always
    means "not submitted"."""

    def __init__(
        self,
        *,
        client: CanvasClient,
        pool: ThreadPoolExecutor,
        course: Course,
        assignment_ids: list[str],
        evaluation: _CourseEvaluation | None = None,
    ):
        self.client, self.pool, self.course, self.assignment_ids = client, pool, course, assignment_ids
        # Given when these results are all the sync reads: learners are evaluated as they are stored.
        self.evaluation = evaluation
        self.stored: list[int] = []
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
        self._stored_evaluate()

    def finish(self) -> int:
        """Waits for every batch; returns how many results were written. Raises CanvasPermissionError
        when Canvas refused a batch (then nothing else is asked)."""
        if self.batch:
            self._send()
        while self.pending:
            self._write_one()
            self._stored_evaluate()
        if self.refused is not None:
            raise self.refused
        return self.fetched

    def _stored_evaluate(self) -> None:
        # After the requests are sent, so that Canvas works on them meanwhile. A learner listed
        # again later (another section's enrollment) is evaluated again: an enrollment more never
        # takes eligibility away (badging.evaluation), so one queued early stays eligible.
        if self.evaluation is not None and self.refused is None and len(self.stored) >= EVALUATE_WHILE_READING:
            self.evaluation.learners_evaluate(self.stored)
            self.stored = []

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
        rows: dict[tuple[int, int], tuple] = {}
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
            with rereadable_writes():
                AssessmentResult.objects.filter(pk__in=stale).delete()
            self.removed += len(stale)
        if self.evaluation is not None:
            self.stored.extend(learners.values())


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


# The columns of a result row as _result_row gives them (rows_upsert's `fields`).
RESULT_FIELDS = (
    "course_id",
    "assignment_id",
    "learner_id",
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
)


def _result_row(course: Course, assignment_id: int, learner_id: int, sub: CanvasSubmission) -> tuple:
    return (
        course.pk,
        assignment_id,
        learner_id,
        sub.id,
        sub.workflow_state[:30],
        sub.score,
        sub.entered_score,
        sub.points_deducted,
        sub.grade[:40],
        sub.excused,
        sub.submitted_at,
        sub.graded_at,
        sub.posted_at,
        sub.rubric_assessment_json(),
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
        batch: dict[tuple[int, int], tuple] = {}
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


def _results_write(rows: list[tuple]) -> int:
    """Stores these result rows (_result_row), one per assessment and learner: a stored one is updated."""
    with rereadable_writes():
        rows_upsert(
            AssessmentResult,
            fields=RESULT_FIELDS,
            rows=rows,
            batch_size=BATCH,
            unique_fields=["assignment", "learner"],
            # Everything Canvas says about the submission; the row's keys stay.
            update_fields=[*RESULT_FIELDS[3:], "synced_at"],
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
