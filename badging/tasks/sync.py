"""Celery tasks for Canvas sync (see badging.services.sync). Thin: ids in, one service call."""

from celery import shared_task

from badging.services.sync import coordination


@shared_task(name="badging.course_sync", acks_late=True, reject_on_worker_lost=True)
def course_sync(course_id: int, trigger: str = "task", full: bool = False, roster: bool | None = None) -> dict | None:
    """Sync one course. Safe to repeat: a second copy running at once folds into the first."""
    coordination.course_sync_dequeued(course_id=course_id)
    run = coordination.course_sync(course_id=course_id, trigger=trigger, full=full, roster=roster)
    return {"sync_run_id": run.pk, "status": run.status} if run else None


@shared_task(name="badging.sync_all_due", acks_late=True, reject_on_worker_lost=True)
def sync_all_due() -> int:
    """Periodic: enqueue a sync of every course with an active badge not synced within the interval."""
    return coordination.courses_sync_due()


@shared_task(name="badging.course_evaluate", acks_late=True, reject_on_worker_lost=True)
def course_evaluate(course_id: int) -> dict | None:
    """Re-evaluate a course's learners from synced data after its badge rule changed (no Canvas call)."""
    return coordination.course_evaluate(course_id=course_id)
